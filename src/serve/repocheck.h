/* The release checks of src/serve/repository.c, for the server's own use:
 * a stages.json edited by hand (not through `fraud models` or the admin
 * API) is held by the server to the same rules the release commands apply
 * before its routing takes effect (docs/server.md, "Release checks"). */
#ifndef FRAUD_SERVE_REPOCHECK_H
#define FRAUD_SERVE_REPOCHECK_H

#include "fraud/serve.h"

/* Whether the routing of `st` (model `name` in repository `repo`) passes the
 * release checks against what the server serves now: production version
 * `serving` (NULL or "" when nothing serves; then `sb`/`sf` are ignored),
 * whose loaded bundle is `sb` (NULL for a bare model file) and forest `sf`.
 * - a production other than `serving` must serve what `serving` serves
 *   (same kind, transaction schema and model input: the checks of
 *   `fraud models promote`);
 * - a canary (weight > 0) or shadow must serve what the production-to-be
 *   serves (the checks of `fraud models canary|shadow`).
 * A named version that cannot be loaded is not refused here: the server's
 * usual fallback handles (and logs) a missing version.  Opens the named
 * versions from disk (fr_bundle_open: sha256 of every file), so callers
 * should cache the answer.  Returns 0, or FR_ESTATE with the reason in
 * *err, prefixed with the refused role ("production: ", "canary: ",
 * "shadow: "); *production_refused is set to 1 when the production change itself
 * is refused (0 when only the canary or shadow is).  Borrows sb/sf.
 * Thread-safe for distinct models. */
int fr__repository_routing_check(const char *repo, const char *name, const fr_stages *st,
                                 const char *serving, const fr_bundle *sb, const fr_forest *sf,
                                 int *production_refused, fr_error *err);

/* Whether version `cv` of model `name` (loaded bundle `cb`, or bare model
 * `cf` when cb is NULL) serves what version `pv` (`pb`, or `pf`) serves: the
 * same kind, transaction schema and model input, the check `fraud models
 * promote` makes (same_signature in repository.c).  The server asks it of a
 * version that would take over from a production that is gone.  Returns 0,
 * FR_ESTATE with the difference in *err ("version '3' of model 'sparkov'
 * cannot serve what production version '2' serves: ..."), or FR_EINVAL when
 * a forest is missing.  Borrows everything; thread-safe. */
int fr__repository_serves_like(const char *name, const char *cv, const fr_bundle *cb,
                               const fr_forest *cf, const char *pv, const fr_bundle *pb,
                               const fr_forest *pf, fr_error *err);

#endif
