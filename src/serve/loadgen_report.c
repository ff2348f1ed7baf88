/*
 * loadgen_report.c - what a load run measured, as text for people and as one
 * JSON object for scripts (scripts/bench.sh reads it).  Latencies are
 * reported in milliseconds; numbers are printed in the C locale whatever the
 * process locale says.
 */
#include "fraud/loadgen.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double report_percentiles[] = {50, 90, 99, 99.9};
static const char *const report_keys[] = {"p50", "p90", "p99", "p99_9"};
#define NPCT (sizeof report_percentiles / sizeof report_percentiles[0])

static double ms(int64_t ns) { return (double)ns / 1e6; }

/* Rounds to 1 ns expressed in ms, so JSON shows 0.123456 not
 * 0.12345600000000001. */
static json_t *ms_json(double v_ms) { return json_real(round(v_ms * 1e6) / 1e6); }

static json_t *latency_json(const fr_hist *h) {
  json_t *o = json_object();
  json_object_set_new(o, "min", ms_json(ms(fr_hist_min(h))));
  for (size_t i = 0; i < NPCT; i++)
    json_object_set_new(o, report_keys[i],
                        ms_json(ms(fr_hist_percentile(h, report_percentiles[i]))));
  json_object_set_new(o, "max", ms_json(ms(fr_hist_max(h))));
  json_object_set_new(o, "mean", ms_json(fr_hist_mean(h) / 1e6));
  json_object_set_new(o, "stdev", ms_json(fr_hist_stdev(h) / 1e6));
  return o;
}

static uint64_t non2xx(const fr_loadgen_result *r) {
  uint64_t n = 0;
  for (int s = 0; s < 600; s++)
    if (s < 200 || s > 299)
      n += r->status[s];
  return n;
}

char *fr_loadgen_result_json(const fr_loadgen_result *r,
                             const fr_loadgen_config *c) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "url", json_string(c->url ? c->url : ""));
  json_object_set_new(o, "mode", json_string(r->open_loop ? "open" : "closed"));
  if (r->open_loop)
    json_object_set_new(o, "rate", json_real(c->rate));
  json_object_set_new(o, "threads", json_integer(r->threads));
  json_object_set_new(o, "connections", json_integer(r->connections));
  if (c->requests)
    json_object_set_new(o, "requests_limit", json_integer((json_int_t)c->requests));
  if (c->duration > 0)
    json_object_set_new(o, "duration_seconds", json_real(c->duration));
  json_object_set_new(o, "warmup_seconds", json_real(c->warmup));
  json_object_set_new(o, "elapsed_seconds", json_real(round(r->elapsed * 1e6) / 1e6));
  json_object_set_new(o, "stopped", json_boolean(r->stopped));
  json_object_set_new(o, "issued", json_integer((json_int_t)r->issued));
  json_object_set_new(o, "completed", json_integer((json_int_t)r->completed));
  if (r->open_loop)
    json_object_set_new(o, "unsent", json_integer((json_int_t)r->unsent));
  json_object_set_new(o, "throughput_rps",
                      json_real(round(fr_loadgen_result_throughput(r) * 1000) / 1000));
  json_t *st = json_object();
  for (int s = 0; s < 600; s++) {
    if (!r->status[s])
      continue;
    char key[8];
    snprintf(key, sizeof key, "%d", s);
    json_object_set_new(st, key, json_integer((json_int_t)r->status[s]));
  }
  json_object_set_new(o, "status", st);
  json_t *er = json_object();
  for (int e = 0; e < FR_LOADGEN_NERRORS; e++)
    json_object_set_new(er, fr_loadgen_error_label((fr_loadgen_error_kind)e),
                        json_integer((json_int_t)r->errors[e]));
  json_object_set_new(er, "non2xx", json_integer((json_int_t)non2xx(r)));
  json_object_set_new(o, "errors", er);
  json_object_set_new(o, "failures", json_integer((json_int_t)fr_loadgen_result_failures(r)));
  json_object_set_new(o, "latency_ms", latency_json(r->latency));
  json_object_set_new(o, "latency_saturated",
                      json_integer((json_int_t)fr_hist_saturated(r->latency)));
  json_object_set_new(o, "connects", json_integer((json_int_t)r->connects));
  json_object_set_new(o, "bytes_sent", json_integer((json_int_t)r->bytes_sent));
  json_object_set_new(o, "bytes_received", json_integer((json_int_t)r->bytes_received));
  if (r->nintervals) {
    json_t *arr = json_array();
    for (size_t i = 0; i < r->nintervals; i++) {
      const fr_loadgen_interval *iv = &r->intervals[i];
      json_t *x = json_object();
      json_object_set_new(x, "start_seconds", json_real(iv->start));
      json_object_set_new(x, "length_seconds", json_real(round(iv->length * 1e6) / 1e6));
      json_object_set_new(x, "completed", json_integer((json_int_t)iv->completed));
      json_object_set_new(x, "throughput_rps",
                          json_real(iv->length > 0
                                        ? round((double)iv->completed / iv->length * 1000) / 1000
                                        : 0));
      json_object_set_new(x, "non2xx", json_integer((json_int_t)iv->non2xx));
      json_object_set_new(x, "errors", json_integer((json_int_t)iv->errors));
      json_object_set_new(x, "latency_ms", latency_json(iv->latency));
      json_array_append_new(arr, x);
    }
    json_object_set_new(o, "intervals", arr);
  }
  char *text = json_dumps(o, JSON_REAL_PRECISION(12) | JSON_PRESERVE_ORDER | JSON_COMPACT);
  json_decref(o);
  return text;
}

/* fprintf in the C locale. */
static void out(FILE *f, const char *fmt, ...) FR_PRINTF(2, 3);
static void out(FILE *f, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  fr_vsnprintf_c(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fputs(buf, f);
}

static void print_latency(FILE *f, const fr_hist *h) {
  out(f, "min %.3f", ms(fr_hist_min(h)));
  for (size_t i = 0; i < NPCT; i++)
    out(f, "  p%g %.3f", report_percentiles[i], ms(fr_hist_percentile(h, report_percentiles[i])));
  out(f, "  max %.3f", ms(fr_hist_max(h)));
}

void fr_loadgen_result_print(const fr_loadgen_result *r,
                             const fr_loadgen_config *c, FILE *f) {
  out(f, "%s loop against %s: %d thread%s, %d connection%s", r->open_loop ? "open" : "closed",
      c->url ? c->url : "?", r->threads, r->threads == 1 ? "" : "s", r->connections,
      r->connections == 1 ? "" : "s");
  if (r->open_loop)
    out(f, ", target rate %.1f requests/s", c->rate);
  out(f, "%s\n", r->stopped ? " (stopped early)" : "");
  out(f, "  requests      %llu issued, %llu completed in %.2f s", (unsigned long long)r->issued,
      (unsigned long long)r->completed, r->elapsed);
  if (c->warmup > 0)
    out(f, " (after %.1f s of warm-up)", c->warmup);
  out(f, "\n");
  if (r->open_loop && r->unsent)
    out(f, "  unsent        %llu requests were due but every connection was busy: "
           "the target rate was not reached\n", (unsigned long long)r->unsent);
  out(f, "  throughput    %.1f requests/s\n", fr_loadgen_result_throughput(r));
  out(f, "  latency (ms)  ");
  print_latency(f, r->latency);
  out(f, "\n                mean %.3f  stdev %.3f%s\n", fr_hist_mean(r->latency) / 1e6,
      fr_hist_stdev(r->latency) / 1e6,
      r->open_loop ? "  (from each request's due time)" : "");
  out(f, "  status       ");
  int any = 0;
  for (int s = 0; s < 600; s++)
    if (r->status[s]) {
      out(f, " %d: %llu", s, (unsigned long long)r->status[s]);
      any = 1;
    }
  out(f, "%s\n", any ? "" : " (no response)");
  out(f, "  errors       ");
  any = 0;
  for (int e = 0; e < FR_LOADGEN_NERRORS; e++)
    if (r->errors[e]) {
      out(f, " %s %llu", fr_loadgen_error_label((fr_loadgen_error_kind)e),
          (unsigned long long)r->errors[e]);
      any = 1;
    }
  uint64_t bad = non2xx(r);
  if (bad) {
    out(f, " non-2xx %llu", (unsigned long long)bad);
    any = 1;
  }
  out(f, "%s\n", any ? "" : " none");
  out(f, "  transfer      %.2f MB sent, %.2f MB received, %llu connection%s opened\n",
      (double)r->bytes_sent / 1e6, (double)r->bytes_received / 1e6,
      (unsigned long long)r->connects, r->connects == 1 ? "" : "s");
  if (r->nintervals) {
    out(f, "  intervals     start(s)  requests/s  errors  non-2xx  p50(ms)  p99(ms)  max(ms)\n");
    for (size_t i = 0; i < r->nintervals; i++) {
      const fr_loadgen_interval *iv = &r->intervals[i];
      out(f, "                %8.1f  %10.1f  %6llu  %7llu  %7.3f  %7.3f  %7.3f\n", iv->start,
          iv->length > 0 ? (double)iv->completed / iv->length : 0.0,
          (unsigned long long)iv->errors, (unsigned long long)iv->non2xx,
          ms(fr_hist_percentile(iv->latency, 50)), ms(fr_hist_percentile(iv->latency, 99)),
          ms(fr_hist_max(iv->latency)));
    }
  }
}
