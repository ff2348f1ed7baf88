/*
 * fraud/common.h - the pieces every other module leans on: error codes and the
 * caller-provided error record, JSON-lines logging, locale-independent number
 * parsing and printing, event-time parsing, keyed hashing and checksums, a small
 * YAML document tree with line numbers, and file helpers.
 *
 * Conventions (see shared/DESIGN.md): functions return 0 on success or a negative
 * FR_E* code, and fill an optional fr_error with a message that names the file,
 * line, column or field at fault.  Nothing here aborts on bad input.
 */
#ifndef FRAUD_COMMON_H
#define FRAUD_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FR_EXPORT __attribute__((visibility("default")))
#define FR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FR_EXPORT
#define FR_PRINTF(a, b)
#endif

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* One table drives the codes, their names and fr_strerror() (libuv's
 * UV_ERRNO_MAP shape).  Codes are negative; 0 is success. */
#define FR_ERRNO_MAP(X)                                              \
  X(EINVAL, -1, "invalid argument")                                  \
  X(ENOMEM, -2, "out of memory")                                     \
  X(EIO, -3, "input/output error")                                   \
  X(EPARSE, -4, "parse error")                                       \
  X(ESCHEMA, -5, "schema or specification error")                    \
  X(ENOTFOUND, -6, "not found")                                      \
  X(EFORMAT, -7, "unsupported or corrupt format")                    \
  X(ERANGE, -8, "value out of range")                                \
  X(EUNAVAIL, -9, "unavailable")                                     \
  X(ESTATE, -10, "invalid state")                                    \
  X(EEXIST, -11, "already exists")                                   \
  X(EDEP, -12, "missing run-time dependency")                        \
  X(ETIMEDOUT, -13, "timed out")                                     \
  X(ELIMIT, -14, "limit exceeded")                                   \
  X(EDATA, -15, "data quality check failed")                         \
  X(ECHECKSUM, -16, "checksum mismatch")

enum {
  FR_OK = 0,
#define FR__ERRNO_ENUM(name, val, msg) FR_##name = (val),
  FR_ERRNO_MAP(FR__ERRNO_ENUM)
#undef FR__ERRNO_ENUM
};

/* Details of the last failure of a call, owned by the caller (usually on the
 * stack).  `code` repeats the returned code; `msg` is a human sentence naming
 * what and where, e.g. "data.csv:12:3: column 'amt': cannot parse 'abc' as a
 * number".  Pass NULL where the details are not wanted. */
typedef struct fr_error {
  int code;
  char msg[1024];
} fr_error;

/* Static description of an FR_E* code ("invalid argument"); "unknown error"
 * for codes outside the table.  Never NULL. */
FR_EXPORT const char *fr_strerror(int code);

/* Symbolic name of an FR_E* code ("EINVAL"), "OK" for 0. */
FR_EXPORT const char *fr_errname(int code);

/* Fills `err` (when not NULL) with `code` and the printf-formatted message and
 * returns `code`, so that `return fr_error_set(err, FR_EINVAL, "...")` reads
 * naturally.  The message is truncated to fit. */
FR_EXPORT int fr_error_set(fr_error *err, int code, const char *fmt, ...)
    FR_PRINTF(3, 4);

/* Prepends "prefix: " to an already-filled message (for adding the file name
 * or request id at an outer layer).  Returns err->code, or `FR_EINVAL` when err
 * is NULL. */
FR_EXPORT int fr_error_prefix(fr_error *err, const char *fmt, ...)
    FR_PRINTF(2, 3);

/* Clears an error record to {0, ""}. NULL-safe. */
FR_EXPORT void fr_error_clear(fr_error *err);

/* ------------------------------------------------------------------------
 * Logging: one JSON object per line on stderr.
 * ------------------------------------------------------------------------ */

typedef enum fr_log_level {
  FR_LOG_DEBUG = 0,
  FR_LOG_INFO = 1,
  FR_LOG_WARN = 2,
  FR_LOG_ERROR = 3,
  FR_LOG_OFF = 4
} fr_log_level;

/* Sets the minimum level written (default FR_LOG_INFO; the environment
 * variable FRAUD_LOG_LEVEL=debug|info|warn|error|off is read at the first log
 * call).  Thread-safe. */
FR_EXPORT void fr_log_set_level(fr_log_level level);
FR_EXPORT fr_log_level fr_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off". Returns 0 or FR_EINVAL. */
FR_EXPORT int fr_log_level_parse(const char *s, fr_log_level *out);

/* Redirects log lines to `f` (default stderr).  Not thread-safe against
 * concurrent fr_log calls: set it at start-up. */
FR_EXPORT void fr_log_set_stream(FILE *f);

/* Writes {"ts":"2026-11-29T15:44:28.123Z","level":"info","event":EVENT,
 * "msg":MSG, ...fields} followed by a newline, as one write(2) so lines from
 * threads never interleave.  `fields` is either NULL or a string of extra JSON
 * members already encoded, without braces ("\"request_id\":\"r1\",\"status\":400").
 * The message is JSON-escaped after fr_mask_card_numbers (a safety net for
 * messages that quote input text).  Callers must never pass a full card
 * number: log entity keys through fr_hash_hex(). */
FR_EXPORT void fr_log(fr_log_level level, const char *event, const char *fields,
                      const char *fmt, ...) FR_PRINTF(4, 5);

/* Masks, in place, the card numbers in the NUL-terminated string s (a
 * primary account number has 13 to 19 digits, ISO/IEC 7812-1): all but the
 * last 4 digits become '*', as PCI DSS requirement 3.4 allows a PAN to be
 * displayed ("4111111111111111" becomes "************1111").  The rule:
 * digit runs are chained while the next run follows after 1 or 2
 * separators from {space, tab, newline, carriage return, '-', '.', '_', and
 * the JSON escapes backslash-t, -n, -r}, whatever the group sizes
 * ("4111 1111-1111 1111", "4111.1111.1111.1111", "4111  1111  1111  1111",
 * "41 11 11 11 11 11 11 11", "3782-822463-10005"); a chain (or a single run)
 * of 13 digits or more is masked as one number, the separators staying
 * ("**** ****-**** 1111").  Runs glued to letters that are not all a-f
 * count too ("4111111111111111x", "card4111 1111 1111 1111"); the letters
 * end the chain on their side.  Inside a token made only of hexadecimal
 * digits with at least one letter (a sha256 digest, an fr_hash_hex key, a
 * hex request id), which also ends a chain, a digit run is masked only when
 * it has more than 19 digits, or 13 to 19 that pass the Luhn check
 * (ISO/IEC 7812-1 Annex B; every PAN does): "a4111111111111111" is masked,
 * most digests stay readable.  Chains of 12 digits or fewer are not
 * masked.  A decimal number (a digit run, one '.', a digit run, not part of
 * a dotted chain such as "4111.1111.1111.1111" or "1.2.3"; optionally an
 * exponent: "0.004043023877", "12345678.12345", "3.4e+38") chains nothing
 * through its point and its fraction and exponent are never masked; its
 * integer part counts alone ("4111111111111111.0" is masked).  The rule
 * errs toward masking: any 13-digit number (a millisecond epoch), a chain
 * longer than 19 digits (two card numbers one space apart), or
 * separator-joined short numbers of 13 digits in all ("10 20 30 40 50 60
 * 7") are masked too.  Returns the number of chains masked. */
FR_EXPORT size_t fr_mask_card_numbers(char *s);

/* Writes to buf (cap bytes, NUL-terminated when cap > 0) the URL `url` with
 * the password of its user info (RFC 3986 section 3.2.1,
 * scheme://user:password@host...) replaced by "***", so that a URL can be
 * quoted in a log line, an error message or an HTTP answer:
 * "redis://:pw@h/0" becomes "redis://:***@h/0", "redis://u:pw@h"
 * "redis://u:***@h".  User info without a colon is all redacted
 * ("redis://pw@h" keeps "redis://" then "***@h"): the redis state store
 * reads a lone user info as the password.  The user info starts after the first "://" (at the start of
 * the string when there is none) and ends at the LAST '@', as the redis
 * store's parser reads it (a password may hold '/' or '@'), so a '@' in a
 * path over-redacts, never under-redacts.  A NULL url writes "".  Returns
 * the length the full redacted text would need (excluding NUL), like
 * snprintf; a truncated result never holds any of the password.
 * Thread-safe. */
FR_EXPORT size_t fr_url_redact(char *buf, size_t cap, const char *url);

/* Appends `s` (length n) JSON-escaped (RFC 8259 section 7) to buf, which has
 * cap bytes, and NUL-terminates.  The result is always valid UTF-8 (RFC 8259
 * section 8.1): each maximal ill-formed subpart of s (invalid byte,
 * truncated sequence, overlong form, surrogate, code point above U+10FFFF)
 * becomes U+FFFD, as the Unicode Standard section 3.9 recommends; well-formed
 * UTF-8 is copied as is.  The output is at most 6 bytes per input byte.
 * Returns the length the full escaped text would need (excluding NUL),
 * like snprintf (a truncated result may end inside a sequence or escape). */
FR_EXPORT size_t fr_json_escape(char *buf, size_t cap, const char *s, size_t n);

/* ------------------------------------------------------------------------
 * Numbers, independent of the process locale (CONVENTIONS.md rule 11).
 * ------------------------------------------------------------------------ */

/* Parses the whole of s[0..len) as a decimal or scientific-notation number
 * ("149.62", "-1e1", "1E+05", "6.000000e-03", "inf", "nan" accepted
 * case-insensitively, surrounding blanks allowed) always with '.' as the
 * decimal separator, whatever LC_NUMERIC says (strtod_l with the C locale).
 * Returns 0, or FR_EPARSE when the text is empty or has anything else. */
FR_EXPORT int fr_parse_double(const char *s, size_t len, double *out);

/* Parses a base-10 signed 64-bit integer (whole text, blanks allowed).
 * Returns 0, FR_EPARSE, or FR_ERANGE on overflow. */
FR_EXPORT int fr_parse_int64(const char *s, size_t len, int64_t *out);

/* Prints v with the shortest "%.17g"-style text that reads back to the same
 * double, '.' as decimal separator regardless of locale; NaN prints as "nan",
 * infinities as "inf"/"-inf".  Returns the length written (excl. NUL), like
 * snprintf (buffer of 32 bytes always suffices). */
FR_EXPORT int fr_fmt_double(char *buf, size_t cap, double v);

/* As fr_fmt_double for a float32: shortest text that reads back to the same
 * float ("%.9g" at most). */
FR_EXPORT int fr_fmt_float(char *buf, size_t cap, float v);

/* snprintf that always runs in the C locale (for building JSON / Prometheus
 * text with %f/%g conversions).  Same return convention as snprintf. */
FR_EXPORT int fr_snprintf_c(char *buf, size_t cap, const char *fmt, ...)
    FR_PRINTF(3, 4);
FR_EXPORT int fr_vsnprintf_c(char *buf, size_t cap, const char *fmt, va_list ap);

/* ------------------------------------------------------------------------
 * Time.  Event times are seconds since the Unix epoch, UTC, as double (exact
 * to the microsecond for any date of interest).
 * ------------------------------------------------------------------------ */

/* How the event-time column is written, from the schema's event_time block. */
typedef enum fr_time_kind {
  FR_TIME_EPOCH_SECONDS = 0, /* "1325376018" or "1325376018.25" */
  FR_TIME_EPOCH_MILLIS,      /* "1325376018250" */
  FR_TIME_OFFSET_SECONDS,    /* seconds since `origin` (ULB's Time column) */
  FR_TIME_OFFSET_HOURS,      /* hours since `origin` (PaySim's step) */
  FR_TIME_STRFTIME           /* text in a strftime-style `format` */
} fr_time_kind;

/* An IANA time zone (e.g. America/New_York) read from the system tz
 * database, /usr/share/zoneinfo or $TZDIR (Debian package tzdata).  Immutable
 * once loaded: any number of threads may use one zone. */
typedef struct fr_tz fr_tz;

/* Loads zone `name` (an IANA name such as "Europe/Paris"; letters, digits and
 * "/_-+" only, so it cannot name a file outside the database) and parses its
 * compiled TZif file (RFC 8536: version 2+ 64-bit transitions plus the
 * footer's POSIX TZ rule for later times).  Returns a new zone (free with
 * fr_tz_free), or NULL with FR_ENOTFOUND (no such zone), FR_EFORMAT (corrupt
 * file, or a "right/" zone with leap seconds), FR_EIO. */
FR_EXPORT fr_tz *fr_tz_load(const char *name, fr_error *err);
/* As fr_tz_load from the bytes of a TZif file; `name` is kept for messages. */
FR_EXPORT fr_tz *fr_tz_parse(const void *data, size_t len, const char *name,
                             fr_error *err);
FR_EXPORT void fr_tz_free(fr_tz *z);
FR_EXPORT const char *fr_tz_name(const fr_tz *z);

/* UT offset in seconds (east positive: -18000 for New York in winter) in
 * effect at instant t (epoch seconds).  0 for a NULL zone or NaN. */
FR_EXPORT int32_t fr_tz_offset(const fr_tz *z, double t);

/* Converts a civil local time in zone z, given as seconds of the proleptic
 * Gregorian calendar counted like epoch seconds ("2024-11-03 01:50:00" ->
 * days_from_civil * 86400 + 6600), to epoch seconds.
 *  - A time that occurs once maps to its instant.
 *  - A time skipped by a forward change (02:30 on a spring-forward night) is
 *    read with the offset in effect before the change (PEP 495's fold = 0
 *    rule): 02:30 EST = 03:30 EDT.
 *  - A time that occurs twice (01:30 on a fall-back night) maps to the
 *    earliest of its instants that is not before `hint` (pass the previous
 *    row's event time of the same file; NaN = no hint), else to the first
 *    occurrence.  So 01:50 EDT followed by "01:10" reads as 01:10 EST, twenty
 *    minutes later, not forty minutes earlier.
 * Returns 0, or FR_EINVAL for a NULL zone or NaN. */
FR_EXPORT int fr_tz_local_to_utc(const fr_tz *z, double local, double hint,
                                 double *out);

/* A compiled event-time format.  For FR_TIME_STRFTIME, `format` supports
 * %Y %m %d %H %M %S (seconds may carry a fraction), %z (+hh:mm / +hhmm / Z), %T
 * (= %H:%M:%S), %F (= %Y-%m-%d) and literal characters; unless %z is present
 * the text is local time in `zone` when it is set (daylight saving followed,
 * see fr_tz_local_to_utc), else at the fixed UTC offset
 * `utc_offset_seconds`.  `origin` (epoch seconds) is added to OFFSET kinds. */
typedef struct fr_time_format {
  fr_time_kind kind;
  double origin;
  int32_t utc_offset_seconds;
  char format[64];
  char timezone[64];  /* "UTC", a fixed offset or the IANA name of `zone` */
  const fr_tz *zone;  /* IANA zone, owned by whoever loaded it (the schema);
                         NULL = fixed offset */
} fr_time_format;

/* The hard range of an event time, whatever the schema says: what a signed
 * 64-bit count of nanoseconds since the epoch can hold (pandas, Arrow and
 * most time-series stores use it), 1677-09-21T00:12:44Z ..
 * 2262-04-11T23:47:16Z, whole seconds inside +-2^63 ns.  A value outside it
 * is a unit error or garbage (1e300, epoch milliseconds read as seconds),
 * never a transaction: letting it in would make every later event of its
 * entity "late" and would overflow integer time arithmetic.  Inside it a
 * double is exact to 2 microseconds.  The schema's own (narrower) bounds are
 * fr_schema_time_range (data.h). */
#define FR_TIME_MIN_SECONDS (-9223372036.0)
#define FR_TIME_MAX_SECONDS 9223372036.0

/* Parses one event-time cell. Returns 0, FR_EPARSE (empty text, trailing
 * characters, a field out of range such as month 13 or 25:00) or FR_ERANGE
 * (a number or date that parses but lies outside FR_TIME_MIN_SECONDS ..
 * FR_TIME_MAX_SECONDS, e.g. 1e19 or year 9999).  A local time in an IANA
 * zone that occurs twice resolves to its first occurrence. */
FR_EXPORT int fr_time_parse(const fr_time_format *fmt, const char *s,
                            size_t len, double *epoch_seconds);

/* As fr_time_parse, resolving a repeated local time (a fall-back hour in
 * fmt->zone) to the earliest instant not before `hint` (the previous row's
 * event time; NaN = none), see fr_tz_local_to_utc. */
FR_EXPORT int fr_time_parse_hint(const fr_time_format *fmt, const char *s,
                                 size_t len, double hint,
                                 double *epoch_seconds);

/* Days since 1970-01-01 of a proleptic-Gregorian civil date (H. Hinnant's
 * days_from_civil algorithm, public domain, chrono-Compatible Low-Level Date
 * Algorithms).  Valid for any year in int32 range. */
FR_EXPORT int64_t fr_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Formats epoch seconds as ISO 8601 UTC "2026-11-29T15:44:28Z" (fraction
 * omitted when zero, else milliseconds).  Defined for every double: NaN is
 * written "NaN", infinities "+inf" / "-inf", and a finite value whose
 * magnitude reaches 1e15 s (beyond year +-31 million, where no calendar
 * date is meaningful) as its number of seconds, "1e+300s".  Returns length
 * like snprintf. */
FR_EXPORT int fr_fmt_iso8601(char *buf, size_t cap, double epoch_seconds);

/* As fr_fmt_iso8601, but always with three fraction digits,
 * "2026-11-29T15:44:28.000Z": a fixed width for log timestamps, which
 * tools (and people) compare as text. */
FR_EXPORT int fr_fmt_iso8601_ms(char *buf, size_t cap, double epoch_seconds);

/* Parses a duration such as "90s", "10m", "1h", "24h", "7d", "500ms", "1.5h"
 * into seconds.  Units: ms, s, m, h, d, w.  Returns 0, or FR_EPARSE naming
 * nothing (caller adds context) for "5 parsecs", negative or missing units. */
FR_EXPORT int fr_parse_duration(const char *s, double *seconds);

/* Wall-clock (CLOCK_REALTIME) and monotonic (CLOCK_MONOTONIC) time in seconds
 * and nanoseconds. */
FR_EXPORT double fr_now(void);
FR_EXPORT uint64_t fr_monotonic_ns(void);

/* ------------------------------------------------------------------------
 * Hashing and checksums (libsodium).
 * ------------------------------------------------------------------------ */

/* Length of the keyed-hash key (libsodium crypto_shorthash_siphashx24: 16
 * bytes). */
#define FR_HASH_KEY_BYTES 16

/* Keyed 128-bit SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF", 2012) of data[0..len), folded to 64 bits by XOR of its
 * halves.  With a secret key an attacker can neither reverse it to a card
 * number nor predict collisions.  Thread-safe. */
FR_EXPORT uint64_t fr_hash_keyed(const uint8_t key[FR_HASH_KEY_BYTES],
                                 const void *data, size_t len);

/* Fast unkeyed 64-bit hash for in-memory tables of non-sensitive strings
 * (FNV-1a 64, http://www.isthe.com/chongo/tech/comp/fnv/). */
FR_EXPORT uint64_t fr_hash_fnv1a(const void *data, size_t len);

/* Writes a 64-bit hash as 16 lowercase hex digits plus NUL into out[17]:
 * the only form in which an entity key may appear in a log or a metric. */
FR_EXPORT void fr_hash_hex(uint64_t h, char out[17]);

/* Derives a hash key from a secret string (SHA-256 of it, first 16 bytes).
 * An empty or NULL secret yields the fixed development key and a warning is
 * logged once. */
FR_EXPORT void fr_hash_key_from_secret(const char *secret,
                                       uint8_t key[FR_HASH_KEY_BYTES]);

/* SHA-256 (FIPS 180-4) of a whole file as 64 lowercase hex digits + NUL into
 * hex[65].  Returns 0, or FR_EIO naming the file. */
FR_EXPORT int fr_sha256_file(const char *path, char hex[65], fr_error *err);

/* SHA-256 of a memory buffer, hex as above. */
FR_EXPORT void fr_sha256_hex(const void *data, size_t len, char hex[65]);

/* ------------------------------------------------------------------------
 * YAML documents (parsed with libyaml into a tree that keeps line numbers, so
 * schema and spec errors can name "schema.yaml:14:5").
 * ------------------------------------------------------------------------ */

typedef enum fr_yaml_type {
  FR_YAML_SCALAR = 1,
  FR_YAML_SEQ = 2,
  FR_YAML_MAP = 3
} fr_yaml_type;

typedef struct fr_yaml_node fr_yaml_node;

/* A node of the tree.  Maps keep their keys in document order; duplicate keys
 * are a parse error.  Scalars keep their text verbatim (no type resolution:
 * ask with fr_yaml_as_*). `line`/`col` are 1-based. */
struct fr_yaml_node {
  fr_yaml_type type;
  int line, col;
  char *scalar;          /* FR_YAML_SCALAR: text; NULL otherwise */
  int quoted;            /* scalar was quoted (never null/bool) */
  size_t n;              /* SEQ/MAP: number of items */
  char **keys;           /* MAP: n keys */
  int *key_lines;        /* MAP: line of each key */
  fr_yaml_node **items;  /* SEQ/MAP: n children */
};

/* A parsed document; `root` may be NULL for an empty file.  `path` is the
 * file name used in messages. */
typedef struct fr_yaml_doc {
  fr_yaml_node *root;
  char *path;
} fr_yaml_doc;

/* Parses a YAML file of one document (a second one, "---" after the first,
 * is FR_EPARSE "path:line:col: a second YAML document": it would otherwise
 * be ignored; anchors/aliases resolved by copy are not supported and are a
 * parse error).  Returns a new document, or NULL
 * with err naming "path:line:col: reason".  Free with fr_yaml_free. */
FR_EXPORT fr_yaml_doc *fr_yaml_load_file(const char *path, fr_error *err);

/* As fr_yaml_load_file from memory; `name` is used in messages. */
FR_EXPORT fr_yaml_doc *fr_yaml_load_string(const char *text, size_t len,
                                           const char *name, fr_error *err);
FR_EXPORT void fr_yaml_free(fr_yaml_doc *doc);

/* Child of a map by key, or NULL (also when `map` is NULL or not a map). */
FR_EXPORT const fr_yaml_node *fr_yaml_get(const fr_yaml_node *map,
                                          const char *key);

/* Scalar accessors.  Each returns 0, or FR_ESCHEMA with err naming
 * "path:line:col: field 'what': expected ..." when the node is not a scalar of
 * that type.  `what` names the field for the message. */
FR_EXPORT int fr_yaml_as_string(const fr_yaml_doc *doc, const fr_yaml_node *n,
                                const char *what, const char **out,
                                fr_error *err);
FR_EXPORT int fr_yaml_as_double(const fr_yaml_doc *doc, const fr_yaml_node *n,
                                const char *what, double *out, fr_error *err);
FR_EXPORT int fr_yaml_as_int(const fr_yaml_doc *doc, const fr_yaml_node *n,
                             const char *what, int64_t *out, fr_error *err);
FR_EXPORT int fr_yaml_as_bool(const fr_yaml_doc *doc, const fr_yaml_node *n,
                              const char *what, int *out, fr_error *err);

/* Checks that every key of `map` is one of the NULL-terminated `allowed`
 * names; otherwise FR_ESCHEMA "path:line: unknown key 'x' in <what> (expected
 * one of: a, b, c)". */
FR_EXPORT int fr_yaml_check_keys(const fr_yaml_doc *doc,
                                 const fr_yaml_node *map, const char *what,
                                 const char *const *allowed, fr_error *err);

/* Fills err with "path:line:col: " + message for node n. Returns code. */
FR_EXPORT int fr_yaml_error(const fr_yaml_doc *doc, const fr_yaml_node *n,
                            fr_error *err, int code, const char *fmt, ...)
    FR_PRINTF(5, 6);

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

/* Reads a whole file into a new NUL-terminated buffer (caller frees).
 * Returns NULL and err naming the path on failure. */
FR_EXPORT char *fr_file_read_all(const char *path, size_t *len, fr_error *err);

/* Writes data to the output `path` (fr_file_output_target says where):
 * atomically for a file (a temporary file in the same directory, fsync,
 * rename(2): a crash leaves either the old file or the new one), in place
 * for a device such as /dev/null or /dev/full or a FIFO (a rename would
 * replace the node), to file descriptor 1 for standard output.  Returns 0,
 * or FR_EIO naming the path (a write error such as ENOSPC included). */
FR_EXPORT int fr_file_write_atomic(const char *path, const void *data,
                                   size_t len, fr_error *err);

/* How an output path is written by the output writers. */
typedef enum fr_output_kind {
  FR_OUTPUT_STDOUT = 0, /* "-", /dev/stdout, /dev/fd/1, /proc/self/fd/1 */
  FR_OUTPUT_IN_PLACE,   /* an existing device or FIFO: opened and written */
  FR_OUTPUT_ATOMIC      /* a file: written to a temporary, renamed over `target` */
} fr_output_kind;

/* Where an output path is written.  A symbolic link is followed (its final
 * target is written; the link itself stays): `target` (cap bytes) receives
 * the path to write, the resolved one for a link that names an existing
 * file, else `path` itself.  Standard output's names are standard output
 * even when fd 1 is a regular file (reopening it through /proc would write
 * from offset 0, and a rename would replace the link /dev/stdout itself).
 * A dangling link or one resolving to a device or FIFO is written in place
 * through the link. */
FR_EXPORT fr_output_kind fr_file_output_target(const char *path, char *target, size_t cap);

/* mkdir -p. Returns 0 or FR_EIO naming the path. */
FR_EXPORT int fr_mkdir_p(const char *path, fr_error *err);

/* Removes a directory tree (like rm -rf; no symlink following).  0 or FR_EIO. */
FR_EXPORT int fr_rm_rf(const char *path, fr_error *err);

/* 1 when path exists and is a directory / regular file, else 0. */
FR_EXPORT int fr_is_dir(const char *path);
FR_EXPORT int fr_is_file(const char *path);

/* Joins a and b with one '/' into a new string (caller frees). */
FR_EXPORT char *fr_path_join(const char *a, const char *b);

/* Directory of the running executable ("/usr/local/bin"), used to locate
 * shipped schemas; a new string the caller frees, or NULL. */
FR_EXPORT char *fr_exe_dir(void);

/* Version string of this build ("0.1.0"). */
FR_EXPORT const char *fr_version(void);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_COMMON_H */
