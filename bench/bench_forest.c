/*
 * bench_forest.c - the forest engine against XGBoost's own C API, on the
 * same model and the same rows, in the same run.
 *
 * For each model shape (trees x depth) it writes a model of full binary
 * trees with random splits (thresholds drawn like the N(0,1) features, so
 * every branch is a coin flip: the worst case for branch prediction) as
 * XGBoost JSON, loads that one text into XGBoost (XGBoosterLoadModelFromBuffer)
 * and into our engine (fr_forest_load_buffer), checks that both give the
 * same probabilities on every row of the pool, then times batch sizes 1, 16,
 * 256 and 4096 on 1 and 2 threads:
 *
 *   ours     fr_forest_predict_ex (probabilities), opts.nthreads = threads
 *   XGBoost  XGBoosterPredictFromDense ("inplace" prediction, its fastest
 *            public path for dense rows), nthread = threads
 *
 * Each timing runs batches over a pool of rows until it has lasted
 * --min-time seconds, three times, and keeps the best (other jobs on the
 * machine only ever make a run slower).  --clock cpu measures the calling
 * thread's CPU time instead of wall time (single-threaded runs only): on a
 * busy machine it leaves out the time the benchmark was not scheduled.  It also times TreeSHAP per row
 * (ours: fr_forest_shap; XGBoost: pred_contribs).
 *
 *   bench_forest [--markdown] [--quick] [--models 100x4,500x6,1000x8]
 *                [--batches 1,16,256,4096] [--threads 1,2] [--min-time S]
 *                [--features F] [--simd auto|scalar|avx2|avx512]
 *                [--only ours|xgboost] [--no-shap] [--clock wall|cpu]
 *
 * --markdown prints one table (for docs/benchmarks.md); without it the
 * same numbers are printed as aligned text.  Exit status 1 when the two
 * engines disagree by more than 1e-6 on any row.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "fraud/model.h"

#define XGB_CHECK(call)                                                        \
  do {                                                                         \
    if ((call) != 0) {                                                         \
      fprintf(stderr, "bench_forest: %s: %s\n", #call, XGBGetLastError());     \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* ---- deterministic random numbers (splitmix64) ------------------------ */

static uint64_t rng_state = 0x2026112915442800ull;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1.0p-53; }
static double rng_normal(void) {
  double u = rng_uniform(), v = rng_uniform();
  return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* ---- growing text buffer ---------------------------------------------- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) {
      fprintf(stderr, "bench_forest: out of memory\n");
      exit(1);
    }
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_int(sbuf *b, long long v) {
  char t[32];
  int n = snprintf(t, sizeof t, "%lld", v);
  sb_put(b, t, (size_t)n);
}
/* XGBoost's JSON reader types "4096" as an integer and refuses it where a
 * float is expected, so floats always carry an exponent or a point. */
static void sb_float(sbuf *b, float v) {
  char t[48];
  int n = fr_fmt_float(t, sizeof t, v);
  if (!strpbrk(t, ".eE"))
    n += snprintf(t + n, sizeof t - (size_t)n, "E0");
  sb_put(b, t, (size_t)n);
}

/* XGBoost JSON of `ntrees` full trees of `depth` over nf features. */
static char *random_model(int ntrees, int depth, int nf, size_t *len) {
  sbuf b = {0};
  sb_str(&b, "{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
             "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
             "\"num_trees\":\"");
  sb_int(&b, ntrees);
  sb_str(&b, "\",\"size_leaf_vector\":\"0\"},\"tree_info\":[");
  for (int t = 0; t < ntrees; t++) {
    if (t)
      sb_str(&b, ",");
    sb_str(&b, "0");
  }
  sb_str(&b, "],\"trees\":[");
  int nn = (1 << (depth + 1)) - 1, ninternal = (1 << depth) - 1;
  double *cover = malloc((size_t)nn * sizeof *cover);
  for (int t = 0; t < ntrees; t++) {
    if (t)
      sb_str(&b, ",");
    cover[0] = 4096;
    for (int i = 0; i < ninternal; i++) {
      double frac = 0.2 + 0.6 * rng_uniform();
      cover[2 * i + 1] = cover[i] * frac;
      cover[2 * i + 2] = cover[i] - cover[2 * i + 1];
    }
    static const char *const keys[] = {"base_weights", "categories", "categories_nodes",
                                       "categories_segments", "categories_sizes"};
    for (int k = 0; k < 5; k++) {
      sb_str(&b, k ? ",\"" : "{\"");
      sb_str(&b, keys[k]);
      sb_str(&b, "\":[");
      if (k == 0)
        for (int i = 0; i < nn; i++)
          sb_str(&b, i ? ",0E0" : "0E0");
      sb_str(&b, "]");
    }
    sb_str(&b, ",\"default_left\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_str(&b, i < ninternal && (rng_next() & 1) ? "1" : "0");
    }
    sb_str(&b, "],\"id\":");
    sb_int(&b, t);
    sb_str(&b, ",\"left_children\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_int(&b, i < ninternal ? 2 * i + 1 : -1);
    }
    sb_str(&b, "],\"loss_changes\":[");
    for (int i = 0; i < nn; i++)
      sb_str(&b, i ? ",0E0" : "0E0");
    sb_str(&b, "],\"parents\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_int(&b, i ? (i - 1) / 2 : 2147483647);
    }
    sb_str(&b, "],\"right_children\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_int(&b, i < ninternal ? 2 * i + 2 : -1);
    }
    sb_str(&b, "],\"split_conditions\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_float(&b, i < ninternal ? (float)(0.7 * rng_normal())
                                 : (float)(0.2 * (rng_uniform() - 0.5)));
    }
    sb_str(&b, "],\"split_indices\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_int(&b, i < ninternal ? (long long)(rng_next() % (uint64_t)nf) : 0);
    }
    sb_str(&b, "],\"split_type\":[");
    for (int i = 0; i < nn; i++)
      sb_str(&b, i ? ",0" : "0");
    sb_str(&b, "],\"sum_hessian\":[");
    for (int i = 0; i < nn; i++) {
      if (i)
        sb_str(&b, ",");
      sb_float(&b, (float)cover[i]);
    }
    sb_str(&b, "],\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"");
    sb_int(&b, nf);
    sb_str(&b, "\",\"num_nodes\":\"");
    sb_int(&b, nn);
    sb_str(&b, "\",\"size_leaf_vector\":\"0\"}}");
  }
  free(cover);
  sb_str(&b, "]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"5E-1\","
             "\"boost_from_average\":\"1\",\"num_class\":\"0\",\"num_feature\":\"");
  sb_int(&b, nf);
  sb_str(&b, "\",\"num_target\":\"1\"},\"objective\":{\"name\":\"binary:logistic\","
             "\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}},\"version\":[1,7,4]}");
  *len = b.len;
  return b.p;
}

/* ---- timing ----------------------------------------------------------- */

typedef struct engine_ctx {
  const fr_forest *f;
  BoosterHandle xgb;
  const float *pool;
  size_t pool_rows, nf;
  float *out;
  fr_predict_opts opts;
} engine_ctx;

static void run_ours(engine_ctx *c, size_t off, size_t batch) {
  if (fr_forest_predict_ex(c->f, c->pool + off * c->nf, batch, c->out, &c->opts) != 0) {
    fprintf(stderr, "bench_forest: predict failed\n");
    exit(1);
  }
}

static const char *xgb_config =
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
    "\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}";

static void run_xgb(engine_ctx *c, size_t off, size_t batch) {
  char arr[256];
  snprintf(arr, sizeof arr,
           "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
           (unsigned long long)(uintptr_t)(c->pool + off * c->nf), batch, c->nf);
  bst_ulong const *shape;
  bst_ulong dim;
  const float *res;
  XGB_CHECK(XGBoosterPredictFromDense(c->xgb, arr, xgb_config, NULL, &shape, &dim, &res));
  c->out[0] = res[0];
}

static void run_shap(engine_ctx *c, size_t off, size_t batch) {
  if (fr_forest_shap(c->f, c->pool + off * c->nf, batch, c->out) != 0) {
    fprintf(stderr, "bench_forest: shap failed\n");
    exit(1);
  }
}

static void run_reasons(engine_ctx *c, size_t off, size_t batch) {
  fr_reason r[3];
  size_t got;
  for (size_t i = 0; i < batch; i++)
    if (fr_forest_reasons(c->f, c->pool + (off + i) * c->nf, 0, 3, FR_REASONS_TOWARD_POSITIVE, r,
                          &got) != 0) {
      fprintf(stderr, "bench_forest: reasons failed\n");
      exit(1);
    }
}

static const char *xgb_contrib_config =
    "{\"type\":2,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
    "\"strict_shape\":false}";

static void run_xgb_shap(engine_ctx *c, size_t off, size_t batch) {
  DMatrixHandle d;
  XGB_CHECK(XGDMatrixCreateFromMat(c->pool + off * c->nf, batch, c->nf, NAN, &d));
  bst_ulong const *shape;
  bst_ulong dim;
  const float *res;
  XGB_CHECK(XGBoosterPredictFromDMatrix(c->xgb, d, xgb_contrib_config, &shape, &dim, &res));
  c->out[0] = res[0];
  XGDMatrixFree(d);
}

static int use_cpu_clock;

static uint64_t now_ns(void) {
  if (!use_cpu_clock)
    return fr_monotonic_ns();
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Best-of-3 seconds per row.  The clock is read between chunks of calls
 * that double until a chunk lasts at least 1 ms: on this VM a read of the
 * thread CPU-time clock is a system call of about 1.7 us, which read every
 * 8 calls (as this loop once did) added about 0.2 us to every batch-1 call
 * of either engine and disturbed its caches. */
static double time_per_row(engine_ctx *c, void (*run)(engine_ctx *, size_t, size_t),
                           size_t batch, double min_time) {
  double best = INFINITY;
  for (int rep = 0; rep < 3; rep++) {
    size_t rows = 0, off = 0, chunk = 8;
    uint64_t t0 = now_ns(), t1 = t0, tprev;
    do {
      tprev = t1;
      for (size_t k = 0; k < chunk; k++) {
        if (off + batch > c->pool_rows)
          off = 0;
        run(c, off, batch);
        off += batch;
        rows += batch;
      }
      t1 = now_ns();
      if (t1 - tprev < 1000000u && chunk < ((size_t)1 << 24))
        chunk *= 2;
    } while ((double)(t1 - t0) * 1e-9 < min_time);
    double per = (double)(t1 - t0) * 1e-9 / (double)rows;
    if (per < best)
      best = per;
  }
  return best;
}

/* ---- main --------------------------------------------------------------- */

static int parse_list(const char *s, int *out, int cap) {
  int n = 0;
  while (*s && n < cap) {
    out[n++] = atoi(s);
    const char *c = strchr(s, ',');
    if (!c)
      break;
    s = c + 1;
  }
  return n;
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_forest [--markdown] [--quick] [--models 100x4,500x6,1000x8]\n"
          "                    [--batches 1,16,256,4096] [--threads 1,2] [--min-time S]\n"
          "                    [--features F] [--simd auto|scalar|avx2|avx512] [--no-shap]\n"
          "                    [--only ours|xgboost] [--clock wall|cpu]\n");
}

int main(int argc, char **argv) {
  int markdown = 0, quick = 0, nf = 32, do_shap = 1, only = 0; /* 1 ours, 2 xgboost */
  double min_time = 0.3;
  int mtrees[8] = {100, 500, 1000}, mdepth[8] = {4, 6, 8}, nmodels = 3;
  int batches[8] = {1, 16, 256, 4096}, nbatches = 4;
  int threads[4] = {1, 2}, nthreads = 2;
  fr_simd simd = FR_SIMD_AUTO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--markdown")) {
      markdown = 1;
    } else if (!strcmp(a, "--quick")) {
      quick = 1;
    } else if (!strcmp(a, "--no-shap")) {
      do_shap = 0;
    } else if (!strcmp(a, "--only") && i + 1 < argc) {
      const char *s = argv[++i];
      only = !strcmp(s, "ours") ? 1 : !strcmp(s, "xgboost") ? 2 : -1;
      if (only < 0) {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--models") && i + 1 < argc) {
      nmodels = 0;
      for (const char *s = argv[++i]; *s && nmodels < 8;) {
        if (sscanf(s, "%dx%d", &mtrees[nmodels], &mdepth[nmodels]) != 2) {
          usage();
          return 2;
        }
        nmodels++;
        const char *c = strchr(s, ',');
        if (!c)
          break;
        s = c + 1;
      }
    } else if (!strcmp(a, "--batches") && i + 1 < argc) {
      nbatches = parse_list(argv[++i], batches, 8);
    } else if (!strcmp(a, "--threads") && i + 1 < argc) {
      nthreads = parse_list(argv[++i], threads, 4);
    } else if (!strcmp(a, "--clock") && i + 1 < argc) {
      use_cpu_clock = !strcmp(argv[++i], "cpu");
    } else if (!strcmp(a, "--min-time") && i + 1 < argc) {
      min_time = atof(argv[++i]);
    } else if (!strcmp(a, "--features") && i + 1 < argc) {
      nf = atoi(argv[++i]);
    } else if (!strcmp(a, "--simd") && i + 1 < argc) {
      const char *s = argv[++i];
      simd = !strcmp(s, "scalar") ? FR_SIMD_SCALAR
             : !strcmp(s, "avx2") ? FR_SIMD_AVX2
             : !strcmp(s, "avx512") ? FR_SIMD_AVX512
                                    : FR_SIMD_AUTO;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (quick)
    min_time = 0.05;
  if (nf < 1 || nmodels < 1 || nbatches < 1 || nthreads < 1) {
    usage();
    return 2;
  }
  if (simd != FR_SIMD_AUTO && !fr_simd_supported(simd)) {
    fprintf(stderr, "bench_forest: this CPU cannot run %s\n", fr_simd_name(simd));
    return 1;
  }
  fr_simd used = simd == FR_SIMD_AUTO ? fr_simd_best() : simd;

  /* Pool of rows: N(0,1), 5% missing. */
  size_t pool_rows = 16384;
  float *pool = malloc(pool_rows * (size_t)nf * sizeof(float));
  float *out = malloc(pool_rows * (size_t)(nf + 1) * sizeof(float));
  for (size_t i = 0; i < pool_rows * (size_t)nf; i++)
    pool[i] = rng_uniform() < 0.05 ? NAN : (float)rng_normal();

  int maj, min, pat;
  XGBoostVersion(&maj, &min, &pat);
  char cpu[256] = "unknown";
  FILE *ci = fopen("/proc/cpuinfo", "r");
  if (ci) {
    char line[512];
    while (fgets(line, sizeof line, ci))
      if (!strncmp(line, "model name", 10)) {
        char *p = strchr(line, ':');
        if (p) {
          snprintf(cpu, sizeof cpu, "%s", p + 2);
          cpu[strcspn(cpu, "\n")] = 0;
        }
        break;
      }
    fclose(ci);
  }
  printf("%sforest engine (%s kernels) vs XGBoost %d.%d.%d C API, %d features, CPU %s, "
         "best of 3 runs of >= %.2f s each\n\n",
         markdown ? "" : "# ", fr_simd_name(used), maj, min, pat, nf, cpu, min_time);
  if (markdown) {
    printf("| model | batch | threads | ours us/row | XGBoost us/row | speed-up | ours rows/s per "
           "core | XGBoost rows/s per core |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  } else {
    printf("%-14s %6s %7s %12s %14s %9s %16s %16s\n", "model", "batch", "threads", "ours us/row",
           "XGBoost us/row", "speed-up", "ours rows/s/core", "xgb rows/s/core");
  }
  int status = 0;
  char shap_lines[8][320];
  int nshap = 0;
  for (int m = 0; m < nmodels; m++) {
    size_t len;
    char *json = random_model(mtrees[m], mdepth[m], nf, &len);
    fr_error err;
    fr_forest *f = fr_forest_load_buffer(json, len, FR_FOREST_XGBOOST_JSON, "bench", &err);
    if (!f) {
      fprintf(stderr, "bench_forest: %s\n", err.msg);
      return 1;
    }
    BoosterHandle h;
    XGB_CHECK(XGBoosterCreate(NULL, 0, &h));
    XGB_CHECK(XGBoosterLoadModelFromBuffer(h, json, len));
    free(json);
    engine_ctx c = {f, h, pool, pool_rows, (size_t)nf, out, {simd, 1}};

    /* Same rows, same model: both engines must agree. */
    XGB_CHECK(XGBoosterSetParam(h, "nthread", "2"));
    char arr[256];
    snprintf(arr, sizeof arr,
             "{\"data\":[%llu,true],\"shape\":[%zu,%d],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)pool, pool_rows, nf);
    bst_ulong const *shape;
    bst_ulong dim;
    const float *res;
    XGB_CHECK(XGBoosterPredictFromDense(h, arr, xgb_config, NULL, &shape, &dim, &res));
    fr_forest_predict_ex(f, pool, pool_rows, out, &c.opts);
    double worst = 0;
    for (size_t i = 0; i < pool_rows; i++) {
      double d = fabs((double)out[i] - res[i]);
      if (d > worst)
        worst = d;
    }
    if (worst > 1e-6) {
      fprintf(stderr, "bench_forest: %dx%d: engines disagree by %g\n", mtrees[m], mdepth[m],
              worst);
      status = 1;
    }

    char model[32];
    snprintf(model, sizeof model, "%d trees depth %d", mtrees[m], mdepth[m]);
    for (int bi = 0; bi < nbatches; bi++) {
      for (int ti = 0; ti < nthreads; ti++) {
        size_t batch = (size_t)batches[bi];
        if (batch > pool_rows)
          batch = pool_rows;
        char nt[16];
        snprintf(nt, sizeof nt, "%d", threads[ti]);
        XGB_CHECK(XGBoosterSetParam(h, "nthread", nt));
        c.opts.nthreads = (unsigned)threads[ti];
        double ours = only == 2 ? NAN : time_per_row(&c, run_ours, batch, min_time);
        double xgb = only == 1 ? NAN : time_per_row(&c, run_xgb, batch, min_time);
        double cores = (double)threads[ti];
        if (markdown)
          printf("| %s | %zu | %d | %.3f | %.3f | %.1fx | %.0f | %.0f |\n", model, batch,
                 threads[ti], ours * 1e6, xgb * 1e6, xgb / ours, 1.0 / ours / cores,
                 1.0 / xgb / cores);
        else
          printf("%-14s %6zu %7d %12.3f %14.3f %8.1fx %16.0f %16.0f\n", model, batch, threads[ti],
                 ours * 1e6, xgb * 1e6, xgb / ours, 1.0 / ours / cores, 1.0 / xgb / cores);
        fflush(stdout);
      }
    }
    if (do_shap && nshap < 8) {
      c.opts.nthreads = 1;
      /* Build the Linear TreeSHAP tables outside the timing, as a server
       * does at load (fr_forest_shap_prepare); report when the model is too
       * deep for them and the direct algorithm runs. */
      uint64_t tp0 = fr_monotonic_ns();
      fr_error perr;
      int prc = fr_forest_shap_prepare(f, &perr);
      double prep_s = (double)(fr_monotonic_ns() - tp0) * 1e-9;
      if (prc)
        fprintf(stderr, "bench_forest: %s: %s\n", model, perr.msg);
      XGB_CHECK(XGBoosterSetParam(h, "nthread", "1"));
      double ours = only == 2 ? NAN : time_per_row(&c, run_shap, 1, min_time);
      double reasons = only == 2 ? NAN : time_per_row(&c, run_reasons, 1, min_time);
      double pred1 = only == 2 ? NAN : time_per_row(&c, run_ours, 1, min_time);
      double xgb = only == 1 ? NAN : time_per_row(&c, run_xgb_shap, 256, min_time);
      snprintf(shap_lines[nshap++], sizeof shap_lines[0],
               markdown ? "| %s | %.1f | %.1f | %.2f | %.1f | %.1fx | %s |"
                        : "%-18s %12.1f %12.1f %14.2f %16.1f %8.1fx %s",
               model, ours * 1e6, reasons * 1e6, pred1 * 1e6, xgb * 1e6, xgb / ours,
               prc ? "direct (too deep for Linear TreeSHAP)" : "");
      if (!prc)
        snprintf(shap_lines[nshap - 1] + strlen(shap_lines[nshap - 1]) - (markdown ? 2 : 0),
                 sizeof shap_lines[0] - strlen(shap_lines[nshap - 1]) + (markdown ? 2 : 0),
                 markdown ? "Linear TreeSHAP, tables built in %.2f s |"
                          : "Linear TreeSHAP, tables built in %.2f s",
                 prep_s);
    }
    XGBoosterFree(h);
    fr_forest_free(f);
  }
  if (nshap) {
    printf("\n%sTreeSHAP (exact, path-dependent) per row, one thread: ours one row per call "
           "(all features; top-3 reasons, what the scoring API returns; the prediction alone "
           "for scale), XGBoost pred_contribs on batches of 256\n\n",
           markdown ? "" : "# ");
    if (markdown)
      printf("| model | ours SHAP us/row | ours top-3 reasons us/row | ours predict us/row | "
             "XGBoost pred_contribs us/row | SHAP speed-up | our algorithm |\n"
             "|---|---:|---:|---:|---:|---:|---|\n");
    else
      printf("%-18s %12s %12s %14s %16s %9s\n", "model", "SHAP us/row", "top-3 us/row",
             "predict us/row", "XGBoost us/row", "speed-up");
    for (int i = 0; i < nshap; i++)
      printf("%s\n", shap_lines[i]);
  }
  free(pool);
  free(out);
  return status;
}
