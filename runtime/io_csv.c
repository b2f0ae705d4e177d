/*
** io_csv.c — reading numeric CSV files, plain or gzipped, into a 2-D tensor.
**
** The whole file is read through zlib (gzread passes uncompressed files through) into one
** buffer, then parsed in a single pass: fields are split at the delimiter, trimmed of spaces
** and of one pair of double quotes, and parsed with strtod/strtoll. Blank lines are skipped.
** The file is untrusted, so a value must be written as a decimal number (or nan / inf /
** infinity, as numpy and PyTorch accept them); strtod's other spellings (hex such as 0x10,
** nan(...)) are errors, and so is a value beyond the range of the dtype it is loaded as.
** Every row must have as many fields as the first (or as the header); a bad field names its
** line and column (1-based). Values are stored straight in the requested dtype, so the only
** full-size scratch is the file text and the value buffer.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "nn_impl.h"

const char *nn_io_gzmsg(gzFile f, const char *path, int *zerr);  /* io_idx.c */

/* ---- a growable byte buffer over the context allocator ------------------------------------ */

typedef struct { char *p; size_t len, cap; } buf;

static bool buf_reserve(nn_ctx *ctx, buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return true;
  size_t cap = b->cap ? b->cap : 1 << 16;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  char *p = nn_block_get(ctx, cap);
  if (p == NULL) return false;
  if (b->len) memcpy(p, b->p, b->len);
  if (b->p) nn_block_put(ctx, b->p, b->cap);
  b->p = p;
  b->cap = cap;
  return true;
}

static void buf_free(nn_ctx *ctx, buf *b) {
  if (b->p) nn_block_put(ctx, b->p, b->cap);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* The whole (decompressed) file, NUL-terminated; op names the caller in messages. */
static nn_status slurp(nn_ctx *ctx, const char *op, const char *path, buf *b) {
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (f == NULL)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot open '%s': %s", op, path,
                   errno ? strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);
  nn_status s = NN_OK;
  for (;;) {
    if (!buf_reserve(ctx, b, (size_t)1 << 16)) {
      s = nn_fail(ctx, NN_ERR_MEM, "%s: '%s': out of memory after %zu bytes", op, path, b->len);
      break;
    }
    size_t room = b->cap - b->len - 1;               /* keep one byte for the NUL */
    if (room > (1u << 30)) room = 1u << 30;
    int r = gzread(f, b->p + b->len, (unsigned)room);
    int zerr;
    gzerror(f, &zerr);  /* a truncated gzip stream ends with Z_BUF_ERROR, not a -1 */
    if (r < 0 || zerr != Z_OK) {
      const char *msg = nn_io_gzmsg(f, path, &zerr);
      s = nn_fail(ctx, zerr == Z_ERRNO ? NN_ERR_IO : NN_ERR_FORMAT,
                  "%s: '%s': read error: %s", op, path, msg);
      break;
    }
    if (r == 0) break;
    b->len += (size_t)r;
  }
  gzclose(f);
  if (s == NN_OK) b->p[b->len] = '\0';
  return s;
}

/* ---- fields --------------------------------------------------------------------------------- */

typedef struct {
  nn_ctx *ctx;
  const char *path;
  char delim;
  const char *p, *end;   /* parse position in the text */
  int64_t line;          /* 1-based line of p */
} parser;

static bool is_space(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* The next field [*fs, *fe) of the current line, trimmed and unquoted; advances past it and
   past its delimiter. Returns true if another field follows on the same line. */
static bool next_field(parser *ps, const char **fs, const char **fe) {
  const char *p = ps->p, *end = ps->end;
  const char *s = p;
  while (p < end && *p != ps->delim && *p != '\n' && *p != '\r') p++;
  const char *e = p;
  while (s < e && is_space(*s, ps->delim)) s++;
  while (e > s && is_space(e[-1], ps->delim)) e--;
  if (e - s >= 2 && *s == '"' && e[-1] == '"') { s++; e--; }
  *fs = s;
  *fe = e;
  bool more = p < end && *p == ps->delim;
  ps->p = more ? p + 1 : p;
  return more;
}

/* Past the end of the current line (\n, \r\n or \r); counts it. */
static void end_line(parser *ps) {
  const char *p = ps->p;
  if (p < ps->end && *p == '\r') p++;
  if (p < ps->end && *p == '\n') p++;
  ps->p = p;
  ps->line++;
}

/* true if the line at p holds nothing but spaces */
static bool blank_line(const parser *ps) {
  const char *p = ps->p;
  while (p < ps->end && is_space(*p, ps->delim)) p++;
  return p >= ps->end || *p == '\n' || *p == '\r';
}

static nn_status bad_field(parser *ps, int64_t col, const char *fs, const char *fe,
                           const char *why) {
  int n = fe - fs > 40 ? 40 : (int)(fe - fs);
  if (fs == fe)
    return nn_fail(ps->ctx, NN_ERR_FORMAT, "read_csv: '%s' line %lld, column %lld: empty field",
                   ps->path, (long long)ps->line, (long long)col);
  return nn_fail(ps->ctx, NN_ERR_FORMAT, "read_csv: '%s' line %lld, column %lld: '%.*s%s' %s",
                 ps->path, (long long)ps->line, (long long)col, n, fs, fe - fs > 40 ? "..." : "",
                 why);
}

/* true if s is [+-]digits[.digits][(e|E)[+-]digits] with a digit in the mantissa */
static bool decimal(const char *s) {
  bool digits = false;
  if (*s == '+' || *s == '-') s++;
  while (*s >= '0' && *s <= '9') { s++; digits = true; }
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') { s++; digits = true; }
  }
  if (!digits) return false;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!(*s >= '0' && *s <= '9')) return false;
    while (*s >= '0' && *s <= '9') s++;
  }
  return *s == '\0';
}

/* true if s is nan, inf or infinity (any case, optional sign) */
static bool nonfinite_word(const char *s) {
  if (*s == '+' || *s == '-') s++;
  return strcasecmp(s, "nan") == 0 || strcasecmp(s, "inf") == 0 || strcasecmp(s, "infinity") == 0;
}

/* Parses [fs, fe) as dtype dt into dst. */
static nn_status parse_value(parser *ps, int64_t col, const char *fs, const char *fe, nn_dtype dt,
                             void *dst) {
  char tmp[128];
  size_t n = (size_t)(fe - fs);
  if (n == 0 || n >= sizeof tmp) return bad_field(ps, col, fs, fe, "is not a number");
  if (memchr(fs, '\0', n)) return bad_field(ps, col, fs, fe, "holds a NUL byte");
  memcpy(tmp, fs, n);
  tmp[n] = '\0';
  char *endp;
  bool word = !decimal(tmp);
  if (word && !nonfinite_word(tmp)) {
    strtod(tmp, &endp);     /* (only to say why: strtod reads 0x10 and nan(1), we do not) */
    return bad_field(ps, col, fs, fe, endp == tmp + n ? "is not a decimal number" : "is not a number");
  }
  if (dt == NN_I64) {
    if (word) return bad_field(ps, col, fs, fe, "is not an int64");
    errno = 0;
    long long v = strtoll(tmp, &endp, 10);
    if (endp != tmp + n || errno == ERANGE) {      /* maybe "3.0" or "1e3" */
      double d = strtod(tmp, &endp);
      if (endp != tmp + n) return bad_field(ps, col, fs, fe, "is not a number");
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
        return bad_field(ps, col, fs, fe, "is not an int64");
      v = (long long)d;
    }
    *(int64_t *)dst = v;
    return NN_OK;
  }
  errno = 0;
  double d = strtod(tmp, &endp);
  if (endp != tmp + n) return bad_field(ps, col, fs, fe, "is not a number");
  /* (underflow to 0 or a subnormal is kept, as numpy keeps it) */
  if (!word && errno == ERANGE && fabs(d) == HUGE_VAL)
    return bad_field(ps, col, fs, fe, "is out of the range of float64");
  if (dt == NN_F32) {
    /* values from FLT_MAX + half an ulp (0x1.ffffffp127) on round to inf */
    if (!word && fabs(d) >= 0x1.ffffffp127)
      return bad_field(ps, col, fs, fe, "is out of the range of float32");
    *(float *)dst = (float)d;
  } else {
    *(double *)dst = d;
  }
  return NN_OK;
}

/* ---- the reader -------------------------------------------------------------------------------- */

/* Splits the header line into a NUL-separated name list (a block for nn_free). */
static nn_status read_header(parser *ps, char **names, int64_t *ncols) {
  size_t total = 0;
  int64_t n = 0;
  const char *save = ps->p;
  const char *fs, *fe;
  bool more;
  do {
    more = next_field(ps, &fs, &fe);
    n++;
    /* a NUL would end the name early in the NUL-separated list, and shift every later one */
    if (memchr(fs, '\0', (size_t)(fe - fs)))
      return nn_fail(ps->ctx, NN_ERR_FORMAT, "read_csv: '%s' line %lld, column %lld: NUL byte in header",
                     ps->path, (long long)ps->line, (long long)n);
    total += (size_t)(fe - fs) + 1;
  } while (more);
  *ncols = n;
  if (names == NULL) { end_line(ps); return NN_OK; }
  char *out = nn_buffer_alloc(ps->ctx, total);
  if (out == NULL)
    return nn_fail(ps->ctx, NN_ERR_MEM, "read_csv: out of memory for a %zu-byte header", total);
  ps->p = save;
  char *w = out;
  do {
    more = next_field(ps, &fs, &fe);
    memcpy(w, fs, (size_t)(fe - fs));
    w += fe - fs;
    *w++ = '\0';
  } while (more);
  end_line(ps);
  *names = out;
  return NN_OK;
}

static nn_status parse(parser *ps, const nn_csv_opts *o, buf *vals, char **header,
                       int64_t *ncols_out, int64_t *nrows_out) {
  nn_ctx *ctx = ps->ctx;
  size_t es = nn_dtype_size(o->dtype);
  int64_t ncols = -1, nrows = 0;
  while (ps->p < ps->end && blank_line(ps)) {
    while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') ps->p++;
    end_line(ps);
  }
  if (o->header) {
    if (ps->p >= ps->end)
      return nn_fail(ctx, NN_ERR_FORMAT, "read_csv: '%s' is empty: no header row", ps->path);
    nn_status s = read_header(ps, header, &ncols);
    if (s != NN_OK) return s;
  }
  while (ps->p < ps->end) {
    if (blank_line(ps)) {
      while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') ps->p++;
      end_line(ps);
      continue;
    }
    int64_t col = 0;
    const char *fs, *fe;
    bool more;
    do {
      more = next_field(ps, &fs, &fe);
      col++;
      if (ncols >= 0 && col > ncols) break;
      if (!buf_reserve(ctx, vals, es))
        return nn_fail(ctx, NN_ERR_MEM, "read_csv: '%s': out of memory at line %lld", ps->path,
                       (long long)ps->line);
      nn_status s = parse_value(ps, col, fs, fe, o->dtype, vals->p + vals->len);
      if (s != NN_OK) return s;
      vals->len += es;
    } while (more);
    if (ncols < 0) ncols = col;
    if (col != ncols) {
      if (col > ncols)            /* count the rest of the fields for the message */
        while (more) { more = next_field(ps, &fs, &fe); col++; }
      return nn_fail(ctx, NN_ERR_FORMAT, "read_csv: '%s' line %lld has %lld fields, expected %lld "
                     "(as %s)", ps->path, (long long)ps->line, (long long)col, (long long)ncols,
                     o->header ? "the header" : "the first row");
    }
    nrows++;
    end_line(ps);
  }
  if (ncols < 0)
    return nn_fail(ctx, NN_ERR_FORMAT, "read_csv: '%s' is empty: no rows", ps->path);
  *ncols_out = ncols;
  *nrows_out = nrows;
  return NN_OK;
}

nn_status nn_read_csv(nn_ctx *ctx, const char *path, const nn_csv_opts *opts, nn_tensor **out,
                      char **header, int64_t *ncols) {
  NN_ARG(ctx, "read_csv", out);
  *out = NULL;
  if (header) *header = NULL;
  if (path == NULL) return nn_fail(ctx, NN_ERR_ARG, "read_csv: path is NULL");
  nn_csv_opts o = {',', false, NN_F32};
  if (opts) o = *opts;
  if (o.dtype != NN_F32 && o.dtype != NN_F64 && o.dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "read_csv: unknown dtype %d", (int)o.dtype);
  unsigned char dc = (unsigned char)o.delimiter;
  if (dc == 0 || dc == '\n' || dc == '\r' || dc == '"' || dc == '.' || dc == '+' || dc == '-' ||
      (dc >= '0' && dc <= '9') || dc == 'e' || dc == 'E' || dc >= 0x80)
    return nn_fail(ctx, NN_ERR_ARG, "read_csv: bad delimiter (byte 0x%02x): it would split "
                   "numbers or lines", dc);

  buf text = {0}, vals = {0};
  nn_status s = slurp(ctx, "read_csv", path, &text);
  if (s != NN_OK) { buf_free(ctx, &text); return s; }
  parser ps = {ctx, path, o.delimiter, text.p, text.p + text.len, 1};
  char *names = NULL;
  int64_t nc = 0, nr = 0;
  s = parse(&ps, &o, &vals, header ? &names : NULL, &nc, &nr);
  buf_free(ctx, &text);
  nn_tensor *t = NULL;
  if (s == NN_OK) {
    int64_t shape[2] = {nr, nc};
    s = nn_tensor_new(ctx, o.dtype, 2, shape, &t);
  }
  if (s == NN_OK) {
    if (vals.len) memcpy(nn_tensor_data(t), vals.p, vals.len);
    nn_tensor_bump_version(t);
  }
  buf_free(ctx, &vals);
  if (s != NN_OK) {
    nn_free(ctx, names);
    return s;
  }
  *out = t;
  if (header) *header = names;
  if (ncols) *ncols = nc;
  return NN_OK;
}

nn_status nn_read_text(nn_ctx *ctx, const char *path, char **text, size_t *len) {
  NN_ARG(ctx, "read_text", text);
  *text = NULL;
  if (len) *len = 0;
  if (path == NULL) return nn_fail(ctx, NN_ERR_ARG, "read_text: path is NULL");
  buf b = {0};
  nn_status s = slurp(ctx, "read_text", path, &b);
  char *out = NULL;
  if (s == NN_OK) {
    out = nn_buffer_alloc(ctx, b.len + 1);  /* b.len + 1 <= b.cap: cannot overflow */
    if (out == NULL)
      s = nn_fail(ctx, NN_ERR_MEM, "read_text: '%s': out of memory for %zu bytes", path, b.len);
    else
      memcpy(out, b.p, b.len + 1);
  }
  size_t n = b.len;
  buf_free(ctx, &b);
  if (s != NN_OK) return s;
  *text = out;
  if (len) *len = n;
  return NN_OK;
}
