/*
 * cmd_export.c - `fraud export onnx`: writes a model (a bundle, a version
 * directory with a bare model file, or a model file) as an ONNX
 * TreeEnsembleClassifier / TreeEnsembleRegressor that ONNX runtimes (and
 * Triton's ONNX Runtime backend) can serve.  The library does the work
 * (fr_forest_export_onnx, docs/forest.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fraud/model.h"

static void usage(FILE *f) {
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

int fr_cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  if (fr_cli_wants_help(argc, argv)) {
    usage(stdout);
    return FR_EXIT_OK;
  }
  if (argc < 2 || argv[1][0] == '-')
    return fr_cli_usage_error("export", "expected a target format: 'fraud export onnx ...'");
  if (strcmp(argv[1], "onnx") != 0)
    return fr_cli_usage_error("export", "unknown export format '%s' (supported: onnx)", argv[1]);
  const char *model = NULL, *out = NULL;
  int c;
  optind = 2;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:o:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': model = optarg; break;
    case 'o': out = optarg; break;
    case 'h': usage(stdout); return FR_EXIT_OK;
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
