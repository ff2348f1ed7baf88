/*
 * test_models.c - tests src/serve/models.c: fr__public_reason, which turns a
 * load or release error (which may name files) into what an HTTP answer may
 * carry (models and versions, never filesystem paths; the server's own
 * routes such as /v1/score are not paths).  The expected strings are worked
 * out by hand from the rule in serve/models.h.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "serve/models.h"

static void check(const char *repo, const char *in, const char *want) {
  fr_server *s = calloc(1, sizeof *s);
  cr_assert_not_null(s);
  s->cfg.model_repository = (char *)repo;
  char out[600];
  fr__public_reason(s, in, out, sizeof out);
  cr_assert_str_eq(out, want, "in: %s", in);
  free(s);
}

Test(models, public_reason_strips_paths) {
  const char *repo = "/srv/fraud/models";
  /* A file under the repository keeps its part inside it. */
  check(repo, "model sparkov version 3: /srv/fraud/models/sparkov/3/model.json: sha256 mismatch",
        "model sparkov version 3: sparkov/3/model.json: sha256 mismatch");
  check(repo, "'/srv/fraud/models/sparkov/beta': not a version directory",
        "'sparkov/beta': not a version directory");
  /* The repository itself. */
  check(repo, "model 'x' not found in repository /srv/fraud/models",
        "model 'x' not found in the model repository");
  check(repo, "/srv/fraud/models: cannot open directory",
        "the model repository: cannot open directory");
  /* Other absolute paths: their last component, line and column kept. */
  check(repo, "reload: /etc/fraud/config.yaml:3:5: unknown key",
        "reload: config.yaml:3:5: unknown key");
  check(repo, "warm start from /data/history.csv: cannot open", "warm start from history.csv: cannot open");
  /* A repository given with a trailing slash; a sibling directory that only
   * shares the prefix is another path. */
  check("/srv/fraud/models/", "/srv/fraud/models/sparkov/2: bad", "sparkov/2: bad");
  check(repo, "/srv/fraud/models-old/sparkov/2: bad", "2: bad");
  /* No path: unchanged. */
  check(repo, "version '3' of model 'sparkov' is production", "version '3' of model 'sparkov' is production");
  check(repo, "", "");
}

Test(models, public_reason_keeps_api_routes) {
  const char *repo = "/srv/fraud/models";
  /* The release checks' texts name routes, which are not files. */
  const char *bare = "version '4' of model 'sparkov' cannot serve what production version '3' "
                     "serves: it is a bare model file (V2 tensors only, no feature spec for "
                     "/v1/score) and production is a bundle";
  check(repo, bare, bare);
  check(repo, "it is a bundle (raw transactions, /v1/score) and production is a bare model",
        "it is a bundle (raw transactions, /v1/score) and production is a bare model");
  check(repo, "POST /v2/repository/models/sparkov/load, then /metrics",
        "POST /v2/repository/models/sparkov/load, then /metrics");
  check(repo, "see /admin/models/sparkov or '/v1/score?model=x'",
        "see /admin/models/sparkov or '/v1/score?model=x'");
  /* Files that merely start like a route are still files. */
  check(repo, "/v1x/data.csv: bad", "data.csv: bad");
  check(repo, "/metrics.d/a.yaml:1:2: bad", "a.yaml:1:2: bad");
}

Test(models, public_reason_truncates_safely) {
  fr_server *s = calloc(1, sizeof *s);
  s->cfg.model_repository = "/r";
  char out[8];
  fr__public_reason(s, "/r/sparkov/3/model.json: bad", out, sizeof out);
  cr_assert_str_eq(out, "sparkov");
  free(s);
}
