/*
** io_idx.c — reading IDX files (the MNIST layout), plain or gzipped.
**
** An IDX file is a 4-byte magic (0, 0, element type, number of dims), the dims as big-endian
** uint32, then the elements, big-endian, row-major. Files are untrusted: the dims' product is
** checked for overflow, and a file shorter or longer than its header says is an error that
** gives both sizes. The data goes through zlib (gzread reads uncompressed files as they are)
** in fixed-size chunks converted straight into the output tensor. Nothing is allocated from
** the header's word alone: a plain file's size is checked against the dims first, and a
** gzipped one must be large enough to inflate to them (DEFLATE inflates at most 1032:1).
*/
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "nn_impl.h"

/* ---- IDX ---------------------------------------------------------------------------------- */

typedef struct { unsigned char code; const char *name; size_t size; bool isfloat; } idxtype;
static const idxtype idxtypes[] = {
  {0x08, "ubyte", 1, false}, {0x09, "byte", 1, false}, {0x0B, "short", 2, false},
  {0x0C, "int", 4, false},   {0x0D, "float", 4, true}, {0x0E, "double", 8, true},
};

/* Reads up to n bytes; returns the count read (< n only at end of file) or -1 on error. */
static int64_t readn(gzFile f, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
    int r = gzread(f, (char *)buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  int zerr;
  gzerror(f, &zerr);  /* a truncated gzip stream ends with Z_BUF_ERROR, not a -1 */
  return zerr == Z_OK ? (int64_t)got : -1;
}

static uint64_t be(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* element i of a big-endian chunk as a double (exact for every type but int64-range ints) */
static double elem(const idxtype *ty, const unsigned char *p) {
  switch (ty->code) {
    case 0x08: return p[0];
    case 0x09: return (signed char)p[0];
    case 0x0B: return (int16_t)(uint16_t)be(p, 2);
    case 0x0C: return (int32_t)(uint32_t)be(p, 4);
    case 0x0D: { uint32_t u = (uint32_t)be(p, 4); float x; memcpy(&x, &u, 4); return x; }
    default:   { uint64_t u = be(p, 8); double x; memcpy(&x, &u, 8); return x; }
  }
}

/* n elements from src (IDX layout) into dst (dtype dt) starting at element i0 */
static void convert(const idxtype *ty, const unsigned char *src, size_t n, nn_dtype dt,
                    void *dst, size_t i0) {
  if (ty->code == 0x08 && dt == NN_F32) {           /* the MNIST case, kept tight */
    float *d = (float *)dst + i0;
    for (size_t i = 0; i < n; i++) d[i] = src[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double v = elem(ty, src + i * ty->size);
    switch (dt) {
      case NN_F32: ((float *)dst)[i0 + i] = (float)v; break;
      case NN_F64: ((double *)dst)[i0 + i] = v; break;
      default:     ((int64_t *)dst)[i0 + i] = (int64_t)v; break;  /* integer types only */
    }
  }
}

/* zlib's message is "<path>: <what>"; the path is already in ours. */
const char *nn_io_gzmsg(gzFile f, const char *path, int *zerr);  /* also used by io_csv.c */

const char *nn_io_gzmsg(gzFile f, const char *path, int *zerr) {
  const char *msg = gzerror(f, zerr);
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':') msg += n + 1;
  while (*msg == ' ') msg++;
  return msg;
}

static nn_status ioerr(nn_ctx *ctx, const char *path, gzFile f) {
  int zerr;
  const char *msg = nn_io_gzmsg(f, path, &zerr);
  return nn_fail(ctx, zerr == Z_ERRNO ? NN_ERR_IO : NN_ERR_FORMAT, "read_idx: '%s': read error: %s",
                 path, msg);
}

/* Counts the bytes left in f (for the "file has more data" message); -1 on a read error. */
static int64_t count_rest(gzFile f, unsigned char *buf, size_t bufsize) {
  int64_t n = 0, r;
  while ((r = readn(f, buf, bufsize)) > 0) n += r;
  return r < 0 ? -1 : n;
}

/* What the header says: the element type, the dims (also as text, "60000x28x28", for
   messages) and the data's size in bytes. */
typedef struct {
  const idxtype *ty;
  int ndim;
  int64_t shape[NN_MAX_DIMS];
  uint64_t want;
  char dims[NN_MAX_DIMS * 12 + 1];
} idxhead;

/* The magic (two zero bytes, a known element type, 1..NN_MAX_DIMS dims) and the dims into h. */
static nn_status read_header(nn_ctx *ctx, const char *path, gzFile f, nn_dtype dt, idxhead *h) {
  unsigned char hdr[4 + 4 * 255];
  int64_t r = readn(f, hdr, 4);
  if (r < 0) return ioerr(ctx, path, f);
  if (r < 4)
    return nn_fail(ctx, NN_ERR_FORMAT, "read_idx: '%s' is truncated: %lld bytes, the magic needs 4",
                   path, (long long)r);
  if (hdr[0] != 0 || hdr[1] != 0)
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "read_idx: '%s' is not an IDX file (magic 0x%02x%02x%02x%02x does not start "
                   "with two zero bytes)", path, hdr[0], hdr[1], hdr[2], hdr[3]);
  h->ty = NULL;
  for (size_t i = 0; i < sizeof idxtypes / sizeof *idxtypes; i++)
    if (idxtypes[i].code == hdr[2]) h->ty = &idxtypes[i];
  if (h->ty == NULL)
    return nn_fail(ctx, NN_ERR_FORMAT, "read_idx: '%s': unknown element type 0x%02x in the magic",
                   path, hdr[2]);
  int ndim = h->ndim = hdr[3];
  if (ndim < 1 || ndim > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_FORMAT, "read_idx: '%s': %d dims in the magic (1..%d supported)",
                   path, ndim, NN_MAX_DIMS);
  if (h->ty->isfloat && dt == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "read_idx: '%s' holds %s data, which cannot be read as int64",
                   path, h->ty->name);
  r = readn(f, hdr + 4, 4 * (size_t)ndim);
  if (r < 0) return ioerr(ctx, path, f);
  if (r < 4 * ndim)
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "read_idx: '%s' is truncated: the header needs %d bytes, the file has %lld",
                   path, 4 + 4 * ndim, (long long)(4 + r));
  uint64_t numel = 1;
  bool overflow = false;
  size_t at = 0;
  for (int d = 0; d < ndim; d++) {
    h->shape[d] = (int64_t)be(hdr + 4 + 4 * d, 4);
    if (h->shape[d] != 0 && numel > (uint64_t)(INT64_MAX / 8) / (uint64_t)h->shape[d]) overflow = true;
    else numel *= (uint64_t)h->shape[d];
    at += (size_t)snprintf(h->dims + at, sizeof h->dims - at, d ? "x%lld" : "%lld",
                           (long long)h->shape[d]);
  }
  if (overflow || numel > SIZE_MAX / h->ty->size)
    return nn_fail(ctx, NN_ERR_FORMAT, "read_idx: '%s': dims %s overflow the element count",
                   path, h->dims);
  h->want = numel * h->ty->size;
  return NN_OK;
}

/* Nothing is allocated on the header's word alone: a plain file must hold exactly the data,
   and a gzipped one cannot inflate past 1032 times its size (DEFLATE's limit). */
static nn_status check_size(nn_ctx *ctx, const char *path, gzFile f, const idxhead *h) {
  struct stat sb;
  uint64_t fsize = stat(path, &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
  uint64_t hdrlen = 4 + 4 * (uint64_t)h->ndim;
  if (gzdirect(f)) {
    uint64_t have = fsize > hdrlen ? fsize - hdrlen : 0;
    if (have != h->want)
      return nn_fail(ctx, NN_ERR_FORMAT,
                     "read_idx: '%s' %s: dims %s of %s need %llu bytes of data, the file has %llu",
                     path, have < h->want ? "is truncated" : "is longer than its header says",
                     h->dims, h->ty->name, (unsigned long long)h->want, (unsigned long long)have);
  } else if (h->want / 1032 > fsize) {
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "read_idx: '%s' is truncated: dims %s of %s need %llu bytes of data, more than "
                   "a %llu-byte gzip file can hold", path, h->dims, h->ty->name,
                   (unsigned long long)h->want, (unsigned long long)fsize);
  }
  return NN_OK;
}

/* The data into t, chunk by chunk through buf (CHUNK bytes), converted to t's dtype; then
   the file must end. */
enum { CHUNK = 1 << 18 };                           /* a multiple of every element size */
static nn_status read_data(nn_ctx *ctx, const char *path, gzFile f, const idxhead *h,
                           unsigned char *buf, nn_tensor *t) {
  const idxtype *ty = h->ty;
  void *dst = nn_tensor_data(t);
  uint64_t got = 0;
  while (got < h->want) {
    size_t n = h->want - got < CHUNK ? (size_t)(h->want - got) : CHUNK;
    int64_t r = readn(f, buf, n);
    if (r < 0) return ioerr(ctx, path, f);
    convert(ty, buf, (size_t)r / ty->size, nn_tensor_dtype(t), dst, (size_t)(got / ty->size));
    got += (uint64_t)r;
    if ((size_t)r < n)
      return nn_fail(ctx, NN_ERR_FORMAT,
                     "read_idx: '%s' is truncated: dims %s of %s need %llu bytes of data, the file "
                     "has %llu", path, h->dims, ty->name, (unsigned long long)h->want,
                     (unsigned long long)got);
  }
  int64_t extra = count_rest(f, buf, CHUNK);
  if (extra < 0) return ioerr(ctx, path, f);
  if (extra > 0)
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "read_idx: '%s' is longer than its header says: dims %s of %s need %llu bytes "
                   "of data, the file has %llu", path, h->dims, ty->name,
                   (unsigned long long)h->want, (unsigned long long)(h->want + (uint64_t)extra));
  return NN_OK;
}

static nn_status read_idx(nn_ctx *ctx, const char *path, gzFile f, nn_dtype dt, nn_tensor **out) {
  idxhead h;
  nn_status s = read_header(ctx, path, f, dt, &h);
  if (s == NN_OK) s = check_size(ctx, path, f, &h);
  if (s != NN_OK) return s;
  nn_tensor *t = NULL;
  if ((s = nn_tensor_new(ctx, dt, h.ndim, h.shape, &t)) != NN_OK) return s;
  unsigned char *buf = nn_block_get(ctx, CHUNK);
  if (buf == NULL) {
    nn_tensor_release(t);
    return nn_fail(ctx, NN_ERR_MEM, "read_idx: out of memory for a %d-byte buffer", CHUNK);
  }
  s = read_data(ctx, path, f, &h, buf, t);
  nn_block_put(ctx, buf, CHUNK);
  if (s != NN_OK) { nn_tensor_release(t); return s; }
  nn_tensor_bump_version(t);
  *out = t;
  return NN_OK;
}

nn_status nn_read_idx(nn_ctx *ctx, const char *path, nn_dtype dt, nn_tensor **out) {
  NN_ARG(ctx, "read_idx", out);
  *out = NULL;
  if (path == NULL) return nn_fail(ctx, NN_ERR_ARG, "read_idx: path is NULL");
  if (dt != NN_F32 && dt != NN_F64 && dt != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "read_idx: unknown dtype %d", (int)dt);
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (f == NULL)
    return nn_fail(ctx, NN_ERR_IO, "read_idx: cannot open '%s': %s", path,
                   errno ? strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);
  nn_status s = read_idx(ctx, path, f, dt, out);
  gzclose(f);
  return s;
}
