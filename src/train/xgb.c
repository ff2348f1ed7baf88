/*
 * xgb.c - loads libxgboost at run time (see xgb.h for why) and turns its
 * error model (return -1, message in a thread-local XGBGetLastError()) into
 * fr_error records.
 */
#include "train/xgb.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Debian's libxgboost0 ships the soname libxgboost.so.0; the unversioned
 * libxgboost.so exists only with the -dev package, which a server image does
 * not have. */
#define FR__XGB_SONAME "libxgboost.so.0"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static fr__xgb_api g_api;
static int g_rc;
static char g_msg[512];

static void load_once(void) {
  const char *lib = getenv("FRAUD_XGBOOST_LIBRARY");
  if (!lib || !*lib)
    lib = FR__XGB_SONAME;
  /* OpenMP's idle threads sleep at once instead of spinning, unless the
   * user chose otherwise.  libgomp's default lets a waiting thread spin,
   * and XGBoost 1.7 opens a parallel region with every core for each AUC
   * evaluation whatever nthread says: on a machine with other busy
   * processes each such region waits for a descheduled spinner, and one
   * validation aucpr of 2,000 rows took 35-47 ms instead of 0.3 ms
   * (measured on 2 busy cores; training the Sparkov sample went from 13 s
   * to 1.1 s with the same trees).  libgomp reads the variable when it is
   * loaded, which is at this dlopen: nothing in libfraud links OpenMP. */
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  /* RTLD_LOCAL: XGBoost's symbols stay out of the global namespace. */
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(g_msg, sizeof g_msg,
             "fraud train needs libxgboost (apt-get install libxgboost0): %s",
             why ? why : lib);
    g_rc = FR_EDEP;
    return;
  }
#define FR__XGB_SYM(name)                                                    \
  do {                                                                       \
    void *p = dlsym(h, #name);                                               \
    if (!p) {                                                                \
      snprintf(g_msg, sizeof g_msg,                                          \
               "fraud train needs libxgboost >= 1.7 (apt-get install "       \
               "libxgboost0): %s has no symbol %s",                          \
               lib, #name);                                                  \
      g_rc = FR_EDEP;                                                        \
      dlclose(h);                                                            \
      return;                                                                \
    }                                                                        \
    /* POSIX guarantees a data pointer from dlsym converts to a function     \
     * pointer; memcpy avoids the ISO C warning about the cast. */           \
    memcpy(&g_api.name, &p, sizeof p);                                       \
  } while (0);
  FR__XGB_FUNCS(FR__XGB_SYM)
#undef FR__XGB_SYM
  g_api.XGBoostVersion(&g_api.major, &g_api.minor, &g_api.patch);
  g_rc = 0;
  /* The handle is deliberately never closed: the table lives as long as the
   * process, and XGBoost's OpenMP threads may outlive any caller. */
}

int fr__xgb_load(const fr__xgb_api **api, fr_error *err) {
  pthread_once(&g_once, load_once);
  if (g_rc != 0) {
    *api = NULL;
    return fr_error_set(err, g_rc, "%s", g_msg);
  }
  *api = &g_api;
  return 0;
}

int fr__xgb_fail(const fr__xgb_api *api, fr_error *err, const char *call) {
  const char *msg = api->XGBGetLastError();
  /* Keep only the call's name: "XGBoosterSetParam(b, ...)" -> first token. */
  size_t n = strcspn(call, "(");
  return fr_error_set(err, FR_EINVAL, "xgboost: %.*s failed: %s", (int)n,
                      call, msg && *msg ? msg : "(no message)");
}
