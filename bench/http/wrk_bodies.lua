-- wrk_bodies.lua - makes wrk send what `fraud loadgen --body-lines FILE`
-- sends, so the two clients are compared on the same requests, and prints
-- wrk's results as one JSON line for bench/http/suite.py.
--
-- Environment:
--   WRK_BODIES        file of request bodies, one per non-empty line; none or
--                     empty: GET without a body.  One body uses wrk's static
--                     request (its fastest path); several are cycled in order
--                     through request(), as loadgen cycles them.
--   WRK_CONTENT_TYPE  Content-Type of the bodies (default application/json)
--
-- Output (from done()): a line "WRKJSON {...}" with the request count, the
-- run time, wrk's error counters and latency percentiles in microseconds
-- (wrk's own histogram: latency:percentile(p)).

local bodies = {}
local path = os.getenv("WRK_BODIES")
if path and path ~= "" then
  for line in io.lines(path) do
    line = line:gsub("\r$", "")
    if line:find("%S") then
      bodies[#bodies + 1] = line
    end
  end
end
local content_type = os.getenv("WRK_CONTENT_TYPE") or "application/json"

if #bodies >= 1 then
  wrk.method = "POST"
  wrk.body = bodies[1]
  wrk.headers["Content-Type"] = content_type
end

if #bodies > 1 then
  local i = 0
  request = function()
    i = i % #bodies + 1
    return wrk.format("POST", nil, nil, bodies[i])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
