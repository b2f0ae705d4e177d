/* ops_gather.c — gather/scatter along a dim, and masks: gather, scatter (plain, add, multiply),
   masked_select, masked_scatter, and what is built on them (take, index_add, index_copy,
   index_fill, masked_fill).

   One walker serves gather and scatter: it runs over the index tensor's shape, and for each
   position c reads k = idx[c] and pairs dst[c with c[dim] = k] with other[c] (other: gather's
   result, scatter's source). Every operand is read through its own strides, so views (an index
   expanded with stride 0, a transposed source) need no copy; index_add and friends are scatters
   through an index expanded that way. Indices are 0-based here and all checked before any
   write. */
#include "nn_impl.h"

/* ---- the walker ---------------------------------------------------------------------------- */

typedef enum { W_GATHER, W_SET, W_ADD, W_MUL, W_ZERO } walk_mode;

typedef struct {
  walk_mode mode;
  nn_dtype dt;
  int nd, dim;
  const int64_t *shape;              /* the index's shape */
  char *dst; const int64_t *ds;      /* the tensor indexed along dim (read by gather) */
  char *oth; const int64_t *os;      /* the other operand (written by gather) */
  const int64_t *ix; const int64_t *is;
} walk_job;

static inline void elem_op(walk_mode m, nn_dtype dt, char *d, char *o) {
  switch (m) {
    case W_GATHER: memcpy(o, d, nn_dtype_size(dt)); break;
    case W_SET: memcpy(d, o, nn_dtype_size(dt)); break;
    case W_ZERO: memset(d, 0, nn_dtype_size(dt)); break;
    case W_ADD:
      if (dt == NN_F32) *(float *)d += *(float *)o;
      else if (dt == NN_F64) *(double *)d += *(double *)o;
      else *(int64_t *)d = (int64_t)((uint64_t) * (int64_t *)d + (uint64_t) * (int64_t *)o);
      break;
    case W_MUL:
      if (dt == NN_F32) *(float *)d *= *(float *)o;
      else if (dt == NN_F64) *(double *)d *= *(double *)o;
      else *(int64_t *)d = (int64_t)((uint64_t) * (int64_t *)d * (uint64_t) * (int64_t *)o);
      break;
  }
}

/* positions [lo, hi) of the index's row-major order */
static void walk_range(void *arg, int part, int64_t lo, int64_t hi) {
  const walk_job *w = arg;
  int64_t c[NN_MAX_DIMS] = {0}, r = lo, offd = 0, offo = 0, offi = 0;
  size_t es = nn_dtype_size(w->dt);
  (void)part;
  for (int d = w->nd - 1; d >= 0; d--) {
    c[d] = r % w->shape[d];
    r /= w->shape[d];
    if (d != w->dim) offd += c[d] * w->ds[d];
    offo += c[d] * w->os[d];
    offi += c[d] * w->is[d];
  }
  for (int64_t p = lo; p < hi; p++) {
    int64_t k = w->ix[offi];
    elem_op(w->mode, w->dt, w->dst + (size_t)(offd + (w->nd ? k * w->ds[w->dim] : 0)) * es,
            w->oth + (size_t)offo * es);
    for (int d = w->nd - 1; d >= 0; d--) {       /* the next position: carry through the dims */
      offo += w->os[d]; offi += w->is[d];
      if (d != w->dim) offd += w->ds[d];
      if (++c[d] < w->shape[d]) break;
      offo -= c[d] * w->os[d]; offi -= c[d] * w->is[d];
      if (d != w->dim) offd -= c[d] * w->ds[d];
      c[d] = 0;
    }
  }
}

static void walk(nn_ctx *ctx, walk_mode m, int dim, const nn_tensor *idx, nn_tensor *dst,
                 nn_tensor *oth) {
  int64_t zero[NN_MAX_DIMS] = {0};               /* the strides of an absent operand */
  walk_job w = {m, dst->dtype, idx->ndim, dim, idx->shape, nn_ptr(dst), idx->ndim ? dst->stride : zero,
                oth ? nn_ptr(oth) : NULL, oth && idx->ndim ? oth->stride : zero,
                (const int64_t *)nn_ptr(idx), idx->ndim ? idx->stride : zero};
  char scratch[8] = {0};
  if (idx->numel == 0) return;                        /* (a size 0 would divide by zero) */
  if (!oth) w.oth = scratch;                          /* W_ZERO reads no other operand */
  if (m == W_GATHER)          /* each position writes its own result element: lanes are safe */
    nn_lanes(ctx, idx->numel, idx->numel, walk_range, &w);
  else                        /* repeated indices write one element: in order, as PyTorch's CPU */
    walk_range(&w, 0, 0, idx->numel);
}

/* Every index in [0, size) of dim of t; the error names the first bad one (shown 1-based, as a
   Lua user wrote it, and 0-based for C callers) */
static nn_status check_indices(nn_ctx *ctx, const char *op, const nn_tensor *idx, const nn_tensor *t,
                               int dim) {
  char b[NN_SHAPE_BUF];
  if (idx->dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: index must be int64, got %s", op, nn_dtype_name(idx->dtype));
  int64_t size = t->ndim ? t->shape[dim] : 1, c[NN_MAX_DIMS] = {0}, off = 0;
  const int64_t *p = (const int64_t *)nn_ptr(idx);
  for (int64_t n = 0; n < idx->numel; n++) {
    int64_t k = p[off];
    if (k < 0 || k >= size)
      return nn_fail(ctx, NN_ERR_ARG, "%s: index %lld (0-based %lld) is out of range for dimension %d of "
                     "size %lld (shape %s)", op, (long long)k + (k < 0 ? 0 : 1), (long long)k, dim + 1,
                     (long long)size, nn_shape_fmt(t->ndim, t->shape, b));
    for (int d = idx->ndim - 1; d >= 0; d--) {
      off += idx->stride[d];
      if (++c[d] < idx->shape[d]) break;
      off -= c[d] * idx->stride[d];
      c[d] = 0;
    }
  }
  return NN_OK;
}

/* idx's sizes against t's (every dim but dim, and dim too when all_dims): at most as large */
static nn_status check_fits(nn_ctx *ctx, const char *op, const nn_tensor *idx, const nn_tensor *t,
                            int dim, bool all_dims, const char *what) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  bool ok = idx->ndim == t->ndim;
  for (int d = 0; ok && d < t->ndim; d++) ok = (d == dim && !all_dims) || idx->shape[d] <= t->shape[d];
  if (!ok)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: index of shape %s does not fit the %s of shape %s (same number "
                   "of dims, no size larger%s)", op, nn_shape_fmt(idx->ndim, idx->shape, b1), what,
                   nn_shape_fmt(t->ndim, t->shape, b2), all_dims ? "" : " except along dim");
  return NN_OK;
}

static nn_status dim_of(nn_ctx *ctx, const char *op, const nn_tensor *t, int dim, int *d) {
  *d = dim;
  if (t->ndim == 0 && (dim == 0 || dim == -1)) { *d = 0; return NN_OK; }
  return nn_check_dim(ctx, op, d, t->ndim);
}

/* ---- gather: y[c] = t[c with c[dim] = idx[c]];  dt = zeros with dy added at idx ------------ */
typedef struct { int dim; walk_mode mode; } gs_args;

static nn_status gather_backward(nn_ctx *ctx, nn_node *n) {
  const gs_args *a = n->args;
  nn_tensor *x = n->in[0], *g = NULL, *dx = NULL;
  nn_status s = nn_as_dtype(ctx, n->gout, x->dtype, &g);
  if (!s && !(s = nn_new(ctx, x->dtype, x->ndim, x->shape, true, &dx))) {
    walk(ctx, W_ADD, a->dim, n->in[1], dx, g);
    s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(g); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_gather = {.name = "gather", .backward = gather_backward, .saves = 2, .args_size = sizeof(gs_args)};

nn_status nn_gather(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor **out) {
  NN_ARG(ctx, "gather", out);
  *out = NULL;
  NN_ARG(ctx, "gather", t);
  NN_ARG(ctx, "gather", idx);
  int d;
  nn_tensor *y;
  nn_status s = dim_of(ctx, "gather", t, dim, &d);
  if (s || (s = check_fits(ctx, "gather", idx, t, d, false, "input")) ||
      (s = check_indices(ctx, "gather", idx, t, d)) ||
      (s = nn_new(ctx, t->dtype, idx->ndim, idx->shape, false, &y)))
    return s;
  walk(ctx, W_GATHER, d, idx, t, y);
  *out = y;
  gs_args args = {d, W_GATHER};
  nn_tensor *in[2] = {t, idx};
  return nn_record(ctx, &nn_op_gather, out, 2, in, NULL, &args);
}

/* ---- scatter: y = t with y[c with c[dim] = idx[c]] = src[c] (or += / *=)
   dt = dy, with the written positions zeroed for a plain scatter; dsrc = gather(dy) at idx.
   multiply has no gradient here (PyTorch's neither). ----------------------------------------- */
static nn_status scatter_backward(nn_ctx *ctx, nn_node *n) {
  const gs_args *a = n->args;
  nn_tensor *x = n->in[0], *idx = n->in[1], *src = n->in[2], *g = NULL, *dx = NULL, *ds = NULL;
  nn_status s = nn_as_dtype(ctx, n->gout, x->dtype, &g);
  if (!s && nn_input_needs_grad(n, 0)) {
    if (a->mode == W_ADD) s = nn_grad_accum(ctx, n, 0, g);
    else if (!(s = nn_new(ctx, g->dtype, g->ndim, g->shape, false, &dx))) {
      nn_copy_raw(dx, g);
      walk(ctx, W_ZERO, a->dim, idx, dx, NULL);
      s = nn_grad_accum(ctx, n, 0, dx);
    }
  }
  if (!s && nn_input_needs_grad(n, 2) && !(s = nn_new(ctx, src->dtype, src->ndim, src->shape, true, &ds))) {
    walk(ctx, W_GATHER, a->dim, idx, g, ds);
    s = nn_grad_accum(ctx, n, 2, ds);
  }
  nn_tensor_release(g); nn_tensor_release(dx); nn_tensor_release(ds);
  return s;
}
const nn_op nn_op_scatter = {.name = "scatter", .backward = scatter_backward, .saves = 2, .args_size = sizeof(gs_args)};

/* The checks every scatter makes; *d is the normalized dim */
static nn_status scatter_check(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, nn_tensor *idx,
                               nn_tensor *src, int *d) {
  NN_ARG_AS(ctx, op, t && idx && src, "tensor");
  nn_status s = dim_of(ctx, op, t, dim, d);
  if (s) return s;
  if (src->dtype != t->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: source dtype %s differs from the tensor's %s", op,
                   nn_dtype_name(src->dtype), nn_dtype_name(t->dtype));
  if ((s = check_fits(ctx, op, idx, t, *d, false, "tensor")) || (s = check_fits(ctx, op, idx, src, *d, true, "source")))
    return s;
  return check_indices(ctx, op, idx, t, *d);
}

static walk_mode mode_of(nn_scatter_reduce r) { return r == NN_SCATTER_ADD ? W_ADD : r == NN_SCATTER_MUL ? W_MUL : W_SET; }

/* The in-place rule of element-wise ops: no change under a tensor the tape may need */
static nn_status check_inplace(nn_ctx *ctx, const char *op, nn_tensor *t) {
  NN_ARG_AS(ctx, op, t, "tensor");
  if (t->requires_grad && ctx->grad_enabled)
    return nn_fail(ctx, NN_ERR_STATE, "%s: a tensor that requires grad cannot be changed in place while grad "
                   "mode is on (use lunet.no_grad, or an out-of-place op)", op);
  return nn_check_overlap(ctx, op, t);
}

/* a private copy of a when it shares b's memory (an in-place write to b would change it) */
static nn_status unshare(nn_ctx *ctx, nn_tensor *a, const nn_tensor *b, nn_tensor **out) {
  *out = a;
  if (a->st != b->st) return NN_OK;
  nn_status s = nn_new(ctx, a->dtype, a->ndim, a->shape, false, out);
  if (!s) nn_copy_raw(*out, a);
  return s;
}

/* scatter out of place (*out) or into t (out NULL), errors named op */
static nn_status scatter_run(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, nn_tensor *idx,
                             nn_tensor *src, nn_scatter_reduce reduce, nn_tensor **out) {
  int d;
  nn_tensor *in[3] = {t, idx, src}, *ci = NULL, *cs = NULL;
  nn_status s = out ? NN_OK : check_inplace(ctx, op, t);
  if (s || (s = scatter_check(ctx, op, t, dim, idx, src, &d))) return s;
  if (out && reduce == NN_SCATTER_MUL && nn_needs_grad(ctx, 3, in))
    return nn_fail(ctx, NN_ERR_ARG, "%s: reduce \"multiply\" has no gradient (use no_grad, or detach)", op);
  if (!out) {
    if (!(s = unshare(ctx, idx, t, &ci)) && !(s = unshare(ctx, src, t, &cs))) {
      walk(ctx, mode_of(reduce), d, ci, t, cs);
      t->st->version++;
    }
    if (ci != idx) nn_tensor_release(ci);
    if (cs != src) nn_tensor_release(cs);
    return s;
  }
  nn_tensor *y;
  if ((s = nn_new(ctx, t->dtype, t->ndim, t->shape, false, &y))) return s;
  nn_copy_raw(y, t);
  walk(ctx, mode_of(reduce), d, idx, y, src);
  *out = y;
  gs_args args = {d, mode_of(reduce)};
  return nn_record(ctx, &nn_op_scatter, out, 3, in, NULL, &args);
}

nn_status nn_scatter(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                     nn_scatter_reduce reduce, nn_tensor **out) {
  NN_ARG(ctx, "scatter", out);
  *out = NULL;
  return scatter_run(ctx, "scatter", t, dim, idx, src, reduce, out);
}
nn_status nn_scatter_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                      nn_scatter_reduce reduce) {
  return scatter_run(ctx, "scatter_", t, dim, idx, src, reduce, NULL);
}

/* ---- index_add, index_copy, index_fill: scatters through the 1-D index seen at the source's
   shape (stride 0 off dim), so they share scatter's kernel, checks and gradient ------------- */

/* idx (1-D, K long) as a view of src's shape with its values along dim */
static nn_status index_view(nn_ctx *ctx, const char *op, nn_tensor *t, int d, nn_tensor *idx,
                            nn_tensor *src, nn_tensor **out) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  *out = NULL;
  if (idx->dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: index must be int64, got %s", op, nn_dtype_name(idx->dtype));
  if (idx->ndim > 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: index must be 1-D, got shape %s", op, nn_shape_fmt(idx->ndim, idx->shape, b1));
  int64_t K = idx->numel;
  bool ok = src->ndim == t->ndim && (t->ndim == 0 ? K == 1 : src->shape[d] == K);
  for (int i = 0; ok && i < t->ndim; i++) ok = i == d || src->shape[i] == t->shape[i];
  if (!ok)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: source of shape %s does not match the tensor's %s with %lld "
                   "indices along dimension %d", op, nn_shape_fmt(src->ndim, src->shape, b1),
                   nn_shape_fmt(t->ndim, t->shape, b2), (long long)K, d + 1);
  int64_t st[NN_MAX_DIMS] = {0};
  if (t->ndim) st[d] = idx->ndim ? idx->stride[0] : 0;
  return nn_alias(ctx, idx, src->ndim, src->shape, st, idx->offset, out);
}

/* A scatter of src (a tensor of t's shape but K along dim), out of place or into t */
static nn_status index_scatter(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, nn_tensor *idx,
                               nn_tensor *src, nn_scatter_reduce r, bool inplace, nn_tensor **out) {
  int d;
  nn_tensor *v = NULL;
  NN_ARG_AS(ctx, op, t && idx && src, "tensor");
  nn_status s = dim_of(ctx, op, t, dim, &d);
  if (s || (s = index_view(ctx, op, t, d, idx, src, &v))) return s;
  s = scatter_run(ctx, op, t, d, v, src, r, inplace ? NULL : out);
  nn_tensor_release(v);
  return s;
}

/* src scaled by alpha (itself when alpha is 1) */
static nn_status scaled(nn_ctx *ctx, nn_tensor *src, double alpha, nn_tensor **out) {
  if (!src) { *out = NULL; return NN_OK; }
  if (alpha == 1) { nn_tensor_retain(src); *out = src; return NN_OK; }
  return nn_muls(ctx, src, alpha, out);
}
static nn_status index_add_common(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, nn_tensor *idx,
                                  nn_tensor *src, double alpha, bool inplace, nn_tensor **out) {
  nn_tensor *sc = NULL;
  nn_status s = scaled(ctx, src, alpha, &sc);
  if (!s) s = index_scatter(ctx, op, t, dim, idx, sc, NN_SCATTER_ADD, inplace, out);
  nn_tensor_release(sc);
  return s;
}
nn_status nn_index_add(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src, double alpha,
                       nn_tensor **out) {
  NN_ARG(ctx, "index_add", out);
  *out = NULL;
  return index_add_common(ctx, "index_add", t, dim, idx, src, alpha, false, out);
}
nn_status nn_index_add_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src, double alpha) {
  NN_ARG_AS(ctx, "index_add_", t, "tensor");
  return index_add_common(ctx, "index_add_", t, dim, idx, src, alpha, true, NULL);
}
nn_status nn_index_copy(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src, nn_tensor **out) {
  NN_ARG(ctx, "index_copy", out);
  *out = NULL;
  return index_scatter(ctx, "index_copy", t, dim, idx, src, NN_SCATTER_NONE, false, out);
}
nn_status nn_index_copy_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src) {
  return index_scatter(ctx, "index_copy_", t, dim, idx, src, NN_SCATTER_NONE, true, NULL);
}

/* index_fill: a scatter of the value expanded to the filled rows' shape */
static nn_status index_fill_common(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, nn_tensor *idx,
                                   double v, bool inplace, nn_tensor **out) {
  NN_ARG_AS(ctx, op, t && idx, "tensor");
  int d;
  nn_status s = dim_of(ctx, op, t, dim, &d);
  if (s || (s = nn_check_i64(ctx, op, t->dtype, v))) return s;
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS] = {0}, one = 1;
  memcpy(sh, t->shape, sizeof sh);
  if (t->ndim) sh[d] = idx->numel;
  nn_tensor *val = NULL, *e = NULL;
  if (!(s = nn_full(ctx, t->dtype, 0, &one, v, &val)) && !(s = nn_alias(ctx, val, t->ndim, sh, st, val->offset, &e)))
    s = index_scatter(ctx, op, t, d, idx, e, NN_SCATTER_NONE, inplace, out);
  nn_tensor_release(val); nn_tensor_release(e);
  return s;
}
nn_status nn_index_fill(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, double v, nn_tensor **out) {
  NN_ARG(ctx, "index_fill", out);
  *out = NULL;
  return index_fill_common(ctx, "index_fill", t, dim, idx, v, false, out);
}
nn_status nn_index_fill_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, double v) {
  return index_fill_common(ctx, "index_fill_", t, dim, idx, v, true, NULL);
}

/* ---- take: gather on the flattened tensor ------------------------------------------------ */
nn_status nn_take(nn_ctx *ctx, nn_tensor *t, nn_tensor *idx, nn_tensor **out) {
  NN_ARG(ctx, "take", out);
  *out = NULL;
  NN_ARG_AS(ctx, "take", t && idx, "tensor");
  int64_t all = -1;
  nn_tensor *ft = NULL, *fi = NULL, *y = NULL;
  nn_status s;
  if ((s = nn_reshape(ctx, t, 1, &all, &ft)) || (s = nn_reshape(ctx, idx, 1, &all, &fi)) ||
      (s = check_indices(ctx, "take", fi, ft, 0)) || (s = nn_gather(ctx, ft, 0, fi, &y)) ||
      (s = nn_reshape(ctx, y, idx->ndim, idx->shape, out))) {}
  nn_tensor_release(ft); nn_tensor_release(fi); nn_tensor_release(y);
  return s;
}

/* ---- masks ------------------------------------------------------------------------------------
   A mask is 0/1 (any nonzero counts) of any dtype, broadcast with the tensor as PyTorch. */

static inline bool truthy(const char *p, nn_dtype dt, int64_t i) {
  return dt == NN_I64 ? ((const int64_t *)p)[i] != 0 : nn_load_f(p, dt, i) != 0;
}

/* t and mask as contiguous tensors of their broadcast shape (copies) */
static nn_status mask_pair(nn_ctx *ctx, const char *op, nn_tensor *t, nn_tensor *mask, nn_tensor **ct,
                           nn_tensor **cm) {
  int nd;
  int64_t sh[NN_MAX_DIMS];
  *ct = *cm = NULL;
  nn_status s = nn_broadcast_shape(ctx, op, t, mask, &nd, sh);
  if (s || (s = nn_new(ctx, t->dtype, nd, sh, false, ct))) return s;
  nn_copy_raw(*ct, t);
  if ((s = nn_new(ctx, mask->dtype, nd, sh, false, cm))) { nn_tensor_release(*ct); *ct = NULL; return s; }
  nn_copy_raw(*cm, mask);
  return NN_OK;
}

static int64_t mask_count(const nn_tensor *m) {
  int64_t n = 0;
  for (int64_t i = 0; i < m->numel; i++) n += truthy(nn_ptr(m), m->dtype, i);
  return n;
}

/* dst[masked positions of m, in order] <- src[0..), or the reverse (gather_out): src[masked] ->
   dst[0..); all three contiguous, m of dst's (or src's) shape */
static void mask_move(const nn_tensor *m, char *dst, const char *src, size_t es, bool gather_out) {
  int64_t j = 0;
  for (int64_t i = 0; i < m->numel; i++)
    if (truthy(nn_ptr(m), m->dtype, i)) {
      if (gather_out) memcpy(dst + (size_t)j * es, src + (size_t)i * es, es);
      else memcpy(dst + (size_t)i * es, src + (size_t)j * es, es);
      j++;
    }
}

/* masked_select: the elements of t where mask is true, in row-major order of the broadcast shape
   (1-D); dt = zeros of that shape with dy put back at the true positions (then summed over the
   broadcast dims). */
static nn_status mask_grad(nn_ctx *ctx, nn_node *n, int i, nn_tensor *m, const nn_tensor *g, bool into_mask,
                           const int64_t *sh, int nd) {
  nn_tensor *dx = NULL, *cg = NULL;
  const nn_tensor *x = n->in[i];
  nn_status s = nn_as_dtype(ctx, (nn_tensor *)g, x->dtype, &cg);
  if (!s && !(s = nn_contig(ctx, cg, &dx))) {  /* (reuse dx as the contiguous gradient) */
    nn_tensor *r = NULL;
    if (!(s = nn_new(ctx, x->dtype, nd, sh, true, &r))) {
      mask_move(m, nn_ptr(r), nn_ptr(dx), nn_dtype_size(x->dtype), !into_mask);
      s = nn_grad_accum(ctx, n, i, r);
      nn_tensor_release(r);
    }
  }
  nn_tensor_release(cg); nn_tensor_release(dx);
  return s;
}

static nn_status masked_select_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *ct = NULL, *cm = NULL;
  nn_status s = mask_pair(ctx, "masked_select", n->in[0], n->in[1], &ct, &cm);
  if (!s) s = mask_grad(ctx, n, 0, cm, n->gout, true, cm->shape, cm->ndim);
  nn_tensor_release(ct); nn_tensor_release(cm);
  return s;
}
const nn_op nn_op_masked_select = {.name = "masked_select", .backward = masked_select_backward, .saves = 2};

nn_status nn_masked_select(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor **out) {
  NN_ARG(ctx, "masked_select", out);
  *out = NULL;
  NN_ARG_AS(ctx, "masked_select", t && mask, "tensor");
  nn_tensor *ct, *cm, *y = NULL;
  nn_status s = mask_pair(ctx, "masked_select", t, mask, &ct, &cm);
  if (s) return s;
  int64_t k = mask_count(cm);
  if (!(s = nn_new(ctx, t->dtype, 1, &k, false, &y))) mask_move(cm, nn_ptr(y), nn_ptr(ct), nn_dtype_size(t->dtype), true);
  nn_tensor_release(ct); nn_tensor_release(cm);
  if (s) return s;
  *out = y;
  nn_tensor *in[2] = {t, mask};
  return nn_record(ctx, &nn_op_masked_select, out, 2, in, NULL, NULL);
}

/* masked_scatter: t (broadcast with mask) with its true positions taken, in order, from src's
   first elements (row-major); dt = dy zeroed at the true positions; dsrc = dy's true positions
   in src's first elements, zeros after. */
static nn_status masked_scatter_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *ct = NULL, *cm = NULL, *z = NULL, *dx = NULL;
  nn_status s = mask_pair(ctx, "masked_scatter", n->in[0], n->in[1], &ct, &cm);
  if (!s && nn_input_needs_grad(n, 0) && !(s = nn_new(ctx, n->gout->dtype, 0, NULL, true, &z)) &&
      !(s = nn_where(ctx, cm, z, n->gout, &dx)))
    s = nn_grad_accum(ctx, n, 0, dx);
  if (!s && nn_input_needs_grad(n, 2)) {
    const nn_tensor *src = n->in[2];
    nn_tensor *g = NULL, *r = NULL;
    if (!(s = nn_as_dtype(ctx, n->gout, src->dtype, &g)) && !(s = nn_contig(ctx, g, &r))) {
      nn_tensor *ds = NULL;
      if (!(s = nn_new(ctx, src->dtype, src->ndim, src->shape, true, &ds))) {
        mask_move(cm, nn_ptr(ds), nn_ptr(r), nn_dtype_size(src->dtype), true);
        s = nn_grad_accum(ctx, n, 2, ds);
        nn_tensor_release(ds);
      }
    }
    nn_tensor_release(g); nn_tensor_release(r);
  }
  nn_tensor_release(ct); nn_tensor_release(cm); nn_tensor_release(z); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_masked_scatter = {.name = "masked_scatter", .backward = masked_scatter_backward, .saves = 2};

/* t and mask broadcast, with the true positions filled from src: *ct (fresh) */
static nn_status masked_scatter_raw(nn_ctx *ctx, const char *op, nn_tensor *t, nn_tensor *mask, nn_tensor *src,
                                    nn_tensor **ct) {
  NN_ARG_AS(ctx, op, t && mask && src, "tensor");
  if (src->dtype != t->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: source dtype %s differs from the tensor's %s", op,
                   nn_dtype_name(src->dtype), nn_dtype_name(t->dtype));
  nn_tensor *cm = NULL, *cs = NULL;
  nn_status s = mask_pair(ctx, op, t, mask, ct, &cm);
  if (s) return s;
  int64_t k = mask_count(cm);
  if (k > src->numel)
    s = nn_fail(ctx, NN_ERR_SHAPE, "%s: the mask has %lld true elements but the source only %lld", op,
                (long long)k, (long long)src->numel);
  else if (!(s = nn_contig(ctx, src, &cs)))
    mask_move(cm, nn_ptr(*ct), nn_ptr(cs), nn_dtype_size(t->dtype), false);
  nn_tensor_release(cm); nn_tensor_release(cs);
  if (s) { nn_tensor_release(*ct); *ct = NULL; }
  return s;
}

nn_status nn_masked_scatter(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *src, nn_tensor **out) {
  NN_ARG(ctx, "masked_scatter", out);
  *out = NULL;
  nn_tensor *y;
  nn_status s = masked_scatter_raw(ctx, "masked_scatter", t, mask, src, &y);
  if (s) return s;
  *out = y;
  nn_tensor *in[3] = {t, mask, src};
  return nn_record(ctx, &nn_op_masked_scatter, out, 3, in, NULL, NULL);
}

/* the result of an out-of-place op on t written back into t, which must have its shape */
static nn_status write_back(nn_ctx *ctx, const char *op, nn_tensor *t, nn_tensor *y) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s = NN_OK;
  if (!nn_same_shape(t, y))
    s = nn_fail(ctx, NN_ERR_SHAPE, "%s: the mask's broadcast shape %s differs from the tensor's %s", op,
                nn_shape_fmt(y->ndim, y->shape, b1), nn_shape_fmt(t->ndim, t->shape, b2));
  else {
    nn_copy_raw(t, y);
    t->st->version++;
  }
  nn_tensor_release(y);
  return s;
}

nn_status nn_masked_scatter_(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *src) {
  nn_tensor *y;
  nn_status s = check_inplace(ctx, "masked_scatter_", t);
  if (s || (s = masked_scatter_raw(ctx, "masked_scatter_", t, mask, src, &y))) return s;
  return write_back(ctx, "masked_scatter_", t, y);
}

/* masked_fill: where(mask, value, t), value a 0-d tensor (its gradient is the sum of dy over the
   true positions) converted to t's dtype, so the result keeps t's dtype as PyTorch's */
static nn_status masked_fill_t(nn_ctx *ctx, const char *op, nn_tensor *t, nn_tensor *mask, nn_tensor *value,
                               nn_tensor **out) {
  NN_ARG_AS(ctx, op, t && mask && value, "tensor");
  char b[NN_SHAPE_BUF];
  int nd;
  int64_t sh[NN_MAX_DIMS];
  if (value->ndim != 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: value must be a number or a 0-d tensor, got shape %s", op,
                   nn_shape_fmt(value->ndim, value->shape, b));
  nn_status s = nn_broadcast_shape(ctx, op, t, mask, &nd, sh);
  nn_tensor *v = NULL;
  if (s || (s = nn_to(ctx, value, t->dtype, &v))) return s;
  s = nn_where(ctx, mask, v, t, out);
  nn_tensor_release(v);
  return s;
}
nn_status nn_masked_fill(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *value, nn_tensor **out) {
  NN_ARG(ctx, "masked_fill", out);
  *out = NULL;
  return masked_fill_t(ctx, "masked_fill", t, mask, value, out);
}
nn_status nn_masked_fills(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, double value, nn_tensor **out) {
  NN_ARG(ctx, "masked_fill", out);
  *out = NULL;
  NN_ARG_AS(ctx, "masked_fill", t, "tensor");
  nn_tensor *v;
  nn_status s = nn_check_i64(ctx, "masked_fill", t->dtype, value);
  if (s || (s = nn_full(ctx, t->dtype, 0, NULL, value, &v))) return s;
  s = masked_fill_t(ctx, "masked_fill", t, mask, v, out);
  nn_tensor_release(v);
  return s;
}
nn_status nn_masked_fill_(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, double value) {
  NN_ARG_AS(ctx, "masked_fill_", t && mask, "tensor");
  nn_status s = check_inplace(ctx, "masked_fill_", t);
  nn_tensor *y;
  if (s || (s = nn_check_i64(ctx, "masked_fill_", t->dtype, value))) return s;
  bool was = nn_set_grad_enabled(ctx, false);
  s = nn_masked_fills(ctx, t, mask, value, &y);
  nn_set_grad_enabled(ctx, was);
  if (s) return s;
  return write_back(ctx, "masked_fill_", t, y);
}
