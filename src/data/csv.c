/*
 * csv.c - a pull-style CSV record reader over libcsv's push parser, reading
 * plain or gzip-compressed files through zlib.
 *
 * libcsv does the RFC 4180 work (quotes, "" escapes, embedded newlines, CR,
 * LF or CRLF endings, a last record without newline) and calls us back per
 * field and per record; we queue whole records and hand them out one at a
 * time.  libcsv knows nothing of line numbers, so we count them ourselves:
 * CSV_REPALL_NL makes it report every line terminator outside quotes, and
 * newlines inside quoted fields are counted in the field text.  zlib's gzread
 * recognises the gzip magic bytes (1f 8b) and reads any other file as is, so
 * ".csv.gz" is detected by content, not by name.
 *
 * Options: strict mode (a quote inside an unquoted field, or an unterminated
 * quoted field at the end of the file, is an error rather than guessed at),
 * and no trimming of blanks: a cell's spaces are part of its text (number
 * parsing ignores surrounding blanks anyway).
 */
#include "fraud/data.h"

#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (256 * 1024)

typedef struct rec {
  size_t first_field, nfields, line;
} rec;

struct fr_csv {
  gzFile gz;
  char *path;
  struct csv_parser p;
  unsigned char *in;
  /* Field bytes of queued records and of the record being built, each
   * NUL-terminated; field i starts at data + fstart[i]. */
  char *data;
  size_t data_len, data_cap;
  size_t *fstart, *flen;
  size_t nf, nf_cap;
  rec *recs;
  size_t nrec, rec_cap, rec_next;
  size_t cur_first; /* first field of the record being built */
  size_t line;      /* physical line on which the current record starts */
  size_t pending_nl; /* newlines inside the current record's fields */
  int last_term_cr; /* the last event was a record ended by CR */
  int started;      /* BOM check done */
  int done;         /* csv_fini called */
  int oom;
  int truncated;     /* the gzip stream ended early: every later read fails */
  uint64_t nread;    /* decompressed bytes read so far */
  size_t last_line; /* line of the record last returned */
  char **out;
  size_t *out_lens;
  size_t out_cap;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q)
    return -1;
  *p = q;
  *cap = c;
  return 0;
}

/* 1 when the word w has a byte equal to CR or LF: a word has a byte equal
 * to b when x = w ^ (b * 0x01..01) has a zero byte, which
 * (x - 0x01..01) & ~x & 0x80..80 detects exactly (S. E. Anderson, "Bit
 * Twiddling Hacks", "Determine if a word has a zero byte"; H. S. Warren,
 * "Hacker's Delight", 2nd ed., section 6-1).  Zero bytes of w never match. */
static int word_has_break(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t a = w ^ (ones * '\n'), b = w ^ (ones * '\r');
  return (((a - ones) & ~a) | ((b - ones) & ~b)) & highs ? 1 : 0;
}

/* 1 when t[0..len) holds a CR or LF (only a quoted field can).  Every field
 * passes here, most shorter than 8 bytes, so it reads words: whole words,
 * then the last 8 bytes (overlapping), or for a short field its first and
 * last 4 or 2 bytes (overlapping) in one word, padded with zeros. */
static int has_line_break(const char *t, size_t len) {
  uint64_t w = 0;
  if (len >= 8) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      memcpy(&w, t + i, 8);
      if (word_has_break(w))
        return 1;
    }
    if (i == len)
      return 0;
    memcpy(&w, t + len - 8, 8);
  } else if (len >= 4) {
    uint32_t x, y;
    memcpy(&x, t, 4);
    memcpy(&y, t + len - 4, 4);
    w = x | (uint64_t)y << 32;
  } else if (len >= 2) {
    uint16_t x, y;
    memcpy(&x, t, 2);
    memcpy(&y, t + len - 2, 2);
    w = x | (uint64_t)y << 16;
  } else if (len == 1) {
    w = (unsigned char)t[0];
  }
  return word_has_break(w);
}

static void on_field(void *s, size_t len, void *ud) {
  fr_csv *c = ud;
  if (c->oom)
    return;
  if (grow((void **)&c->data, &c->data_cap, c->data_len + len + 1, 1)) {
    c->oom = 1;
    return;
  }
  if (c->nf + 1 > c->nf_cap) {
    /* fstart and flen share nf_cap. */
    size_t cap = c->nf_cap ? 2 * c->nf_cap : 256;
    size_t *fs = realloc(c->fstart, cap * sizeof *fs);
    if (fs)
      c->fstart = fs;
    size_t *fl = fs ? realloc(c->flen, cap * sizeof *fl) : NULL;
    if (!fl) {
      c->oom = 1;
      return;
    }
    c->flen = fl;
    c->nf_cap = cap;
  }
  const char *t = s;
  if (has_line_break(t, len))
    for (size_t i = 0; i < len; i++)
      if (t[i] == '\n' || (t[i] == '\r' && (i + 1 == len || t[i + 1] != '\n')))
        c->pending_nl++;
  if (len)
    memcpy(c->data + c->data_len, s, len);
  c->data[c->data_len + len] = '\0';
  c->fstart[c->nf] = c->data_len;
  c->flen[c->nf] = len;
  c->nf++;
  c->data_len += len + 1;
  c->last_term_cr = 0;
}

static void on_record(int term, void *ud) {
  fr_csv *c = ud;
  if (c->oom)
    return;
  size_t n = c->nf - c->cur_first;
  if (n == 0) {
    /* A bare terminator: the LF of a CRLF, or an empty line. */
    if (term == '\n' && c->last_term_cr) {
      c->last_term_cr = 0;
      return;
    }
    if (term == '\n' || term == '\r')
      c->line++;
    c->last_term_cr = term == '\r';
    return;
  }
  if (grow((void **)&c->recs, &c->rec_cap, c->nrec + 1, sizeof(rec))) {
    c->oom = 1;
    return;
  }
  c->recs[c->nrec++] = (rec){c->cur_first, n, c->line};
  c->line += c->pending_nl + (term == '\n' || term == '\r');
  c->pending_nl = 0;
  c->cur_first = c->nf;
  c->last_term_cr = term == '\r';
}

static int no_space(unsigned char ch) {
  (void)ch;
  return 0;
}

/* Feeds buf[0..len) to libcsv; returns the bytes it consumed (len unless a
 * parse error stopped it).
 *
 * Why in blocks: keeping a cell's blanks takes a space function that says
 * "no blank is a space", and libcsv calls it for every character of an
 * unquoted field: a quarter of libcsv's time on a generated file.  libcsv
 * consults the space function only about the character at hand, and its
 * default test is c == ' ' || c == '\t' (csv.h's CSV_SPACE, CSV_TAB), so on
 * bytes without a blank the default (no call) and no_space answer alike.
 * Blocks without a blank are therefore parsed with the default, the others
 * with no_space, which gives the same fields and records as no_space
 * throughout.  (Most data files hold no blank at all; text-heavy ones such
 * as Sparkov hold blanks in nearly every block and keep no_space.) */
#define BLANK_BLOCK (16 * 1024)

static size_t parse_blocks(fr_csv *c, const unsigned char *buf, size_t len) {
  size_t done = 0;
  int blanks = -1; /* mode of the run [done, end) */
  size_t end = 0;
  while (end < len) {
    size_t n = len - end < BLANK_BLOCK ? len - end : BLANK_BLOCK;
    int b = memchr(buf + end, ' ', n) != NULL || memchr(buf + end, '\t', n) != NULL;
    if (blanks >= 0 && b != blanks) {
      csv_set_space_func(&c->p, blanks ? no_space : NULL);
      size_t got = csv_parse(&c->p, buf + done, end - done, on_field, on_record, c);
      if (got != end - done)
        return done + got;
      done = end;
    }
    blanks = b;
    end += n;
  }
  if (done < len) {
    csv_set_space_func(&c->p, blanks ? no_space : NULL);
    done += csv_parse(&c->p, buf + done, len - done, on_field, on_record, c);
  }
  return done;
}

void fr_csv_close(fr_csv *c) {
  if (!c)
    return;
  if (c->gz)
    gzclose(c->gz);
  csv_free(&c->p);
  free(c->path);
  free(c->in);
  free(c->data);
  free(c->fstart);
  free(c->flen);
  free(c->recs);
  free(c->out);
  free(c->out_lens);
  free(c);
}

fr_csv *fr_csv_open(const char *path, fr_error *err) {
  fr_csv *c = calloc(1, sizeof *c);
  if (!c) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
    free(c);
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  csv_set_space_func(&c->p, no_space);
  c->path = strdup(path);
  c->in = malloc(CHUNK);
  c->line = 1;
  if (!c->path || !c->in) {
    fr_csv_close(c);
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  c->gz = gzopen(path, "rb");
  if (!c->gz) {
    fr_error_set(err, FR_EIO, "%s: cannot open: %s", path,
                 errno ? strerror(errno) : "out of memory");
    fr_csv_close(c);
    return NULL;
  }
  gzbuffer(c->gz, CHUNK);
  return c;
}

const char *fr_csv_path(const fr_csv *c) { return c->path; }
size_t fr_csv_line(const fr_csv *c) { return c->last_line; }

/* Moves the record being built to the front of the buffers once every queued
 * record has been handed out. */
static void compact(fr_csv *c) {
  size_t keep = c->nf - c->cur_first;
  size_t base = keep ? c->fstart[c->cur_first] : c->data_len;
  if (keep) {
    memmove(c->data, c->data + base, c->data_len - base);
    for (size_t i = 0; i < keep; i++) {
      c->fstart[i] = c->fstart[c->cur_first + i] - base;
      c->flen[i] = c->flen[c->cur_first + i];
    }
  }
  c->data_len -= base;
  c->nf = keep;
  c->cur_first = 0;
  c->nrec = c->rec_next = 0;
}

static int truncated_error(const fr_csv *c, fr_error *err) {
  return fr_error_set(err, FR_EFORMAT,
                      "%s: truncated gzip stream (unexpected end of file after "
                      "%llu bytes of data)",
                      c->path, (unsigned long long)c->nread);
}

/* Parses input until at least one record is queued or the file ends.
 *
 * A truncated .gz file: zlib's gzread returns the data it could decompress
 * and then 0, exactly as at a proper end of file; what tells them apart is
 * gzerror(), which reports Z_BUF_ERROR when "the input file ended in the
 * middle of a gzip stream" (zlib.h, gzread and gzerror).  So the state is
 * checked after every read, and the chunk that met the cut is not parsed:
 * its last line is cut in the middle, and parsing it would report a short
 * row (which --on-bad-row=skip could skip) instead of the real fault.  A
 * plain file never sets Z_BUF_ERROR. */
static int fill(fr_csv *c, fr_error *err) {
  if (c->truncated)
    return truncated_error(c, err);
  while (c->rec_next == c->nrec && !c->done) {
    compact(c);
    int n = gzread(c->gz, c->in, CHUNK);
    int zerr = Z_OK;
    const char *m = gzerror(c->gz, &zerr);
    if (n < 0) {
      return fr_error_set(err, FR_EIO, "%s: read failed: %s", c->path,
                          zerr == Z_ERRNO ? strerror(errno) : m);
    }
    c->nread += (uint64_t)n;
    if (zerr == Z_BUF_ERROR) {
      /* zlib may flag the cut while it still holds decompressed data for
       * later reads (it reads ahead); drain it so that N in the message
       * counts every byte the file yields, as `gzip -dc` would. */
      while ((n = gzread(c->gz, c->in, CHUNK)) > 0)
        c->nread += (uint64_t)n;
      c->truncated = 1;
      return truncated_error(c, err);
    }
    const unsigned char *buf = c->in;
    size_t len = (size_t)n;
    if (!c->started && len > 0) {
      c->started = 1;
      if (len >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) {
        buf += 3;
        len -= 3;
      }
    }
    if (len == 0) {
      c->done = 1;
      csv_set_space_func(&c->p, no_space);
      if (csv_fini(&c->p, on_field, on_record, c) != 0)
        return fr_error_set(err, FR_EPARSE,
                            "%s:%zu: unterminated quoted field at end of file",
                            c->path, c->line);
    } else if (parse_blocks(c, buf, len) != len) {
      return fr_error_set(
          err, FR_EPARSE,
          "%s:%zu: malformed quoting (a '\"' inside an unquoted field, or text "
          "after a closing quote)",
          c->path, c->line + c->pending_nl);
    }
    if (c->oom)
      return fr_error_set(err, FR_ENOMEM, "%s: out of memory", c->path);
  }
  return 0;
}

int fr_csv_next(fr_csv *c, char ***fields, size_t **lens, size_t *n,
                fr_error *err) {
  int rc = fill(c, err);
  if (rc)
    return rc;
  if (c->rec_next == c->nrec)
    return 0;
  rec *r = &c->recs[c->rec_next++];
  if (r->nfields > c->out_cap) {
    size_t cap = r->nfields * 2;
    char **o = realloc(c->out, cap * sizeof *o);
    if (o)
      c->out = o;
    size_t *ol = o ? realloc(c->out_lens, cap * sizeof *ol) : NULL;
    if (!ol)
      return fr_error_set(err, FR_ENOMEM, "out of memory");
    c->out_lens = ol;
    c->out_cap = cap;
  }
  for (size_t i = 0; i < r->nfields; i++) {
    c->out[i] = c->data + c->fstart[r->first_field + i];
    c->out_lens[i] = c->flen[r->first_field + i];
  }
  c->last_line = r->line;
  *fields = c->out;
  if (lens)
    *lens = c->out_lens;
  *n = r->nfields;
  return 1;
}
