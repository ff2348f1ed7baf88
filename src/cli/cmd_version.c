/*
 * cmd_version.c - `fraud version`: the version of fraud, the build it comes
 * from (git commit and compiler recorded by CMake at configure time, build
 * type) and the version of every library the binary uses, as each library
 * reports it at run time where it can (so a bug report names the shared
 * library actually loaded, not the header compiled against).  XGBoost is
 * loaded with dlopen by the trainer only; it is reported when loadable
 * (`--no-xgboost` skips loading it).
 */
#include <http_parser.h>
#include <jansson.h>
#include <microhttpd.h>
#include <protobuf-c/protobuf-c.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_version.h>
#include <yaml.h>
#include <zlib.h>

#include <csv.h>
#include <hiredis/hiredis.h>

#include "cli.h"
#include "fraud/train.h"

#ifndef FRAUD_GIT_COMMIT
#define FRAUD_GIT_COMMIT "unknown"
#endif
#ifndef FRAUD_BUILD_TYPE
#define FRAUD_BUILD_TYPE "unknown"
#endif
#ifndef FRAUD_COMPILER
#define FRAUD_COMPILER "unknown"
#endif

/* Each library's version into buf; `how` says where it comes from. */
typedef struct lib_version {
  const char *name;
  const char *how; /* "runtime" (a call into the loaded library) or "build" (its header) */
  void (*get)(char *buf, size_t cap);
} lib_version;

static void v_mhd(char *b, size_t n) { snprintf(b, n, "%s", MHD_get_version()); }
static void v_jansson(char *b, size_t n) { snprintf(b, n, "%s", jansson_version_str()); }
static void v_yajl(char *b, size_t n) {
  int v = yajl_version(); /* major * 10000 + minor * 100 + micro (yajl_version.h) */
  snprintf(b, n, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}
static void v_zlib(char *b, size_t n) { snprintf(b, n, "%s", zlibVersion()); }
static void v_yaml(char *b, size_t n) { snprintf(b, n, "%s", yaml_get_version_string()); }
/* hiredis 0.14 has no run-time version call: its header's. */
static void v_hiredis(char *b, size_t n) {
  snprintf(b, n, "%d.%d.%d", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
}
static void v_protobuf_c(char *b, size_t n) { snprintf(b, n, "%s", protobuf_c_version()); }
static void v_sodium(char *b, size_t n) { snprintf(b, n, "%s", sodium_version_string()); }
/* libcsv has no run-time version call either. */
static void v_csv(char *b, size_t n) {
  snprintf(b, n, "%d.%d.%d", CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
}
static void v_http_parser(char *b, size_t n) {
  unsigned long v = http_parser_version(); /* major << 16 | minor << 8 | patch */
  snprintf(b, n, "%lu.%lu.%lu", (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

static const lib_version libs[] = {
    {"libmicrohttpd", "runtime", v_mhd},  {"jansson", "runtime", v_jansson},
    {"yajl", "runtime", v_yajl},          {"zlib", "runtime", v_zlib},
    {"libyaml", "runtime", v_yaml},       {"hiredis", "build", v_hiredis},
    {"protobuf-c", "runtime", v_protobuf_c}, {"libsodium", "runtime", v_sodium},
    {"libcsv", "build", v_csv},           {"http-parser", "runtime", v_http_parser},
};

static void usage(FILE *f) {
  fprintf(f, "usage: fraud version [--json] [--no-xgboost]\n\n"
             "Prints the version of fraud, the git commit and compiler it was built\n"
             "from (recorded when CMake configured the build), the build type, and the\n"
             "version of each library it uses: reported by the loaded library where it\n"
             "has a call for it, else (hiredis, libcsv) by the header built against.\n"
             "XGBoost is loaded at run time by training only; it is reported when\n"
             "loadable, else as \"not loadable\".\n\n"
             "options:\n"
             "  --json        one JSON object instead of text\n"
             "  --no-xgboost  do not load XGBoost (reported as \"not loaded\")\n");
}

int fr_cmd_version(int argc, char **argv) {
  int json = 0, xgb = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return FR_EXIT_OK;
    }
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--no-xgboost") == 0)
      xgb = 0;
    else
      return fr_cli_usage_error("version", "unexpected argument '%s'", argv[i]);
  }
  char xv[64] = "not loaded";
  if (xgb && fr_xgboost_version(xv, sizeof xv, NULL))
    snprintf(xv, sizeof xv, "not loadable");
  size_t nlibs = sizeof libs / sizeof libs[0];
  if (json) {
    json_t *l = json_object();
    for (size_t i = 0; i < nlibs; i++) {
      char v[64];
      libs[i].get(v, sizeof v);
      json_object_set_new(l, libs[i].name, json_string(v));
    }
    json_object_set_new(l, "xgboost", json_string(xv));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "version", fr_version(), "git_commit",
                          FRAUD_GIT_COMMIT, "compiler", FRAUD_COMPILER, "build_type",
                          FRAUD_BUILD_TYPE, "libraries", l);
    char *t = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (!t) {
      fr_error err;
      fr_error_set(&err, FR_ENOMEM, "out of memory");
      return fr_cli_fail("version", &err);
    }
    puts(t);
    free(t);
    return FR_EXIT_OK;
  }
  printf("fraud %s\n", fr_version());
  printf("commit     %s\n", FRAUD_GIT_COMMIT);
  printf("compiler   %s\n", FRAUD_COMPILER);
  printf("build type %s\n", FRAUD_BUILD_TYPE);
  printf("libraries:\n");
  for (size_t i = 0; i < nlibs; i++) {
    char v[64];
    libs[i].get(v, sizeof v);
    printf("  %-14s %s%s\n", libs[i].name, v,
           strcmp(libs[i].how, "build") == 0 ? " (built against)" : "");
  }
  printf("  %-14s %s\n", "xgboost", xv);
  return FR_EXIT_OK;
}
