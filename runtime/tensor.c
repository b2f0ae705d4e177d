/* tensor.c — storage, tensor headers, creation, element access, strided loops, copies. */
#include <math.h>
#include <stdio.h>
#include "nn_impl.h"

/* ---- dtypes ------------------------------------------------------------------------- */

size_t nn_dtype_size(nn_dtype dt) { return dt == NN_F32 ? 4 : 8; }
const char *nn_dtype_name(nn_dtype dt) {
  switch (dt) {
    case NN_F32: return "float32";
    case NN_F64: return "float64";
    case NN_I64: return "int64";
  }
  return "?";
}
nn_status nn_dtype_parse(nn_ctx *ctx, const char *name, nn_dtype *dt) {
  static const struct { const char *n; nn_dtype d; } names[] = {
    {"float32", NN_F32}, {"float", NN_F32}, {"float64", NN_F64}, {"double", NN_F64},
    {"int64", NN_I64}, {"long", NN_I64}};
  NN_ARG(ctx, "dtype_parse", name);
  NN_ARG(ctx, "dtype_parse", dt);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].n) == 0) { *dt = names[i].d; return NN_OK; }
  return nn_fail(ctx, NN_ERR_DTYPE, "unknown dtype '%s' (expected float32, float64 or int64)",
                 name);
}
/* int64 with a float gives the float; float32 with float64 gives float64. */
nn_dtype nn_promote(nn_dtype a, nn_dtype b) {
  if (a == b) return a;
  if (a == NN_I64) return b;
  if (b == NN_I64) return a;
  return NN_F64;
}

/* ---- shapes --------------------------------------------------------------------------- */

const char *nn_shape_fmt(int ndim, const int64_t *shape, char *buf) {
  size_t n = 0;
  buf[n++] = '[';
  for (int i = 0; i < ndim && n < NN_SHAPE_BUF - 24; i++)
    n += (size_t)snprintf(buf + n, NN_SHAPE_BUF - n, i ? ", %lld" : "%lld", (long long)shape[i]);
  buf[n++] = ']';
  buf[n] = '\0';
  return buf;
}
const char *nn_shape_str(const nn_tensor *t, char *buf, size_t size) {
  char tmp[NN_SHAPE_BUF];
  if (!buf || size == 0) return buf;
  snprintf(buf, size, "%s", t ? nn_shape_fmt(t->ndim, t->shape, tmp) : "");
  return buf;
}

bool nn_shape_count(int ndim, const int64_t *shape, int64_t *numel) {
  int64_t nz = 1;   /* the product of the nonzero sizes bounds the strides, even when numel is 0 */
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return false;
    if (shape[i] == 0) empty = true;
    else if (!nn_size_mul(nz, shape[i], &nz) || nz > NN_NUMEL_MAX) return false;
  }
  *numel = empty ? 0 : nz;
  return true;
}

int64_t nn_shape_numel(int ndim, const int64_t *shape) {
  int64_t n;
  return nn_shape_count(ndim, shape, &n) ? n : -1;
}

nn_status nn_check_shape(nn_ctx *ctx, const char *op, int ndim, const int64_t *shape) {
  char b[NN_SHAPE_BUF];
  int64_t n;
  if (ndim < 0 || ndim > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: %d dimensions (at most %d are supported)", op, ndim,
                   NN_MAX_DIMS);
  if (ndim > 0 && !shape) return nn_fail(ctx, NN_ERR_ARG, "%s: shape is NULL", op);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: negative size %lld in dimension %d", op,
                     (long long)shape[i], i + 1);
  if (!nn_shape_count(ndim, shape, &n))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: shape %s has too many elements (at most 2^48)", op,
                   nn_shape_fmt(ndim, shape, b));
  return NN_OK;
}

void nn_contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) { stride[i] = s; s *= shape[i] > 1 ? shape[i] : 1; }
}

bool nn_is_contig(const nn_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

bool nn_same_shape(const nn_tensor *a, const nn_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

bool nn_wrap_dim(int *dim, int ndim) {
  int n = ndim > 0 ? ndim : 1;
  int d = *dim < 0 ? *dim + n : *dim;
  if (d < 0 || d >= n) return false;
  *dim = d;
  return true;
}

nn_status nn_check_dim(nn_ctx *ctx, const char *op, int *dim, int ndim) {
  int d = *dim;
  if (!nn_wrap_dim(dim, ndim))
    return nn_fail(ctx, NN_ERR_ARG, "%s: dimension %d out of range for a %d-d tensor", op,
                   d >= 0 ? d + 1 : d, ndim);
  return NN_OK;
}

nn_status nn_check_open(nn_ctx *ctx, const char *op, const nn_tensor *t) {
  if (!ctx || !t) return nn_fail(ctx, NN_ERR_ARG, "%s: tensor is NULL", op);
  return NN_OK;
}

nn_status nn_broadcast_shape(nn_ctx *ctx, const char *op, const nn_tensor *a, const nn_tensor *b,
                             int *ndim, int64_t *shape) {
  *ndim = 0;
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < n; i++) {
    int ia = a->ndim - n + i, ib = b->ndim - n + i;
    int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[NN_SHAPE_BUF], y[NN_SHAPE_BUF];
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op,
                     nn_shape_fmt(a->ndim, a->shape, x), nn_shape_fmt(b->ndim, b->shape, y));
    }
    shape[i] = sa == 1 ? sb : sa;
  }
  *ndim = n;
  return NN_OK;
}

void nn_broadcast_strides(const nn_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    stride[i] = (it < 0 || (t->shape[it] == 1 && shape[i] != 1)) ? 0 : t->stride[it];
  }
}

/* ---- strided loops --------------------------------------------------------------------- */

void nn_loop(int nops, int ndim, const int64_t *shape, char *const *base,
             const int64_t *const *strides, const size_t *elsize, nn_row_fn fn, void *arg) {
  int64_t sh[NN_MAX_DIMS + 1], st[3][NN_MAX_DIMS + 1];
  int nd = 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == 0) return;
    if (shape[i] == 1) continue;            /* size-1 dims do not move */
    sh[nd] = shape[i];
    for (int k = 0; k < nops; k++) st[k][nd] = strides[k][i];
    nd++;
  }
  /* merge dim d-1 into d when every operand steps through d-1 as one run of d */
  int m = 0;
  for (int d = 0; d < nd; d++) {
    if (m > 0) {
      bool ok = true;
      for (int k = 0; k < nops; k++)
        if (st[k][m - 1] != st[k][d] * sh[d]) { ok = false; break; }
      if (ok) {
        sh[m - 1] *= sh[d];
        for (int k = 0; k < nops; k++) st[k][m - 1] = st[k][d];
        continue;
      }
    }
    sh[m] = sh[d];
    for (int k = 0; k < nops; k++) st[k][m] = st[k][d];
    m++;
  }
  if (m == 0) { sh[0] = 1; for (int k = 0; k < nops; k++) st[k][0] = 0; m = 1; }
  char *p[3] = {base[0], nops > 1 ? base[1] : NULL, nops > 2 ? base[2] : NULL};
  int64_t inner = sh[m - 1], s[3] = {0, 0, 0};
  for (int k = 0; k < nops; k++) s[k] = st[k][m - 1];
  int64_t idx[NN_MAX_DIMS + 1] = {0};
  for (;;) {
    fn(inner, p[0], s[0], p[1], s[1], p[2], s[2], arg);
    int d = m - 2;
    for (; d >= 0; d--) {
      for (int k = 0; k < nops; k++) p[k] += st[k][d] * (int64_t)elsize[k];
      if (++idx[d] < sh[d]) break;
      for (int k = 0; k < nops; k++) p[k] -= st[k][d] * sh[d] * (int64_t)elsize[k];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/* ---- storage and headers ------------------------------------------------------------------ */

/* A storage the context owns is one block: the record, then the data 64 bytes in. */
#define ST_HEAD 64
static nn_storage *storage_new(nn_ctx *ctx, size_t nbytes) {
  if (nbytes > SIZE_MAX - ST_HEAD) return NULL;
  nn_storage *st = nn_block_get(ctx, ST_HEAD + nbytes);
  if (!st) return NULL;
  st->data = (char *)st + ST_HEAD;
  st->refs = 1; st->nbytes = nbytes; st->version = 0;
  st->release = NULL; st->ud = NULL; st->ctx = ctx; st->owned = true;
  ctx->bytes_in_use += nbytes;
  ctx->live++;
  return st;
}

static void storage_unref(nn_storage *st) {
  if (!st || --st->refs > 0) return;
  nn_ctx *ctx = st->ctx;
  if (st->owned) {
    ctx->bytes_in_use -= st->nbytes;
    nn_block_put(ctx, st, ST_HEAD + st->nbytes);
  } else {
    if (st->release) st->release(st->ud, st->data);
    nn_block_put(ctx, st, sizeof *st);
  }
  nn_ctx_unref(ctx);
}

static nn_tensor *header_new(nn_ctx *ctx) {
  nn_tensor *t = nn_block_get(ctx, sizeof *t);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  t->refs = 1;
  t->ctx = ctx;
  ctx->live++;
  return t;
}

void nn_tensor_retain(nn_tensor *t) { if (t) t->refs++; }

/* A dead tensor frees its header and storage at once (a storage holds no tensors); its grad
   dies in the same loop (a chain of grads is a loop, not a recursion), and its node, if that
   dies too, goes on the caller's list. Nothing here allocates, so a release cannot fail. */
static void tensor_die(nn_tensor *t, nn_node **dead) {
  do {
    nn_ctx *ctx = t->ctx;
    nn_tensor *g = t->grad;
    nn_node *n = t->node;
    if (n && --n->refs == 0) { n->next_dead = *dead; *dead = n; }
    storage_unref(t->st);
    nn_block_put(ctx, t, sizeof *t);
    nn_ctx_unref(ctx);   /* (the grad and the listed node still count: ctx is alive) */
    t = g;
  } while (t && --t->refs == 0);
}

void nn_tensor_unref(nn_tensor *t, nn_node **dead) {
  if (t && --t->refs == 0) tensor_die(t, dead);
}

void nn_tensor_release(nn_tensor *t) {
  if (!t || --t->refs > 0) return;
  nn_node *dead = NULL;
  tensor_die(t, &dead);
  if (dead) nn_nodes_free(dead);
}

nn_status nn_new(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, bool zero,
                 nn_tensor **out) {
  *out = NULL;
  nn_status s = nn_check_shape(ctx, "tensor", ndim, shape);
  if (s) return s;
  if (dt != NN_F32 && dt != NN_F64 && dt != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "tensor: invalid dtype %d", (int)dt);
  int64_t n = nn_shape_numel(ndim, shape), bytes;
  if (!nn_size_mul(n, (int64_t)nn_dtype_size(dt), &bytes))
    return nn_fail(ctx, NN_ERR_SHAPE, "tensor: size overflow");
  nn_tensor *t = header_new(ctx);
  if (!t) return nn_fail(ctx, NN_ERR_MEM, "tensor: out of memory");
  size_t nbytes = (size_t)bytes;
  t->st = storage_new(ctx, nbytes);
  if (!t->st) {
    nn_tensor_release(t);
    return nn_fail(ctx, NN_ERR_MEM, "tensor: out of memory allocating %zu bytes", nbytes);
  }
  t->dtype = dt; t->ndim = ndim; t->numel = n;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  nn_contig_strides(ndim, shape, t->stride);
  if (zero) memset(t->st->data, 0, nbytes);
  *out = t;
  return NN_OK;
}

nn_status nn_new_like(nn_ctx *ctx, const nn_tensor *t, bool zero, nn_tensor **out) {
  return nn_new(ctx, t->dtype, t->ndim, t->shape, zero, out);
}

/* The lowest and highest element offsets a non-empty geometry reaches from offset (false if
   they overflow): what a view needs inside its storage, and what a host's buffer must hold. */
static bool geometry_extent(int ndim, const int64_t *shape, const int64_t *stride,
                            int64_t offset, int64_t *lo, int64_t *hi) {
  int64_t step;
  *lo = *hi = offset;
  for (int i = 0; i < ndim; i++) {
    if (!nn_size_mul(shape[i] - 1, stride[i], &step)) return false;
    if (step < 0 ? !nn_size_add(*lo, step, lo) : !nn_size_add(*hi, step, hi)) return false;
  }
  return true;
}

/* Whether a view's every element lies inside the storage: the one check that keeps a wrong
   shape, stride or offset from any caller from reading or writing outside the buffer. */
static bool view_in_bounds(const nn_storage *st, size_t es, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset, int64_t numel) {
  int64_t cap = (int64_t)(st->nbytes / es), lo, hi;
  if (offset < 0 || offset > cap) return false;
  if (numel == 0) return true;
  return geometry_extent(ndim, shape, stride, offset, &lo, &hi) && lo >= 0 && hi < cap;
}

nn_status nn_alias(nn_ctx *ctx, const nn_tensor *t, int ndim, const int64_t *shape,
                   const int64_t *stride, int64_t offset, nn_tensor **out) {
  *out = NULL;
  int64_t numel;
  if (ndim < 0 || ndim > NN_MAX_DIMS || !nn_shape_count(ndim, shape, &numel) ||
      !view_in_bounds(t->st, nn_dtype_size(t->dtype), ndim, shape, stride, offset, numel)) {
    char b[NN_SHAPE_BUF];
    return nn_fail(ctx, NN_ERR_SHAPE, "view: shape %s at offset %lld does not fit the tensor's "
                   "storage of %zu bytes", nn_shape_fmt(ndim < 0 ? 0 : ndim > NN_MAX_DIMS ?
                   NN_MAX_DIMS : ndim, shape, b), (long long)offset, t->st->nbytes);
  }
  nn_tensor *v = header_new(ctx);
  if (!v) return nn_fail(ctx, NN_ERR_MEM, "view: out of memory");
  v->dtype = t->dtype; v->ndim = ndim; v->offset = offset;
  for (int i = 0; i < ndim; i++) { v->shape[i] = shape[i]; v->stride[i] = stride[i]; }
  v->numel = numel;
  v->st = t->st;
  t->st->refs++;
  *out = v;
  return NN_OK;
}

/* ---- public tensor API ---------------------------------------------------------------------- */

nn_status nn_tensor_new(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                        nn_tensor **out) {
  NN_ARG(ctx, "tensor", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "tensor", shape);
  return nn_new(ctx, dt, ndim, shape, false, out);
}

nn_status nn_tensor_from_data(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                              const void *data, nn_tensor **out) {
  NN_ARG(ctx, "tensor_from_data", out);
  *out = NULL;
  nn_status s = nn_check_shape(ctx, "tensor_from_data", ndim, shape);
  if (s) return s;
  if (!data && nn_shape_numel(ndim, shape) > 0)
    return nn_fail(ctx, NN_ERR_ARG, "tensor_from_data: data is NULL");
  nn_tensor *t;
  s = nn_new(ctx, dt, ndim, shape, false, &t);
  if (s) return s;
  if (t->numel) memcpy(t->st->data, data, t->st->nbytes);
  *out = t;
  return NN_OK;
}

nn_status nn_tensor_wrap(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                         const int64_t *strides, void *data,
                         void (*release)(void *ud, void *data), void *ud, nn_tensor **out) {
  NN_ARG(ctx, "wrap", out);
  *out = NULL;
  nn_status s = nn_check_shape(ctx, "wrap", ndim, shape);
  if (s) return s;
  if (dt != NN_F32 && dt != NN_F64 && dt != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "wrap: invalid dtype %d", (int)dt);
  if (!data) return nn_fail(ctx, NN_ERR_ARG, "wrap: data is NULL");
  if (strides)
    for (int i = 0; i < ndim; i++)
      if (strides[i] < 0)
        return nn_fail(ctx, NN_ERR_ARG, "wrap: negative stride %lld in dimension %d",
                       (long long)strides[i], i + 1);
  int64_t stride[NN_MAX_DIMS], numel = nn_shape_numel(ndim, shape);
  if (strides) for (int i = 0; i < ndim; i++) stride[i] = strides[i];
  else nn_contig_strides(ndim, shape, stride);
  int64_t lo = 0, hi = 0, bytes;   /* strides are >= 0 here: lo stays 0 */
  if ((numel > 0 && !geometry_extent(ndim, shape, stride, 0, &lo, &hi)) ||
      !nn_size_add(hi, 1, &hi) || !nn_size_mul(hi, (int64_t)nn_dtype_size(dt), &bytes))
    return nn_fail(ctx, NN_ERR_SHAPE, "wrap: these strides overflow the address range");
  nn_tensor *t = header_new(ctx);
  nn_storage *st = t ? nn_block_get(ctx, sizeof *st) : NULL;
  if (!st) {
    nn_tensor_release(t);
    return nn_fail(ctx, NN_ERR_MEM, "wrap: out of memory");
  }
  t->dtype = dt; t->ndim = ndim; t->numel = numel;
  for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->stride[i] = stride[i]; }
  st->refs = 1; st->data = data; st->nbytes = (size_t)bytes;
  st->version = 0; st->release = release; st->ud = ud; st->ctx = ctx; st->owned = false;
  ctx->live++;
  t->st = st;
  *out = t;
  return NN_OK;
}

/* (a NULL tensor reads as nn.h's neutral values) */
nn_dtype nn_tensor_dtype(const nn_tensor *t) { return t ? t->dtype : NN_F32; }
int nn_tensor_ndim(const nn_tensor *t) { return t ? t->ndim : 0; }
const int64_t *nn_tensor_shape(const nn_tensor *t) { return t ? t->shape : NULL; }
const int64_t *nn_tensor_strides(const nn_tensor *t) { return t ? t->stride : NULL; }
int64_t nn_tensor_numel(const nn_tensor *t) { return t ? t->numel : 0; }
void *nn_tensor_data(const nn_tensor *t) { return t ? nn_ptr(t) : NULL; }
bool nn_tensor_is_contiguous(const nn_tensor *t) { return t && nn_is_contig(t); }
bool nn_tensor_same_storage(const nn_tensor *a, const nn_tensor *b) {
  return a && b && a->st == b->st;
}
uint64_t nn_tensor_version(const nn_tensor *t) { return t ? t->st->version : 0; }
void nn_tensor_bump_version(nn_tensor *t) { if (t) t->st->version++; }
nn_ctx *nn_tensor_ctx(const nn_tensor *t) { return t ? t->ctx : NULL; }
/* Buffers carry their size in a 16-byte prefix, so nn_free needs no size argument. */
void *nn_buffer_alloc(nn_ctx *ctx, size_t n) {
  if (n > SIZE_MAX - 16) return NULL;
  size_t *h = nn_block_get(ctx, n + 16);
  if (!h) return NULL;
  h[0] = n + 16;
  return (char *)h + 16;
}
void nn_free(nn_ctx *ctx, void *p) {
  if (!ctx || !p) return;
  size_t *h = (size_t *)((char *)p - 16);
  nn_block_put(ctx, h, h[0]);
}

/* ---- element access ---------------------------------------------------------------------- */

static inline double load(const char *p, nn_dtype dt) {
  switch (dt) {
    case NN_F32: return *(const float *)p;
    case NN_F64: return *(const double *)p;
    default: return (double)*(const int64_t *)p;
  }
}
/* A double as int64 with defined behaviour for every input (NaN 0, saturating): callers that
   must refuse such values check them with nn_f64_to_i64 first. */
static inline int64_t i64_sat(double v) {
  return v != v ? 0 : v <= -0x1p63 ? INT64_MIN : v >= 0x1p63 ? INT64_MAX : (int64_t)v;
}
static inline void store(char *p, nn_dtype dt, double v) {
  switch (dt) {
    case NN_F32: *(float *)p = (float)v; break;
    case NN_F64: *(double *)p = v; break;
    default: *(int64_t *)p = i64_sat(v); break;
  }
}

nn_status nn_check_i64(nn_ctx *ctx, const char *op, nn_dtype dt, double v) {
  int64_t k;
  if (dt == NN_I64 && !nn_f64_to_i64(v, &k))
    return nn_fail(ctx, NN_ERR_ARG, "%s: %g cannot be stored in an int64 tensor (%s)", op, nn_shownum(v),
                   v != v || isinf(v) ? "not a finite number" : v != floor(v) ?
                   "not an integer" : "outside int64's range");
  return NN_OK;
}

/* Sufficient for no two elements to share memory: with the dims sorted by stride, each
   stride passes the extent of the dims below it. Expanded views (stride 0) fail it. */
nn_status nn_check_overlap(nn_ctx *ctx, const char *op, const nn_tensor *t) {
  int64_t st[NN_MAX_DIMS], sz[NN_MAX_DIMS], extent = 0;
  int n = 0;
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] > 1) {
      int k = n++;
      for (; k > 0 && st[k - 1] > t->stride[d]; k--) { st[k] = st[k - 1]; sz[k] = sz[k - 1]; }
      st[k] = t->stride[d]; sz[k] = t->shape[d];
    }
  for (int k = 0; k < n; k++) {
    if (st[k] <= extent) {
      char b[NN_SHAPE_BUF];
      return nn_fail(ctx, NN_ERR_ARG, "%s: the tensor of shape %s has elements that share memory "
                     "(an expanded view?), so an in-place result would be ill-defined; "
                     "clone() it first", op, nn_shape_fmt(t->ndim, t->shape, b));
    }
    extent += (sz[k] - 1) * st[k];   /* within the storage, checked when the view was made */
  }
  return NN_OK;
}

double nn_get_flat(const nn_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return load((const char *)t->st->data + off * (int64_t)nn_dtype_size(t->dtype), t->dtype);
}

static nn_status index_offset(nn_ctx *ctx, const char *op, const nn_tensor *t, const int64_t *idx,
                              int64_t *off) {
  NN_ARG(ctx, op, t);
  if (t->ndim > 0) NN_ARG(ctx, op, idx);   /* (a 0-d tensor needs no index) */
  int64_t o = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    if (idx[d] < 0 || idx[d] >= t->shape[d])
      return nn_fail(ctx, NN_ERR_ARG, "%s: index %lld out of range for dimension %d of size %lld",
                     op, (long long)idx[d], d + 1, (long long)t->shape[d]);
    o += idx[d] * t->stride[d];
  }
  *off = o;
  return NN_OK;
}

nn_status nn_tensor_get(nn_ctx *ctx, const nn_tensor *t, const int64_t *idx, double *v) {
  NN_ARG(ctx, "get", v);
  int64_t off = 0;
  nn_status s = index_offset(ctx, "get", t, idx, &off);
  if (s) return s;
  *v = load((const char *)t->st->data + off * (int64_t)nn_dtype_size(t->dtype), t->dtype);
  return NN_OK;
}

nn_status nn_tensor_set(nn_ctx *ctx, nn_tensor *t, const int64_t *idx, double v) {
  int64_t off = 0;
  nn_status s = index_offset(ctx, "set", t, idx, &off);
  if (s) return s;
  if (t->requires_grad && ctx->grad_enabled)
    return nn_fail(ctx, NN_ERR_STATE,
                   "set: a tensor that requires grad (or a view of one) cannot be changed in place "
                   "while grad mode is on (use lunet.no_grad)");
  if ((s = nn_check_i64(ctx, "set", t->dtype, v))) return s;
  store((char *)t->st->data + off * (int64_t)nn_dtype_size(t->dtype), t->dtype, v);
  t->st->version++;
  return NN_OK;
}

nn_status nn_item(nn_ctx *ctx, const nn_tensor *t, double *v) {
  NN_ARG(ctx, "item", t);
  NN_ARG(ctx, "item", v);
  if (t->numel != 1) {
    char b[NN_SHAPE_BUF];
    return nn_fail(ctx, NN_ERR_SHAPE, "item: a tensor with %lld elements (shape %s) has no single value",
                   (long long)t->numel, nn_shape_fmt(t->ndim, t->shape, b));
  }
  *v = load(nn_ptr(t), t->dtype);
  return NN_OK;
}

nn_status nn_item_i64(nn_ctx *ctx, const nn_tensor *t, int64_t *v) {
  NN_ARG(ctx, "item", v);
  double d;
  nn_status s = nn_item(ctx, t, &d);
  if (s) return s;
  if (t->dtype == NN_I64) *v = *(const int64_t *)nn_ptr(t);
  else if (!nn_f64_to_i64(d, v))
    return nn_fail(ctx, NN_ERR_ARG, "item: %g is not an integer that int64 can hold", d);
  return NN_OK;
}

/* ---- raw copies --------------------------------------------------------------------------- */

typedef struct { nn_dtype d, s; } conv_arg;
static void copy_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *u1, int64_t u2,
                     void *arg) {
  (void)u1; (void)u2;
  const conv_arg *c = arg;
  if (c->d == c->s && so == 1 && sa == 1) { memcpy(o, a, (size_t)n * nn_dtype_size(c->d)); return; }
  if (c->d == NN_F32 && c->s == NN_F32) {
    float *y = (float *)o; const float *x = (const float *)a;
    for (int64_t i = 0; i < n; i++) y[i * so] = x[i * sa];
    return;
  }
  if (c->d == NN_F32 && c->s == NN_F64) {
    float *y = (float *)o; const double *x = (const double *)a;
    for (int64_t i = 0; i < n; i++) y[i * so] = (float)x[i * sa];
    return;
  }
  if (c->d == NN_F64 && c->s == NN_F32) {
    double *y = (double *)o; const float *x = (const float *)a;
    for (int64_t i = 0; i < n; i++) y[i * so] = x[i * sa];
    return;
  }
  size_t ds = nn_dtype_size(c->d), ss = nn_dtype_size(c->s);
  for (int64_t i = 0; i < n; i++)
    store(o + i * so * (int64_t)ds, c->d, load(a + i * sa * (int64_t)ss, c->s));
}

void nn_copy_raw(nn_tensor *dst, const nn_tensor *src) {
  int64_t sst[NN_MAX_DIMS];
  nn_broadcast_strides(src, dst->ndim, dst->shape, sst);
  conv_arg c = {dst->dtype, src->dtype};
  char *base[2] = {nn_ptr(dst), nn_ptr(src)};
  const int64_t *strides[2] = {dst->stride, sst};
  size_t es[2] = {nn_dtype_size(dst->dtype), nn_dtype_size(src->dtype)};
  nn_loop(2, dst->ndim, dst->shape, base, strides, es, copy_row, &c);
}

/* Float values bound for int64 must truncate to integers it can hold (as PyTorch's .long()):
   the first that does not is kept. */
typedef struct { nn_dtype dt; bool bad; double v; } i64_scan;
static void scan_row(int64_t n, char *p, int64_t sp, char *u0, int64_t u1, char *u2, int64_t u3,
                     void *arg) {
  (void)u0; (void)u1; (void)u2; (void)u3;
  i64_scan *c = arg;
  int64_t k;
  for (int64_t i = 0; i < n && !c->bad; i++) {
    double v = c->dt == NN_F32 ? (double)((const float *)p)[i * sp] : ((const double *)p)[i * sp];
    if (!nn_f64_to_i64(trunc(v), &k)) { c->bad = true; c->v = v; }   /* fractions truncate */
  }
}

nn_status nn_copy_checked(nn_ctx *ctx, const char *op, nn_tensor *dst, const nn_tensor *src) {
  if (dst->dtype == NN_I64 && src->dtype != NN_I64) {
    i64_scan c = {src->dtype, false, 0};
    char *base[1] = {nn_ptr(src)};
    const int64_t *strides[1] = {src->stride};
    size_t es[1] = {nn_dtype_size(src->dtype)};
    nn_loop(1, src->ndim, src->shape, base, strides, es, scan_row, &c);
    nn_status s = c.bad ? nn_check_i64(ctx, op, NN_I64, c.v) : NN_OK;
    if (s) return s;
  }
  nn_copy_raw(dst, src);
  return NN_OK;
}

/* ---- creation ------------------------------------------------------------------------------ */

nn_status nn_zeros(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "zeros", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "zeros", shape);
  return nn_new(ctx, dt, ndim, shape, true, out);
}

/* Fills n contiguous elements with v, one typed loop per dtype. */
static void fill_contig(char *p, nn_dtype dt, int64_t n, double v) {
  if (dt == NN_F32) { float *q = (float *)p, f = (float)v; for (int64_t i = 0; i < n; i++) q[i] = f; }
  else if (dt == NN_F64) { double *q = (double *)p; for (int64_t i = 0; i < n; i++) q[i] = v; }
  else { int64_t *q = (int64_t *)p, k = i64_sat(v); for (int64_t i = 0; i < n; i++) q[i] = k; }
}

nn_status nn_full(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, double v,
                  nn_tensor **out) {
  NN_ARG(ctx, "full", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "full", shape);
  nn_status s = nn_check_i64(ctx, "full", dt, v);
  if (s) return s;
  s = nn_new(ctx, dt, ndim, shape, v == 0.0 && !signbit(v), out);
  if (s || (v == 0.0 && !signbit(v))) return s;
  fill_contig((*out)->st->data, dt, (*out)->numel, v);
  return NN_OK;
}

nn_status nn_ones(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "ones", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "ones", shape);
  return nn_full(ctx, dt, ndim, shape, 1.0, out);
}

nn_status nn_eye(nn_ctx *ctx, nn_dtype dt, int64_t n, int64_t m, nn_tensor **out) {
  NN_ARG(ctx, "eye", out);
  *out = NULL;
  if (n < 0 || m < 0)
    return nn_fail(ctx, NN_ERR_ARG, "eye: negative size (%lld, %lld)", (long long)n, (long long)m);
  int64_t shape[2] = {n, m};
  nn_status s = nn_new(ctx, dt, 2, shape, true, out);
  if (s) return s;
  for (int64_t i = 0; i < n && i < m; i++)
    store((char *)(*out)->st->data + (i * m + i) * (int64_t)nn_dtype_size(dt), dt, 1.0);
  return NN_OK;
}

nn_status nn_arange(nn_ctx *ctx, nn_dtype dt, double start, double end, double step,
                    nn_tensor **out) {
  NN_ARG(ctx, "arange", out);
  *out = NULL;
  if (!isfinite(start) || !isfinite(end) || !isfinite(step))
    return nn_fail(ctx, NN_ERR_ARG, "arange: bounds and step must be finite");
  if (step == 0) return nn_fail(ctx, NN_ERR_ARG, "arange: step must be nonzero");
  if ((end - start) / step < 0)
    return nn_fail(ctx, NN_ERR_ARG, "arange: upper bound and step sign are inconsistent "
                   "(start %g, end %g, step %g)", start, end, step);
  double nd = ceil((end - start) / step);
  if (nd > 1e12) return nn_fail(ctx, NN_ERR_ARG, "arange: too many elements");
  if (dt == NN_I64 && (fabs(start) >= 0x1p63 || fabs(end) >= 0x1p63))
    return nn_fail(ctx, NN_ERR_ARG, "arange: bounds %g and %g are outside int64's range", start, end);
  int64_t n = (int64_t)nd, shape[1] = {n};
  nn_status s = nn_new(ctx, dt, 1, shape, false, out);
  if (s) return s;
  for (int64_t i = 0; i < n; i++)
    store((char *)(*out)->st->data + i * (int64_t)nn_dtype_size(dt), dt, start + (double)i * step);
  return NN_OK;
}

/* int64 bounds exactly (through a double, bounds past 2^53 would repeat values) */
nn_status nn_arange_i64(nn_ctx *ctx, int64_t start, int64_t end, int64_t step, nn_tensor **out) {
  NN_ARG(ctx, "arange", out);
  *out = NULL;
  if (step == 0) return nn_fail(ctx, NN_ERR_ARG, "arange: step must be nonzero");
  if ((step > 0 && end < start) || (step < 0 && end > start))
    return nn_fail(ctx, NN_ERR_ARG, "arange: upper bound and step sign are inconsistent "
                   "(start %lld, end %lld, step %lld)", (long long)start, (long long)end,
                   (long long)step);
  /* in uint64, where the distance and the step's magnitude always fit */
  uint64_t dist = step > 0 ? (uint64_t)end - (uint64_t)start : (uint64_t)start - (uint64_t)end;
  uint64_t mag = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
  uint64_t n = dist / mag + (dist % mag != 0);
  if (n > (uint64_t)NN_NUMEL_MAX)
    return nn_fail(ctx, NN_ERR_ARG, "arange: %llu elements are too many", (unsigned long long)n);
  int64_t shape[1] = {(int64_t)n};
  nn_status s = nn_new(ctx, NN_I64, 1, shape, false, out);
  if (s) return s;
  int64_t *p = (*out)->st->data;
  for (uint64_t i = 0; i < n; i++) p[i] = (int64_t)((uint64_t)start + i * (uint64_t)step);
  return NN_OK;
}

nn_status nn_linspace(nn_ctx *ctx, nn_dtype dt, double a, double b, int64_t n, nn_tensor **out) {
  NN_ARG(ctx, "linspace", out);
  *out = NULL;
  if (n < 0) return nn_fail(ctx, NN_ERR_ARG, "linspace: number of steps must be non-negative, got %lld",
                            (long long)n);
  if (!isfinite(a) || !isfinite(b))
    return nn_fail(ctx, NN_ERR_ARG, "linspace: end points must be finite, got %g and %g",
                   nn_shownum(a), nn_shownum(b));
  int64_t shape[1] = {n};
  nn_status s = nn_new(ctx, dt, 1, shape, false, out);
  if (s) return s;
  double step = n > 1 ? (b - a) / (double)(n - 1) : 0;
  /* as PyTorch: the first half counts up from a, the second down from b (exact end points) */
  for (int64_t i = 0; i < n; i++) {
    double v = (i < n / 2 || n == 1) ? a + step * (double)i : b - step * (double)(n - 1 - i);
    store((char *)(*out)->st->data + i * (int64_t)nn_dtype_size(dt), dt, v);
  }
  return NN_OK;
}

static nn_status check_float(nn_ctx *ctx, const char *op, nn_dtype dt) {
  if (dt == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: needs a floating dtype (float32 or float64), got int64", op);
  return NN_OK;
}

/* Fills t with draws from r: uniform in [a, b), or normal with mean a and deviation b. Draws
   go to a contiguous buffer in order (the same bits for any layout), then into t. */
static nn_status random_fill(nn_ctx *ctx, const char *op, nn_rng *r, nn_tensor *t, bool normal,
                             double a, double b) {
  NN_ARG(ctx, op, t);
  nn_status s = check_float(ctx, op, t->dtype);
  if (!s) s = nn_check_overlap(ctx, op, t);
  if (s) return s;
  if (!r) r = &ctx->rng;
  nn_tensor *c = t;
  if (!nn_is_contig(t) && (s = nn_new_like(ctx, t, false, &c))) return s;
  char *p = nn_ptr(c);
  for (int64_t i = 0; i < c->numel; i++) {
    double v = normal ? a + b * nn_rng_normal(r)
             : t->dtype == NN_F32 ? a + (b - a) * ((double)(nn_rng_next(r) >> 40) * 0x1.0p-24)
             : a + (b - a) * nn_rng_uniform(r);
    if (t->dtype == NN_F32) ((float *)p)[i] = (float)v; else ((double *)p)[i] = v;
  }
  if (c != t) { nn_copy_raw(t, c); nn_tensor_release(c); }
  t->st->version++;
  return NN_OK;
}

nn_status nn_uniform_(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double lo, double hi) {
  if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
    return nn_fail(ctx, NN_ERR_ARG, "uniform_: expects lo <= hi, finite, got %g and %g",
                   nn_shownum(lo), nn_shownum(hi));
  return random_fill(ctx, "uniform_", r, t, false, lo, hi);
}

nn_status nn_normal_(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double mean, double std) {
  if (!(std >= 0) || !isfinite(std) || !isfinite(mean))
    return nn_fail(ctx, NN_ERR_ARG, "normal_: std must be finite and >= 0, got %g", nn_shownum(std));
  return random_fill(ctx, "normal_", r, t, true, mean, std);
}

nn_status nn_rand(nn_ctx *ctx, nn_rng *r, nn_dtype dt, int ndim, const int64_t *shape,
                  nn_tensor **out) {
  NN_ARG(ctx, "rand", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "rand", shape);
  nn_status s = check_float(ctx, "rand", dt);
  if (s || (s = nn_new(ctx, dt, ndim, shape, false, out))) return s;
  return nn_uniform_(ctx, r, *out, 0.0, 1.0);
}

nn_status nn_randn(nn_ctx *ctx, nn_rng *r, nn_dtype dt, int ndim, const int64_t *shape,
                   nn_tensor **out) {
  NN_ARG(ctx, "randn", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "randn", shape);
  nn_status s = check_float(ctx, "randn", dt);
  if (s || (s = nn_new(ctx, dt, ndim, shape, false, out))) return s;
  return nn_normal_(ctx, r, *out, 0.0, 1.0);
}

nn_status nn_randint(nn_ctx *ctx, nn_rng *r, int64_t lo, int64_t hi, int ndim,
                     const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "randint", out);
  *out = NULL;
  if (ndim > 0) NN_ARG(ctx, "randint", shape);
  if (hi <= lo)
    return nn_fail(ctx, NN_ERR_ARG, "randint: expects lo < hi, got lo = %lld, hi = %lld",
                   (long long)lo, (long long)hi);
  nn_status s = nn_new(ctx, NN_I64, ndim, shape, false, out);
  if (s) return s;
  if (!r) r = &ctx->rng;
  int64_t *p = (*out)->st->data;
  uint64_t range = (uint64_t)hi - (uint64_t)lo;
  for (int64_t i = 0; i < (*out)->numel; i++) p[i] = lo + (int64_t)nn_rng_below(r, range);
  return NN_OK;
}

/* Fisher–Yates over 0..n-1 */
nn_status nn_randperm(nn_ctx *ctx, nn_rng *r, int64_t n, nn_tensor **out) {
  NN_ARG(ctx, "randperm", out);
  *out = NULL;
  if (n < 0) return nn_fail(ctx, NN_ERR_ARG, "randperm: n must be non-negative, got %lld", (long long)n);
  int64_t shape[1] = {n};
  nn_status s = nn_new(ctx, NN_I64, 1, shape, false, out);
  if (s) return s;
  if (!r) r = &ctx->rng;
  int64_t *p = (*out)->st->data;
  for (int64_t i = 0; i < n; i++) p[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)nn_rng_below(r, (uint64_t)i + 1), tmp = p[i];
    p[i] = p[j]; p[j] = tmp;
  }
  return NN_OK;
}

nn_status nn_fill_(nn_ctx *ctx, nn_tensor *t, double v) {
  NN_ARG(ctx, "fill_", t);
  if (t->requires_grad && ctx->grad_enabled)
    return nn_fail(ctx, NN_ERR_STATE,
                   "fill_: a tensor that requires grad (or a view of one) cannot be changed in "
                   "place while grad mode is on (use lunet.no_grad)");
  nn_status s0 = nn_check_i64(ctx, "fill_", t->dtype, v);
  if (!s0) s0 = nn_check_overlap(ctx, "fill_", t);
  if (s0) return s0;
  if (nn_is_contig(t)) fill_contig(nn_ptr(t), t->dtype, t->numel, v);
  else {
    nn_tensor *src;
    int64_t one = 1;
    nn_status s = nn_full(ctx, t->dtype, 0, &one, v, &src);
    if (s) return s;
    nn_copy_raw(t, src);
    nn_tensor_release(src);
  }
  t->st->version++;
  return NN_OK;
}
