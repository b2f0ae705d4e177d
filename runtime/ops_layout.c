/* ops_layout.c — the shape vocabulary (PyTorch's split, flip, roll, repeat/tile,
   repeat_interleave, tril/triu, diag, trace, movedim, meshgrid, pad), composed from the views
   and copies of ops_shape.c and ops_index.c (narrow, select, expand, reshape, cat,
   index_select, where, sum). Composing them records their nodes, so every function here has its
   gradient without a backward of its own, and the ones PyTorch returns as views (split, movedim,
   meshgrid) are views here too. */
#include "nn_impl.h"

/* A fresh 1-D int64 tensor of n elements for the caller to fill (0-based indices). */
static nn_status new_index(nn_ctx *ctx, int64_t n, nn_tensor **out, int64_t **p) {
  nn_status s = nn_new(ctx, NN_I64, 1, &n, false, out);
  if (!s) *p = (int64_t *)nn_ptr(*out);
  return s;
}

/* *t = f(*t) for a step of a chain: the old tensor is released whether or not the step worked */
static nn_status chain(nn_status s, nn_tensor **t, nn_tensor *next) {
  nn_tensor_release(*t);
  *t = s ? NULL : next;
  return s;
}

/* *t = index_select(*t, dim, idx), consuming idx */
static nn_status chain_index(nn_ctx *ctx, nn_tensor **t, int dim, nn_tensor *idx) {
  nn_tensor *y = NULL;
  nn_status s = nn_index_select(ctx, *t, dim, idx, &y);
  nn_tensor_release(idx);
  return chain(s, t, y);
}

/* *out = a copy of t, consuming t: flip, roll, repeat and pad return a new tensor even when
   nothing moves, as PyTorch's do */
static nn_status fresh_copy(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  nn_status s = nn_clone(ctx, t, out);
  nn_tensor_release(t);
  return s;
}

/* A dims list checked and made 0-based, each dim at most once. */
static nn_status check_dims(nn_ctx *ctx, const char *op, int n, const int *dims, int ndim, int *d) {
  bool seen[NN_MAX_DIMS] = {false};
  if (n < 0 || n > ndim)
    return nn_fail(ctx, NN_ERR_ARG, "%s: %d dimensions given for a %d-d tensor", op, n, ndim);
  for (int i = 0; i < n; i++) {
    d[i] = dims[i];
    nn_status s = nn_check_dim(ctx, op, &d[i], ndim);
    if (s) return s;
    if (seen[d[i]]) return nn_fail(ctx, NN_ERR_ARG, "%s: dimension %d repeats", op, d[i] + 1);
    seen[d[i]] = true;
  }
  return NN_OK;
}

/* ---- split: consecutive narrow views along dim ------------------------------------------- */

nn_status nn_split(nn_ctx *ctx, nn_tensor *t, int dim, int64_t n, const int64_t *sizes,
                   nn_tensor **outs) {
  NN_ARG(ctx, "split", outs);
  NN_ARG(ctx, "split", t);
  if (n > 0) NN_ARG(ctx, "split", sizes);
  char b[NN_SHAPE_BUF];
  if (t->ndim == 0) return nn_fail(ctx, NN_ERR_SHAPE, "split: cannot split a 0-d tensor");
  nn_status s = nn_check_dim(ctx, "split", &dim, t->ndim);
  if (s) return s;
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++)
    if (sizes[i] < 0 || !nn_size_add(total, sizes[i], &total) || total > t->shape[dim])
      return nn_fail(ctx, NN_ERR_ARG, "split: sizes exceed dimension %d of size %lld (shape %s)",
                     dim + 1, (long long)t->shape[dim], nn_shape_fmt(t->ndim, t->shape, b));
  if (n < 0 || total != t->shape[dim])
    return nn_fail(ctx, NN_ERR_ARG, "split: sizes sum to %lld, but dimension %d has size %lld (shape %s)",
                   (long long)total, dim + 1, (long long)t->shape[dim], nn_shape_fmt(t->ndim, t->shape, b));
  int64_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    if ((s = nn_narrow(ctx, t, dim, start, sizes[i], &outs[i]))) {
      while (i > 0) { nn_tensor_release(outs[--i]); outs[i] = NULL; }
      return s;
    }
    start += sizes[i];
  }
  return NN_OK;
}

/* ---- flip, roll: copies (as PyTorch) through index_select and cat ------------------------- */

nn_status nn_flip(nn_ctx *ctx, nn_tensor *t, int n, const int *dims, nn_tensor **out) {
  NN_ARG(ctx, "flip", out);
  *out = NULL;
  NN_ARG(ctx, "flip", t);
  if (n > 0) NN_ARG(ctx, "flip", dims);
  int d[NN_MAX_DIMS];
  nn_status s = check_dims(ctx, "flip", n, dims, t->ndim, d);
  if (s) return s;
  nn_tensor *y = t;
  nn_tensor_retain(t);
  if (n == 0) return fresh_copy(ctx, y, out);
  for (int i = 0; i < n && !s; i++) {
    int64_t m = t->shape[d[i]], *p;
    nn_tensor *idx;
    if ((s = new_index(ctx, m, &idx, &p))) break;
    for (int64_t j = 0; j < m; j++) p[j] = m - 1 - j;
    s = chain_index(ctx, &y, d[i], idx);
  }
  if (s) { nn_tensor_release(y); return s; }
  *out = y;
  return NN_OK;
}

/* y = cat(x[size-k:], x[:size-k]) along d, k = shift mod size */
static nn_status roll_dim(nn_ctx *ctx, nn_tensor **t, int d, int64_t shift) {
  int64_t size = (*t)->shape[d];
  if (size == 0) return NN_OK;
  int64_t k = shift % size;
  if (k < 0) k += size;
  if (k == 0) return NN_OK;
  nn_tensor *part[2] = {NULL, NULL}, *y = NULL;
  nn_status s = nn_narrow(ctx, *t, d, size - k, k, &part[0]);
  if (!s) s = nn_narrow(ctx, *t, d, 0, size - k, &part[1]);
  if (!s) s = nn_cat(ctx, 2, part, d, &y);
  nn_tensor_release(part[0]); nn_tensor_release(part[1]);
  return chain(s, t, y);
}

nn_status nn_roll(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *shifts, const int *dims,
                  nn_tensor **out) {
  NN_ARG(ctx, "roll", out);
  *out = NULL;
  NN_ARG(ctx, "roll", t);
  NN_ARG(ctx, "roll", shifts);
  nn_status s;
  nn_tensor *y;
  if (dims == NULL) {   /* roll the flattened tensor, then restore the shape */
    if (n != 1) return nn_fail(ctx, NN_ERR_ARG, "roll: without dims, give one shift (got %d)", n);
    int64_t all = t->numel;
    if ((s = nn_reshape(ctx, t, 1, &all, &y))) return s;
    nn_tensor *r = NULL;
    if ((s = roll_dim(ctx, &y, 0, shifts[0])) || (s = nn_reshape(ctx, y, t->ndim, t->shape, &r))) {
      nn_tensor_release(y);
      return s;
    }
    nn_tensor_release(y);
    *out = r;
    return NN_OK;
  }
  int d[NN_MAX_DIMS];
  if (n < 1) return nn_fail(ctx, NN_ERR_ARG, "roll: no shifts given");
  if ((s = check_dims(ctx, "roll", n, dims, t->ndim, d))) return s;
  y = t;
  nn_tensor_retain(t);
  for (int i = 0; i < n && !s; i++) s = roll_dim(ctx, &y, d[i], shifts[i]);
  if (s) { nn_tensor_release(y); return s; }
  if (y == t) return fresh_copy(ctx, y, out);
  *out = y;
  return NN_OK;
}

/* ---- tile (PyTorch's repeat), repeat_interleave ----------------------------------------- */

/* Dim d of t repeated r times as a whole: t viewed [A, 1, B] (A the sizes before d, B the rest),
   expanded to [A, r, B] and copied into t's shape with d's size times r. Three dims at any rank. */
static nn_status tile_dim(nn_ctx *ctx, nn_tensor **t, int d, int64_t r) {
  nn_tensor *x = *t, *v = NULL, *e = NULL, *y = NULL;
  int64_t sh[NN_MAX_DIMS];
  int64_t three[3] = {nn_shape_numel(d, x->shape), 1, nn_shape_numel(x->ndim - d, x->shape + d)};
  int64_t big[3] = {three[0], r, three[2]};
  memcpy(sh, x->shape, sizeof sh);
  if (!nn_size_mul(sh[d], r, &sh[d])) return nn_fail(ctx, NN_ERR_SHAPE, "tile: the result is too large");
  nn_status s = nn_check_shape(ctx, "tile", x->ndim, sh);
  if (!s) s = nn_reshape(ctx, x, 3, three, &v);
  if (!s) s = nn_expand(ctx, v, 3, big, &e);
  if (!s) s = nn_reshape(ctx, e, x->ndim, sh, &y);
  nn_tensor_release(v); nn_tensor_release(e);
  return chain(s, t, y);
}

nn_status nn_tile(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *reps, nn_tensor **out) {
  NN_ARG(ctx, "tile", out);
  *out = NULL;
  NN_ARG(ctx, "tile", t);
  if (n > 0) NN_ARG(ctx, "tile", reps);
  if (n < 0 || n > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_ARG, "tile: %d repetition counts (at most %d dims)", n, NN_MAX_DIMS);
  for (int i = 0; i < n; i++)
    if (reps[i] < 0) return nn_fail(ctx, NN_ERR_ARG, "tile: negative repetition count %lld", (long long)reps[i]);
  /* fewer counts than dims repeat the trailing dims (torch.tile); more add leading dims */
  int nd = n > t->ndim ? n : t->ndim, lead = nd - t->ndim;
  int64_t sh[NN_MAX_DIMS] = {0}, r[NN_MAX_DIMS] = {0};
  for (int i = 0; i < nd; i++) {
    sh[i] = i < lead ? 1 : t->shape[i - lead];
    r[i] = i < nd - n ? 1 : reps[i - (nd - n)];
  }
  /* the result's shape is checked before anything is made, and dims repeated 0 times go first:
     each step's copy is then no larger than the result (a huge count beside a 0 copies nothing) */
  int64_t final[NN_MAX_DIMS];
  for (int i = 0; i < nd; i++)
    if (!nn_size_mul(sh[i], r[i], &final[i]))
      return nn_fail(ctx, NN_ERR_SHAPE, "tile: the result is too large (%lld × %lld in dim %d)",
                     (long long)sh[i], (long long)r[i], i + 1);
  nn_status s = nn_check_shape(ctx, "tile", nd, final);
  if (s) return s;
  nn_tensor *y;
  bool copied = false;
  s = nn_reshape(ctx, t, nd, sh, &y);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < nd && !s; i++)
      if (r[i] != 1 && (r[i] == 0) == (pass == 0)) { s = tile_dim(ctx, &y, i, r[i]); copied = true; }
  if (s) { nn_tensor_release(y); return s; }
  if (!copied) return fresh_copy(ctx, y, out);
  *out = y;
  return NN_OK;
}

/* repeat count i: the one number, or element i of the repeats tensor (one element broadcasts) */
static int64_t rep_at(const nn_tensor *reps, int64_t repeats, int64_t i) {
  if (!reps) return repeats;
  if (reps->ndim == 0 || reps->numel == 1) i = 0;
  return ((const int64_t *)nn_ptr(reps))[reps->ndim ? i * reps->stride[0] : 0];
}

nn_status nn_repeat_interleave(nn_ctx *ctx, nn_tensor *t, int64_t repeats, nn_tensor *reps, int dim,
                               nn_tensor **out) {
  NN_ARG(ctx, "repeat_interleave", out);
  *out = NULL;
  NN_ARG(ctx, "repeat_interleave", t);
  char b[NN_SHAPE_BUF];
  nn_status s;
  nn_tensor *x;
  if (dim == NN_ALL) {   /* no dim: the flattened tensor */
    int64_t all = t->numel;
    if ((s = nn_reshape(ctx, t, 1, &all, &x))) return s;
    dim = 0;
  } else {
    if (t->ndim == 0) return nn_fail(ctx, NN_ERR_SHAPE, "repeat_interleave: a 0-d tensor has no dim");
    if ((s = nn_check_dim(ctx, "repeat_interleave", &dim, t->ndim))) return s;
    nn_tensor_retain(t);
    x = t;
  }
  int64_t m = x->shape[dim], k = 0, *p;
  if (reps) {
    if (reps->dtype != NN_I64 || reps->ndim > 1 || (reps->numel != m && reps->numel != 1)) {
      s = nn_fail(ctx, NN_ERR_ARG, "repeat_interleave: repeats must be an int64 tensor of 1 or %lld "
                  "elements, got %s %s", (long long)m, nn_dtype_name(reps->dtype),
                  nn_shape_fmt(reps->ndim, reps->shape, b));
      goto done;
    }
  }
  for (int64_t i = 0; i < m; i++) {
    int64_t r = rep_at(reps, repeats, i);
    if (r < 0 || !nn_size_add(k, r, &k) || k > NN_NUMEL_MAX) {
      s = nn_fail(ctx, NN_ERR_ARG, r < 0 ? "repeat_interleave: negative repeat count %lld"
                  : "repeat_interleave: %lld repeats make the result too large", (long long)r);
      goto done;
    }
  }
  nn_tensor *idx;
  if ((s = new_index(ctx, k, &idx, &p))) goto done;
  for (int64_t i = 0, j = 0; i < m; i++) {
    int64_t r = rep_at(reps, repeats, i);
    for (int64_t q = 0; q < r; q++) p[j++] = i;
  }
  s = chain_index(ctx, &x, dim, idx);
done:
  if (s) { nn_tensor_release(x); return s; }
  *out = x;
  return NN_OK;
}

/* ---- tril, triu: where(mask, t, 0) over the last two dims -------------------------------- */

static nn_status triangle(nn_ctx *ctx, const char *op, nn_tensor *t, int64_t k, bool lower,
                          nn_tensor **out) {
  NN_ARG(ctx, op, out);
  *out = NULL;
  NN_ARG(ctx, op, t);
  char b[NN_SHAPE_BUF];
  if (t->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: needs at least 2 dimensions, got shape %s", op,
                   nn_shape_fmt(t->ndim, t->shape, b));
  int64_t rc[2] = {t->shape[t->ndim - 2], t->shape[t->ndim - 1]};
  nn_tensor *mask, *zero = NULL;
  nn_status s = nn_new(ctx, NN_I64, 2, rc, false, &mask);
  if (s) return s;
  int64_t *m = (int64_t *)nn_ptr(mask);
  for (int64_t i = 0; i < rc[0]; i++)       /* keep j - i <= k (tril) or >= k (triu) */
    for (int64_t j = 0; j < rc[1]; j++) m[i * rc[1] + j] = lower ? j - i <= k : j - i >= k;
  if (!(s = nn_new(ctx, t->dtype, 0, NULL, true, &zero))) s = nn_where(ctx, mask, t, zero, out);
  nn_tensor_release(mask); nn_tensor_release(zero);
  return s;
}
nn_status nn_tril(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out) { return triangle(ctx, "tril", t, k, true, out); }
nn_status nn_triu(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out) { return triangle(ctx, "triu", t, k, false, out); }

/* ---- diag, trace ----------------------------------------------------------------------------
   diag of a vector v (n): [v | 0 (n x n)] has n+1 columns, so its first n*n elements in row
   order put v[i] at i*(n+1), the diagonal of an n x n matrix; pad moves it off the diagonal. */

static nn_status diag_embed(nn_ctx *ctx, nn_tensor *v, int64_t k, nn_tensor **out) {
  int64_t n = v->shape[0], nn1[2] = {n, n}, sq, m;
  nn_tensor *parts[2] = {NULL, NULL}, *c = NULL, *f = NULL, *w = NULL, *d = NULL;
  if (!nn_size_mul(n, n + 1, &sq) || (k < 0 ? k < -NN_NUMEL_MAX : k > NN_NUMEL_MAX) ||
      !nn_size_add(n, k < 0 ? -k : k, &m) || !nn_size_mul(m, m, &sq) || sq > NN_NUMEL_MAX)
    return nn_fail(ctx, NN_ERR_SHAPE, "diag: a %lld-element vector with offset %lld makes too large a matrix",
                   (long long)n, (long long)k);
  int64_t all = n * (n + 1), nsq = n * n;
  nn_status s = nn_unsqueeze(ctx, v, 1, &parts[0]);
  if (!s) s = nn_new(ctx, v->dtype, 2, nn1, true, &parts[1]);
  if (!s) s = nn_cat(ctx, 2, parts, 1, &c);
  if (!s) s = nn_reshape(ctx, c, 1, &all, &f);
  if (!s) s = nn_narrow(ctx, f, 0, 0, nsq, &w);
  if (!s) s = nn_reshape(ctx, w, 2, nn1, &d);
  nn_tensor_release(parts[0]); nn_tensor_release(parts[1]); nn_tensor_release(c);
  nn_tensor_release(f); nn_tensor_release(w);
  if (s || k == 0) { *out = s ? NULL : d; return s; }
  int64_t a = k < 0 ? -k : k, pads[4] = {k > 0 ? a : 0, k > 0 ? 0 : a, k > 0 ? 0 : a, k > 0 ? a : 0};
  s = nn_pad(ctx, d, 4, pads, NN_PAD_CONSTANT, 0, out);
  nn_tensor_release(d);
  return s;
}

nn_status nn_diag(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out) {
  NN_ARG(ctx, "diag", out);
  *out = NULL;
  NN_ARG(ctx, "diag", t);
  char b[NN_SHAPE_BUF];
  if (t->ndim == 1) return diag_embed(ctx, t, k, out);
  if (t->ndim != 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "diag: expects a 1-D or 2-D tensor, got shape %s",
                   nn_shape_fmt(t->ndim, t->shape, b));
  nn_tensor *v;
  nn_status s = nn_diagonal(ctx, t, k, 0, 1, &v);
  if (s) return s;
  s = nn_clone(ctx, v, out);   /* a copy, as PyTorch's diag */
  nn_tensor_release(v);
  return s;
}

nn_status nn_trace(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "trace", out);
  *out = NULL;
  NN_ARG(ctx, "trace", t);
  char b[NN_SHAPE_BUF];
  if (t->ndim != 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "trace: expects a 2-D tensor, got shape %s",
                   nn_shape_fmt(t->ndim, t->shape, b));
  nn_tensor *v;
  nn_status s = nn_diagonal(ctx, t, 0, 0, 1, &v);
  if (s) return s;
  s = nn_sum(ctx, v, NN_ALL, false, out);
  nn_tensor_release(v);
  return s;
}

/* ---- movedim: a permutation (view) -------------------------------------------------------- */

nn_status nn_movedim(nn_ctx *ctx, nn_tensor *t, int n, const int *src, const int *dst, nn_tensor **out) {
  NN_ARG(ctx, "movedim", out);
  *out = NULL;
  NN_ARG(ctx, "movedim", t);
  if (n > 0) { NN_ARG(ctx, "movedim", src); NN_ARG(ctx, "movedim", dst); }
  int s_[NN_MAX_DIMS], d_[NN_MAX_DIMS], perm[NN_MAX_DIMS];
  nn_status s;
  if ((s = check_dims(ctx, "movedim", n, src, t->ndim, s_)) || (s = check_dims(ctx, "movedim", n, dst, t->ndim, d_)))
    return s;
  bool taken[NN_MAX_DIMS] = {false}, placed[NN_MAX_DIMS] = {false};
  for (int i = 0; i < n; i++) { perm[d_[i]] = s_[i]; taken[s_[i]] = true; placed[d_[i]] = true; }
  /* the other dims keep their order in the free places */
  for (int i = 0, next = 0; i < t->ndim; i++) {
    if (placed[i]) continue;
    while (taken[next]) next++;
    perm[i] = next++;
  }
  return nn_permute(ctx, t, perm, out);
}

/* ---- meshgrid: each input viewed along its own dim and expanded (views) -------------------- */

nn_status nn_meshgrid(nn_ctx *ctx, int n, nn_tensor *const *ts, bool xy, nn_tensor **outs) {
  NN_ARG(ctx, "meshgrid", outs);
  NN_ARG(ctx, "meshgrid", ts);
  char b[NN_SHAPE_BUF];
  if (n < 1 || n > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_ARG, "meshgrid: %d tensors given (1 to %d)", n, NN_MAX_DIMS);
  int64_t sh[NN_MAX_DIMS];
  for (int i = 0; i < n; i++) NN_ARG_AS(ctx, "meshgrid", ts[i], "tensor");
  for (int i = 0; i < n; i++) {
    if (ts[i]->ndim > 1)
      return nn_fail(ctx, NN_ERR_SHAPE, "meshgrid: tensor %d must be 0-d or 1-D, got shape %s", i + 1,
                     nn_shape_fmt(ts[i]->ndim, ts[i]->shape, b));
    if (ts[i]->dtype != ts[0]->dtype)
      return nn_fail(ctx, NN_ERR_DTYPE, "meshgrid: tensors 1 and %d differ in dtype (%s, %s)", i + 1,
                     nn_dtype_name(ts[0]->dtype), nn_dtype_name(ts[i]->dtype));
  }
  /* "xy" (Cartesian) swaps the first two output dims */
  for (int i = 0; i < n; i++) sh[xy && n > 1 && i < 2 ? 1 - i : i] = ts[i]->numel;
  nn_status s = nn_check_shape(ctx, "meshgrid", n, sh);
  for (int i = 0; i < n && !s; i++) {
    int at = xy && n > 1 && i < 2 ? 1 - i : i;
    int64_t one[NN_MAX_DIMS];
    for (int j = 0; j < n; j++) one[j] = j == at ? sh[j] : 1;
    nn_tensor *v = NULL;
    s = nn_view(ctx, ts[i], n, one, &v);
    if (!s) s = nn_expand(ctx, v, n, sh, &outs[i]);
    nn_tensor_release(v);
    if (s) while (i > 0) { nn_tensor_release(outs[--i]); outs[i] = NULL; }
  }
  return s;
}

/* ---- pad: pads[2i], pads[2i+1] are the before/after amounts of the i-th dim from the end ---- */

/* index j of the padded range (j may run before 0 or past size) into 0..size-1 */
static int64_t pad_source(nn_pad_mode mode, int64_t j, int64_t size) {
  switch (mode) {
  case NN_PAD_REFLECT: return j < 0 ? -j : j >= size ? 2 * (size - 1) - j : j;
  case NN_PAD_REPLICATE: return j < 0 ? 0 : j >= size ? size - 1 : j;
  default: { int64_t r = j % size; return r < 0 ? r + size : r; }   /* circular */
  }
}

/* constant: negative amounts narrow, positive ones cat blocks of the value on either side */
static nn_status pad_constant(nn_ctx *ctx, nn_tensor **t, int d, int64_t before, int64_t after,
                              double value) {
  nn_tensor *x = *t, *y = NULL, *parts[3] = {NULL, NULL, NULL};
  int64_t lo = before < 0 ? -before : 0, hi = after < 0 ? -after : 0, sh[NN_MAX_DIMS];
  nn_status s = nn_narrow(ctx, x, d, lo, x->shape[d] - lo - hi, &parts[1]);
  int np = 0;
  nn_tensor *list[3];
  memcpy(sh, x->shape, sizeof sh);
  for (int side = 0; side < 2 && !s; side++) {
    int64_t amount = side ? after : before;
    if (amount <= 0) continue;
    sh[d] = amount;
    s = nn_full(ctx, x->dtype, x->ndim, sh, value, &parts[side ? 2 : 0]);
  }
  for (int i = 0; i < 3; i++) if (parts[i]) list[np++] = parts[i];
  if (!s) s = np == 1 ? nn_clone(ctx, parts[1], &y) : nn_cat(ctx, np, list, d, &y);
  for (int i = 0; i < 3; i++) nn_tensor_release(parts[i]);
  return chain(s, t, y);
}

static nn_status pad_dim(nn_ctx *ctx, nn_tensor **t, int d, int64_t before, int64_t after,
                         nn_pad_mode mode, double value) {
  static const char *const names[] = {"constant", "reflect", "replicate", "circular"};
  int64_t size = (*t)->shape[d], len;
  if (!nn_size_add(size, before, &len) || !nn_size_add(len, after, &len) || len < 0 ||
      before < -size || after < -size)
    return nn_fail(ctx, NN_ERR_ARG, "pad: padding %lld, %lld of dimension %d (size %lld) leaves a negative size",
                   (long long)before, (long long)after, d + 1, (long long)size);
  if (mode == NN_PAD_CONSTANT) return pad_constant(ctx, t, d, before, after, value);
  if (size == 0 || (mode == NN_PAD_REFLECT && (before >= size || after >= size)))
    return nn_fail(ctx, NN_ERR_ARG, "pad: %s padding %lld, %lld needs %s than dimension %d's size %lld",
                   names[mode], (long long)before, (long long)after,
                   mode == NN_PAD_REFLECT ? "amounts smaller" : "a size larger", d + 1, (long long)size);
  int64_t *p;
  nn_tensor *idx;
  nn_status s = new_index(ctx, len, &idx, &p);
  if (s) return s;
  for (int64_t j = 0; j < len; j++) p[j] = pad_source(mode, j - before, size);
  return chain_index(ctx, t, d, idx);
}

nn_status nn_pad(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *pads, nn_pad_mode mode, double value,
                 nn_tensor **out) {
  NN_ARG(ctx, "pad", out);
  *out = NULL;
  NN_ARG(ctx, "pad", t);
  if (n > 0) NN_ARG(ctx, "pad", pads);
  char b[NN_SHAPE_BUF];
  if (n < 0 || n % 2 || n / 2 > t->ndim)
    return nn_fail(ctx, NN_ERR_ARG, "pad: %d padding amounts for a tensor of shape %s (give two per "
                   "dimension, last dimension first)", n, nn_shape_fmt(t->ndim, t->shape, b));
  if ((unsigned)mode > NN_PAD_CIRCULAR) return nn_fail(ctx, NN_ERR_ARG, "pad: unknown mode %d", (int)mode);
  int64_t sh[NN_MAX_DIMS];
  memcpy(sh, t->shape, sizeof sh);
  for (int i = 0; i < n / 2; i++) {   /* the result's size first, so that no step allocates in vain */
    int d = t->ndim - 1 - i;
    if (!nn_size_add(sh[d], pads[2 * i], &sh[d]) || !nn_size_add(sh[d], pads[2 * i + 1], &sh[d]) || sh[d] < 0)
      return nn_fail(ctx, NN_ERR_ARG, "pad: padding %lld, %lld of dimension %d (size %lld) leaves a negative size",
                     (long long)pads[2 * i], (long long)pads[2 * i + 1], d + 1, (long long)t->shape[d]);
  }
  nn_status s = nn_check_shape(ctx, "pad", t->ndim, sh);
  if (s) return s;
  nn_tensor *y = t;
  nn_tensor_retain(t);
  if (n == 0) return fresh_copy(ctx, y, out);
  for (int i = 0; i < n / 2 && !s; i++)
    s = pad_dim(ctx, &y, t->ndim - 1 - i, pads[2 * i], pads[2 * i + 1], mode, value);
  if (s) { nn_tensor_release(y); return s; }
  *out = y;
  return NN_OK;
}
