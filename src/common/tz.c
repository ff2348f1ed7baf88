/*
 * tz.c - IANA time zones from the system tz database, so that event times
 * written as naive local civil times ("2024-11-03 01:50:00" in
 * America/New_York) become epoch seconds that follow daylight-saving rules.
 *
 * Why a parser of our own: glibc converts local time to UTC only through
 * mktime(), which reads the zone from the process-wide TZ environment
 * variable (setenv + tzset are not thread-safe and would change the zone of
 * every thread), and no Debian C library offers a reentrant "this civil time
 * in that zone" conversion without pulling in ICU.  The compiled zone files
 * in /usr/share/zoneinfo (Debian tzdata) have a small, fully specified binary
 * format, TZif (RFC 8536, "The Time Zone Information Format"), so each zone
 * is parsed once, when a schema is loaded, into an immutable table that any
 * number of threads may read.
 *
 * What is read (RFC 8536 section 3): the version-2+ data block with 64-bit
 * transition times (the version-1 block is skipped), the local time types
 * (UT offset, DST flag) and the footer's POSIX TZ string (section 3.3), which
 * extends the table beyond its last transition; the string's rules follow
 * POSIX.1-2017 section 8.3 (TZ) with RFC 8536's extensions (hours -167..167
 * in rule times).  Zones with leap-second records ("right/" zones) are
 * refused: event times are POSIX seconds, which have no leap seconds.
 */
#include "fraud/common.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One DST start or end rule of a POSIX TZ string. */
typedef struct tz_rule {
  char kind;       /* 'J' (Julian day 1..365, no Feb 29), 'D' (0..365), 'M' */
  int day;         /* J/D: the day; M: day of week 0 = Sunday */
  int week, month; /* M: week 1..5 (5 = last), month 1..12 */
  int32_t time;    /* seconds after local midnight (may be < 0 or > 24 h) */
} tz_rule;

struct fr_tz {
  char name[64];
  size_t n;           /* transitions */
  int64_t *at;        /* n transition instants, ascending */
  int32_t *off;       /* n UT offsets in effect from each transition */
  int32_t off0;       /* offset before the first transition (type 0) */
  int have_rule;      /* footer TZ string governs times after at[n-1] */
  int32_t std_off, dst_off; /* UT offsets (east positive) of the rule */
  int have_dst;
  tz_rule start, end;
};

/* ---- POSIX TZ string (the TZif footer) ---------------------------------- */

/* Parses [+-]hh[:mm[:ss]] with hours up to max_h; returns seconds. */
static int parse_hms(const char **pp, int max_h, int32_t *out) {
  const char *p = *pp;
  int sign = 1;
  if (*p == '+' || *p == '-') {
    sign = *p == '-' ? -1 : 1;
    p++;
  }
  if (*p < '0' || *p > '9')
    return -1;
  int h = 0, m = 0, s = 0, nd = 0;
  while (*p >= '0' && *p <= '9' && nd < 3) {
    h = h * 10 + (*p++ - '0');
    nd++;
  }
  if (h > max_h)
    return -1;
  if (*p == ':') {
    p++;
    if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
      return -1;
    m = (p[0] - '0') * 10 + (p[1] - '0');
    p += 2;
    if (*p == ':') {
      p++;
      if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
        return -1;
      s = (p[0] - '0') * 10 + (p[1] - '0');
      p += 2;
    }
  }
  *out = sign * (h * 3600 + m * 60 + s);
  *pp = p;
  return 0;
}

/* A zone abbreviation: three or more letters, or <...> of [A-Za-z0-9+-]. */
static int parse_abbr(const char **pp) {
  const char *p = *pp;
  size_t n = 0;
  if (*p == '<') {
    p++;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
           (*p >= '0' && *p <= '9') || *p == '+' || *p == '-') {
      p++;
      n++;
    }
    if (*p != '>' || n < 3)
      return -1;
    p++;
  } else {
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
      p++;
      n++;
    }
    if (n < 3)
      return -1;
  }
  *pp = p;
  return 0;
}

static int parse_num(const char **pp, int lo, int hi, int *out) {
  const char *p = *pp;
  int v = 0, nd = 0;
  while (*p >= '0' && *p <= '9' && nd < 4) {
    v = v * 10 + (*p++ - '0');
    nd++;
  }
  if (nd == 0 || v < lo || v > hi)
    return -1;
  *out = v;
  *pp = p;
  return 0;
}

static int parse_rule(const char **pp, tz_rule *r) {
  const char *p = *pp;
  memset(r, 0, sizeof *r);
  if (*p == 'J') {
    p++;
    r->kind = 'J';
    if (parse_num(&p, 1, 365, &r->day))
      return -1;
  } else if (*p == 'M') {
    p++;
    r->kind = 'M';
    if (parse_num(&p, 1, 12, &r->month) || *p++ != '.' ||
        parse_num(&p, 1, 5, &r->week) || *p++ != '.' ||
        parse_num(&p, 0, 6, &r->day))
      return -1;
  } else {
    r->kind = 'D';
    if (parse_num(&p, 0, 365, &r->day))
      return -1;
  }
  r->time = 7200; /* POSIX default 02:00:00 */
  if (*p == '/') {
    p++;
    if (parse_hms(&p, 167, &r->time))
      return -1;
  }
  *pp = p;
  return 0;
}

static int parse_posix_tz(fr_tz *z, const char *s) {
  const char *p = s;
  int32_t v;
  if (parse_abbr(&p) || parse_hms(&p, 24, &v))
    return -1;
  z->std_off = -v; /* POSIX offsets are positive west of Greenwich */
  z->dst_off = z->std_off + 3600;
  z->have_dst = 0;
  if (*p == '\0')
    return 0;
  if (parse_abbr(&p))
    return -1;
  z->have_dst = 1;
  if (*p && *p != ',') {
    if (parse_hms(&p, 24, &v))
      return -1;
    z->dst_off = -v;
  }
  if (*p == '\0') {
    /* POSIX leaves a missing rule to the implementation; tzcode and glibc
     * use the US rules. */
    z->start = (tz_rule){'M', 0, 2, 3, 7200};
    z->end = (tz_rule){'M', 0, 1, 11, 7200};
    return 0;
  }
  if (*p++ != ',' || parse_rule(&p, &z->start) || *p++ != ',' ||
      parse_rule(&p, &z->end) || *p != '\0')
    return -1;
  return 0;
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local midnight (as seconds of the civil calendar) of a rule's day in year
 * y, plus the rule's time. */
static int64_t rule_local(const tz_rule *r, int64_t y) {
  int64_t day;
  if (r->kind == 'J') {
    /* Julian day 1..365, February 29 never counted. */
    day = fr_days_from_civil(y, 1, 1) + r->day - 1;
    if (is_leap(y) && r->day >= 60)
      day++;
  } else if (r->kind == 'D') {
    day = fr_days_from_civil(y, 1, 1) + r->day;
  } else {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = fr_days_from_civil(y, (unsigned)r->month, 1);
    /* 1970-01-01 was a Thursday (4, with Sunday = 0). */
    int wd = (int)(((first % 7) + 7 + 4) % 7);
    int64_t d = first + ((r->day - wd) + 7) % 7 + 7 * (int64_t)(r->week - 1);
    int len = mdays[r->month - 1] + (r->month == 2 && is_leap(y));
    while (d >= first + len)
      d -= 7; /* week 5 = the last such weekday */
    day = d;
  }
  return day * 86400 + r->time;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t year_of(int64_t local_seconds) {
  int64_t days = floor_div(local_seconds, 86400);
  /* Inverse of days_from_civil for the year only (H. Hinnant). */
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return yoe + era * 400 + (m <= 2);
}

/* UT offset of instant t under the footer rule. */
static int32_t rule_offset(const fr_tz *z, int64_t t) {
  if (!z->have_dst)
    return z->std_off;
  int64_t y = year_of(t + z->std_off);
  /* Both transitions of year y as instants: the start is written in
   * standard time, the end in daylight time (POSIX). */
  int64_t s = rule_local(&z->start, y) - z->std_off;
  int64_t e = rule_local(&z->end, y) - z->dst_off;
  int in_dst;
  if (s < e)
    in_dst = t >= s && t < e;
  else /* southern hemisphere: DST spans the new year */
    in_dst = !(t >= e && t < s);
  return in_dst ? z->dst_off : z->std_off;
}

/* ---- TZif ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return (int64_t)v;
}

typedef struct tzif_counts {
  uint32_t isut, isstd, leap, time, type, chr;
} tzif_counts;

static int read_header(const unsigned char *p, size_t len, char *version,
                       tzif_counts *c) {
  if (len < 44 || memcmp(p, "TZif", 4) != 0)
    return -1;
  *version = (char)p[4];
  c->isut = be32(p + 20);
  c->isstd = be32(p + 24);
  c->leap = be32(p + 28);
  c->time = be32(p + 32);
  c->type = be32(p + 36);
  c->chr = be32(p + 40);
  /* RFC 8536 3.1: typecnt and charcnt are never zero; isutcnt and isstdcnt
   * are zero or typecnt.  The bounds keep the size arithmetic in range. */
  if (c->type == 0 || c->type > 256 || c->chr == 0 || c->time > 1000000 ||
      c->leap > 100000 || (c->isut != 0 && c->isut != c->type) ||
      (c->isstd != 0 && c->isstd != c->type))
    return -1;
  return 0;
}

static size_t block_size(const tzif_counts *c, size_t tsize) {
  return c->time * tsize + c->time + c->type * 6 + c->chr +
         c->leap * (tsize + 4) + c->isstd + c->isut;
}

fr_tz *fr_tz_parse(const void *data, size_t len, const char *name,
                   fr_error *err) {
  const unsigned char *p = data;
  char version;
  tzif_counts c;
  if (!name)
    name = "zone";
  if (!p || read_header(p, len, &version, &c))
    return fr_error_set(err, FR_EFORMAT, "%s: not a TZif file (RFC 8536)", name),
           NULL;
  size_t v1 = 44 + block_size(&c, 4);
  if (len < v1)
    return fr_error_set(err, FR_EFORMAT, "%s: truncated TZif file", name), NULL;
  size_t tsize = 4;
  const unsigned char *blk = p + 44;
  size_t end = v1;
  if (version >= '2') {
    /* Version 2+: a second header and data block with 64-bit times. */
    if (read_header(p + v1, len - v1, &version, &c))
      return fr_error_set(err, FR_EFORMAT, "%s: bad second TZif header", name),
             NULL;
    tsize = 8;
    blk = p + v1 + 44;
    end = v1 + 44 + block_size(&c, 8);
    if (len < end)
      return fr_error_set(err, FR_EFORMAT, "%s: truncated TZif file", name),
             NULL;
  }
  if (c.leap > 0)
    return fr_error_set(err, FR_EFORMAT,
                        "%s: zone has leap-second records (a \"right/\" zone); "
                        "use the POSIX zone of the same name",
                        name),
           NULL;
  fr_tz *z = calloc(1, sizeof *z);
  if (!z)
    return fr_error_set(err, FR_ENOMEM, "out of memory"), NULL;
  snprintf(z->name, sizeof z->name, "%s", name);
  z->n = c.time;
  z->at = malloc((c.time ? c.time : 1) * sizeof *z->at);
  z->off = malloc((c.time ? c.time : 1) * sizeof *z->off);
  if (!z->at || !z->off) {
    fr_tz_free(z);
    return fr_error_set(err, FR_ENOMEM, "out of memory"), NULL;
  }
  const unsigned char *times = blk;
  const unsigned char *idx = times + c.time * tsize;
  const unsigned char *types = idx + c.time;
  for (uint32_t i = 0; i < c.time; i++) {
    z->at[i] = tsize == 8 ? be64(times + 8 * i)
                          : (int64_t)(int32_t)be32(times + 4 * i);
    if (idx[i] >= c.type || (i > 0 && z->at[i] <= z->at[i - 1])) {
      fr_tz_free(z);
      return fr_error_set(err, FR_EFORMAT,
                          "%s: corrupt transition %u in TZif data", name, i),
             NULL;
    }
    z->off[i] = (int32_t)be32(types + 6 * idx[i]);
  }
  z->off0 = (int32_t)be32(types);
  for (uint32_t i = 0; i < c.type; i++) {
    int32_t o = (int32_t)be32(types + 6 * i);
    if (o < -89999 || o > 93599 || o == INT32_MIN) { /* RFC 8536 3.2 range */
      fr_tz_free(z);
      return fr_error_set(err, FR_EFORMAT, "%s: UT offset %d out of range",
                          name, (int)o),
             NULL;
    }
  }
  /* Footer: "\n" TZ-string "\n" (version 2+). */
  if (tsize == 8 && end < len && p[end] == '\n') {
    const char *s = (const char *)p + end + 1;
    const char *nl = memchr(s, '\n', len - end - 1);
    if (!nl) {
      fr_tz_free(z);
      return fr_error_set(err, FR_EFORMAT, "%s: unterminated TZif footer", name),
             NULL;
    }
    size_t n = (size_t)(nl - s);
    if (n > 0) {
      char buf[128];
      if (n >= sizeof buf) {
        fr_tz_free(z);
        return fr_error_set(err, FR_EFORMAT, "%s: TZ string too long", name), NULL;
      }
      memcpy(buf, s, n);
      buf[n] = '\0';
      if (parse_posix_tz(z, buf)) {
        fr_tz_free(z);
        return fr_error_set(err, FR_EFORMAT,
                            "%s: cannot parse the footer TZ string '%s'", name,
                            buf),
               NULL;
      }
      z->have_rule = 1;
    }
  }
  return z;
}

fr_tz *fr_tz_load(const char *name, fr_error *err) {
  if (!name || !*name)
    return fr_error_set(err, FR_EINVAL, "empty time zone name"), NULL;
  /* An IANA name is letters, digits and "/_-+"; never "..", never absolute,
   * so a schema cannot make us read an arbitrary file. */
  for (const char *p = name; *p; p++) {
    int ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
             (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' ||
             *p == '+';
    if (!ok || (p == name && *p == '/') || (p[0] == '/' && p[1] == '/'))
      return fr_error_set(err, FR_ENOTFOUND, "'%s' is not an IANA time zone name",
                          name),
             NULL;
  }
  if (strlen(name) >= 64)
    return fr_error_set(err, FR_ENOTFOUND, "'%s' is not an IANA time zone name",
                        name),
           NULL;
  const char *dir = getenv("TZDIR");
  if (!dir || !*dir)
    dir = "/usr/share/zoneinfo";
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (!fr_is_file(path))
    return fr_error_set(err, FR_ENOTFOUND,
                        "no time zone '%s' in %s (IANA names such as "
                        "America/New_York; Debian package tzdata)",
                        name, dir),
           NULL;
  size_t len;
  char *data = fr_file_read_all(path, &len, err);
  if (!data)
    return NULL;
  fr_tz *z = fr_tz_parse(data, len, name, err);
  free(data);
  return z;
}

void fr_tz_free(fr_tz *z) {
  if (!z)
    return;
  free(z->at);
  free(z->off);
  free(z);
}

const char *fr_tz_name(const fr_tz *z) { return z ? z->name : NULL; }

int32_t fr_tz_offset(const fr_tz *z, double t) {
  if (!z || isnan(t))
    return 0;
  double ft = floor(t);
  int64_t s = ft < -9.2e18 ? INT64_MIN / 2 : ft > 9.2e18 ? INT64_MAX / 2 : (int64_t)ft;
  if (z->n == 0 || s < z->at[0])
    return z->n == 0 && z->have_rule ? rule_offset(z, s) : z->off0;
  if (s >= z->at[z->n - 1])
    return z->have_rule ? rule_offset(z, s) : z->off[z->n - 1];
  size_t lo = 0, hi = z->n - 1; /* at[lo] <= s < at[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->at[mid] <= s)
      lo = mid;
    else
      hi = mid;
  }
  return z->off[lo];
}

int fr_tz_local_to_utc(const fr_tz *z, double local, double hint, double *out) {
  if (!z || isnan(local))
    return FR_EINVAL;
  /* The offsets that can apply: those in effect within two days either side
   * (a civil time read as UTC is within 26 h of its instant). */
  int32_t cand[8];
  size_t nc = 0;
  for (int k = -2; k <= 2; k++) {
    int32_t o = fr_tz_offset(z, local + k * 86400.0);
    size_t i = 0;
    while (i < nc && cand[i] != o)
      i++;
    if (i == nc && nc < 8)
      cand[nc++] = o;
  }
  double sol[8];
  size_t ns = 0;
  for (size_t i = 0; i < nc; i++) {
    double t = local - cand[i];
    if (fr_tz_offset(z, t) == cand[i])
      sol[ns++] = t;
  }
  if (ns == 0) {
    /* A civil time skipped by a forward jump (spring forward): read it with
     * the offset in effect before the jump, as PEP 495 does for fold = 0,
     * which lands as far past the jump as the time was into the gap. */
    *out = local - fr_tz_offset(z, local - 86400.0);
    return 0;
  }
  for (size_t i = 1; i < ns; i++) /* sort ascending (ns <= 8) */
    for (size_t j = i; j > 0 && sol[j] < sol[j - 1]; j--) {
      double tmp = sol[j];
      sol[j] = sol[j - 1];
      sol[j - 1] = tmp;
    }
  /* A repeated civil time (fall back): the earliest instant not before the
   * hint (the previous row's time), else the first occurrence. */
  if (!isnan(hint))
    for (size_t i = 0; i < ns; i++)
      if (sol[i] >= hint) {
        *out = sol[i];
        return 0;
      }
  *out = sol[0];
  return 0;
}
