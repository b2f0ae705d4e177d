/* ops_shape.c — views (new headers over the same storage) and copies, with their backward.
   Gradients reach contiguous buffers, so the backward of a reshaping view is a view of dy
   back to the input's shape, and that of narrow/select is dy written into zeros. */
#include "nn_impl.h"

/* narrow's and select's payload: the window (select: its index in start, len unused) */
typedef struct { int dim; int64_t start, len; } window_args;
static nn_status record_view(nn_ctx *ctx, const nn_op *op, nn_tensor *t, nn_tensor **out,
                             int dim, int64_t start, int64_t len) {
  window_args args = {.dim = dim, .start = start, .len = len};
  return nn_record(ctx, op, out, 1, &t, NULL, &args);
}

/* dy viewed with the input's shape (dy is contiguous, so this always works) */
static nn_status reshape_back(nn_ctx *ctx, nn_node *n) {
  nn_tensor *in = n->in[0], *g = n->gout, *v;
  int64_t st[NN_MAX_DIMS];
  nn_tensor *c = g;
  nn_status s = NN_OK;
  if (!nn_is_contig(g) && (s = nn_new_like(ctx, g, false, &c))) return s;
  if (c != g) nn_copy_raw(c, g);
  nn_contig_strides(in->ndim, in->shape, st);
  if (!(s = nn_alias(ctx, c, in->ndim, in->shape, st, c->offset, &v))) {
    s = nn_grad_accum(ctx, n, 0, v);
    nn_tensor_release(v);
  }
  if (c != g) nn_tensor_release(c);
  return s;
}

/* ---- view / reshape ------------------------------------------------------------------- */

/* Resolves one -1 and checks the element count. */
static nn_status infer_shape(nn_ctx *ctx, const char *op, const nn_tensor *t, int ndim,
                             const int64_t *shape, int64_t *res) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (ndim < 0 || ndim > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: %d dimensions (at most %d are supported)", op, ndim, NN_MAX_DIMS);
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == -1) {
      if (infer >= 0) return nn_fail(ctx, NN_ERR_SHAPE, "%s: only one dimension can be inferred (-1)", op);
      infer = i;
    } else if (shape[i] < 0) {
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: invalid size %lld in dimension %d", op, (long long)shape[i], i + 1);
    } else if (!nn_size_mul(known, shape[i], &known) || known > NN_NUMEL_MAX) {
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: shape %s is invalid for input of size %lld (too many "
                     "elements)", op, nn_shape_fmt(ndim, shape, b1), (long long)t->numel);
    }
    res[i] = shape[i];
  }
  if (infer >= 0) {
    if (known == 0 || t->numel % known != 0)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: shape %s is invalid for input of size %lld", op,
                     nn_shape_fmt(ndim, shape, b1), (long long)t->numel);
    res[infer] = t->numel / known;
  } else if (known != t->numel || !nn_shape_count(ndim, res, &known)) {
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: shape %s is invalid for input of size %lld (shape %s)", op,
                   nn_shape_fmt(ndim, shape, b1), (long long)t->numel,
                   nn_shape_fmt(t->ndim, t->shape, b2));
  }
  return NN_OK;
}

/* Strides for viewing t as shape without copying, if they exist (PyTorch's computeStride:
   each run of input dims that is contiguous in memory can be split or merged freely). */
static bool view_strides(const nn_tensor *t, int ndim, const int64_t *shape, int64_t *st) {
  if (t->numel == 0 || nn_is_contig(t)) { nn_contig_strides(ndim, shape, st); return true; }
  int vd = ndim - 1;
  int64_t chunk = t->stride[t->ndim - 1], tensor_numel = 1, view_numel = 1;
  for (int td = t->ndim - 1; td >= 0; td--) {
    tensor_numel *= t->shape[td];
    if (td == 0 || (t->shape[td - 1] != 1 && t->stride[td - 1] != tensor_numel * chunk)) {
      while (vd >= 0 && (view_numel < tensor_numel || shape[vd] == 1)) {
        st[vd] = view_numel * chunk;
        view_numel *= shape[vd];
        vd--;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) { chunk = t->stride[td - 1]; tensor_numel = 1; view_numel = 1; }
    }
  }
  return vd == -1;
}

const nn_op nn_op_view = {.name = "view", .backward = reshape_back, .saves = 0};
nn_status nn_view(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "view", out);
  *out = NULL;
  NN_ARG(ctx, "view", t);
  if (ndim > 0) NN_ARG(ctx, "view", shape);
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s = infer_shape(ctx, "view", t, ndim, shape, sh);
  if (s) return s;
  if (!view_strides(t, ndim, sh, st))
    return nn_fail(ctx, NN_ERR_SHAPE, "view: a tensor of shape %s with these strides cannot be viewed as "
                   "%s without a copy (use reshape)", nn_shape_fmt(t->ndim, t->shape, b1),
                   nn_shape_fmt(ndim, sh, b2));
  if ((s = nn_alias(ctx, t, ndim, sh, st, t->offset, out))) return s;
  return nn_record(ctx, &nn_op_view, out, 1, &t, NULL, NULL);
}

nn_status nn_reshape(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "reshape", out);
  *out = NULL;
  NN_ARG(ctx, "reshape", t);
  if (ndim > 0) NN_ARG(ctx, "reshape", shape);
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  nn_status s = infer_shape(ctx, "reshape", t, ndim, shape, sh);
  if (s) return s;
  if (view_strides(t, ndim, sh, st)) return nn_view(ctx, t, ndim, sh, out);
  nn_tensor *c;
  if ((s = nn_clone(ctx, t, &c))) return s;
  s = nn_view(ctx, c, ndim, sh, out);
  nn_tensor_release(c);
  return s;
}

nn_status nn_flatten(nn_ctx *ctx, nn_tensor *t, int start, int end, nn_tensor **out) {
  NN_ARG(ctx, "flatten", out);
  *out = NULL;
  NN_ARG(ctx, "flatten", t);
  int nd = t->ndim;
  if (nd == 0) { int64_t one = 1; return nn_reshape(ctx, t, 1, &one, out); }
  nn_status s;
  if ((s = nn_check_dim(ctx, "flatten", &start, nd)) || (s = nn_check_dim(ctx, "flatten", &end, nd)))
    return s;
  if (start > end)
    return nn_fail(ctx, NN_ERR_ARG, "flatten: start dimension %d comes after end dimension %d",
                   start + 1, end + 1);
  int64_t sh[NN_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < start; i++) sh[k++] = t->shape[i];
  int64_t m = 1;   /* cannot overflow: a product of a valid shape's sizes */
  for (int i = start; i <= end; i++) m *= t->shape[i];
  sh[k++] = m;
  for (int i = end + 1; i < nd; i++) sh[k++] = t->shape[i];
  return nn_reshape(ctx, t, k, sh, out);
}

/* ---- transpose, permute ---------------------------------------------------------------- */

static nn_status transpose_raw(nn_ctx *ctx, nn_tensor *t, int d0, int d1, nn_tensor **out) {
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  memcpy(sh, t->shape, sizeof sh);
  memcpy(st, t->stride, sizeof st);
  sh[d0] = t->shape[d1]; sh[d1] = t->shape[d0];
  st[d0] = t->stride[d1]; st[d1] = t->stride[d0];
  return nn_alias(ctx, t, t->ndim, sh, st, t->offset, out);
}
/* transpose: dx = dy transposed back */
typedef struct { int d0, d1; } transpose_args;
static nn_status transpose_backward(nn_ctx *ctx, nn_node *n) {
  const transpose_args *w = n->args;
  nn_tensor *g;
  nn_status s = transpose_raw(ctx, n->gout, w->d0, w->d1, &g);
  if (s) return s;
  s = nn_grad_accum(ctx, n, 0, g);
  nn_tensor_release(g);
  return s;
}
const nn_op nn_op_transpose = {.name = "transpose", .backward = transpose_backward, .saves = 0,
                                .args_size = sizeof(transpose_args)};
nn_status nn_transpose(nn_ctx *ctx, nn_tensor *t, int d0, int d1, nn_tensor **out) {
  NN_ARG(ctx, "transpose", out);
  *out = NULL;
  NN_ARG(ctx, "transpose", t);
  if (t->ndim == 0 && (d0 == 0 || d0 == -1) && (d1 == 0 || d1 == -1)) {
    nn_status s = nn_alias(ctx, t, 0, t->shape, t->stride, t->offset, out);
    return s ? s : nn_record(ctx, &nn_op_view, out, 1, &t, NULL, NULL);
  }
  nn_status s;
  if ((s = nn_check_dim(ctx, "transpose", &d0, t->ndim)) || (s = nn_check_dim(ctx, "transpose", &d1, t->ndim)))
    return s;
  if ((s = transpose_raw(ctx, t, d0, d1, out))) return s;
  transpose_args args = {.d0 = d0, .d1 = d1};
  return nn_record(ctx, &nn_op_transpose, out, 1, &t, NULL, &args);
}

/* permute: dx = dy permuted by the inverse permutation */
static nn_status permute_raw(nn_ctx *ctx, nn_tensor *t, const int *dims, nn_tensor **out) {
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) { sh[i] = t->shape[dims[i]]; st[i] = t->stride[dims[i]]; }
  return nn_alias(ctx, t, t->ndim, sh, st, t->offset, out);
}
typedef struct { int ndim; int dims[NN_MAX_DIMS]; } permute_args;
static nn_status permute_backward(nn_ctx *ctx, nn_node *n) {
  const permute_args *a = n->args;
  int inv[NN_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++) inv[a->dims[i]] = i;
  nn_tensor *g;
  nn_status s = permute_raw(ctx, n->gout, inv, &g);
  if (s) return s;
  s = nn_grad_accum(ctx, n, 0, g);
  nn_tensor_release(g);
  return s;
}
const nn_op nn_op_permute = {.name = "permute", .backward = permute_backward, .saves = 0, .args_size = sizeof(permute_args)};
nn_status nn_permute(nn_ctx *ctx, nn_tensor *t, const int *dims, nn_tensor **out) {
  NN_ARG(ctx, "permute", out);
  *out = NULL;
  NN_ARG(ctx, "permute", t);
  if (t->ndim > 0) NN_ARG(ctx, "permute", dims);
  int d[NN_MAX_DIMS];
  bool seen[NN_MAX_DIMS] = {false};
  for (int i = 0; i < t->ndim; i++) {
    d[i] = dims[i];
    nn_status s = nn_check_dim(ctx, "permute", &d[i], t->ndim);
    if (s) return s;
    if (seen[d[i]]) return nn_fail(ctx, NN_ERR_ARG, "permute: dimension %d repeats", d[i] + 1);
    seen[d[i]] = true;
  }
  nn_status s = permute_raw(ctx, t, d, out);
  if (s) return s;
  permute_args args = {.ndim = t->ndim};
  memcpy(args.dims, d, sizeof d);
  return nn_record(ctx, &nn_op_permute, out, 1, &t, NULL, &args);
}

/* ---- narrow, select: dx = zeros with dy written into the same window ---------------------- */

static nn_status narrow_raw(nn_ctx *ctx, nn_tensor *t, int dim, int64_t start, int64_t len,
                            nn_tensor **out) {
  int64_t sh[NN_MAX_DIMS];
  memcpy(sh, t->shape, sizeof sh);
  sh[dim] = len;
  return nn_alias(ctx, t, t->ndim, sh, t->stride, t->offset + start * t->stride[dim], out);
}
static nn_status select_raw(nn_ctx *ctx, nn_tensor *t, int dim, int64_t i, nn_tensor **out) {
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  int k = 0;
  for (int d = 0; d < t->ndim; d++)
    if (d != dim) { sh[k] = t->shape[d]; st[k] = t->stride[d]; k++; }
  return nn_alias(ctx, t, t->ndim - 1, sh, st, t->offset + i * t->stride[dim], out);
}
static nn_status window_backward(nn_ctx *ctx, nn_node *n, bool is_select) {
  nn_tensor *in = n->in[0], *z, *w;
  nn_status s = nn_new(ctx, in->dtype, in->ndim, in->shape, true, &z);
  if (s) return s;
  const window_args *a = n->args;
  s = is_select ? select_raw(ctx, z, a->dim, a->start, &w)
                : narrow_raw(ctx, z, a->dim, a->start, a->len, &w);
  if (!s) {
    nn_copy_raw(w, n->gout);
    nn_tensor_release(w);
    s = nn_grad_accum(ctx, n, 0, z);
  }
  nn_tensor_release(z);
  return s;
}
static nn_status narrow_backward(nn_ctx *ctx, nn_node *n) { return window_backward(ctx, n, false); }
static nn_status select_backward(nn_ctx *ctx, nn_node *n) { return window_backward(ctx, n, true); }
const nn_op nn_op_narrow = {.name = "narrow", .backward = narrow_backward, .saves = 0, .args_size = sizeof(window_args)};
const nn_op nn_op_select = {.name = "select", .backward = select_backward, .saves = 0, .args_size = sizeof(window_args)};

nn_status nn_narrow(nn_ctx *ctx, nn_tensor *t, int dim, int64_t start, int64_t len, nn_tensor **out) {
  NN_ARG(ctx, "narrow", out);
  *out = NULL;
  NN_ARG(ctx, "narrow", t);
  nn_status s = nn_check_dim(ctx, "narrow", &dim, t->ndim);
  if (s) return s;
  if (t->ndim == 0) return nn_fail(ctx, NN_ERR_ARG, "narrow: cannot narrow a 0-d tensor");
  if (start < 0 || len < 0 || start > t->shape[dim] || len > t->shape[dim] - start)
    return nn_fail(ctx, NN_ERR_ARG, "narrow: start %lld and length %lld exceed dimension %d of size %lld",
                   (long long)start, (long long)len, dim + 1, (long long)t->shape[dim]);
  if ((s = narrow_raw(ctx, t, dim, start, len, out))) return s;
  return record_view(ctx, &nn_op_narrow, t, out, dim, start, len);
}

nn_status nn_select(nn_ctx *ctx, nn_tensor *t, int dim, int64_t i, nn_tensor **out) {
  NN_ARG(ctx, "select", out);
  *out = NULL;
  NN_ARG(ctx, "select", t);
  if (t->ndim == 0) return nn_fail(ctx, NN_ERR_ARG, "select: cannot index a 0-d tensor");
  nn_status s = nn_check_dim(ctx, "select", &dim, t->ndim);
  if (s) return s;
  int64_t i0 = i;
  if (!nn_wrap_index(&i, t->shape[dim], false))
    return nn_fail(ctx, NN_ERR_ARG, "select: index %lld out of range for dimension %d of size %lld",
                   (long long)i0, dim + 1, (long long)t->shape[dim]);
  if ((s = select_raw(ctx, t, dim, i, out))) return s;
  return record_view(ctx, &nn_op_select, t, out, dim, i, 0);
}

/* ---- unsqueeze, squeeze: reshaping views ----------------------------------------------------- */

nn_status nn_unsqueeze(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) {
  NN_ARG(ctx, "unsqueeze", out);
  *out = NULL;
  NN_ARG(ctx, "unsqueeze", t);
  if (t->ndim >= NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "unsqueeze: a %d-d tensor cannot grow (at most %d dims)", t->ndim, NN_MAX_DIMS);
  int d = dim;
  if (!nn_wrap_dim(&d, t->ndim + 1))
    return nn_fail(ctx, NN_ERR_ARG, "unsqueeze: dimension %d out of range for a %d-d tensor",
                   dim >= 0 ? dim + 1 : dim, t->ndim);
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  int k = 0;
  for (int i = 0; i <= t->ndim; i++) {
    if (i == d) { sh[k] = 1; st[k] = i < t->ndim ? t->stride[i] * t->shape[i] : 1; k++; }
    if (i < t->ndim) { sh[k] = t->shape[i]; st[k] = t->stride[i]; k++; }
  }
  nn_status s = nn_alias(ctx, t, t->ndim + 1, sh, st, t->offset, out);
  return s ? s : nn_record(ctx, &nn_op_view, out, 1, &t, NULL, NULL);
}

nn_status nn_squeeze(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) {
  NN_ARG(ctx, "squeeze", out);
  *out = NULL;
  NN_ARG(ctx, "squeeze", t);
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  int k = 0;
  if (dim != NN_ALL) {
    nn_status s = nn_check_dim(ctx, "squeeze", &dim, t->ndim);
    if (s) return s;
  }
  for (int i = 0; i < t->ndim; i++) {
    bool drop = t->shape[i] == 1 && (dim == NN_ALL || dim == i);
    if (!drop) { sh[k] = t->shape[i]; st[k] = t->stride[i]; k++; }
  }
  nn_status s = nn_alias(ctx, t, k, sh, st, t->offset, out);
  return s ? s : nn_record(ctx, &nn_op_view, out, 1, &t, NULL, NULL);
}

/* ---- expand: a broadcast view (stride 0); dx = dy summed over the expanded dims --------------- */

static nn_status expand_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum(ctx, n, 0, n->gout); }
const nn_op nn_op_expand = {.name = "expand", .backward = expand_backward, .saves = 0};
nn_status nn_expand(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape, nn_tensor **out) {
  NN_ARG(ctx, "expand", out);
  *out = NULL;
  NN_ARG(ctx, "expand", t);
  if (ndim > 0) NN_ARG(ctx, "expand", shape);
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (ndim < t->ndim || ndim > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "expand: cannot expand shape %s to %s",
                   nn_shape_fmt(t->ndim, t->shape, b1), nn_shape_fmt(ndim < 0 ? 0 : ndim > NN_MAX_DIMS ? NN_MAX_DIMS : ndim, shape, b2));
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS];
  int lead = ndim - t->ndim;
  for (int i = 0; i < ndim; i++) {
    int it = i - lead;
    int64_t want = shape[i];
    if (it < 0) {
      if (want < 0)
        return nn_fail(ctx, NN_ERR_SHAPE, "expand: size -1 is not allowed in a new leading dimension (%d)", i + 1);
      sh[i] = want; st[i] = 0;
    } else {
      int64_t have = t->shape[it];
      if (want == -1) want = have;
      if (want != have && have != 1)
        return nn_fail(ctx, NN_ERR_SHAPE, "expand: cannot expand shape %s to %s (dimension %d: %lld vs %lld)",
                       nn_shape_fmt(t->ndim, t->shape, b1), nn_shape_fmt(ndim, shape, b2), i + 1,
                       (long long)have, (long long)want);
      if (want < 0) return nn_fail(ctx, NN_ERR_SHAPE, "expand: negative size %lld", (long long)want);
      sh[i] = want;
      st[i] = (have == 1 && want != 1) ? 0 : t->stride[it];
    }
  }
  nn_status s = nn_check_shape(ctx, "expand", ndim, sh);
  if (!s) s = nn_alias(ctx, t, ndim, sh, st, t->offset, out);
  return s ? s : nn_record(ctx, &nn_op_expand, out, 1, &t, NULL, NULL);
}

/* ---- diagonal: a strided view (stride = the sum of the two dims' strides); dx = zeros with dy
   written into the same diagonal ------------------------------------------------------------ */

typedef struct { int64_t offset; int d1, d2; } diagonal_args;
static nn_status diagonal_raw(nn_ctx *ctx, nn_tensor *t, const diagonal_args *a, nn_tensor **out) {
  int64_t sh[NN_MAX_DIMS], st[NN_MAX_DIMS], s1 = t->shape[a->d1], s2 = t->shape[a->d2], len, start;
  int k = 0;
  for (int d = 0; d < t->ndim; d++)
    if (d != a->d1 && d != a->d2) { sh[k] = t->shape[d]; st[k] = t->stride[d]; k++; }
  /* an offset past either side leaves an empty diagonal (compared without forming s + offset) */
  if (a->offset >= 0) {
    len = a->offset >= s2 ? 0 : (s1 < s2 - a->offset ? s1 : s2 - a->offset);
    start = len ? a->offset * t->stride[a->d2] : 0;
  } else {
    len = a->offset <= -s1 ? 0 : (s2 < s1 + a->offset ? s2 : s1 + a->offset);
    start = len ? -a->offset * t->stride[a->d1] : 0;
  }
  sh[k] = len;
  st[k] = t->stride[a->d1] + t->stride[a->d2];
  return nn_alias(ctx, t, k + 1, sh, st, t->offset + start, out);
}
static nn_status diagonal_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *in = n->in[0], *z, *w;
  nn_status s = nn_new(ctx, in->dtype, in->ndim, in->shape, true, &z);
  if (s) return s;
  if (!(s = diagonal_raw(ctx, z, n->args, &w))) {
    nn_copy_raw(w, n->gout);
    nn_tensor_release(w);
    s = nn_grad_accum(ctx, n, 0, z);
  }
  nn_tensor_release(z);
  return s;
}
const nn_op nn_op_diagonal = {.name = "diagonal", .backward = diagonal_backward, .saves = 0,
                               .args_size = sizeof(diagonal_args)};
nn_status nn_diagonal(nn_ctx *ctx, nn_tensor *t, int64_t offset, int d1, int d2, nn_tensor **out) {
  NN_ARG(ctx, "diagonal", out);
  *out = NULL;
  NN_ARG(ctx, "diagonal", t);
  char b[NN_SHAPE_BUF];
  if (t->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "diagonal: needs at least 2 dimensions, got shape %s",
                   nn_shape_fmt(t->ndim, t->shape, b));
  nn_status s;
  if ((s = nn_check_dim(ctx, "diagonal", &d1, t->ndim)) || (s = nn_check_dim(ctx, "diagonal", &d2, t->ndim)))
    return s;
  if (d1 == d2)
    return nn_fail(ctx, NN_ERR_ARG, "diagonal: the two dimensions must differ (both are %d)", d1 + 1);
  diagonal_args args = {.offset = offset, .d1 = d1, .d2 = d2};
  if ((s = diagonal_raw(ctx, t, &args, out))) return s;
  return nn_record(ctx, &nn_op_diagonal, out, 1, &t, NULL, &args);
}

/* ---- copies: contiguous, clone, to; dx = dy (converted back to the input's dtype) ------------ */

static nn_status copy_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum(ctx, n, 0, n->gout); }
const nn_op nn_op_clone = {.name = "clone", .backward = copy_backward, .saves = 0};
const nn_op nn_op_to = {.name = "to", .backward = copy_backward, .saves = 0};

static nn_status copy_as(nn_ctx *ctx, const nn_op *op, nn_tensor *t, nn_dtype dt, nn_tensor **out) {
  *out = NULL;
  if (!t) return nn_fail(ctx, NN_ERR_ARG, "%s: tensor is NULL", op->name);
  nn_status s = nn_new(ctx, dt, t->ndim, t->shape, false, out);
  if (!s) s = nn_copy_checked(ctx, op->name, *out, t);
  if (s) { nn_tensor_release(*out); *out = NULL; return s; }
  return nn_record(ctx, op, out, 1, &t, NULL, NULL);
}

nn_status nn_clone(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "clone", out);
  *out = NULL;
  NN_ARG(ctx, "clone", t);
  return copy_as(ctx, &nn_op_clone, t, t ? t->dtype : NN_F32, out);
}
nn_status nn_contiguous(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "contiguous", out);
  *out = NULL;
  NN_ARG(ctx, "contiguous", t);
  if (t && nn_is_contig(t)) { nn_tensor_retain(t); *out = t; return NN_OK; }
  return nn_clone(ctx, t, out);
}
nn_status nn_to(nn_ctx *ctx, nn_tensor *t, nn_dtype dt, nn_tensor **out) {
  NN_ARG(ctx, "to", out);
  *out = NULL;
  NN_ARG(ctx, "to", t);
  if (dt != NN_F32 && dt != NN_F64 && dt != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "to: invalid dtype %d", (int)dt);
  return copy_as(ctx, &nn_op_to, t, dt, out);
}

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
const nn_op *const nn_ops_shape[] = {&nn_op_view, &nn_op_transpose, &nn_op_permute, &nn_op_narrow, &nn_op_select, &nn_op_expand, &nn_op_diagonal, &nn_op_clone, &nn_op_to, NULL};
