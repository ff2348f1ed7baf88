/*
 * report.c - the evaluation report a person opens in a browser: one HTML
 * file with the metric tables and five inline SVG plots (precision-recall,
 * ROC, score histograms by class, calibration, cost versus threshold).
 *
 * Self-contained on purpose: no script, no stylesheet or font from the
 * network, so the file can be attached to a ticket or archived with the
 * model bundle and still render years later.  The markup is also well-formed
 * XML (XHTML-compatible), which lets tests parse it.  Every number is
 * printed through the C-locale formatter, so a decimal-comma locale cannot
 * corrupt the SVG coordinates.
 */
#include "fraud/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DRAWN 2000 /* points per polyline: enough for a 520px plot */
#define W 520
#define H 380
#define ML 64 /* margins: left, right, top, bottom */
#define MR 18
#define MT 34
#define MB 52

#define C_FRAUD "#d62728"
#define C_GOOD "#1f77b4"
#define C_MODEL "#2ca02c"
#define C_ALT "#9467bd"
#define C_GRID "#dddddd"

/* printf in the C locale onto a stream. */
static void out(FILE *f, const char *fmt, ...) FR_PRINTF(2, 3);
static void out(FILE *f, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = fr_vsnprintf_c(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof buf) {
    fputs(buf, f);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big)
    return;
  va_start(ap, fmt);
  fr_vsnprintf_c(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  fputs(big, f);
  free(big);
}

/* Text escaped for HTML/XML content and attribute values. */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* A metric for a table cell: 4 decimals, "n/a" when undefined. */
static void cell(FILE *f, double v) {
  if (isfinite(v))
    out(f, "<td>%.4f</td>", v);
  else
    fputs("<td>n/a</td>", f);
}

static void money(FILE *f, double v) { out(f, "<td>%.2f</td>", v); }

typedef struct plot {
  FILE *f;
  double x0, x1, y0, y1;
} plot;

static double px(const plot *p, double x) {
  double t = (x - p->x0) / (p->x1 - p->x0);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return ML + t * (W - ML - MR);
}
static double py(const plot *p, double y) {
  double t = (y - p->y0) / (p->y1 - p->y0);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return H - MB - t * (H - MT - MB);
}

static void plot_begin(plot *p, FILE *f, const char *id, const char *title,
                       const char *xlabel, const char *ylabel, double x0,
                       double x1, double y0, double y1) {
  p->f = f;
  p->x0 = x0;
  p->x1 = x1;
  p->y0 = y0;
  p->y1 = y1 > y0 ? y1 : y0 + 1;
  out(f,
      "<figure id=\"%s\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
      "font-family=\"sans-serif\" font-size=\"12\"><title>",
      id, W, H, W, H);
  esc(f, title);
  out(f, "</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
         "fill=\"#ffffff\"/>",
      W, H);
  out(f, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">",
      ML);
  esc(f, title);
  fputs("</text>", f);
  /* Grid and tick labels: 5 intervals per axis. */
  for (int i = 0; i <= 5; i++) {
    double xv = x0 + (x1 - x0) * i / 5, yv = p->y0 + (p->y1 - p->y0) * i / 5;
    double gx = px(p, xv), gy = py(p, yv);
    out(f,
        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"" C_GRID
        "\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>",
        gx, MT, gx, H - MB, gx, H - MB + 16, xv);
    out(f,
        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"" C_GRID
        "\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>",
        ML, gy, W - MR, gy, ML - 6, gy + 4, yv);
  }
  out(f,
      "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
      "stroke=\"#333333\"/>",
      ML, MT, W - ML - MR, H - MT - MB);
  out(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2,
      H - 12);
  esc(f, xlabel);
  out(f,
      "</text><text x=\"16\" y=\"%d\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 16 %d)\">",
      (MT + H - MB) / 2, (MT + H - MB) / 2);
  esc(f, ylabel);
  fputs("</text>", f);
}

/* A polyline of n points, thinned to MAX_DRAWN (first and last kept). */
static void plot_line(plot *p, const double *x, const double *y, size_t n,
                      const char *color, const char *dash) {
  if (n == 0)
    return;
  out(p->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s%s%s "
            "points=\"",
      color, dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
      dash ? "\"" : "");
  size_t step = n > MAX_DRAWN ? (n + MAX_DRAWN - 1) / MAX_DRAWN : 1;
  for (size_t i = 0; i < n; i += step)
    out(p->f, "%.1f,%.1f ", px(p, x[i]), py(p, y[i]));
  if ((n - 1) % step)
    out(p->f, "%.1f,%.1f", px(p, x[n - 1]), py(p, y[n - 1]));
  fputs("\"/>", p->f);
}

static void plot_legend(plot *p, int row, const char *color,
                        const char *label) {
  double lx = W - MR - 190, ly = MT + 14 + row * 16;
  out(p->f,
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
      "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">",
      lx, ly - 4, lx + 18, ly - 4, color, lx + 24, ly);
  esc(p->f, label);
  fputs("</text>", p->f);
}

static void plot_vline(plot *p, double x, const char *color,
                       const char *label) {
  double gx = px(p, x);
  out(p->f,
      "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
      "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" fill=\"%s\">",
      gx, MT, gx, H - MB, color, gx + 3, MT + 12, color);
  esc(p->f, label);
  fputs("</text>", p->f);
}

static void plot_end(plot *p, const char *caption) {
  fputs("</svg><figcaption>", p->f);
  esc(p->f, caption);
  fputs("</figcaption></figure>\n", p->f);
}

static const char *CSS =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1120px}"
    "table{border-collapse:collapse;margin:8px 0 18px}"
    "td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}"
    "th{background:#f2f2f2;text-align:left}"
    ".plots{display:flex;flex-wrap:wrap;gap:12px}"
    "figure{margin:0;border:1px solid #e3e3e3}"
    "figcaption{font-size:12px;padding:4px 8px;max-width:504px}";

typedef struct ctx {
  const fr_report_input *in;
  fr_metrics m;
  fr_curve_point *pts;
  size_t k;
  double P, N;
  int have_cost;
  fr_cost_result cost;
  double amount_recall;
  fr_calib_bin bins[64];
  size_t nbins;
  double ece;
} ctx;

static void section_tables(FILE *f, const ctx *c) {
  const fr_metrics *m = &c->m;
  fputs("<h2>Metrics</h2><table><tr><th>rows</th><th>frauds</th>"
        "<th>ROC-AUC</th><th>PR-AUC (average precision)</th><th>log loss</th>"
        "<th>Brier</th></tr><tr>",
        f);
  out(f, "<td>%zu</td><td>%zu</td>", m->rows, m->positives);
  cell(f, m->roc_auc);
  cell(f, m->pr_auc);
  cell(f, m->log_loss);
  cell(f, m->brier);
  fputs("</tr></table><table><tr><th>recall at FPR</th>", f);
  for (int i = 0; i < FR_N_FPR; i++)
    out(f, "<th>%g %%</th>", fr_metrics_fprs[i] * 100);
  fputs("</tr><tr><th></th>", f);
  for (int i = 0; i < FR_N_FPR; i++)
    cell(f, m->recall_at_fpr[i]);
  fputs("</tr></table>", f);
  out(f, "<h2>At threshold %.4g (p &gt;= threshold is flagged)</h2>",
      m->threshold);
  fputs("<table><tr><th>precision</th><th>recall</th><th>F1</th>", f);
  if (c->in->amount)
    fputs("<th>amount recall (fraud money caught)</th>", f);
  fputs("<th>TP</th><th>FP</th><th>TN</th><th>FN</th></tr><tr>", f);
  cell(f, m->precision);
  cell(f, m->recall);
  cell(f, m->f1);
  if (c->in->amount)
    cell(f, c->amount_recall);
  out(f, "<td>%zu</td><td>%zu</td><td>%zu</td><td>%zu</td></tr></table>",
      m->tp, m->fp, m->tn, m->fn);
  if (c->have_cost) {
    const fr_cost_result *r = &c->cost;
    const fr_cost_params *cp = c->in->cost;
    out(f,
        "<h2>Cost-based thresholds</h2><p>A missed fraud costs its amount, "
        "a review costs %.2f, declining a good customer costs %.2f.</p>",
        cp->review_cost, cp->decline_cost);
    fputs("<table><tr><th>review at p &gt;=</th><th>decline at p &gt;=</th>"
          "<th>approved</th><th>reviewed</th><th>declined</th>"
          "<th>total cost</th><th>cost approving all</th>"
          "<th>fraud money stopped</th></tr><tr>",
          f);
    out(f, "<td>%.6g</td><td>%.6g</td><td>%zu</td><td>%zu</td><td>%zu</td>",
        r->thresholds.review, r->thresholds.decline, r->approved, r->reviewed,
        r->declined);
    money(f, r->cost);
    money(f, r->cost_approve_all);
    money(f, r->fraud_amount_stopped);
    fputs("</tr></table>", f);
  }
  out(f, "<h2>Calibration</h2><p>Expected calibration error %.4f.</p>",
      c->ece);
  fputs("<table><tr><th>bin</th><th>rows</th><th>mean predicted</th>"
        "<th>observed fraud rate</th></tr>",
        f);
  for (size_t i = 0; i < c->nbins; i++) {
    const fr_calib_bin *b = &c->bins[i];
    out(f, "<tr><td>(%.3g, %.3g]</td><td>%zu</td>", b->lo, b->hi, b->count);
    cell(f, b->mean_pred);
    cell(f, b->frac_pos);
    fputs("</tr>", f);
  }
  fputs("</table>", f);
}

static int plots(FILE *f, const ctx *c, fr_error *err) {
  const fr_report_input *in = c->in;
  size_t k = c->k;
  double *x = malloc((k + 1) * sizeof *x), *y = malloc((k + 1) * sizeof *y);
  if (!x || !y) {
    free(x);
    free(y);
    return fr_error_set(err, FR_ENOMEM, "report: out of memory");
  }
  plot pl;
  fputs("<div class=\"plots\">", f);

  /* Precision-recall: step curve through (R_k, P_k), from (0, P_1). */
  plot_begin(&pl, f, "pr", "Precision-recall curve", "recall", "precision", 0,
             1, 0, 1);
  if (c->P > 0) {
    x[0] = 0;
    y[0] = c->pts[0].tp / (c->pts[0].tp + c->pts[0].fp);
    for (size_t i = 0; i < k; i++) {
      x[i + 1] = c->pts[i].tp / c->P;
      y[i + 1] = c->pts[i].tp / (c->pts[i].tp + c->pts[i].fp);
    }
    plot_line(&pl, x, y, k + 1, C_MODEL, NULL);
    double bx[2] = {0, 1}, by[2] = {c->P / (c->P + c->N), c->P / (c->P + c->N)};
    plot_line(&pl, bx, by, 2, "#888888", "5 4");
  }
  plot_legend(&pl, 0, C_MODEL, "model");
  plot_legend(&pl, 1, "#888888", "fraud rate (random)");
  char cap[256];
  fr_snprintf_c(cap, sizeof cap,
                "Average precision %.4f. Each point is one threshold; the "
                "dashed line is what random scores achieve.",
                c->m.pr_auc);
  plot_end(&pl, cap);

  /* ROC with the reported FPR budgets. */
  plot_begin(&pl, f, "roc", "ROC curve", "false-positive rate",
             "true-positive rate (recall)", 0, 1, 0, 1);
  if (c->P > 0 && c->N > 0) {
    x[0] = 0;
    y[0] = 0;
    for (size_t i = 0; i < k; i++) {
      x[i + 1] = c->pts[i].fp / c->N;
      y[i + 1] = c->pts[i].tp / c->P;
    }
    plot_line(&pl, x, y, k + 1, C_MODEL, NULL);
  }
  double dx[2] = {0, 1};
  plot_line(&pl, dx, dx, 2, "#888888", "5 4");
  plot_vline(&pl, 0.05, C_ALT, "FPR 5 %");
  plot_legend(&pl, 0, C_MODEL, "model");
  fr_snprintf_c(cap, sizeof cap,
                "ROC-AUC %.4f; recall %.3f at 1 %% and %.3f at 5 %% "
                "false-positive rate.",
                c->m.roc_auc, c->m.recall_at_fpr[1], c->m.recall_at_fpr[2]);
  plot_end(&pl, cap);

  /* Score histograms, each class normalised to its own count so that the
   * rare class is visible. */
  enum { HB = 20 };
  double hist[2][HB] = {{0}};
  double tot[2] = {0, 0};
  for (size_t i = 0; i < in->n; i++) {
    int b = (int)(in->p[i] * HB);
    b = b < 0 ? 0 : b >= HB ? HB - 1 : b;
    int cls = in->y[i] == 1.0f;
    hist[cls][b] += 1;
    tot[cls] += 1;
  }
  double ymax = 0;
  for (int cls = 0; cls < 2; cls++)
    for (int b = 0; b < HB; b++) {
      if (tot[cls] > 0)
        hist[cls][b] /= tot[cls];
      ymax = hist[cls][b] > ymax ? hist[cls][b] : ymax;
    }
  plot_begin(&pl, f, "hist", "Score distribution by class", "fraud probability",
             "share of the class", 0, 1, 0, ymax > 0 ? ymax * 1.05 : 1);
  for (int cls = 0; cls < 2; cls++)
    for (int b = 0; b < HB; b++) {
      double x0 = px(&pl, (double)b / HB), x1 = px(&pl, (double)(b + 1) / HB);
      double w = (x1 - x0) / 2 - 1;
      double top = py(&pl, hist[cls][b]), base = py(&pl, 0);
      out(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"%s\" fill-opacity=\"0.8\"/>",
          x0 + 1 + cls * (w + 0), top, w, base - top,
          cls ? C_FRAUD : C_GOOD);
    }
  plot_vline(&pl, in->threshold, "#333333", "threshold");
  plot_legend(&pl, 0, C_GOOD, "legitimate");
  plot_legend(&pl, 1, C_FRAUD, "fraud");
  plot_end(&pl, "Share of each class's transactions per score bin of width "
                "0.05; good separation puts frauds right, legitimate left.");

  /* Reliability diagram. */
  plot_begin(&pl, f, "calibration", "Calibration", "mean predicted probability",
             "observed fraud rate", 0, 1, 0, 1);
  plot_line(&pl, dx, dx, 2, "#888888", "5 4");
  for (size_t i = 0; i < c->nbins; i++) {
    x[i] = c->bins[i].mean_pred;
    y[i] = c->bins[i].frac_pos;
  }
  plot_line(&pl, x, y, c->nbins, C_FRAUD, NULL);
  for (size_t i = 0; i < c->nbins; i++)
    out(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"" C_FRAUD "\"/>",
        px(&pl, x[i]), py(&pl, y[i]));
  plot_legend(&pl, 0, C_FRAUD, "model");
  plot_legend(&pl, 1, "#888888", "perfectly calibrated");
  fr_snprintf_c(cap, sizeof cap,
                "Observed fraud rate against mean prediction per bin; "
                "expected calibration error %.4f.",
                c->ece);
  plot_end(&pl, cap);
  free(x);
  free(y);

  /* Cost versus threshold. */
  if (c->have_cost) {
    double *thr, *dec, *rev;
    size_t m;
    int rc = fr_cost_curve(in->y, in->p, in->amount, in->n, in->cost, &thr,
                           &dec, &rev, &m, err);
    if (rc)
      return rc;
    double cmax = 0;
    for (size_t i = 0; i < m; i++) {
      cmax = dec[i] > cmax ? dec[i] : cmax;
      cmax = rev[i] > cmax ? rev[i] : cmax;
    }
    plot_begin(&pl, f, "cost", "Cost versus threshold", "threshold",
               "total cost", 0, 1, 0, cmax > 0 ? cmax * 1.05 : 1);
    plot_line(&pl, thr, dec, m, C_FRAUD, NULL);
    plot_line(&pl, thr, rev, m, C_GOOD, NULL);
    plot_vline(&pl, c->cost.thresholds.decline, "#333333", "decline");
    if (c->cost.thresholds.review < c->cost.thresholds.decline)
      plot_vline(&pl, c->cost.thresholds.review, C_ALT, "review");
    plot_legend(&pl, 0, C_FRAUD, "decline everything flagged");
    plot_legend(&pl, 1, C_GOOD, "review everything flagged");
    fr_snprintf_c(cap, sizeof cap,
                  "Total cost when every transaction at or above the "
                  "threshold is declined or reviewed; the chosen policy "
                  "costs %.2f against %.2f for approving everything.",
                  c->cost.cost, c->cost.cost_approve_all);
    plot_end(&pl, cap);
    free(thr);
    free(dec);
    free(rev);
  }
  fputs("</div>", f);
  return 0;
}

int fr_report_html(const fr_report_input *in, char **html, size_t *len,
                   fr_error *err) {
  if (!in || !html)
    return fr_error_set(err, FR_EINVAL, "report: NULL argument");
  *html = NULL;
  if (len)
    *len = 0;
  ctx c;
  memset(&c, 0, sizeof c);
  c.in = in;
  int rc = fr_metrics_compute(in->y, in->p, in->n, in->threshold, &c.m, err);
  if (rc)
    return rc;
  if ((rc = fr_curve_points(in->y, in->p, in->n, &c.pts, &c.k, &c.P, &c.N,
                            err)))
    return rc;
  c.amount_recall = NAN;
  if (in->amount &&
      (rc = fr_amount_recall(in->y, in->p, in->amount, in->n, in->threshold,
                             &c.amount_recall, err)))
    goto done;
  if (in->cost && in->amount) {
    if ((rc = fr_cost_thresholds(in->y, in->p, in->amount, in->n, in->cost,
                                 &c.cost, err)))
      goto done;
    c.have_cost = 1;
  }
  int nb = in->calibration_bins > 0 ? in->calibration_bins : 10;
  if (nb > 64)
    nb = 64;
  if ((rc = fr_calibration(in->y, in->p, in->n, nb, FR_CALIB_UNIFORM, c.bins,
                           &c.nbins, &c.ece, err)))
    goto done;

  char *buf = NULL;
  size_t blen = 0;
  FILE *f = open_memstream(&buf, &blen);
  if (!f) {
    rc = fr_error_set(err, FR_ENOMEM, "report: out of memory");
    goto done;
  }
  const char *title = in->title ? in->title : "Fraud model evaluation";
  fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
        "lang=\"en\"><head><meta charset=\"utf-8\"/><title>",
        f);
  esc(f, title);
  out(f, "</title><style>%s</style></head><body><h1>", CSS);
  esc(f, title);
  fputs("</h1>", f);
  if (in->subtitle) {
    fputs("<p>", f);
    esc(f, in->subtitle);
    fputs("</p>", f);
  }
  section_tables(f, &c);
  fputs("<h2>Plots</h2>", f);
  rc = plots(f, &c, err);
  out(f, "<p style=\"font-size:12px;color:#666\">fraud %s; metrics as "
         "defined in docs/metrics-formulas.md.</p></body></html>\n",
      fr_version());
  if (fclose(f) != 0 && rc == 0)
    rc = fr_error_set(err, FR_ENOMEM, "report: out of memory");
  if (rc) {
    free(buf);
    goto done;
  }
  *html = buf;
  if (len)
    *len = blen;
done:
  free(c.pts);
  return rc;
}

int fr_report_write(const fr_report_input *in, const char *path,
                    fr_error *err) {
  char *html;
  size_t len;
  int rc = fr_report_html(in, &html, &len, err);
  if (rc)
    return rc;
  rc = fr_file_write_atomic(path, html, len, err);
  free(html);
  return rc;
}
