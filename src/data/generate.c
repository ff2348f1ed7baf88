/*
 * generate.c - synthetic card transactions with the structure real fraud has,
 * written in schemas/synthetic.yaml's format, in event-time order, streaming
 * in memory that depends on the number of cards and merchants, never on the
 * number of rows.
 *
 * The world: merchants with a category (MCC), a city and a popularity;
 * cardholders with a home city, a spending level, active hours, favourite
 * merchants near home and one or two devices for e-commerce.  Legitimate
 * traffic is a per-card Poisson process thinned by a daily and weekly cycle
 * (Lewis & Shedler, "Simulation of nonhomogeneous Poisson processes by
 * thinning", Naval Research Logistics Quarterly 26(3), 1979).  Fraud comes
 * from episodes started by a Poisson process calibrated to the target fraud
 * rate: card testing, stolen card, account takeover and merchant compromise
 * (docs/data.md).  Every scenario is meant to leave a trace in per-entity
 * history (bursts, first visits, new devices, distance from home, impossible
 * travel, shared fraud devices) while its single-row attributes (amount, MCC,
 * channel, hour) overlap with legitimate traffic, so a model must look at
 * history to do well.
 *
 * One min-heap, keyed by (time, kind, id), holds every card's next legitimate
 * transaction, every live fraud episode's next step and the episode spawner;
 * popping it yields the rows in time order.  Randomness is xoshiro256**
 * (D. Blackman and S. Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 47(4), 2021; https://prng.di.unimi.it/) seeded through
 * splitmix64, so a seed reproduces the same bytes on every platform.  Rows are
 * formatted by hand (no printf) to reach millions of rows a second.
 */
#include "fraud/data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------------
 * PRNG
 * ------------------------------------------------------------------------ */

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1). */
static inline double u01(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
/* Uniform integer in [0, n) (Lemire's multiply-shift; bias < n / 2^64). */
static inline uint32_t below(rng *r, uint32_t n) {
  return (uint32_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}
static inline uint32_t between(rng *r, uint32_t lo, uint32_t hi) {
  return lo + below(r, hi - lo + 1);
}
static inline double expo(rng *r, double mean) { return -mean * log1p(-u01(r)); }
static double normal(rng *r) { /* Box-Muller, one value per call */
  double u = u01(r), v = u01(r);
  return sqrt(-2.0 * log1p(-u)) * cos(6.283185307179586 * v);
}

/* ------------------------------------------------------------------------
 * The world's constants
 * ------------------------------------------------------------------------ */

typedef struct city {
  const char *name;
  double lat, lon;
  const char *currency;
} city;

static const city cities[] = {
    {"Paris", 48.8566, 2.3522, "EUR"},     {"Lyon", 45.7640, 4.8357, "EUR"},
    {"Marseille", 43.2965, 5.3698, "EUR"}, {"Brussels", 50.8503, 4.3517, "EUR"},
    {"Amsterdam", 52.3676, 4.9041, "EUR"}, {"Berlin", 52.5200, 13.4050, "EUR"},
    {"Munich", 48.1351, 11.5820, "EUR"},   {"Hamburg", 53.5511, 9.9937, "EUR"},
    {"Madrid", 40.4168, -3.7038, "EUR"},   {"Barcelona", 41.3874, 2.1686, "EUR"},
    {"Lisbon", 38.7223, -9.1393, "EUR"},   {"Rome", 41.9028, 12.4964, "EUR"},
    {"Milan", 45.4642, 9.1900, "EUR"},     {"Vienna", 48.2082, 16.3738, "EUR"},
    {"Dublin", 53.3498, -6.2603, "EUR"},   {"London", 51.5072, -0.1276, "GBP"},
    {"Zurich", 47.3769, 8.5417, "CHF"},    {"Stockholm", 59.3293, 18.0686, "SEK"},
    {"Warsaw", 52.2297, 21.0122, "PLN"},   {"Prague", 50.0755, 14.4378, "CZK"},
};
#define NCITIES (sizeof cities / sizeof cities[0])

typedef struct mcc_info {
  const char *code;
  int ecommerce;     /* card-not-present merchant */
  double log_mean;   /* ln of the typical amount, EUR */
  double sigma;      /* lognormal spread */
  double weight;     /* share of merchants */
  int high_value;    /* what stolen cards are used for */
} mcc_info;

/* Typical amounts are plausible orders of magnitude, not estimates of any
 * real portfolio.  Small-ticket categories (transit, parking, fast food,
 * digital goods) make tiny amounts common in legitimate traffic too, so that
 * card testing cannot be found from the amount alone. */
static const mcc_info mccs[] = {
    {"5411", 0, 3.55, 0.60, 20, 0}, /* grocery */
    {"5812", 0, 3.33, 0.50, 12, 0}, /* restaurants */
    {"5814", 0, 2.20, 0.50, 10, 0}, /* fast food */
    {"5541", 0, 3.91, 0.40, 6, 0},  /* fuel */
    {"4111", 0, 1.25, 0.50, 4, 0},  /* transit */
    {"7523", 0, 1.39, 0.60, 3, 0},  /* parking */
    {"5912", 0, 2.89, 0.70, 5, 0},  /* pharmacy */
    {"5311", 0, 4.25, 0.80, 6, 1},  /* department stores */
    {"5732", 0, 5.01, 1.00, 3, 1},  /* electronics */
    {"5944", 0, 5.52, 0.90, 2, 1},  /* jewellery */
    {"5999", 0, 3.22, 0.80, 6, 0},  /* misc retail */
    {"7011", 0, 4.79, 0.60, 3, 0},  /* hotels */
    {"4511", 1, 5.39, 0.70, 2, 1},  /* airlines */
    {"5818", 1, 1.79, 0.90, 6, 0},  /* digital goods */
    {"5964", 1, 3.81, 0.90, 8, 0},  /* online retail */
    {"4899", 1, 2.48, 0.30, 4, 0},  /* subscriptions */
};
#define NMCC (sizeof mccs / sizeof mccs[0])

/* Relative activity per hour of day (UTC), mean 1: quiet nights, peaks at
 * lunch and early evening. */
static const double hour_profile[24] = {
    0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 0.80, 1.20, 1.30, 1.35, 1.50,
    1.75, 1.60, 1.35, 1.30, 1.40, 1.65, 1.80, 1.70, 1.40, 1.05, 0.70, 0.45};
/* Day-of-week factor (Monday first), mean 1. */
static const double weekday_factor[7] = {0.98, 0.98, 1.0, 1.02, 1.12, 1.15, 0.75};
#define MAX_MODULATION (1.80 * 1.15)

static const char *const scenario_names[FR_GEN_NSCENARIOS] = {
    "card_testing", "stolen_card", "account_takeover", "merchant_compromise"};

/* Mean fraud rows per episode, used to turn row shares into episode rates:
 * the means of the draws in new_episode (card testing 5-15 payments plus a
 * cash-out half the time; stolen card 3-8; account takeover 2-6; merchant
 * compromise 10-32 cards of 1-3 payments each, 21 * 2).  Exact whatever the
 * span and traffic density, because no scenario's row count depends on the
 * legitimate traffic and the episode process runs from WARMUP before the
 * first row (stationary from the first day). */
static const double rows_per_episode[FR_GEN_NSCENARIOS] = {10.5, 5.5, 4.0, 42.0};

/* Seconds the episode process runs before the first row, so that the
 * longest scenario (merchant compromise: up to 4 days of collection, 2-10
 * days until the cards are used, then about 2 days of payments) is already
 * under way at the start: without it the first two weeks lack compromise
 * rows, which short spans felt most.  Rows of that time are dropped. */
#define WARMUP (21.0 * 86400.0)

const char *fr_gen_scenario_name(fr_gen_scenario s) {
  return (unsigned)s < FR_GEN_NSCENARIOS ? scenario_names[s] : "none";
}

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

#define NFAV_SHOP 8
#define NFAV_WEB 3
#define MAX_COMPROMISED 32

typedef struct merchant {
  float lat, lon;
  uint16_t mcc, city;
} merchant;

typedef struct card {
  float lat, lon;
  float amount_mult;
  float rate; /* legitimate transactions per second, before the cycles */
  uint16_t city, travel_city;
  int8_t hour_shift;
  uint8_t ndev;
  double travel_until;
  uint32_t fav[NFAV_SHOP + NFAV_WEB];
} card;

enum { EV_SPAWN = 0, EV_EPISODE = 1, EV_CARD = 2 };

typedef struct event {
  double t;
  uint32_t id;
  uint8_t kind;
} event;

enum { PH_RUN = 0, PH_COLLECT = 1, PH_EXPLOIT = 2 };

typedef struct episode {
  uint8_t kind, phase, live;
  uint32_t card, remaining;
  uint64_t device;
  uint16_t city;
  uint32_t merchant;
  double until;
  uint32_t target, ncomp, pos;
  uint32_t comp[MAX_COMPROMISED];
  uint8_t left[MAX_COMPROMISED];
} episode;

struct fr_gen {
  fr_gen_config cfg;
  rng r;
  merchant *merchants;
  card *cards;
  uint32_t *city_shops; /* in-person merchants by city: offsets in city_off */
  uint32_t city_off[NCITIES + 1];
  uint32_t *web;        /* e-commerce merchants */
  uint32_t nweb;
  /* Regular customers: the cards having merchant m among their favourite
   * shops are regulars[regular_off[m] .. regular_off[m + 1]). */
  uint32_t *regular_off, *regulars;
  event *heap;
  size_t nheap, heap_cap;
  episode *eps;
  uint32_t neps, eps_cap;
  uint32_t *free_eps;
  uint32_t nfree;
  uint64_t next_device; /* fraud devices are numbered after the cards' ones */
  double spawn_mean;    /* mean seconds between episode starts */
  double scen_cdf[FR_GEN_NSCENARIOS];
  uint64_t written;
  /* formatting cache: the current day's "YYYY-MM-DDT" */
  int64_t day;
  char day_text[12];
};

/* ------------------------------------------------------------------------
 * Heap
 * ------------------------------------------------------------------------ */

static inline int ev_less(const event *a, const event *b) {
  if (a->t != b->t)
    return a->t < b->t;
  if (a->kind != b->kind)
    return a->kind < b->kind;
  return a->id < b->id;
}

static int heap_push(fr_gen *g, double t, uint8_t kind, uint32_t id) {
  if (g->nheap == g->heap_cap) {
    size_t cap = g->heap_cap ? g->heap_cap * 2 : 1024;
    event *h = realloc(g->heap, cap * sizeof *h);
    if (!h)
      return FR_ENOMEM;
    g->heap = h;
    g->heap_cap = cap;
  }
  event e = {t, id, kind};
  size_t i = g->nheap++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&e, &g->heap[p]))
      break;
    g->heap[i] = g->heap[p];
    i = p;
  }
  g->heap[i] = e;
  return 0;
}

static event heap_pop(fr_gen *g) {
  event top = g->heap[0];
  event last = g->heap[--g->nheap];
  size_t i = 0, n = g->nheap;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= n)
      break;
    size_t c = l + 1 < n && ev_less(&g->heap[l + 1], &g->heap[l]) ? l + 1 : l;
    if (!ev_less(&g->heap[c], &last))
      break;
    g->heap[i] = g->heap[c];
    i = c;
  }
  if (n)
    g->heap[i] = last;
  return top;
}

/* ------------------------------------------------------------------------
 * World building
 * ------------------------------------------------------------------------ */

void fr_gen_config_default(fr_gen_config *c) {
  memset(c, 0, sizeof *c);
  c->rows = 100000;
  c->cards = 5000;
  c->merchants = 1000;
  c->days = 30;
  c->fraud_rate = 0.01;
  c->seed = 1;
  c->start_time = 1704067200.0; /* 2024-01-01T00:00:00Z */
  c->noise_fraud_as_legit = 0.02;
  c->noise_legit_as_fraud = 0.0002;
  c->scenario_weight[FR_GEN_CARD_TESTING] = 0.25;
  c->scenario_weight[FR_GEN_STOLEN_CARD] = 0.30;
  c->scenario_weight[FR_GEN_ACCOUNT_TAKEOVER] = 0.25;
  c->scenario_weight[FR_GEN_MERCHANT_COMPROMISE] = 0.20;
}

void fr_gen_free(fr_gen *g) {
  if (!g)
    return;
  free(g->merchants);
  free(g->cards);
  free(g->city_shops);
  free(g->web);
  free(g->regular_off);
  free(g->regulars);
  free(g->heap);
  free(g->eps);
  free(g->free_eps);
  free(g);
}

static uint32_t pick_mcc(rng *r) {
  double total = 0;
  for (size_t i = 0; i < NMCC; i++)
    total += mccs[i].weight;
  double x = u01(r) * total;
  for (size_t i = 0; i < NMCC; i++) {
    x -= mccs[i].weight;
    if (x < 0)
      return (uint32_t)i;
  }
  return NMCC - 1;
}

/* A random in-person merchant of city c (any city if c has none). */
static uint32_t shop_in(fr_gen *g, uint32_t c) {
  uint32_t lo = g->city_off[c], hi = g->city_off[c + 1];
  if (hi == lo) {
    lo = 0;
    hi = g->city_off[NCITIES];
  }
  return g->city_shops[lo + below(&g->r, hi - lo)];
}

static uint32_t web_shop(fr_gen *g) { return g->web[below(&g->r, g->nweb)]; }

/* Next legitimate transaction time of card c after t (thinning). */
static double next_legit(fr_gen *g, const card *c, double t) {
  double rate_max = c->rate * MAX_MODULATION;
  for (int guard = 0; guard < 10000; guard++) {
    t += expo(&g->r, 1.0 / rate_max);
    double local = t - g->cfg.start_time;
    int64_t day = (int64_t)floor(local / 86400.0);
    int hour = (int)floor((local - (double)day * 86400.0) / 3600.0);
    hour = ((hour + c->hour_shift) % 24 + 24) % 24;
    /* 2024-01-01 is a Monday; the cycle only needs to be consistent. */
    int dow = (int)(((day % 7) + 7) % 7);
    double m = hour_profile[hour] * weekday_factor[dow];
    if (u01(&g->r) * MAX_MODULATION < m)
      return t;
  }
  return t;
}

fr_gen *fr_gen_new(const fr_gen_config *cfg, fr_error *err) {
  const fr_gen_config *c = cfg;
  if (c->rows < 1)
    return fr_error_set(err, FR_EINVAL, "rows must be at least 1"), NULL;
  /* Ids are written with 7 (cards) and 6 (merchants) digits. */
  if (c->cards < 10 || c->cards > 9999999)
    return fr_error_set(err, FR_EINVAL, "cards must be between 10 and 9999999"), NULL;
  if (c->merchants < 20 || c->merchants > 999999)
    return fr_error_set(err, FR_EINVAL, "merchants must be between 20 and 999999"),
           NULL;
  if (c->days < 1)
    return fr_error_set(err, FR_EINVAL, "days must be at least 1"), NULL;
  /* Every event time must be one the reader accepts (FR_TIME_MIN_SECONDS ..
   * FR_TIME_MAX_SECONDS, common.h): the traffic spans start + days. */
  if (!(c->start_time >= FR_TIME_MIN_SECONDS &&
        c->start_time + (double)c->days * 86400.0 <= FR_TIME_MAX_SECONDS))
    return fr_error_set(err, FR_EINVAL,
                        "start time + days must lie inside the event-time range "
                        "1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z"),
           NULL;
  if (!(c->fraud_rate >= 0 && c->fraud_rate <= 0.5))
    return fr_error_set(err, FR_EINVAL, "fraud rate must be between 0 and 0.5"), NULL;
  if (!(c->noise_fraud_as_legit >= 0 && c->noise_fraud_as_legit <= 0.5) ||
      !(c->noise_legit_as_fraud >= 0 && c->noise_legit_as_fraud <= 0.5))
    return fr_error_set(err, FR_EINVAL, "label noise rates must be between 0 and 0.5"),
           NULL;
  double wsum = 0;
  for (int s = 0; s < FR_GEN_NSCENARIOS; s++) {
    if (!(c->scenario_weight[s] >= 0))
      return fr_error_set(err, FR_EINVAL, "scenario weight of %s must be >= 0",
                          scenario_names[s]),
             NULL;
    wsum += c->scenario_weight[s];
  }
  if (c->fraud_rate > 0 && !(wsum > 0))
    return fr_error_set(err, FR_EINVAL, "scenario weights must not all be 0"), NULL;

  fr_gen *g = calloc(1, sizeof *g);
  if (!g)
    return fr_error_set(err, FR_ENOMEM, "out of memory"), NULL;
  g->cfg = *c;
  g->day = INT64_MIN;
  rng_seed(&g->r, c->seed);
  g->merchants = calloc(c->merchants, sizeof *g->merchants);
  g->cards = calloc(c->cards, sizeof *g->cards);
  g->city_shops = calloc(c->merchants, sizeof *g->city_shops);
  g->web = calloc(c->merchants, sizeof *g->web);
  if (!g->merchants || !g->cards || !g->city_shops || !g->web)
    goto oom;

  /* Merchants: the first few are forced e-commerce/in-person so both lists
   * are never empty. */
  uint32_t count[NCITIES] = {0};
  for (uint32_t i = 0; i < c->merchants; i++) {
    merchant *m = &g->merchants[i];
    uint32_t k = pick_mcc(&g->r);
    if (i == 0)
      k = 14; /* online retail */
    else if (i == 1)
      k = 0; /* grocery */
    m->mcc = (uint16_t)k;
    m->city = (uint16_t)below(&g->r, NCITIES);
    double spread = mccs[k].ecommerce ? 0.0 : 0.08;
    m->lat = (float)(cities[m->city].lat + spread * normal(&g->r));
    m->lon = (float)(cities[m->city].lon + spread * 1.5 * normal(&g->r));
    if (mccs[k].ecommerce)
      g->web[g->nweb++] = i;
    else
      count[m->city]++;
  }
  g->city_off[0] = 0;
  for (size_t ci = 0; ci < NCITIES; ci++)
    g->city_off[ci + 1] = g->city_off[ci] + count[ci];
  uint32_t fill[NCITIES];
  memcpy(fill, g->city_off, sizeof fill);
  for (uint32_t i = 0; i < c->merchants; i++)
    if (!mccs[g->merchants[i].mcc].ecommerce)
      g->city_shops[fill[g->merchants[i].city]++] = i;

  /* Cards: activity is heavy-tailed (lognormal), normalised so that the
   * expected legitimate rows over `days` match rows * (1 - fraud_rate). */
  double span = (double)c->days * 86400.0, total_w = 0;
  for (uint32_t i = 0; i < c->cards; i++) {
    card *k = &g->cards[i];
    k->city = (uint16_t)below(&g->r, NCITIES);
    k->lat = (float)(cities[k->city].lat + 0.06 * normal(&g->r));
    k->lon = (float)(cities[k->city].lon + 0.09 * normal(&g->r));
    k->amount_mult = (float)exp(0.45 * normal(&g->r));
    k->rate = (float)exp(0.8 * normal(&g->r));
    total_w += k->rate;
    k->hour_shift = (int8_t)((int)below(&g->r, 5) - 2);
    k->ndev = (uint8_t)(1 + (u01(&g->r) < 0.35));
    for (int f = 0; f < NFAV_SHOP; f++)
      k->fav[f] = shop_in(g, k->city);
    for (int f = 0; f < NFAV_WEB; f++)
      k->fav[NFAV_SHOP + f] = web_shop(g);
  }
  /* Regular customers of each shop (a card listing a shop twice counts
   * once), the cards a compromised terminal records. */
  g->regular_off = calloc((size_t)c->merchants + 1, sizeof *g->regular_off);
  g->regulars = malloc((size_t)c->cards * NFAV_SHOP * sizeof *g->regulars);
  if (!g->regular_off || !g->regulars)
    goto oom;
  for (int pass = 0; pass < 2; pass++) {
    uint32_t *fill_reg = NULL;
    if (pass == 1) {
      for (uint32_t m = 0; m < c->merchants; m++)
        g->regular_off[m + 1] += g->regular_off[m];
      fill_reg = malloc((size_t)c->merchants * sizeof *fill_reg);
      if (!fill_reg)
        goto oom;
      memcpy(fill_reg, g->regular_off, (size_t)c->merchants * sizeof *fill_reg);
    }
    for (uint32_t i = 0; i < c->cards; i++)
      for (int f = 0; f < NFAV_SHOP; f++) {
        uint32_t m = g->cards[i].fav[f];
        int dup = 0;
        for (int h = 0; h < f && !dup; h++)
          dup = g->cards[i].fav[h] == m;
        if (dup)
          continue;
        if (pass == 0)
          g->regular_off[m + 1]++;
        else
          g->regulars[fill_reg[m]++] = i;
      }
    free(fill_reg);
  }

  double legit_rows = (double)c->rows * (1.0 - c->fraud_rate);
  /* The thinning keeps the fraction mean(hour_profile) * mean(weekday) of
   * the candidate times; the hourly profile's mean is 0.98, not 1, which
   * left the legitimate traffic 2 % short of the span (the rows then ran
   * past it, and fraud came out 2 % above --fraud-rate). */
  double hour_mean = 0;
  for (int h = 0; h < 24; h++)
    hour_mean += hour_profile[h] / 24.0;
  for (uint32_t i = 0; i < c->cards; i++)
    g->cards[i].rate = (float)(g->cards[i].rate / total_w * legit_rows / span / hour_mean);
  g->next_device = 3ull * c->cards;

  /* Episodes: choose scenario s with probability proportional to
   * weight / rows-per-episode so fraud rows split by the weights. */
  if (c->fraud_rate > 0) {
    double pw[FR_GEN_NSCENARIOS], ptot = 0, eps_rows = 0;
    for (int s = 0; s < FR_GEN_NSCENARIOS; s++)
      ptot += pw[s] = c->scenario_weight[s] / rows_per_episode[s];
    double acc = 0;
    for (int s = 0; s < FR_GEN_NSCENARIOS; s++) {
      acc += pw[s] / ptot;
      g->scen_cdf[s] = acc;
      eps_rows += pw[s] / ptot * rows_per_episode[s];
    }
    double episodes = (double)c->rows * c->fraud_rate / eps_rows;
    g->spawn_mean = span / episodes;
    if (heap_push(g, c->start_time - WARMUP + expo(&g->r, g->spawn_mean), EV_SPAWN, 0))
      goto oom;
  }
  for (uint32_t i = 0; i < c->cards; i++)
    if (heap_push(g, next_legit(g, &g->cards[i], c->start_time), EV_CARD, i))
      goto oom;
  return g;
oom:
  fr_gen_free(g);
  fr_error_set(err, FR_ENOMEM, "out of memory building %u cards and %u merchants",
               c->cards, c->merchants);
  return NULL;
}

/* ------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------ */

/* One transaction before formatting. */
typedef struct txn {
  double t;
  uint32_t card, merchant;
  uint64_t device; /* UINT64_MAX = none (card present) */
  const char *channel;
  double amount;
  const char *currency;
  int fraud;
  int scenario; /* -1 legit */
} txn;

static const char *present_channel(fr_gen *g, double amount, int stolen) {
  double u = u01(&g->r);
  if (stolen) /* cloned magstripe and chip fallback */
    return u < 0.5 ? "swipe" : u < 0.9 ? "chip" : "contactless";
  if (amount <= 50 && u < 0.45)
    return "contactless";
  return u < 0.90 ? "chip" : "swipe";
}

static double mcc_amount(fr_gen *g, uint32_t mi, double mult, double shift) {
  const mcc_info *m = &mccs[g->merchants[mi].mcc];
  double a = exp(m->log_mean + shift + m->sigma * normal(&g->r)) * mult;
  return a < 0.5 ? 0.5 : a > 25000 ? 25000 : a;
}

/* Local currency in person; e-commerce mostly in EUR, some airlines and
 * digital goods sellers in USD. */
static const char *currency_of(const fr_gen *g, uint32_t mi) {
  const merchant *m = &g->merchants[mi];
  if (mccs[m->mcc].ecommerce)
    return m->mcc == 12 || m->mcc == 13 ? (m->city % 3 == 0 ? "USD" : "EUR") : "EUR";
  return cities[m->city].currency;
}

static void legit_txn(fr_gen *g, uint32_t ci, double t, txn *x) {
  card *c = &g->cards[ci];
  rng *r = &g->r;
  /* Occasional trips: a legitimate reason to be far from home. */
  if (t >= c->travel_until && u01(r) < 0.003) {
    c->travel_city = (uint16_t)below(r, NCITIES);
    c->travel_until = t + 86400.0 * (1.5 + 5.0 * u01(r));
  }
  uint32_t m;
  double u = u01(r);
  if (t < c->travel_until && c->travel_city != c->city && u < 0.8)
    m = shop_in(g, c->travel_city);
  else if (u < 0.68)
    m = c->fav[below(r, NFAV_SHOP)];
  else if (u < 0.80)
    m = c->fav[NFAV_SHOP + below(r, NFAV_WEB)];
  else if (u < 0.93)
    m = shop_in(g, c->city);
  else
    m = web_shop(g);
  x->t = t;
  x->card = ci;
  x->merchant = m;
  x->amount = mcc_amount(g, m, c->amount_mult, 0.0);
  x->fraud = 0;
  x->scenario = -1;
  x->currency = currency_of(g, m);
  if (mccs[g->merchants[m].mcc].ecommerce) {
    x->channel = "ecommerce";
    x->device = 3ull * ci + below(r, c->ndev);
  } else {
    x->channel = present_channel(g, x->amount, 0);
    x->device = UINT64_MAX;
  }
}

static int new_episode(fr_gen *g, double t) {
  rng *r = &g->r;
  uint32_t id;
  if (g->nfree) {
    id = g->free_eps[--g->nfree];
  } else {
    if (g->neps == g->eps_cap) {
      uint32_t cap = g->eps_cap ? g->eps_cap * 2 : 64;
      episode *e = realloc(g->eps, cap * sizeof *e);
      if (!e)
        return FR_ENOMEM;
      g->eps = e;
      uint32_t *f = realloc(g->free_eps, cap * sizeof *f);
      if (!f)
        return FR_ENOMEM;
      g->free_eps = f;
      g->eps_cap = cap;
    }
    id = g->neps++;
  }
  episode *e = &g->eps[id];
  memset(e, 0, sizeof *e);
  e->live = 1;
  double u = u01(r);
  int s = 0;
  while (s < FR_GEN_NSCENARIOS - 1 && u >= g->scen_cdf[s])
    s++;
  e->kind = (uint8_t)s;
  e->card = below(r, g->cfg.cards);
  e->device = g->next_device++;
  double first = t;
  switch (s) {
  case FR_GEN_CARD_TESTING:
    e->remaining = between(r, 5, 15) + (u01(r) < 0.5);
    first = t + expo(r, 60);
    break;
  case FR_GEN_STOLEN_CARD: {
    uint16_t home = g->cards[e->card].city;
    do
      e->city = (uint16_t)below(r, NCITIES);
    while (e->city == home);
    e->remaining = between(r, 3, 8);
    /* The thief starts some hours after the theft. */
    first = t + 3600.0 * (1 + 6 * u01(r));
    break;
  }
  case FR_GEN_ACCOUNT_TAKEOVER:
    e->remaining = between(r, 2, 6);
    first = t + expo(r, 600);
    break;
  case FR_GEN_MERCHANT_COMPROMISE: {
    /* A popular in-person merchant (some card's favourite) whose terminal
     * records `target` of its regular customers' cards over 1-4 days.  The
     * cards are drawn from the regulars, not from the legitimate rows of
     * those days, so that the episode's size does not depend on how busy
     * the traffic is (rows / days / merchants): with the traffic, fewer
     * cards came by on longer spans and the scenario fell far below its
     * share.  Robert Floyd's sampling of k distinct regulars ("Programming
     * pearls: a sample of brilliance", CACM 30(9), 1987). */
    uint32_t m = g->cards[below(r, g->cfg.cards)].fav[below(r, NFAV_SHOP)];
    uint32_t off = g->regular_off[m], nreg = g->regular_off[m + 1] - off;
    e->phase = PH_COLLECT;
    e->merchant = m;
    e->target = between(r, 10, MAX_COMPROMISED);
    uint32_t k = e->target < nreg ? e->target : nreg;
    for (uint32_t j = nreg - k; j < nreg; j++) {
      uint32_t pick = below(r, j + 1), card = g->regulars[off + pick];
      for (uint32_t q = 0; q < e->ncomp; q++)
        if (e->comp[q] == card) {
          card = g->regulars[off + j];
          break;
        }
      e->comp[e->ncomp] = card;
      e->left[e->ncomp] = (uint8_t)between(r, 1, 3);
      e->ncomp++;
    }
    e->until = t + 86400.0 * (1 + 3 * u01(r));
    first = e->until;
    break;
  }
  }
  return heap_push(g, first, EV_EPISODE, id);
}

static void end_episode(fr_gen *g, uint32_t id) {
  episode *e = &g->eps[id];
  e->live = 0;
  g->free_eps[g->nfree++] = id;
}

/* Advances episode `id` at time t: fills x and returns 1 when it produced a
 * fraud row, 0 otherwise; reschedules or ends the episode.  Negative on
 * ENOMEM. */
static int episode_step(fr_gen *g, uint32_t id, double t, txn *x) {
  episode *e = &g->eps[id];
  rng *r = &g->r;
  x->t = t;
  x->fraud = 1;
  x->scenario = e->kind;
  double next = 0;
  card *c = &g->cards[e->card];
  switch (e->kind) {
  case FR_GEN_CARD_TESTING: {
    x->card = e->card;
    x->merchant = web_shop(g);
    x->device = e->device;
    x->channel = "ecommerce";
    if (e->remaining == 1 && u01(r) < 0.5) /* the cash-out after the tests */
      x->amount = mcc_amount(g, x->merchant, 1.0, 1.2);
    else
      x->amount = 0.5 + (double)below(r, 451) / 100.0;
    next = t + 2 + expo(r, 25);
    break;
  }
  case FR_GEN_STOLEN_CARD: {
    x->card = e->card;
    uint32_t m = shop_in(g, e->city);
    for (int tries = 0; tries < 6 && !mccs[g->merchants[m].mcc].high_value; tries++)
      m = shop_in(g, e->city);
    x->merchant = m;
    x->device = UINT64_MAX;
    x->amount = mcc_amount(g, m, c->amount_mult, 0.5);
    x->channel = present_channel(g, x->amount, 1);
    next = t + 300 + expo(r, 2400);
    break;
  }
  case FR_GEN_ACCOUNT_TAKEOVER: {
    x->card = e->card;
    uint32_t m = web_shop(g);
    x->merchant = m;
    x->device = e->device;
    x->channel = "ecommerce";
    x->amount = mcc_amount(g, m, c->amount_mult, 1.3);
    next = t + 60 + expo(r, 900);
    break;
  }
  case FR_GEN_MERCHANT_COMPROMISE:
    if (e->phase == PH_COLLECT) {
      e->phase = PH_EXPLOIT;
      if (e->ncomp == 0) {
        end_episode(g, id);
        return 0;
      }
      e->remaining = 0;
      for (uint32_t k = 0; k < e->ncomp; k++)
        e->remaining += e->left[k];
      /* The stolen card data is sold and used days later. */
      return heap_push(g, t + 86400.0 * (2 + 8 * u01(r)), EV_EPISODE, id) ? -1 : 0;
    }
    {
      uint32_t k = e->pos % e->ncomp;
      while (e->left[k] == 0)
        k = (k + 1) % e->ncomp;
      e->left[k]--;
      e->pos = k + 1;
      x->card = e->comp[k];
      c = &g->cards[x->card];
      x->merchant = web_shop(g);
      x->device = e->device; /* one fraud device across many cards */
      x->channel = "ecommerce";
      x->amount = mcc_amount(g, x->merchant, c->amount_mult, 0.9);
      next = t + 120 + expo(r, 3600);
    }
    break;
  }
  x->currency = currency_of(g, x->merchant);
  if (--e->remaining == 0)
    end_episode(g, id);
  else if (heap_push(g, next, EV_EPISODE, id))
    return -1;
  return 1;
}

/* ------------------------------------------------------------------------
 * Formatting
 * ------------------------------------------------------------------------ */

static inline char *put_u64(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

static inline char *put_padded(char *p, uint64_t v, int width) {
  char *end = p + width;
  for (char *q = end - 1; q >= p; q--) {
    *q = (char)('0' + v % 10);
    v /= 10;
  }
  return end;
}

static inline char *put_str(char *p, const char *s) {
  while (*s)
    *p++ = *s++;
  return p;
}

/* Fixed-point with `dec` decimals (amounts 2, coordinates 4). */
static inline char *put_fixed(char *p, double v, int dec, double scale) {
  int64_t q = llround(v * scale);
  if (q < 0) {
    *p++ = '-';
    q = -q;
  }
  uint64_t iv = (uint64_t)q;
  uint64_t div = 1;
  for (int i = 0; i < dec; i++)
    div *= 10;
  p = put_u64(p, iv / div);
  *p++ = '.';
  return put_padded(p, iv % div, dec);
}

static char *put_time(fr_gen *g, char *p, double t) {
  int64_t s = (int64_t)floor(t);
  int64_t day = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  if (day != g->day) {
    g->day = day;
    char buf[40];
    fr_fmt_iso8601(buf, sizeof buf, (double)(day * 86400));
    memcpy(g->day_text, buf, 11); /* "YYYY-MM-DDT" */
    g->day_text[11] = '\0';
  }
  int64_t rem = s - day * 86400;
  memcpy(p, g->day_text, 11);
  p += 11;
  p = put_padded(p, (uint64_t)(rem / 3600), 2);
  *p++ = ':';
  p = put_padded(p, (uint64_t)(rem % 3600 / 60), 2);
  *p++ = ':';
  p = put_padded(p, (uint64_t)(rem % 60), 2);
  *p++ = 'Z';
  return p;
}

/* Opaque device ids: a hash of the device number, so an id says nothing
 * about whether a fraudster or the cardholder owns the device. */
static char *put_device(fr_gen *g, char *p, uint64_t dev) {
  uint64_t x = dev ^ (g->cfg.seed * 0x9e3779b97f4a7c15ull);
  uint64_t h = splitmix64(&x);
  static const char hex[] = "0123456789abcdef";
  *p++ = 'd';
  for (int i = 0; i < 12; i++)
    *p++ = hex[(h >> (4 * i)) & 15];
  return p;
}

const char *fr_gen_header(void) {
  return "transaction_id,event_time,card_id,customer_id,merchant_id,device_id,"
         "mcc,channel,amount,currency,card_lat,card_lon,merch_lat,merch_lon,"
         "is_fraud,fraud_scenario\n";
}

static int format_txn(fr_gen *g, const txn *x, char *buf, size_t cap) {
  if (cap < 512)
    return FR_ELIMIT;
  const card *c = &g->cards[x->card];
  const merchant *m = &g->merchants[x->merchant];
  char *p = buf;
  *p++ = 't';
  p = put_u64(p, g->written + 1);
  *p++ = ',';
  p = put_time(g, p, x->t);
  p = put_str(p, ",c");
  p = put_padded(p, x->card, 7);
  /* Every fifth card is a customer's second card. */
  p = put_str(p, ",u");
  p = put_padded(p, x->card - (x->card % 5 == 4), 7);
  p = put_str(p, ",m");
  p = put_padded(p, x->merchant, 6);
  *p++ = ',';
  if (x->device != UINT64_MAX)
    p = put_device(g, p, x->device);
  *p++ = ',';
  p = put_str(p, mccs[m->mcc].code);
  *p++ = ',';
  p = put_str(p, x->channel);
  *p++ = ',';
  p = put_fixed(p, x->amount, 2, 100.0);
  *p++ = ',';
  p = put_str(p, x->currency);
  *p++ = ',';
  p = put_fixed(p, c->lat, 4, 1e4);
  *p++ = ',';
  p = put_fixed(p, c->lon, 4, 1e4);
  *p++ = ',';
  p = put_fixed(p, m->lat, 4, 1e4);
  *p++ = ',';
  p = put_fixed(p, m->lon, 4, 1e4);
  *p++ = ',';
  double u = u01(&g->r);
  int label = x->fraud ? u >= g->cfg.noise_fraud_as_legit : u < g->cfg.noise_legit_as_fraud;
  *p++ = label ? '1' : '0';
  *p++ = ',';
  p = put_str(p, x->scenario < 0 ? "none" : scenario_names[x->scenario]);
  *p++ = '\n';
  return (int)(p - buf);
}

int fr_gen_next_line(fr_gen *g, char *buf, size_t cap) {
  if (g->written >= g->cfg.rows)
    return 0;
  if (cap < 512)
    return FR_ELIMIT;
  txn x = {0};
  for (;;) {
    if (g->nheap == 0)
      return FR_ESTATE; /* cannot happen: cards always reschedule */
    event e = heap_pop(g);
    if (e.kind == EV_CARD) {
      legit_txn(g, e.id, e.t, &x);
      if (heap_push(g, next_legit(g, &g->cards[e.id], e.t), EV_CARD, e.id))
        return FR_ENOMEM;
      break;
    }
    if (e.kind == EV_SPAWN) {
      if (new_episode(g, e.t) ||
          heap_push(g, e.t + expo(&g->r, g->spawn_mean), EV_SPAWN, 0))
        return FR_ENOMEM;
      continue;
    }
    int rc = episode_step(g, e.id, e.t, &x);
    if (rc < 0)
      return FR_ENOMEM;
    if (rc == 1 && e.t >= g->cfg.start_time) /* warm-up rows are dropped */
      break;
  }
  /* Rows are drawn at calibrated rates, so the last ones may pass start +
   * days by a little: never an event time the reader would refuse. */
  if (!(x.t <= FR_TIME_MAX_SECONDS))
    return FR_ERANGE;
  int n = format_txn(g, &x, buf, cap);
  if (n > 0)
    g->written++;
  return n;
}

int fr_generate_csv(const fr_gen_config *c, const char *path, fr_error *err) {
  fr_gen *g = fr_gen_new(c, err);
  if (!g)
    return err ? err->code : FR_EINVAL;
  int to_stdout = !path || strcmp(path, "-") == 0;
  size_t pl = to_stdout ? 0 : strlen(path);
  int gz = pl > 3 && strcmp(path + pl - 3, ".gz") == 0;
  FILE *f = NULL;
  gzFile z = NULL;
  const char *name = to_stdout ? "<stdout>" : path;
  if (to_stdout)
    f = stdout;
  else if (gz)
    z = gzopen(path, "wb1"); /* level 1: generation speed matters more */
  else
    f = fopen(path, "wb");
  if (!f && !z) {
    int rc = fr_error_set(err, FR_EIO, "%s: cannot create: %s", name, strerror(errno));
    fr_gen_free(g);
    return rc;
  }
  if (z)
    gzbuffer(z, 1 << 20);
  size_t cap = 1 << 20, used = 0;
  char *buf = malloc(cap);
  int rc = buf ? 0 : fr_error_set(err, FR_ENOMEM, "out of memory");
  if (!rc) {
    const char *h = fr_gen_header();
    used = strlen(h);
    memcpy(buf, h, used);
  }
  while (!rc) {
    int n = fr_gen_next_line(g, buf + used, cap - used);
    if (n < 0 && n != FR_ELIMIT) {
      rc = fr_error_set(err, n, "generator failed: %s", fr_strerror(n));
      break;
    }
    if (n > 0)
      used += (size_t)n;
    if (n == 0 || n == FR_ELIMIT || cap - used < 512) {
      int ok = z ? gzwrite(z, buf, (unsigned)used) == (int)used
                 : fwrite(buf, 1, used, f) == used;
      if (!ok)
        rc = fr_error_set(err, FR_EIO, "%s: write failed: %s", name, strerror(errno));
      used = 0;
      if (n == 0)
        break;
    }
  }
  free(buf);
  if (z) {
    if (gzclose(z) != Z_OK && !rc)
      rc = fr_error_set(err, FR_EIO, "%s: write failed", name);
  } else if (f) {
    if ((to_stdout ? fflush(f) : fclose(f)) != 0 && !rc)
      rc = fr_error_set(err, FR_EIO, "%s: write failed: %s", name, strerror(errno));
  }
  fr_gen_free(g);
  return rc;
}
