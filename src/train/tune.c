/*
 * tune.c - hyper-parameter search: random configurations (space.c) raced by
 * successive halving in Hyperband's brackets (Li et al., JMLR 2018,
 * Algorithm 1), the resource being boosting rounds.
 *
 * Trials run in fork(2)ed worker processes, `parallel` at a time, each with
 * its share of the cores: a crash or a runaway allocation in XGBoost takes
 * down one trial, not the search.  Each rung finishes before the next one
 * starts (synchronous successive halving), and survivors are ranked by
 * (score, configuration number), so the whole table is a function of the
 * seed and never of which worker finished first.
 *
 * Every finished trial is appended to the trials log as one JSON line and
 * fsync'd; the log's first line records the search (seed, space digest,
 * budgets, fixed parameters).  Running again with the same log skips the
 * trials it holds, which is how an interrupted search resumes; a torn last
 * line (a crash mid-write) is dropped.
 */
#include "fraud/train.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a worker sends back: small enough (< PIPE_BUF) for one atomic
 * write. */
typedef struct wire {
  int status;
  int best_iteration, rounds_run;
  double score, seconds;
  char error[256];
} wire;

typedef struct key_trial {
  int bracket, rung, config;
  fr_trial t;
} key_trial;

typedef struct tuner {
  const fr_search_space *space;
  fr_train_params base;
  const fr_tune_options *o;
  fr_tune_objective obj;
  void *ctx;
  int min_rounds, max_rounds, eta, threads, parallel;
  int log_fd;
  key_trial *old; /* trials read back from the log */
  size_t nold;
  fr_tune_result *res;
  size_t cap;
  int next_id;
  size_t launched;
  int stopped; /* time box reached */
} tuner;

static int ipow(int b, int e) {
  int r = 1;
  while (e-- > 0)
    r *= b;
  return r;
}

char *fr_trial_json(const fr_trial *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  char sc[40], se[40];
  if (isfinite(t->score))
    fr_fmt_double(sc, sizeof sc, t->score);
  else
    strcpy(sc, "null");
  fr_fmt_double(se, sizeof se, t->seconds);
  fprintf(f,
          "{\"trial\":%d,\"bracket\":%d,\"rung\":%d,\"config\":%d,"
          "\"rounds\":%d,\"status\":\"%s\",\"valid_pr_auc\":%s,"
          "\"best_iteration\":%d,\"rounds_run\":%d,\"seconds\":%s",
          t->id, t->bracket, t->rung, t->config, t->rounds,
          t->status ? "failed" : "ok", sc, t->best_iteration, t->rounds_run,
          se);
  char *pj = fr_train_params_json(&t->params);
  if (pj) {
    fprintf(f, ",\"params\":%s", pj);
    free(pj);
  }
  if (t->status) {
    char e[600];
    fr_json_escape(e, sizeof e, t->error, strlen(t->error));
    fprintf(f, ",\"error\":\"%s\"", e);
  }
  fputc('}', f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* The log's first line: what makes two searches the same. */
static char *header_json(const tuner *tu) {
  char digest[65];
  fr_search_space_digest(tu->space, digest);
  fr_train_params b = tu->base;
  b.nthread = 0;      /* threads do not define the search... */
  b.n_estimators = 0; /* ...and the budget is per trial */
  char *pj = fr_train_params_json(&b);
  if (!pj)
    return NULL;
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (!f) {
    free(pj);
    return NULL;
  }
  fprintf(f,
          "{\"tune\":{\"seed\":%llu,\"space_sha256\":\"%s\",\"min_rounds\":%d,"
          "\"max_rounds\":%d,\"reduction\":%d,\"base\":%s}}",
          (unsigned long long)tu->o->seed, digest, tu->min_rounds,
          tu->max_rounds, tu->eta, pj);
  free(pj);
  fclose(f);
  return out;
}

static int write_line(tuner *tu, const char *line, fr_error *err) {
  size_t n = strlen(line);
  char *b = malloc(n + 2);
  if (!b)
    return fr_error_set(err, FR_ENOMEM, "tune: out of memory");
  memcpy(b, line, n);
  b[n] = '\n';
  size_t off = 0;
  while (off < n + 1) {
    ssize_t w = write(tu->log_fd, b + off, n + 1 - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      free(b);
      return fr_error_set(err, FR_EIO, "tune: %s: write: %s", tu->o->log_path,
                          strerror(errno));
    }
    off += (size_t)w;
  }
  free(b);
  if (fsync(tu->log_fd) != 0)
    return fr_error_set(err, FR_EIO, "tune: %s: fsync: %s", tu->o->log_path,
                        strerror(errno));
  return 0;
}

static int jint(const json_t *o, const char *k) {
  return (int)json_integer_value(json_object_get(o, k));
}

/* Opens the log; reads back the trials of a previous run of the same
 * search. */
static int open_log(tuner *tu, fr_error *err) {
  const char *path = tu->o->log_path;
  char *header = header_json(tu);
  if (!header)
    return fr_error_set(err, FR_ENOMEM, "tune: out of memory");
  size_t len = 0;
  char *text = fr_is_file(path) ? fr_file_read_all(path, &len, NULL) : NULL;
  int rc = 0;
  size_t good = 0; /* bytes of complete, parsed lines */
  if (text && len > 0) {
    size_t lineno = 0;
    for (char *line = text; line < text + len;) {
      char *nl = memchr(line, '\n', (size_t)(text + len - line));
      if (!nl)
        break; /* torn last line: dropped below */
      *nl = '\0';
      lineno++;
      json_error_t je;
      json_t *j = json_loads(line, 0, &je);
      if (!j) {
        if (nl + 1 == text + len)
          break; /* a torn last line that happens to end in '\n' */
        rc = fr_error_set(err, FR_EFORMAT, "tune: %s:%zu: not JSON: %s", path,
                          lineno, je.text);
        goto done;
      }
      if (lineno == 1) {
        char *have = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *mine = json_loads(header, 0, NULL);
        char *want = json_dumps(mine, JSON_COMPACT | JSON_SORT_KEYS);
        int same = have && want && strcmp(have, want) == 0;
        free(have);
        free(want);
        json_decref(mine);
        if (!same) {
          json_decref(j);
          rc = fr_error_set(err, FR_ESTATE,
                            "tune: %s was written by a different search "
                            "(seed, search space, budgets or fixed "
                            "parameters differ); give another --log or "
                            "remove it",
                            path);
          goto done;
        }
      } else {
        if (tu->nold % 64 == 0) {
          key_trial *n2 = realloc(tu->old, (tu->nold + 64) * sizeof *n2);
          if (!n2) {
            json_decref(j);
            rc = fr_error_set(err, FR_ENOMEM, "tune: out of memory");
            goto done;
          }
          tu->old = n2;
        }
        key_trial *k = &tu->old[tu->nold++];
        memset(k, 0, sizeof *k);
        k->bracket = jint(j, "bracket");
        k->rung = jint(j, "rung");
        k->config = jint(j, "config");
        fr_trial *t = &k->t;
        t->rounds = jint(j, "rounds");
        const char *st = json_string_value(json_object_get(j, "status"));
        t->status = st && strcmp(st, "ok") == 0 ? 0 : FR_EUNAVAIL;
        const json_t *sc = json_object_get(j, "valid_pr_auc");
        t->score = json_is_number(sc) ? json_number_value(sc) : -INFINITY;
        t->best_iteration = jint(j, "best_iteration");
        t->rounds_run = jint(j, "rounds_run");
        t->seconds = json_number_value(json_object_get(j, "seconds"));
        const char *e = json_string_value(json_object_get(j, "error"));
        if (e)
          snprintf(t->error, sizeof t->error, "%s", e);
      }
      json_decref(j);
      good = (size_t)(nl + 1 - text);
      line = nl + 1;
    }
  }
  tu->log_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (tu->log_fd < 0) {
    rc = fr_error_set(err, FR_EIO, "tune: cannot open trials log %s: %s",
                      path, strerror(errno));
    goto done;
  }
  /* Drop a torn tail, then append after the good lines.  Truncated only
   * when there is a tail: a log that is not a regular file (a link to a
   * device) cannot be truncated, and its first write then names the real
   * error rather than ftruncate's EINVAL. */
  struct stat st;
  if (fstat(tu->log_fd, &st) != 0 ||
      (st.st_size > (off_t)good && ftruncate(tu->log_fd, (off_t)good) != 0) ||
      lseek(tu->log_fd, 0, SEEK_END) < 0) {
    rc = fr_error_set(err, FR_EIO, "tune: %s: %s", path, strerror(errno));
    goto done;
  }
  if (good == 0)
    rc = write_line(tu, header, err);
done:
  free(text);
  free(header);
  return rc;
}

static const fr_trial *find_old(const tuner *tu, int b, int r, int c) {
  for (size_t i = 0; i < tu->nold; i++)
    if (tu->old[i].bracket == b && tu->old[i].rung == r &&
        tu->old[i].config == c)
      return &tu->old[i].t;
  return NULL;
}

static void run_child(tuner *tu, const fr_trial *t, int fd) {
  /* A Ctrl-C reaches the whole process group: let it end the worker. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  wire w;
  memset(&w, 0, sizeof w);
  fr_trial out = *t;
  out.error[0] = '\0';
  uint64_t t0 = fr_monotonic_ns();
  w.status = tu->obj(&t->params, &out, tu->ctx);
  w.seconds = (double)(fr_monotonic_ns() - t0) * 1e-9;
  w.score = w.status ? -INFINITY : out.score;
  w.best_iteration = out.best_iteration;
  w.rounds_run = out.rounds_run;
  memcpy(w.error, out.error, sizeof w.error);
  w.error[sizeof w.error - 1] = '\0';
  ssize_t n = write(fd, &w, sizeof w);
  _exit(n == (ssize_t)sizeof w ? 0 : 1);
}

typedef struct worker {
  pid_t pid;
  int fd;
  fr_trial *t;
} worker;

static void kill_all(worker *wk, int n) {
  for (int i = 0; i < n; i++) {
    kill(wk[i].pid, SIGKILL);
    close(wk[i].fd);
    while (waitpid(wk[i].pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
}

static int cancelled(const tuner *tu) {
  return tu->o->cancel && *tu->o->cancel;
}

/* Runs the trials q[0..n) (those not resumed), `parallel` at a time. */
static int run_batch(tuner *tu, fr_trial **q, size_t n, fr_error *err) {
  worker wk[64];
  int running = 0;
  size_t next = 0;
  int rc = 0;
  while (next < n || running > 0) {
    if (cancelled(tu)) {
      kill_all(wk, running);
      return fr_error_set(err, FR_ESTATE,
                          "tune: interrupted; the finished trials are in %s: "
                          "rerun with the same log to resume",
                          tu->o->log_path);
    }
    while (running < tu->parallel && next < n && !tu->stopped) {
      if (tu->o->max_new_trials > 0 &&
          tu->launched >= (size_t)tu->o->max_new_trials) {
        tu->stopped = 1;
        break;
      }
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) {
        kill_all(wk, running);
        return fr_error_set(err, FR_EIO, "tune: pipe: %s", strerror(errno));
      }
      fflush(NULL); /* no stdio buffer is written twice */
      pid_t pid = fork();
      if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        kill_all(wk, running);
        return fr_error_set(err, FR_EIO, "tune: fork: %s", strerror(errno));
      }
      if (pid == 0) {
        close(fds[0]);
        run_child(tu, q[next], fds[1]);
      }
      close(fds[1]);
      wk[running++] = (worker){pid, fds[0], q[next]};
      next++;
      tu->launched++;
    }
    if (running == 0)
      break; /* time box reached */
    struct pollfd pf[64];
    for (int i = 0; i < running; i++)
      pf[i] = (struct pollfd){wk[i].fd, POLLIN, 0};
    int pr = poll(pf, (nfds_t)running, 200);
    if (pr < 0 && errno != EINTR) {
      kill_all(wk, running);
      return fr_error_set(err, FR_EIO, "tune: poll: %s", strerror(errno));
    }
    for (int i = running - 1; pr > 0 && i >= 0; i--) {
      if (!pf[i].revents)
        continue;
      wire w;
      ssize_t got;
      do
        got = read(wk[i].fd, &w, sizeof w);
      while (got < 0 && errno == EINTR);
      close(wk[i].fd);
      int st = 0;
      while (waitpid(wk[i].pid, &st, 0) < 0 && errno == EINTR)
        ;
      fr_trial *t = wk[i].t;
      if (got != (ssize_t)sizeof w && cancelled(tu)) {
        /* Died of the interruption (a Ctrl-C reaches the workers too): not
         * a failed trial; left unlogged so that the resumed search runs
         * it. */
        wk[i] = wk[--running];
        continue;
      }
      if (got == (ssize_t)sizeof w) {
        t->status = w.status;
        t->score = w.score;
        t->best_iteration = w.best_iteration;
        t->rounds_run = w.rounds_run;
        t->seconds = w.seconds;
        memcpy(t->error, w.error, sizeof t->error);
      } else {
        t->status = FR_EUNAVAIL;
        t->score = -INFINITY;
        snprintf(t->error, sizeof t->error,
                 "worker process died (%s %d)",
                 WIFSIGNALED(st) ? "signal" : "exit status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
      }
      char *line = fr_trial_json(t);
      if (!line) {
        rc = fr_error_set(err, FR_ENOMEM, "tune: out of memory");
      } else {
        int wrc = write_line(tu, line, err);
        free(line);
        if (wrc && !rc)
          rc = wrc;
      }
      wk[i] = wk[--running];
      tu->res->n_run++;
      if (!rc && tu->o->on_trial)
        tu->o->on_trial(t, tu->res->n_resumed + tu->res->n_run,
                        tu->res->n_planned, tu->o->on_trial_ctx);
      if (rc) {
        kill_all(wk, running);
        return rc;
      }
    }
  }
  return 0;
}

static int push_trial(tuner *tu, const fr_trial *t) {
  fr_tune_result *r = tu->res;
  if (r->n_trials == tu->cap) {
    size_t nc = tu->cap ? tu->cap * 2 : 64;
    fr_trial *n2 = realloc(r->trials, nc * sizeof *n2);
    if (!n2)
      return FR_ENOMEM;
    r->trials = n2;
    tu->cap = nc;
  }
  r->trials[r->n_trials++] = *t;
  return 0;
}

typedef struct ranked {
  double score;
  int config;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return (x->config > y->config) - (x->config < y->config);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* One bracket of successive halving over configs [first, first + n). */
static int run_bracket(tuner *tu, int s, int first, int n, fr_error *err) {
  int *alive = malloc((size_t)n * sizeof *alive);
  fr_trial *rung = calloc((size_t)n, sizeof *rung);
  fr_trial **q = calloc((size_t)n, sizeof *q);
  ranked *rk = calloc((size_t)n, sizeof *rk);
  int rc = 0;
  if (!alive || !rung || !q || !rk) {
    rc = fr_error_set(err, FR_ENOMEM, "tune: out of memory");
    goto done;
  }
  int n_alive = n;
  for (int i = 0; i < n; i++)
    alive[i] = first + i;
  for (int i = 0; i <= s && n_alive > 0; i++) {
    int finished = 1;
    int rounds = (int)llround((double)tu->max_rounds / ipow(tu->eta, s - i));
    rounds = rounds < 1 ? 1 : rounds;
    size_t nq = 0;
    for (int c = 0; c < n_alive; c++) {
      fr_trial *t = &rung[c];
      memset(t, 0, sizeof *t);
      t->id = tu->next_id++;
      t->bracket = s;
      t->rung = i;
      t->config = alive[c];
      t->rounds = rounds;
      fr_search_space_sample(tu->space, tu->o->seed, (uint64_t)alive[c],
                             &tu->base, &t->params);
      t->params.n_estimators = rounds;
      t->params.nthread = tu->threads;
      t->params.progress = NULL;
      t->params.progress_ctx = NULL;
      t->params.verbose = 0;
      t->score = -INFINITY;
      t->status = -1; /* not run */
      const fr_trial *old = find_old(tu, s, i, alive[c]);
      if (old && old->rounds == rounds) {
        t->status = old->status;
        t->score = old->score;
        t->best_iteration = old->best_iteration;
        t->rounds_run = old->rounds_run;
        t->seconds = old->seconds;
        memcpy(t->error, old->error, sizeof t->error);
        tu->res->n_resumed++;
      } else {
        q[nq++] = t;
      }
    }
    rc = run_batch(tu, q, nq, err);
    for (int c = 0; c < n_alive; c++)
      finished = finished && rung[c].status != -1;
    for (int c = 0; c < n_alive; c++)
      if (rung[c].status != -1 && push_trial(tu, &rung[c]) != 0 && !rc)
        rc = fr_error_set(err, FR_ENOMEM, "tune: out of memory");
    if (rc || !finished) {
      if (!rc)
        tu->stopped = 1;
      goto done;
    }
    /* Promote the best floor(n_i / eta), ties to the lower config. */
    for (int c = 0; c < n_alive; c++)
      rk[c] = (ranked){rung[c].status == 0 ? rung[c].score : -INFINITY,
                       rung[c].config};
    qsort(rk, (size_t)n_alive, sizeof *rk, cmp_ranked);
    n_alive /= tu->eta;
    for (int c = 0; c < n_alive; c++)
      alive[c] = rk[c].config;
    qsort(alive, (size_t)n_alive, sizeof *alive, cmp_int);
  }
done:
  free(alive);
  free(rung);
  free(q);
  free(rk);
  return rc;
}

void fr_tune_result_free(fr_tune_result *res) {
  if (!res)
    return;
  free(res->trials);
  memset(res, 0, sizeof *res);
  res->best = -1;
}

int fr_tune_run(const fr_search_space *s, const fr_train_params *base,
                const fr_tune_options *o, fr_tune_objective obj, void *ctx,
                fr_tune_result *res, fr_error *err) {
  if (!res)
    return fr_error_set(err, FR_EINVAL, "tune: NULL result");
  memset(res, 0, sizeof *res);
  res->best = -1;
  if (!s || !base || !o || !obj || !o->log_path)
    return fr_error_set(err, FR_EINVAL,
                        "tune: space, parameters, options, objective and "
                        "trials log are required");
  tuner tu;
  memset(&tu, 0, sizeof tu);
  tu.space = s;
  tu.base = *base;
  /* Trials outlive the caller's strings: point at static ones. */
  static const char *const methods[] = {"hist", "exact", "approx"};
  tu.base.tree_method = "hist";
  int known = !base->tree_method;
  for (size_t i = 0; base->tree_method && i < 3; i++)
    if (strcmp(base->tree_method, methods[i]) == 0) {
      tu.base.tree_method = methods[i];
      known = 1;
    }
  if (!known)
    return fr_error_set(err, FR_EINVAL,
                        "tune: parameter tree_method = '%s' is not one of "
                        "hist, exact, approx",
                        base->tree_method);
  tu.o = o;
  tu.obj = obj;
  tu.ctx = ctx;
  tu.log_fd = -1;
  tu.res = res;
  int smin, smax;
  fr_search_space_rounds(s, &smin, &smax);
  tu.min_rounds = o->min_rounds > 0 ? o->min_rounds : smin > 0 ? smin : 20;
  tu.max_rounds = o->max_rounds > 0   ? o->max_rounds
                  : smax > 0          ? smax
                                      : base->n_estimators;
  tu.eta = o->reduction > 0 ? o->reduction : 3;
  tu.parallel = o->parallel > 0 ? o->parallel : 1;
  if (tu.parallel > 64)
    tu.parallel = 64;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cores = cores > 0 ? cores : 1;
  tu.threads = o->trial_threads > 0 ? o->trial_threads
                                    : (int)(cores / tu.parallel > 0
                                                ? cores / tu.parallel
                                                : 1);
  if (tu.eta < 2 || tu.min_rounds < 1 || tu.max_rounds < tu.min_rounds)
    return fr_error_set(err, FR_EINVAL,
                        "tune: need reduction >= 2 and 1 <= min rounds (%d) "
                        "<= max rounds (%d)",
                        tu.min_rounds, tu.max_rounds);
  /* s_max = floor(log_eta(R / r)), exactly in integers. */
  int s_max = 0;
  while ((long long)tu.min_rounds * ipow(tu.eta, s_max + 1) <=
         (long long)tu.max_rounds)
    s_max++;
  int nb = o->brackets > 0 && o->brackets <= s_max + 1 ? o->brackets
                                                       : s_max + 1;
  /* Planned trials and config numbering. */
  int cfg = 0;
  int rc = open_log(&tu, err);
  if (rc)
    goto done;
  for (int b = 0; b < nb; b++) {
    int sb = s_max - b;
    int n = (int)(((long long)(s_max + 1) * ipow(tu.eta, sb) + sb) / (sb + 1));
    for (int i = 0; i <= sb; i++)
      res->n_planned += (size_t)(n / ipow(tu.eta, i));
  }
  for (int b = 0; b < nb && !tu.stopped; b++) {
    int sb = s_max - b;
    /* n = ceil((s_max + 1) eta^s / (s + 1)) */
    int n = (int)(((long long)(s_max + 1) * ipow(tu.eta, sb) + sb) / (sb + 1));
    if ((rc = run_bracket(&tu, sb, cfg, n, err)))
      break;
    cfg += n;
  }
done:
  if (tu.log_fd >= 0)
    close(tu.log_fd);
  free(tu.old);
  res->complete = rc == 0 && !tu.stopped && res->n_trials == res->n_planned;
  for (size_t i = 0; i < res->n_trials; i++) {
    const fr_trial *t = &res->trials[i];
    if (t->status != 0)
      continue;
    if (res->best < 0) {
      res->best = (int)i;
      continue;
    }
    const fr_trial *b = &res->trials[res->best];
    if (t->score > b->score ||
        (t->score == b->score &&
         (t->rounds > b->rounds || (t->rounds == b->rounds && t->id < b->id))))
      res->best = (int)i;
  }
  return rc;
}

int fr_tune_objective_xgboost(const fr_train_params *p, fr_trial *out,
                              void *ctx) {
  const fr_tune_xgboost_ctx *c = ctx;
  fr_error err = {0};
  char *model = NULL;
  size_t len = 0;
  fr_train_result tr;
  int rc = fr_train_xgboost(c->table, c->split, p, &model, &len, &tr, &err);
  float *pred = NULL;
  if (rc)
    goto done;
  size_t from = c->split->train_end, rows = c->split->valid_end - from;
  pred = malloc(rows * sizeof *pred);
  if (!pred) {
    rc = fr_error_set(&err, FR_ENOMEM, "tune: out of memory");
    goto done;
  }
  if ((rc = fr_xgboost_predict(model, len, c->table->x + from * c->table->cols,
                               rows, c->table->cols, p->nthread, pred, &err)))
    goto done;
  fr_metrics m;
  if ((rc = fr_metrics_compute(c->table->y + from, pred, rows, 0.5, &m, &err)))
    goto done;
  out->score = m.pr_auc;
  out->best_iteration = tr.best_iteration;
  out->rounds_run = tr.rounds_run;
done:
  if (rc)
    snprintf(out->error, sizeof out->error, "%s", err.msg);
  free(pred);
  free(model);
  return rc;
}
