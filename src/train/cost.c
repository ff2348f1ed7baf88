/*
 * cost.c - decision thresholds chosen by money rather than by a statistic:
 * an approved fraud costs its amount, a review costs an analyst's time, a
 * declined good customer costs friction (fraud.h's fr_cost_params).
 *
 * With rows sorted by decreasing score, a policy is two cuts kd <= kr over
 * the K distinct scores: the top kd groups are declined, the next kr - kd
 * reviewed, the rest approved.  Its cost splits into a term of kd alone and
 * a term of kr alone,
 *
 *   cost(kd, kr) = [D * neg(kd) - R * rows(kd)] + [R * rows(kr) + F(kr)]
 *
 * (neg(k), rows(k): negatives and rows in the top k groups; F(k): fraud
 * amount outside them), so the optimum over all O(K^2) pairs is one pass
 * with a running minimum of the first term.
 */
#include "fraud/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/rank.h"

static int check_costs(const fr_cost_params *c, fr_error *err) {
  if (!c)
    return fr_error_set(err, FR_EINVAL, "cost: NULL parameters");
  if (!(c->review_cost >= 0 && isfinite(c->review_cost)))
    return fr_error_set(err, FR_EINVAL,
                        "cost: review cost %g must be finite and >= 0",
                        c->review_cost);
  if (!(c->decline_cost >= 0 && isfinite(c->decline_cost)))
    return fr_error_set(err, FR_EINVAL,
                        "cost: decline cost %g must be finite and >= 0",
                        c->decline_cost);
  return 0;
}

/* Threshold of cut k: above every score for k = 0, else the lowest flagged
 * score. */
static double cut_threshold(const fr__groups *g, size_t k) {
  return k == 0 ? nextafter(g->score[0], INFINITY) : g->score[k - 1];
}

int fr_cost_thresholds(const float *y, const float *p, const double *amount,
                       size_t n, const fr_cost_params *c, fr_cost_result *out,
                       fr_error *err) {
  if (!out || !amount)
    return fr_error_set(err, FR_EINVAL, "cost: NULL argument");
  memset(out, 0, sizeof *out);
  int rc = check_costs(c, err);
  if (rc)
    return rc;
  fr__groups g;
  if ((rc = fr__groups_build(y, p, amount, n, &g, err)))
    return rc;
  const double R = c->review_cost, D = c->decline_cost;
  /* Prefix sums over cuts k = 0..K. */
  double neg = 0, rows = 0, kept = 0; /* kept: fraud amount flagged */
  double best = INFINITY, gmin = INFINITY;
  size_t best_kd = 0, best_kr = 0, gmin_k = 0;
  for (size_t k = 0; k <= g.n; k++) {
    if (k > 0) {
      neg += g.neg[k - 1];
      rows += g.pos[k - 1] + g.neg[k - 1];
      kept += g.wpos[k - 1];
    }
    double first = D * neg - R * rows;
    /* Strict '<': among equal first terms keep the smaller kd. */
    if (first < gmin) {
      gmin = first;
      gmin_k = k;
    }
    double missed = g.WP - kept;
    if (missed < 0)
      missed = 0; /* rounding of the running sum */
    double cost;
    size_t kd;
    if (c->allow_review) {
      cost = gmin + R * rows + missed;
      kd = gmin_k;
    } else {
      cost = D * neg + missed;
      kd = k;
    }
    /* Strict '<': ties keep the smaller kr (fewer reviewed/declined). */
    if (cost < best) {
      best = cost;
      best_kd = kd;
      best_kr = k;
    }
  }
  /* Counts and money at the chosen cuts. */
  size_t declined = 0, reviewed = 0;
  double stopped = 0;
  for (size_t k = 0; k < best_kr; k++) {
    size_t r = (size_t)(g.pos[k] + g.neg[k]);
    if (k < best_kd)
      declined += r;
    else
      reviewed += r;
    stopped += g.wpos[k];
  }
  out->thresholds.decline = cut_threshold(&g, best_kd);
  out->thresholds.review = cut_threshold(&g, best_kr);
  out->cost = best;
  out->cost_approve_all = g.WP;
  out->declined = declined;
  out->reviewed = reviewed;
  out->approved = n - declined - reviewed;
  out->fraud_amount_stopped = stopped;
  fr__groups_free(&g);
  return 0;
}

int fr_cost_at(const float *y, const float *p, const double *amount, size_t n,
               const fr_cost_params *c, const fr_thresholds *t, double *cost,
               fr_error *err) {
  if (!cost || !t || !amount)
    return fr_error_set(err, FR_EINVAL, "cost: NULL argument");
  int rc = check_costs(c, err);
  if (rc)
    return rc;
  fr__groups g;
  if ((rc = fr__groups_build(y, p, amount, n, &g, err)))
    return rc;
  fr__ksum s = {0, 0};
  for (size_t k = 0; k < g.n; k++) {
    double sc = g.score[k];
    if (sc >= t->decline)
      fr__ksum_add(&s, c->decline_cost * g.neg[k]);
    else if (sc >= t->review)
      fr__ksum_add(&s, c->review_cost * (g.pos[k] + g.neg[k]));
    else
      fr__ksum_add(&s, g.wpos[k]);
  }
  *cost = fr__ksum_get(&s);
  fr__groups_free(&g);
  return 0;
}

int fr_cost_curve(const float *y, const float *p, const double *amount,
                  size_t n, const fr_cost_params *c, double **thr,
                  double **decline_only, double **review_only, size_t *m,
                  fr_error *err) {
  if (!thr || !decline_only || !review_only || !m || !amount)
    return fr_error_set(err, FR_EINVAL, "cost curve: NULL argument");
  *thr = *decline_only = *review_only = NULL;
  *m = 0;
  int rc = check_costs(c, err);
  if (rc)
    return rc;
  fr__groups g;
  if ((rc = fr__groups_build(y, p, amount, n, &g, err)))
    return rc;
  size_t k_n = g.n + 1;
  double *t = malloc(k_n * sizeof *t), *d = malloc(k_n * sizeof *d),
         *r = malloc(k_n * sizeof *r);
  if (!t || !d || !r) {
    free(t);
    free(d);
    free(r);
    fr__groups_free(&g);
    return fr_error_set(err, FR_ENOMEM, "cost curve: out of memory");
  }
  double neg = 0, rows = 0, kept = 0;
  for (size_t k = 0; k < k_n; k++) {
    if (k > 0) {
      neg += g.neg[k - 1];
      rows += g.pos[k - 1] + g.neg[k - 1];
      kept += g.wpos[k - 1];
    }
    double missed = g.WP - kept > 0 ? g.WP - kept : 0;
    t[k] = cut_threshold(&g, k);
    d[k] = c->decline_cost * neg + missed;
    r[k] = c->review_cost * rows + missed;
  }
  *thr = t;
  *decline_only = d;
  *review_only = r;
  *m = k_n;
  fr__groups_free(&g);
  return 0;
}
