import { parse } from "@cdktf/hcl2json";
import fs from "node:fs";
console.log(JSON.stringify(await parse("t.tf", fs.readFileSync("/tmp/t.tf","utf8")), null, 1));
try { await parse("bad.tf", 'resource "a" "b" {\n x = \n}'); } catch (e) { console.log("ERR", String(e).slice(0,300)); }
