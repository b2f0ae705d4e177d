/* ops_index.c — gathering and joining: index_select, cat, stack, and the in-place copy_. */
#include "nn_impl.h"

/* ---- index_select: y[..., i, ...] = t[..., idx[i], ...] along dim;
   dx = zeros with dy added at the selected rows (repeated indices add up) ------------------ */

/* t (contiguous) seen as [outer, n, inner] along dim */
static void split_at(const nn_tensor *t, int dim, int64_t *outer, int64_t *inner) {
  *outer = 1; *inner = 1;
  for (int i = 0; i < dim; i++) *outer *= t->shape[i];
  for (int i = dim + 1; i < t->ndim; i++) *inner *= t->shape[i];
}

static inline int64_t idx_at(const nn_tensor *idx, int64_t i) {
  const int64_t *p = (const int64_t *)nn_ptr(idx);
  return idx->ndim ? p[i * idx->stride[0]] : p[0];
}

static void add_rows(nn_dtype dt, char *dst, const char *src, int64_t m) {
  if (dt == NN_F32) { float *d = (float *)dst; const float *s = (const float *)src;
    for (int64_t j = 0; j < m; j++) d[j] += s[j]; }
  else { double *d = (double *)dst; const double *s = (const double *)src;
    for (int64_t j = 0; j < m; j++) d[j] += s[j]; }
}

typedef struct { int dim; } dim_args;   /* index_select's, cat's and stack's payload */
static nn_status index_select_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *idx = n->in[1], *g = NULL, *dx = NULL;
  int dim = ((const dim_args *)n->args)->dim;
  nn_status s = NN_OK;
  if (!nn_input_needs_grad(n, 0)) return NN_OK;
  if (n->gout->dtype == x->dtype) s = nn_contig(ctx, n->gout, &g);
  else if (!(s = nn_new(ctx, x->dtype, n->gout->ndim, n->gout->shape, false, &g))) nn_copy_raw(g, n->gout);
  if (s || (s = nn_new(ctx, x->dtype, x->ndim, x->shape, true, &dx))) { nn_tensor_release(g); return s; }
  int64_t outer, inner, N = x->shape[dim], K = idx->numel;
  size_t es = nn_dtype_size(x->dtype);
  split_at(x, dim, &outer, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < K; i++)
      add_rows(x->dtype, nn_ptr(dx) + (size_t)((o * N + idx_at(idx, i)) * inner) * es,
               nn_ptr(g) + (size_t)((o * K + i) * inner) * es, inner);
  s = nn_grad_accum(ctx, n, 0, dx);
  nn_tensor_release(g); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_index_select = {.name = "index_select", .backward = index_select_backward, .saves = 2, .args_size = sizeof(dim_args)};

typedef struct { nn_tensor *src, *dst, *idx; size_t row; } gather_job;
static void gather_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const gather_job *g = arg;
  (void)part;
  for (int64_t i = lo; i < hi; i++)
    memcpy(nn_ptr(g->dst) + (size_t)i * g->row, nn_ptr(g->src) + (size_t)idx_at(g->idx, i) * g->row, g->row);
}

nn_status nn_index_select(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor **out) {
  NN_ARG(ctx, "index_select", out);
  *out = NULL;
  NN_ARG(ctx, "index_select", t);
  NN_ARG(ctx, "index_select", idx);
  char b[NN_SHAPE_BUF];
  if (idx->dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "index_select: index must be int64, got %s", nn_dtype_name(idx->dtype));
  if (idx->ndim > 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "index_select: index must be 1-D, got shape %s",
                   nn_shape_fmt(idx->ndim, idx->shape, b));
  if (t->ndim == 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "index_select: cannot index a 0-d tensor");
  int d = dim;
  if (!nn_wrap_dim(&d, t->ndim))
    return nn_fail(ctx, NN_ERR_ARG, "index_select: dimension %d out of range for a %d-d tensor of shape %s",
                   dim >= 0 ? dim + 1 : dim, t->ndim, nn_shape_fmt(t->ndim, t->shape, b));
  int64_t N = t->shape[d], K = idx->numel;
  for (int64_t i = 0; i < K; i++) {
    int64_t v = idx_at(idx, i);
    if (v < 0 || v >= N)
      return nn_fail(ctx, NN_ERR_ARG, "index_select: index %lld is out of range for dimension %d of size %lld "
                     "(shape %s)", (long long)v, d + 1, (long long)N, nn_shape_fmt(t->ndim, t->shape, b));
  }
  int64_t shape[NN_MAX_DIMS], outer, inner;
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = K;
  nn_tensor *c, *y;
  nn_status s = nn_contig(ctx, t, &c);
  if (s) return s;
  if ((s = nn_new(ctx, t->dtype, t->ndim, shape, false, &y))) { nn_tensor_release(c); return s; }
  split_at(t, d, &outer, &inner);
  gather_job g = {c, y, idx, (size_t)inner * nn_dtype_size(t->dtype)};
  if (outer == 1)            /* a batch of rows: in lanes, each core gathers the rows it uses */
    nn_lanes(ctx, K, K * inner, gather_rows, &g);
  else
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < K; i++)
        memcpy(nn_ptr(y) + (size_t)(o * K + i) * g.row, nn_ptr(c) + (size_t)(o * N + idx_at(idx, i)) * g.row, g.row);
  nn_tensor_release(c);
  nn_tensor *in[2] = {t, idx};
  dim_args args = {.dim = d};
  *out = y;
  return nn_record(ctx, &nn_op_index_select, out, 2, in, NULL, &args);
}

/* Legacy rule kept by PyTorch: 1-D empty tensors are skipped by cat. */
static bool skippable(const nn_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

/* ---- cat, stack ------------------------------------------------------------------------------
   One node with the n inputs. Backward hands each input its window of dy along dim (for stack,
   with the stacked dim dropped); the windows' extents come from the inputs' own shapes. */
extern const nn_op nn_op_stack;
static nn_status join_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *g = n->gout;
  int dim = ((const dim_args *)n->args)->dim;
  bool stack = n->op == &nn_op_stack;
  int64_t off = 0;
  nn_status s = NN_OK;
  for (int i = 0; i < n->nin && !s; i++) {
    const nn_tensor *in = n->in[i];
    int64_t len = stack ? 1 : skippable(in) ? 0 : in->shape[dim];
    if (nn_input_needs_grad(n, i)) {
      int64_t sh[NN_MAX_DIMS], stv[NN_MAX_DIMS];
      int k = 0;
      for (int d = 0; d < g->ndim; d++) {
        if (d == dim && stack) continue;
        sh[k] = d == dim ? len : g->shape[d];
        stv[k] = g->stride[d];
        k++;
      }
      nn_tensor *w;
      if (!(s = nn_alias(ctx, g, k, sh, stv, g->offset + off * g->stride[dim], &w))) {
        s = nn_grad_accum(ctx, n, i, w);
        nn_tensor_release(w);
      }
    }
    off += len;
  }
  return s;
}
const nn_op nn_op_cat = {.name = "cat", .backward = join_backward, .args_size = sizeof(dim_args)};
const nn_op nn_op_stack = {.name = "stack", .backward = join_backward, .args_size = sizeof(dim_args)};


static nn_status join(nn_ctx *ctx, const nn_op *op, int n, nn_tensor *const *ts, int dim, bool stack,
                      nn_tensor **out) {
  const char *name = op->name;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG(ctx, name, out);
  *out = NULL;
  if (n > 0) NN_ARG(ctx, name, ts);
  if (n <= 0) return nn_fail(ctx, NN_ERR_ARG, "%s: expects a non-empty list of tensors", name);
  for (int i = 0; i < n; i++)
    if (!ts[i]) return nn_fail(ctx, NN_ERR_ARG, "%s: tensor %d of the list is NULL", name, i + 1);
  const nn_tensor *ref = NULL;
  int refi = 0;
  nn_dtype dt = ts[0]->dtype;
  for (int i = 0; i < n; i++) {
    dt = nn_promote(dt, ts[i]->dtype);
    if (!ref && (stack || !skippable(ts[i]))) { ref = ts[i]; refi = i; }
  }
  if (!ref) { ref = ts[0]; refi = 0; }
  int nd = ref->ndim + (stack ? 1 : 0);
  if (!stack && ref->ndim == 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "cat: zero-dimensional tensor (number %d of the list) cannot be "
                   "concatenated", refi + 1);
  if (stack && nd > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "stack: a %d-d result has more than %d dimensions", nd, NN_MAX_DIMS);
  int d = dim;
  if (!nn_wrap_dim(&d, nd))
    return nn_fail(ctx, NN_ERR_ARG, "%s: dimension %d out of range for a %d-d result (tensors of shape %s)",
                   name, dim >= 0 ? dim + 1 : dim, nd, nn_shape_fmt(ref->ndim, ref->shape, b1));
  int64_t shape[NN_MAX_DIMS], lens[256], *len = lens;
  if (n > 256 && !(len = nn_block_get(ctx, sizeof(int64_t) * (size_t)n)))
    return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", name);
  nn_status s = NN_OK;
  int64_t total = 0;
  for (int i = 0; i < n && !s; i++) {
    const nn_tensor *t = ts[i];
    len[i] = 0;
    if (stack) {
      if (!nn_same_shape(t, ref))
        s = nn_fail(ctx, NN_ERR_SHAPE, "stack: expects each tensor to be equal size, but got %s at entry %d "
                    "and %s at entry %d", nn_shape_fmt(ref->ndim, ref->shape, b1), refi + 1,
                    nn_shape_fmt(t->ndim, t->shape, b2), i + 1);
      len[i] = 1;
    } else if (t != ref && skippable(t)) {
      continue;
    } else {
      bool ok = t->ndim == ref->ndim;
      for (int k = 0; ok && k < t->ndim; k++) ok = k == d || t->shape[k] == ref->shape[k];
      if (!ok)
        s = nn_fail(ctx, NN_ERR_SHAPE, "cat: sizes of tensors must match except in dimension %d: tensor %d "
                    "has shape %s and tensor %d has shape %s", d + 1, refi + 1,
                    nn_shape_fmt(ref->ndim, ref->shape, b1), i + 1, nn_shape_fmt(t->ndim, t->shape, b2));
      else len[i] = t->shape[d];
    }
    if (!s && !nn_size_add(total, len[i], &total))
      s = nn_fail(ctx, NN_ERR_SHAPE, "%s: the sizes along dimension %d add up past int64", name, d + 1);
  }
  nn_tensor *y = NULL;
  if (!s) {
    if (stack) for (int k = 0, j = 0; k < nd; k++) shape[k] = k == d ? total : ref->shape[j++];
    else for (int k = 0; k < nd; k++) shape[k] = k == d ? total : ref->shape[k];
    s = nn_new(ctx, dt, nd, shape, false, &y);
  }
  int64_t off = 0;
  for (int i = 0; i < n && !s; i++) {
    if (len[i] == 0) continue;
    int64_t sh[NN_MAX_DIMS], stv[NN_MAX_DIMS];
    int k = 0;
    for (int q = 0; q < nd; q++) {
      if (q == d && stack) continue;
      sh[k] = q == d ? len[i] : shape[q];
      stv[k] = y->stride[q];
      k++;
    }
    nn_tensor *w;
    if ((s = nn_alias(ctx, y, k, sh, stv, off * y->stride[d], &w))) break;
    nn_copy_raw(w, ts[i]);
    nn_tensor_release(w);
    off += len[i];
  }
  if (len != lens) nn_block_put(ctx, len, sizeof(int64_t) * (size_t)n);
  if (s) { nn_tensor_release(y); return s; }
  *out = y;
  dim_args args = {.dim = d};
  return nn_record(ctx, op, out, n, ts, NULL, &args);
}

nn_status nn_cat(nn_ctx *ctx, int n, nn_tensor *const *ts, int dim, nn_tensor **out) {
  return join(ctx, &nn_op_cat, n, ts, dim, false, out);
}
nn_status nn_stack(nn_ctx *ctx, int n, nn_tensor *const *ts, int dim, nn_tensor **out) {
  return join(ctx, &nn_op_stack, n, ts, dim, true, out);
}

/* ---- copy_: dst <- src (broadcast, converted); in place, not recorded ------------------------ */
nn_status nn_copy_(nn_ctx *ctx, nn_tensor *dst, nn_tensor *src) {
  NN_ARG(ctx, "copy_", dst);
  NN_ARG(ctx, "copy_", src);
  if (dst->requires_grad && ctx->grad_enabled)
    return nn_fail(ctx, NN_ERR_STATE,
                   "copy_: a tensor that requires grad cannot be changed in place while grad mode "
                   "is on (use lunet.no_grad, or an out-of-place op)");
  int nd;
  int64_t sh[NN_MAX_DIMS];
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s = nn_broadcast_shape(ctx, "copy_", dst, src, &nd, sh);
  if (s) return s;
  bool same = nd == dst->ndim;
  for (int i = 0; same && i < nd; i++) same = sh[i] == dst->shape[i];
  if (!same)
    return nn_fail(ctx, NN_ERR_SHAPE, "copy_: source of shape %s does not broadcast to the destination's %s",
                   nn_shape_fmt(src->ndim, src->shape, b1), nn_shape_fmt(dst->ndim, dst->shape, b2));
  if ((s = nn_check_overlap(ctx, "copy_", dst))) return s;
  nn_tensor *c = src;
  if (src->st == dst->st && src != dst) {     /* overlapping views: copy the source first */
    if ((s = nn_new(ctx, src->dtype, src->ndim, src->shape, false, &c))) return s;
    nn_copy_raw(c, src);
  }
  s = nn_copy_checked(ctx, "copy_", dst, c);
  if (c != src) nn_tensor_release(c);
  if (s) return s;
  dst->st->version++;
  return NN_OK;
}

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
extern const nn_op nn_op_gather, nn_op_scatter, nn_op_masked_select, nn_op_masked_scatter; /* ops_gather.c */
const nn_op *const nn_ops_index[] = {&nn_op_index_select, &nn_op_cat, &nn_op_stack, &nn_op_gather, &nn_op_scatter,
                                     &nn_op_masked_select, &nn_op_masked_scatter, NULL};
