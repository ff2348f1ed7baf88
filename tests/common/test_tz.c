/*
 * Tests src/common/tz.c (IANA zones from TZif files) and the zone-aware
 * event-time parsing of src/common/time.c against Python's zoneinfo
 * (tests/fixtures/common/tz_cases.csv, made by make_tz_cases.py), plus the
 * hand-worked fall-back example of docs/schema.md.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "fr_test.h"
#include "fraud/common.h"

#define MAX_ZONES 32

static fr_tz *zone_cache(const char *name) {
  static char names[MAX_ZONES][64];
  static fr_tz *zones[MAX_ZONES];
  static int n;
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return zones[i];
  fr_error err = {0};
  fr_tz *z = fr_tz_load(name, &err);
  cr_assert_not_null(z, "%s", err.msg);
  cr_assert_lt(n, MAX_ZONES);
  snprintf(names[n], sizeof names[n], "%s", name);
  zones[n++] = z;
  return z;
}

Test(tz, matches_python_zoneinfo) {
  const char *path = fr_test_fixture("common/tz_cases.csv");
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char line[256];
  size_t noff = 0, nloc = 0, nrepeat = 0, ngap = 0;
  while (fgets(line, sizeof line, f)) {
    char kind[8], zone[64];
    long long a, b, c;
    int k = sscanf(line, "%7[^,],%63[^,],%lld,%lld,%lld", kind, zone, &a, &b, &c);
    fr_tz *z;
    if (k == 4 && strcmp(kind, "off") == 0) {
      z = zone_cache(zone);
      cr_assert_eq(fr_tz_offset(z, (double)a), (int32_t)b,
                   "%s at %lld: offset %d, zoneinfo says %lld", zone, a,
                   fr_tz_offset(z, (double)a), b);
      noff++;
      continue;
    }
    cr_assert(k == 5 && strcmp(kind, "loc") == 0, "bad fixture line %s", line);
    z = zone_cache(zone);
    double t;
    cr_assert_eq(fr_tz_local_to_utc(z, (double)a, NAN, &t), 0);
    /* Without a hint: PEP 495 fold = 0 (first occurrence of a repeated
     * time; offset before the change for a skipped one). */
    cr_assert_eq(t, (double)b, "%s local %lld: %.0f, zoneinfo fold=0 %lld",
                 zone, a, t, b);
    if (c > b) {
      /* Repeated: a hint after the first occurrence selects the second;
       * a hint after both falls back to the first. */
      cr_assert_eq(fr_tz_local_to_utc(z, (double)a, (double)b + 1, &t), 0);
      cr_assert_eq(t, (double)c, "%s local %lld with hint: %.0f, want %lld",
                   zone, a, t, c);
      cr_assert_eq(fr_tz_local_to_utc(z, (double)a, (double)b, &t), 0);
      cr_assert_eq(t, (double)b);
      cr_assert_eq(fr_tz_local_to_utc(z, (double)a, (double)c + 1, &t), 0);
      cr_assert_eq(t, (double)b);
      nrepeat++;
    } else if (c < b) {
      ngap++;
    }
    nloc++;
  }
  fclose(f);
  /* The fixture must exercise every path. */
  cr_assert_gt(noff, 1000);
  cr_assert_gt(nloc, 1000);
  cr_assert_gt(nrepeat, 100);
  cr_assert_gt(ngap, 100);
}

Test(tz, fall_back_example_in_a_schema_format) {
  /* docs/schema.md: New York, 2024-11-03, clocks go back at 06:00Z from
   * 02:00 EDT to 01:00 EST.  01:30 and 01:50 are first read as EDT
   * (05:30Z, 05:50Z); 01:10 after 01:50 is EST (06:10Z): +20 min. */
  fr_error err = {0};
  fr_tz *z = fr_tz_load("America/New_York", &err);
  cr_assert_not_null(z, "%s", err.msg);
  fr_time_format tf = {.kind = FR_TIME_STRFTIME, .zone = z};
  snprintf(tf.format, sizeof tf.format, "%%Y-%%m-%%d %%H:%%M:%%S");
  double t1, t2, t3;
  const char *a = "2024-11-03 01:30:00", *b = "2024-11-03 01:50:00",
             *c = "2024-11-03 01:10:00";
  cr_assert_eq(fr_time_parse_hint(&tf, a, strlen(a), NAN, &t1), 0);
  cr_assert_eq(fr_time_parse_hint(&tf, b, strlen(b), t1, &t2), 0);
  cr_assert_eq(fr_time_parse_hint(&tf, c, strlen(c), t2, &t3), 0);
  cr_assert_eq(t1, 1730611800.0); /* date -u -d 2024-11-03T05:30:00Z +%s */
  cr_assert_eq(t2, 1730613000.0);
  cr_assert_eq(t3, 1730614200.0);
  cr_assert_eq(t3 - t2, 1200.0);
  /* Without the hint the repeated 01:10 is the first occurrence (EDT). */
  cr_assert_eq(fr_time_parse(&tf, c, strlen(c), &t3), 0);
  cr_assert_eq(t3, 1730610600.0);
  /* Spring forward 2024-03-10: 02:30 does not exist; read with EST. */
  const char *g = "2024-03-10 02:30:00";
  cr_assert_eq(fr_time_parse(&tf, g, strlen(g), &t1), 0);
  cr_assert_eq(t1, 1710055800.0); /* 07:30Z = 03:30 EDT */
  /* An explicit offset wins over the zone. */
  snprintf(tf.format, sizeof tf.format, "%%Y-%%m-%%d %%H:%%M:%%S%%z");
  const char *e = "2024-11-03 01:10:00-05:00";
  cr_assert_eq(fr_time_parse(&tf, e, strlen(e), &t1), 0);
  cr_assert_eq(t1, 1730614200.0);
  fr_tz_free(z);
}

Test(tz, bad_names_and_files) {
  fr_error err = {0};
  cr_assert_null(fr_tz_load("Mars/Olympus_Mons", &err));
  cr_assert_eq(err.code, FR_ENOTFOUND);
  cr_assert(strstr(err.msg, "Mars/Olympus_Mons") != NULL, "%s", err.msg);
  cr_assert_null(fr_tz_load("../../etc/passwd", &err));
  cr_assert_eq(err.code, FR_ENOTFOUND);
  cr_assert_null(fr_tz_load("/etc/localtime", &err));
  cr_assert_null(fr_tz_load("", &err));
  /* Garbage and truncated TZif data are format errors, never a crash. */
  cr_assert_null(fr_tz_parse("TZif2", 5, "x", &err));
  cr_assert_eq(err.code, FR_EFORMAT);
  cr_assert_null(fr_tz_parse("hello world, not a zone file at all......", 40, "x", &err));
  cr_assert_eq(err.code, FR_EFORMAT);
  size_t len;
  char *data = fr_file_read_all("/usr/share/zoneinfo/Europe/Paris", &len, &err);
  cr_assert_not_null(data, "%s", err.msg);
  for (size_t cut = 0; cut < len; cut += 7) {
    fr_tz *z = fr_tz_parse(data, cut, "Europe/Paris", &err);
    /* A prefix may happen to be a complete version-1 block, never more. */
    if (z) {
      fr_tz_free(z);
      continue;
    }
    cr_assert_eq(err.code, FR_EFORMAT, "cut %zu: %s", cut, err.msg);
  }
  free(data);
  fr_tz_free(NULL);
}

Test(tz, posix_footer_rules_far_in_the_future) {
  /* After the last transition of the file the footer's TZ string governs:
   * New York in 2100 still follows "EST5EDT,M3.2.0,M11.1.0". */
  fr_error err = {0};
  fr_tz *z = fr_tz_load("America/New_York", &err);
  cr_assert_not_null(z, "%s", err.msg);
  double jan = (double)fr_days_from_civil(2100, 1, 15) * 86400;
  double jul = (double)fr_days_from_civil(2100, 7, 15) * 86400;
  cr_assert_eq(fr_tz_offset(z, jan), -5 * 3600);
  cr_assert_eq(fr_tz_offset(z, jul), -4 * 3600);
  /* Second Sunday of March 2100 is the 14th: 02:00 EST = 07:00Z. */
  double start = (double)fr_days_from_civil(2100, 3, 14) * 86400 + 7 * 3600;
  cr_assert_eq(fr_tz_offset(z, start - 1), -5 * 3600);
  cr_assert_eq(fr_tz_offset(z, start), -4 * 3600);
  fr_tz_free(z);
  /* Southern hemisphere (DST over the new year). */
  z = fr_tz_load("Australia/Sydney", &err);
  cr_assert_not_null(z, "%s", err.msg);
  cr_assert_eq(fr_tz_offset(z, jan), 11 * 3600);
  cr_assert_eq(fr_tz_offset(z, jul), 10 * 3600);
  fr_tz_free(z);
}
