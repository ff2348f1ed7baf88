/*
 * cmd_export.c - `fraud export onnx` and `fraud export triton`.
 *
 * onnx writes a model (a bundle, a version directory with a bare model
 * file, or a model file) as an ONNX TreeEnsembleClassifier /
 * TreeEnsembleRegressor that ONNX runtimes (and Triton's ONNX Runtime
 * backend) can serve (fr_forest_export_onnx, docs/forest.md).
 *
 * triton writes the same model as a Triton Inference Server model
 * repository (fr_triton_write_fil / fr_triton_write_onnx, docs/deploy.md):
 * the XGBoost JSON model for the FIL backend, or with --onnx the ONNX export
 * for the ONNX Runtime backend.  What the command adds to the library is
 * only the defaults a bundle implies: its name, version and decline
 * threshold.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fraud/model.h"

static void usage_onnx(FILE *f) {
  fprintf(f,
          "usage: fraud export onnx --model PATH -o OUT.onnx\n\n"
          "Writes the model as ONNX (IR 8, ai.onnx.ml opset 3): a TreeEnsembleClassifier\n"
          "for binary:logistic and multi:softprob models (outputs 'label' and\n"
          "'probabilities'), a TreeEnsembleRegressor otherwise (output 'variable');\n"
          "input 'input', float [N, features].  XGBoost's x < threshold splits become\n"
          "BRANCH_LT with the same float32 thresholds, missing values follow the same\n"
          "default directions, base_values carry the logit of base_score; the file\n"
          "passes onnx.checker and loads back to the same probabilities.  Categorical\n"
          "splits cannot be expressed in ONNX TreeEnsemble and are refused.\n\n"
          "options:\n"
          "  --model PATH           model bundle directory, model-repository version\n"
          "                         directory, or model file (XGBoost JSON, LightGBM\n"
          "                         text, ONNX)\n"
          "  -o, --output OUT.onnx  output file (written atomically)\n");
}

static void usage_triton(FILE *f) {
  fprintf(f,
          "usage: fraud export triton --model PATH --out REPO [--name N] [--onnx]\n"
          "                           [options]\n\n"
          "Writes the model as a Triton Inference Server model repository entry\n"
          "(docs/deploy.md):\n"
          "  REPO/NAME/config.pbtxt          backend \"fil\": input__0 FP32 [features],\n"
          "                                  output__0 (the class at --threshold, or\n"
          "                                  [P(legit), P(fraud)] with --predict-proba),\n"
          "                                  model_type \"xgboost_json\", dynamic batching\n"
          "  REPO/NAME/VERSION/xgboost.json  the XGBoost JSON model, byte for byte\n"
          "or, with --onnx, for the ONNX Runtime backend:\n"
          "  REPO/NAME/config.pbtxt          backend \"onnxruntime\": input 'input' FP32\n"
          "                                  [features], outputs 'label' INT64 and\n"
          "                                  'probabilities' FP32 [2]\n"
          "  REPO/NAME/VERSION/model.onnx    the model as `fraud export onnx` writes it\n"
          "config.pbtxt is Protocol Buffers text of Triton's ModelConfig.  REPO is\n"
          "created if needed; REPO/NAME must not exist (it is assembled aside and\n"
          "renamed into place).  The FIL backend needs an XGBoost JSON model; the\n"
          "ONNX one any binary:logistic model without categorical splits.\n\n"
          "options:\n"
          "  --model PATH                 model bundle directory, model-repository\n"
          "                               version directory, or model file\n"
          "  --out REPO                   the Triton model repository\n"
          "  --name N                     model directory (default: the bundle's name,\n"
          "                               else \"fraud\"; with --onnx, that + \"-onnx\")\n"
          "  --version V                  version directory, a positive integer\n"
          "                               (default: the bundle's version if it is one,\n"
          "                               else 1)\n"
          "  --onnx                       the ONNX Runtime backend instead of FIL\n"
          "  --threshold P                FIL: probability at or above which output__0\n"
          "                               is 1 (default: the bundle's decline threshold,\n"
          "                               a version directory's FIL threshold, else 0.5)\n"
          "  --predict-proba              FIL: output__0 is [P(legit), P(fraud)]\n"
          "  --max-batch-size N           rows per executed batch (default 8192)\n"
          "  --preferred-batch-size LIST  dynamic batching sizes, up to 4, comma-\n"
          "                               separated, or 'none' (default 64,256,1024)\n"
          "  --max-queue-delay-us N       longest wait to form a batch (default 100)\n"
          "  --instances N                KIND_CPU model instances (default 2)\n");
}

static void usage(FILE *f) {
  usage_onnx(f);
  fputc('\n', f);
  usage_triton(f);
}

static int export_onnx(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *model = NULL, *out = NULL;
  int c;
  optind = 2;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:o:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': model = optarg; break;
    case 'o': out = optarg; break;
    case 'h': usage_onnx(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("export", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (!model)
    return fr_cli_usage_error("export", "--model is required");
  if (!out)
    return fr_cli_usage_error("export", "-o OUT.onnx is required");
  if (optind != argc)
    return fr_cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
  if (fr_cli_output_check("export", out, NULL, 0, model))
    return FR_EXIT_USAGE;
  fr_error err = {0};
  fr_model_source m;
  if (fr_model_source_open(model, &m, &err))
    return fr_cli_fail("export", &err);
  int rc = fr_forest_export_onnx(m.forest, out, &err);
  size_t trees = fr_forest_ntrees(m.forest), nodes = fr_forest_nnodes(m.forest);
  fr_model_source_close(&m);
  if (rc)
    return fr_cli_fail("export", &err);
  fprintf(stderr, "fraud export: wrote %s (%zu trees, %zu nodes)\n", out, trees, nodes);
  return FR_EXIT_OK;
}

/* --preferred-batch-size "64,256" or "none" into sizes[4] (0-terminated). */
static int parse_sizes(const char *v, int sizes[4]) {
  memset(sizes, 0, 4 * sizeof *sizes);
  if (strcmp(v, "none") == 0)
    return 0;
  size_t n = 0;
  for (const char *p = v;; p++) {
    size_t len = strcspn(p, ",");
    int64_t x;
    if (n == 4 || len == 0 || fr_parse_int64(p, len, &x) || x < 1 || x > 1 << 30)
      return fr_cli_usage_error("export",
                                "--preferred-batch-size takes up to 4 positive integers "
                                "separated by commas, or 'none' (got '%s')",
                                v);
    sizes[n++] = (int)x;
    p += len;
    if (!*p)
      return 0;
  }
}

/* The bundle's model file, <dir>/<manifest model.file> (new string), or
 * NULL. */
static char *bundle_model_path(const fr_bundle *b) {
  json_t *m = json_loads(fr_bundle_manifest_json(b), 0, NULL);
  const char *file = json_string_value(json_object_get(json_object_get(m, "model"), "file"));
  char *path = file ? fr_path_join(fr_bundle_dir(b), file) : NULL;
  json_decref(m);
  return path;
}

static int all_digits(const char *s) {
  if (!s || !*s || strlen(s) > 18 || strspn(s, "0") == strlen(s))
    return 0;
  return strspn(s, "0123456789") == strlen(s);
}

static int export_triton(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"out", required_argument, 0, 'o'},
                                       {"name", required_argument, 0, 'n'},
                                       {"version", required_argument, 0, 'v'},
                                       {"onnx", no_argument, 0, 'X'},
                                       {"threshold", required_argument, 0, 't'},
                                       {"predict-proba", no_argument, 0, 'P'},
                                       {"max-batch-size", required_argument, 0, 'B'},
                                       {"preferred-batch-size", required_argument, 0, 'S'},
                                       {"max-queue-delay-us", required_argument, 0, 'D'},
                                       {"instances", required_argument, 0, 'I'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fr_triton_options o;
  fr_triton_options_default(&o);
  const char *model = NULL, *repo = NULL, *name = NULL, *version = NULL;
  int onnx = 0, have_threshold = 0;
  double threshold = 0;
  long v;
  int c;
  optind = 2;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:o:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': model = optarg; break;
    case 'o': repo = optarg; break;
    case 'n': name = optarg; break;
    case 'v': version = optarg; break;
    case 'X': onnx = 1; break;
    case 'P': o.predict_proba = 1; break;
    case 't':
      if (fr_cli_double("export", "--threshold", optarg, &threshold))
        return FR_EXIT_USAGE;
      if (!(threshold >= 0 && threshold <= 1))
        return fr_cli_usage_error("export", "--threshold %s is not a probability in [0, 1]",
                                  optarg);
      have_threshold = 1;
      break;
    case 'B':
      if (fr_cli_int("export", "--max-batch-size", optarg, 1, 1 << 30, &v))
        return FR_EXIT_USAGE;
      o.max_batch_size = (int)v;
      break;
    case 'S':
      if (parse_sizes(optarg, o.preferred_batch_sizes))
        return FR_EXIT_USAGE;
      break;
    case 'D':
      if (fr_cli_int("export", "--max-queue-delay-us", optarg, 0, 3600L * 1000000L, &v))
        return FR_EXIT_USAGE;
      o.max_queue_delay_us = (uint64_t)v;
      break;
    case 'I':
      if (fr_cli_int("export", "--instances", optarg, 1, 1024, &v))
        return FR_EXIT_USAGE;
      o.instance_count = (int)v;
      break;
    case 'h': usage_triton(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("export", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (!model)
    return fr_cli_usage_error("export", "--model is required");
  if (!repo)
    return fr_cli_usage_error("export", "--out REPO is required");
  if (optind != argc)
    return fr_cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
  if (onnx && (have_threshold || o.predict_proba))
    return fr_cli_usage_error("export",
                              "--threshold and --predict-proba are FIL parameters; the ONNX "
                              "model always outputs the label and both probabilities");
  for (size_t i = 0; i < 4 && o.preferred_batch_sizes[i]; i++)
    if (o.preferred_batch_sizes[i] > o.max_batch_size)
      return fr_cli_usage_error("export",
                                "--preferred-batch-size %d exceeds --max-batch-size %d",
                                o.preferred_batch_sizes[i], o.max_batch_size);
  /* The shared checks (name, version, batch sizes) are the library's,
   * made here on what the user gave (stand-in values for the name and version
   * that default from the model) so a bad value is a usage error before
   * any work; the defaults below need the model first. */
  {
    fr_triton_options chk = o;
    chk.name = name ? name : "fraud";
    chk.version = version ? version : "1";
    fr_error cerr = {0};
    if (fr_triton_options_check(&chk, &cerr))
      return fr_cli_usage_error("export", "%s", cerr.msg);
  }

  fr_error err = {0};
  fr_model_source m;
  if (fr_model_source_open(model, &m, &err))
    return fr_cli_fail("export", &err);
  int rc = 0;
  char *src = NULL, *onnx_tmp = NULL, *name_buf = NULL;
  char tmp_dir[4096] = "";
  const char *what = NULL;
  /* Defaults from what the model is: a bundle's name, version and decline
   * threshold; a version directory's FIL threshold. */
  const char *base_name = m.bundle ? fr_bundle_name(m.bundle) : "fraud";
  if (!version)
    version = m.bundle && all_digits(fr_bundle_version(m.bundle)) ? fr_bundle_version(m.bundle)
                                                                   : "1";
  if (!name && onnx) {
    size_t len = strlen(base_name) + 6;
    if (!(name_buf = malloc(len))) {
      rc = fr_error_set(&err, FR_ENOMEM, "out of memory");
      goto done;
    }
    snprintf(name_buf, len, "%s-onnx", base_name);
  }
  o.name = name ? name : name_buf ? name_buf : base_name;
  o.version = version;
  if (have_threshold)
    o.threshold = threshold;
  else if (m.bundle)
    o.threshold = fr_bundle_thresholds(m.bundle).decline;

  if (onnx) {
    if (fr_forest_objective(m.forest) != FR_OBJ_BINARY_LOGISTIC) {
      rc = fr_error_set(&err, FR_EFORMAT,
                        "%s: objective %s: the Triton ONNX export declares a binary "
                        "classifier's [P(0), P(1)] (binary:logistic models only)",
                        model, fr_objective_name(fr_forest_objective(m.forest)));
      goto done;
    }
    /* The ONNX file goes to a temporary file first (never into the
     * repository, which Triton may be polling); the library copies it into
     * the model directory it assembles aside. */
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fraud-export-XXXXXX",
             tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp_dir)) {
      rc = fr_error_set(&err, FR_EIO, "cannot create a temporary directory %s: %s", tmp_dir,
                        strerror(errno));
      tmp_dir[0] = '\0';
      goto done;
    }
    if (!(onnx_tmp = fr_path_join(tmp_dir, "model.onnx"))) {
      rc = fr_error_set(&err, FR_ENOMEM, "out of memory");
      goto done;
    }
    if ((rc = fr_forest_export_onnx(m.forest, onnx_tmp, &err)))
      goto done;
    rc = fr_triton_write_onnx(onnx_tmp, fr_forest_nfeatures(m.forest), "input", "label",
                              "probabilities", &o, repo, &err);
    what = "ONNX Runtime backend, model.onnx";
  } else {
    if (m.bundle) {
      src = bundle_model_path(m.bundle);
    } else if (fr_is_dir(model)) {
      fr_forest_dir d;
      if ((rc = fr_forest_dir_read(model, &d, &err)))
        goto done;
      src = strdup(d.model_path);
      if (!have_threshold && d.has_config)
        o.threshold = d.threshold;
    } else {
      src = strdup(model);
    }
    if (fr_forest_format_of(m.forest) != FR_FOREST_XGBOOST_JSON) {
      rc = fr_error_set(&err, FR_EFORMAT,
                        "%s: the model is %s, and the FIL export takes XGBoost JSON "
                        "models; use --onnx for the ONNX Runtime backend",
                        model, fr_forest_format_name(fr_forest_format_of(m.forest)));
      goto done;
    }
    if (!src) {
      rc = fr_error_set(&err, FR_ENOMEM, "out of memory");
      goto done;
    }
    rc = fr_triton_write_fil(src, &o, repo, &err);
    what = "FIL backend, xgboost.json";
  }
  if (!rc) {
    char thr[32];
    fr_fmt_double(thr, sizeof thr, o.threshold);
    fprintf(stderr,
            "fraud export: wrote %s/%s (%s, version %s, %zu features, %zu trees%s%s)\n", repo,
            o.name, what, o.version, fr_forest_nfeatures(m.forest), fr_forest_ntrees(m.forest),
            onnx ? "" : o.predict_proba ? ", predict_proba" : ", threshold ",
            onnx || o.predict_proba ? "" : thr);
  }
done:
  if (tmp_dir[0])
    (void)fr_rm_rf(tmp_dir, NULL);
  free(onnx_tmp);
  free(src);
  free(name_buf);
  fr_model_source_close(&m);
  return rc ? fr_cli_fail("export", &err) : FR_EXIT_OK;
}

int fr_cmd_export(int argc, char **argv) {
  int sub = argc >= 2 && argv[1][0] != '-';
  if (!sub && fr_cli_wants_help(argc, argv)) {
    usage(stdout);
    return FR_EXIT_OK;
  }
  if (!sub)
    return fr_cli_usage_error("export",
                              "expected a target format: 'fraud export onnx ...' or "
                              "'fraud export triton ...'");
  if (strcmp(argv[1], "onnx") == 0) {
    if (fr_cli_wants_help(argc, argv)) {
      usage_onnx(stdout);
      return FR_EXIT_OK;
    }
    return export_onnx(argc, argv);
  }
  if (strcmp(argv[1], "triton") == 0) {
    if (fr_cli_wants_help(argc, argv)) {
      usage_triton(stdout);
      return FR_EXIT_OK;
    }
    return export_triton(argc, argv);
  }
  return fr_cli_usage_error("export", "unknown export format '%s' (supported: onnx, triton)",
                            argv[1]);
}
