/* Tests src/data/drift.c against hand-computed population stability
 * indexes: PSI = sum_i (c_i - r_i) ln(c_i / r_i), empty shares = 1e-4. */
#include <math.h>

#include "data_test.h"

/* Writes a mini-schema file with the given amounts and categories. */
static const char *write_set(const char *dir, const char *name, const double *amt,
                             const char *const *cat, size_t n) {
  char text[4096];
  size_t o = (size_t)snprintf(text, sizeof text, "id,t,card,cat,amt,label\n");
  for (size_t i = 0; i < n; i++)
    o += (size_t)snprintf(text + o, sizeof text - o, "r%zu,%zu,c,%s,%g,%d\n", i, 100 + i,
                          cat[i], amt[i], i % 5 == 0);
  return fr_test_write(dir, name, text);
}

Test(drift, psi_formula) {
  double r[2] = {0.5, 0.5}, c[2] = {0.8, 0.2};
  /* 0.3 ln(1.6) + (-0.3) ln(0.4) */
  cr_assert(fabs(fr_psi(r, c, 2) - 0.41588830833596718) < 1e-15);
  cr_assert_eq(fr_psi(r, r, 2), 0.0);
  double r3[3] = {0.5, 0.5, 0.0}, c3[3] = {0.5, 0.4, 0.1};
  /* empty reference bin counts as 1e-4 */
  double want = (0.4 - 0.5) * log(0.4 / 0.5) + (0.1 - 1e-4) * log(0.1 / 1e-4);
  cr_assert(fabs(fr_psi(r3, c3, 3) - want) < 1e-15);
}

Test(drift, hand_computed_deciles_and_categories) {
  const char *dir = fr_test_tmpdir();
  /* Reference amounts 1..10: decile edges 2..10, one value per bin (0.1).
   * Current: five 1s (bin 0: 0.5), 2, 3, 4, 5 (0.1 each), bins 5..8 empty,
   * 10 (0.1).  PSI = 0.4 ln 5 + 4 (1e-4 - 0.1) ln(1e-4 / 0.1)
   *               = 0.64377516 + 2.76033901 = 3.40411417. */
  double ra[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  double ca[10] = {1, 1, 1, 1, 1, 2, 3, 4, 5, 10};
  /* Categories: reference a,b half each; current 7 a, 2 b, 1 missing:
   * 0.2 ln 1.4 + (-0.3) ln 0.4 + (0.1 - 1e-4) ln(0.1 / 1e-4) = 1.0323 */
  const char *rc[10] = {"a", "b", "a", "b", "a", "b", "a", "b", "a", "b"};
  const char *cc[10] = {"a", "a", "a", "a", "a", "a", "a", "b", "b", ""};
  const char *rp = write_set(dir, "ref.csv", ra, rc, 10);
  const char *cp = write_set(dir, "cur.csv", ca, cc, 10);
  fr_schema *s = mini_schema();
  fr_error err = {0};
  fr_dataset *ref = fr_dataset_read_csv(s, rp, NULL, &err);
  cr_assert_not_null(ref, "%s", err.msg);
  fr_dataset *cur = fr_dataset_read_csv(s, cp, NULL, &err);
  cr_assert_not_null(cur, "%s", err.msg);
  fr_drift *d = fr_drift_compute(ref, cur, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(d->ncols, 2, "cat and amt; id, time, entity, label are not compared");
  const fr_drift_column *cat = &d->cols[0], *amt = &d->cols[1];
  cr_assert_str_eq(cat->column, "cat");
  cr_assert_eq(cat->categorical, 1);
  cr_assert_eq(cat->bins, 3);
  cr_assert(fabs(cat->psi - 1.0322664192568045) < 1e-12, "%.17g", cat->psi);
  cr_assert_str_eq(amt->column, "amt");
  cr_assert_eq(amt->bins, 10);
  cr_assert(fabs(amt->psi - 3.4041141744549024) < 1e-12, "%.17g", amt->psi);
  cr_assert_str_eq(amt->level, "significant");
  cr_assert_eq(d->significant, 1);
  cr_assert_eq(d->ref_label_rate, 0.2);
  fr_drift_free(d);
  /* Identical sets: PSI 0, stable. */
  d = fr_drift_compute(ref, ref, &err);
  cr_assert_eq(d->cols[1].psi, 0.0);
  cr_assert_str_eq(d->cols[1].level, "stable");
  cr_assert_eq(d->significant, 0);
  fr_drift_free(d);
  fr_dataset_free(ref);
  fr_dataset_free(cur);
  fr_schema_free(s);
}

Test(drift, empty_set_is_an_error) {
  fr_schema *s = mini_schema();
  fr_dataset *a = mini_read(s, "plain.csv", FR_BAD_ROW_FAIL);
  fr_dataset *e = mini_read(s, "header_only.csv", FR_BAD_ROW_FAIL);
  fr_error err = {0};
  cr_assert_null(fr_drift_compute(a, e, &err));
  cr_assert_eq(err.code, FR_EDATA);
  cr_assert(strstr(err.msg, "header_only.csv: no data rows"), "%s", err.msg);
  fr_dataset_free(a);
  fr_dataset_free(e);
  fr_schema_free(s);
}
