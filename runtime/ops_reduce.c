/* ops_reduce.c — reductions over one dim or over all: sum, mean, prod, var, std, max, min.

   Every reduction sees its input (made contiguous) as [outer, n, inner]: n elements are
   reduced for each of the outer*inner results, which sit contiguously in the output. Reducing
   over all dims is outer = inner = 1, n = numel. Each op: forward kernel, backward, descriptor. */
#include <math.h>
#include "nn_impl.h"

/* ---- geometry ------------------------------------------------------------------------- */

typedef struct {
  int dim;                         /* normalized, or NN_ALL */
  int64_t outer, n, inner;
  int ndim;                        /* the result's shape */
  int64_t shape[NN_MAX_DIMS];
  int64_t kshape[NN_MAX_DIMS];     /* the result's shape with keepdim (the input's ndim) */
} geom;

static nn_status setup(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, bool keepdim, geom *g) {
  memset(g, 0, sizeof *g);  /* defined even on failure (LTO's flow analysis checks callers) */
  NN_ARG_AS(ctx, op, t, "tensor");
  int nd = t->ndim;
  g->outer = 1; g->inner = 1;
  if (dim == NN_ALL) {
    g->dim = NN_ALL;
    g->n = t->numel;
    for (int i = 0; i < nd; i++) g->kshape[i] = 1;
  } else {
    int d = dim;
    if (!nn_wrap_dim(&d, nd)) {
      char b[NN_SHAPE_BUF];
      return nn_fail(ctx, NN_ERR_ARG, "%s: dimension %d out of range for a %d-d tensor of shape %s",
                     op, dim >= 0 ? dim + 1 : dim, nd, nn_shape_fmt(nd, t->shape, b));
    }
    g->dim = nd ? d : NN_ALL;      /* a 0-d tensor: dim 0 / -1 is the whole (one element) */
    if (nd == 0) g->n = 1;
    else {
      for (int i = 0; i < d; i++) g->outer *= t->shape[i];
      for (int i = d + 1; i < nd; i++) g->inner *= t->shape[i];
      g->n = t->shape[d];
    }
    for (int i = 0; i < nd; i++) g->kshape[i] = i == d ? 1 : t->shape[i];
  }
  g->ndim = 0;
  for (int i = 0; i < nd; i++)
    if (keepdim) g->shape[g->ndim++] = g->kshape[i];
    else if (g->dim != NN_ALL && i != g->dim) g->shape[g->ndim++] = t->shape[i];
  return NN_OK;
}

/* A reduction's payload: the dim reduced (or NN_ALL), keepdim, and a scale for backward (mean:
   1/n; var, std: the derivative's constant) */
typedef struct { int dim; bool keepdim; double scale; } reduce_args;

/* Records op on *out: a one-input node with the reduction's geometry */
static nn_status record(nn_ctx *ctx, const nn_op *op, nn_tensor *t, nn_tensor **out,
                        nn_tensor *saved, const geom *g, bool keepdim, double scale) {
  reduce_args args = {.dim = g->dim, .keepdim = keepdim, .scale = scale};
  return nn_record(ctx, op, out, 1, &t, saved, &args);
}
static const reduce_args *args_of(const nn_node *n) { return n->args; }

/* dy (the result's shape) seen at the input's shape: stride 0 over the reduced dims */
static nn_status expand_back(nn_ctx *ctx, const nn_node *n, nn_tensor *dy, nn_tensor **c,
                             nn_tensor **out) {
  const nn_tensor *in = n->in[0];
  int64_t ksh[NN_MAX_DIMS], kst[NN_MAX_DIMS];
  int dim = args_of(n)->dim;
  nn_status s = nn_contig(ctx, dy, c);
  if (s) return s;
  for (int i = 0; i < in->ndim; i++) ksh[i] = (dim == NN_ALL || i == dim) ? 1 : in->shape[i];
  nn_contig_strides(in->ndim, ksh, kst);
  for (int i = 0; i < in->ndim; i++) if (dim == NN_ALL || i == dim) kst[i] = 0;
  return nn_alias(ctx, *c, in->ndim, in->shape, kst, (*c)->offset, out);
}

/* ---- sum ------------------------------------------------------------------------------
   Float32 accumulates in double. Rows (inner == 1) use independent lanes (16 for float32, so
   the additions' latency is hidden; 8 for the others), so the loop vectorizes without
   reassociating; columns (inner > 1) add whole rows at a time through a block of double
   accumulators (the column sums of Linear's backward). Big sums split across threads by
   results: rows of the outer dim, or blocks of columns when there is one outer row; each
   result is summed whole on one thread, so the bits do not depend on the thread count. */
#define LANES 8
#define COLBLOCK 256

#define ROW_SUM(NAME, T, L)                                                                   \
  static double NAME(const T *x, int64_t n) {                                                 \
    double s = 0;                                                                             \
    int64_t i = 0;                                                                            \
    if (n < L) {                     /* a short row: the tail alone (0 + s: -0 sums to +0) */ \
      for (; i < n; i++) s += x[i];                                                           \
      return 0.0 + s;                                                                         \
    }                                                                                         \
    double acc[L];                                                                            \
    for (int j = 0; j < L; j++) acc[j] = 0;                                                   \
    for (; i + L <= n; i += L)                                                                \
      for (int j = 0; j < L; j++) acc[j] += x[i + j];                                         \
    for (int w = 1; w < L; w *= 2)             /* ((a0 + a1) + (a2 + a3)) + ...: pairs */      \
      for (int j = 0; j + w < L; j += 2 * w) acc[j] += acc[j + w];                            \
    for (; i < n; i++) s += x[i];                                                             \
    return acc[0] + s;                                                                        \
  }
ROW_SUM(row_sum_f32, float, 2 * LANES)
ROW_SUM(row_sum_f64, double, LANES)
double nn_sum_f32_row(const float *x, int64_t n) { return row_sum_f32(x, n); }

/* results [o0, o1) of the outer dim, columns [j0, j1) of each */
static void sum_f32(const float *x, float *y, const geom *g, int64_t o0, int64_t o1, int64_t j0,
                    int64_t j1) {
  int64_t n = g->n, inner = g->inner;
  for (int64_t o = o0; o < o1; o++) {
    const float *xo = x + o * n * inner;
    if (inner == 1) { y[o] = (float)row_sum_f32(xo, n); continue; }
    for (int64_t b = j0; b < j1; b += COLBLOCK) {
      int64_t m = j1 - b < COLBLOCK ? j1 - b : COLBLOCK;
      double acc[COLBLOCK];
      for (int64_t j = 0; j < m; j++) acc[j] = 0;
      for (int64_t k = 0; k < n; k++) {
        const float *r = xo + k * inner + b;
        for (int64_t j = 0; j < m; j++) acc[j] += r[j];
      }
      for (int64_t j = 0; j < m; j++) y[o * inner + b + j] = (float)acc[j];
    }
  }
}
static void sum_f64(const double *x, double *y, const geom *g, int64_t o0, int64_t o1, int64_t j0,
                    int64_t j1) {
  int64_t n = g->n, inner = g->inner;
  for (int64_t o = o0; o < o1; o++) {
    const double *xo = x + o * n * inner;
    if (inner == 1) { y[o] = row_sum_f64(xo, n); continue; }
    double *yo = y + o * inner;
    for (int64_t j = j0; j < j1; j++) yo[j] = 0;
    for (int64_t k = 0; k < n; k++) {
      const double *r = xo + k * inner;
      for (int64_t j = j0; j < j1; j++) yo[j] += r[j];
    }
  }
}
static void sum_i64(const int64_t *x, int64_t *y, const geom *g, int64_t o0, int64_t o1, int64_t j0,
                    int64_t j1) {
  int64_t n = g->n, inner = g->inner;
  for (int64_t o = o0; o < o1; o++) {
    int64_t *yo = y + o * inner;
    for (int64_t j = j0; j < j1; j++) yo[j] = 0;
    for (int64_t k = 0; k < n; k++) {
      const int64_t *r = x + (o * n + k) * inner;
      for (int64_t j = j0; j < j1; j++) yo[j] = (int64_t)((uint64_t)yo[j] + (uint64_t)r[j]);
    }
  }
}

/* a lane's share: outer rows [lo, hi), or (one outer row) column blocks [lo, hi) */
typedef struct { const geom *g; nn_dtype dt; const char *x; char *y; bool by_cols; } sum_job;
static void sum_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const sum_job *j = arg;
  const geom *g = j->g;
  int64_t o0 = lo, o1 = hi, j0 = 0, j1 = g->inner;
  (void)part;
  if (j->by_cols) {
    o0 = 0; o1 = 1;
    j0 = lo * COLBLOCK;
    j1 = hi * COLBLOCK < g->inner ? hi * COLBLOCK : g->inner;
  }
  switch (j->dt) {
    case NN_F32: sum_f32((const float *)j->x, (float *)j->y, g, o0, o1, j0, j1); break;
    case NN_F64: sum_f64((const double *)j->x, (double *)j->y, g, o0, o1, j0, j1); break;
    case NN_I64: sum_i64((const int64_t *)j->x, (int64_t *)j->y, g, o0, o1, j0, j1); break;
  }
}

/* The sum of t over g into a new tensor of g's result shape (no autograd). */
static nn_status sum_raw(nn_ctx *ctx, nn_tensor *t, const geom *g, nn_tensor **out) {
  nn_tensor *c, *y;
  nn_status s = nn_contig(ctx, t, &c);
  if (s) return s;
  /* an empty t sums to zeros and runs no kernel: [2^40, 0] over dim 1 would walk 2^40 empty rows */
  s = nn_new(ctx, t->dtype, g->ndim, g->shape, t->numel == 0, &y);
  if (!s && t->numel > 0) {
    bool by_cols = g->outer == 1 && g->inner > 1;
    int64_t units = by_cols ? (g->inner + COLBLOCK - 1) / COLBLOCK : g->outer;
    sum_job j = {g, t->dtype, nn_ptr(c), nn_ptr(y), by_cols};
    nn_lanes(ctx, units, t->numel, sum_lane, &j);
  }
  if (!s) *out = y;
  nn_tensor_release(c);
  return s;
}

/* sum: dx = dy broadcast back over the reduced dims */
static nn_status sum_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *c = NULL, *e = NULL;
  nn_status s = expand_back(ctx, n, n->gout, &c, &e);
  if (!s) s = nn_grad_accum(ctx, n, 0, e);
  nn_tensor_release(e); nn_tensor_release(c);
  return s;
}
const nn_op nn_op_sum = {.name = "sum", .backward = sum_backward, .saves = 0, .args_size = sizeof(reduce_args)};
nn_status nn_sum(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "sum", out);
  *out = NULL;
  geom g;
  nn_status s = setup(ctx, "sum", t, dim, keepdim, &g);
  if (s || (s = sum_raw(ctx, t, &g, out))) return s;
  return record(ctx, &nn_op_sum, t, out, NULL, &g, keepdim, 0);
}

/* ---- mean: y = sum / n;  dx = dy / n ------------------------------------------------------ */
static nn_status mean_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *c = NULL, *e = NULL, *d = NULL;
  nn_status s = expand_back(ctx, n, n->gout, &c, &e);
  if (!s && !(s = nn_muls(ctx, e, args_of(n)->scale, &d))) s = nn_grad_accum(ctx, n, 0, d);
  nn_tensor_release(d); nn_tensor_release(e); nn_tensor_release(c);
  return s;
}
const nn_op nn_op_mean = {.name = "mean", .backward = mean_backward, .saves = 0, .args_size = sizeof(reduce_args)};

static void scale_raw(nn_tensor *y, double k) {
  char *p = nn_ptr(y);
  for (int64_t i = 0; i < y->numel; i++) nn_store_f(p, y->dtype, i, nn_load_f(p, y->dtype, i) * k);
}

nn_status nn_mean(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "mean", out);
  *out = NULL;
  geom g;
  nn_status s = setup(ctx, "mean", t, dim, keepdim, &g);
  if (s || (s = nn_need_float(ctx, "mean", t)) || (s = sum_raw(ctx, t, &g, out))) return s;
  double k = 1.0 / (double)g.n;    /* n = 0 gives nan, as PyTorch */
  if (g.n == 0) k = NAN;
  scale_raw(*out, k);
  return record(ctx, &nn_op_mean, t, out, NULL, &g, keepdim, k);
}

/* ---- prod: y = Π x;  dx_i = dy Π_{j≠i} x_j (computed directly, so zeros are exact) -------- */
static void prod_i64(const int64_t *x, int64_t *y, const geom *g) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      uint64_t p = 1;
      for (int64_t k = 0; k < g->n; k++) p *= (uint64_t)x[(o * g->n + k) * g->inner + j];
      y[o * g->inner + j] = (int64_t)p;
    }
}
static void prod_float(const char *x, char *y, nn_dtype dt, const geom *g) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      double p = 1;
      for (int64_t k = 0; k < g->n; k++) p *= nn_load_f(x, dt, (o * g->n + k) * g->inner + j);
      nn_store_f(y, dt, o * g->inner + j, p);
    }
}

/* dx[o,k,j] = dy[o,j] * product of the slice without element k: with no zero in the slice
   that is y / x_k; with one zero only that position gets the product of the others. */
static void prod_grad(const char *x, const char *dy, char *dx, nn_dtype dt, const geom *g) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j, zpos = -1, zeros = 0;
      double p = 1, gy = nn_load_f(dy, dt, o * g->inner + j);
      for (int64_t k = 0; k < g->n; k++) {
        double v = nn_load_f(x, dt, base + k * g->inner);
        if (v == 0) { zeros++; zpos = k; } else p *= v;
      }
      for (int64_t k = 0; k < g->n; k++) {
        int64_t i = base + k * g->inner;
        double r = zeros == 0 ? gy * p / nn_load_f(x, dt, i) : (zeros == 1 && k == zpos) ? gy * p : 0;
        nn_store_f(dx, dt, i, r);
      }
    }
}

static nn_status prod_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *cx = NULL, *cy = NULL, *dx = NULL;
  geom g;
  nn_status s = setup(ctx, "prod", x, args_of(n)->dim, args_of(n)->keepdim, &g);
  if (!s && !(s = nn_contig(ctx, x, &cx)) && !(s = nn_contig(ctx, n->gout, &cy)) &&
      !(s = nn_new(ctx, x->dtype, x->ndim, x->shape, false, &dx))) {
    if (cy->dtype == x->dtype) prod_grad(nn_ptr(cx), nn_ptr(cy), nn_ptr(dx), x->dtype, &g);
    else {
      nn_tensor *c2;
      if (!(s = nn_new(ctx, x->dtype, cy->ndim, cy->shape, false, &c2))) {
        nn_copy_raw(c2, cy);
        prod_grad(nn_ptr(cx), nn_ptr(c2), nn_ptr(dx), x->dtype, &g);
        nn_tensor_release(c2);
      }
    }
    if (!s) s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(cx); nn_tensor_release(cy); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_prod = {.name = "prod", .backward = prod_backward, .saves = 1, .args_size = sizeof(reduce_args)};
nn_status nn_prod(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "prod", out);
  *out = NULL;
  geom g;
  nn_tensor *c, *y;
  nn_status s = setup(ctx, "prod", t, dim, keepdim, &g);
  if (s || (s = nn_contig(ctx, t, &c))) return s;
  if (!(s = nn_new(ctx, t->dtype, g.ndim, g.shape, false, &y))) {
    if (t->dtype == NN_I64) prod_i64((const int64_t *)nn_ptr(c), (int64_t *)nn_ptr(y), &g);
    else prod_float(nn_ptr(c), nn_ptr(y), t->dtype, &g);
    *out = y;
  }
  nn_tensor_release(c);
  return s ? s : record(ctx, &nn_op_prod, t, out, NULL, &g, keepdim, 0);
}

/* ---- var, std: two passes in double; var = Σ (x - mean)² / (n - correction)
   dvar/dx = 2 (x - mean) / (n - c);  dstd/dx = (x - mean) / ((n - c) std) ------------------ */
static void var_kernel(const char *x, char *y, nn_dtype dt, const geom *g, int correction, bool root) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j;
      double m = 0, ss = 0;
      for (int64_t k = 0; k < g->n; k++) m += nn_load_f(x, dt, base + k * g->inner);
      m /= (double)g->n;
      for (int64_t k = 0; k < g->n; k++) {
        double d = nn_load_f(x, dt, base + k * g->inner) - m;
        ss += d * d;
      }
      double den = (double)g->n - correction, v = ss / (den > 0 ? den : 0.0); /* as PyTorch */
      nn_store_f(y, dt, o * g->inner + j, root ? sqrt(v) : v);
    }
}

static nn_status var_backward_common(nn_ctx *ctx, nn_node *n, bool root) {
  nn_tensor *x = n->in[0], *m = NULL, *d = NULL, *c = NULL, *e = NULL, *t = NULL, *u = NULL,
            *c2 = NULL, *ys = NULL;
  int dim = args_of(n)->dim;
  nn_status s = nn_mean(ctx, x, dim, true, &m);
  if (!s) s = nn_sub(ctx, x, m, &d);
  if (!s) s = expand_back(ctx, n, n->gout, &c, &e);
  if (!s) s = nn_mul(ctx, d, e, &t);
  if (!s && root) {              /* divide by std (the saved output), broadcast back too */
    if (!(s = expand_back(ctx, n, n->saved, &c2, &ys))) {
      nn_tensor *q;
      if (!(s = nn_div(ctx, t, ys, &q))) { nn_tensor_release(t); t = q; }
    }
  }
  if (!s) s = nn_muls(ctx, t, args_of(n)->scale, &u);
  if (!s) s = nn_grad_accum(ctx, n, 0, u);
  nn_tensor_release(m); nn_tensor_release(d); nn_tensor_release(c); nn_tensor_release(e);
  nn_tensor_release(t); nn_tensor_release(u); nn_tensor_release(c2); nn_tensor_release(ys);
  return s;
}
static nn_status var_backward(nn_ctx *ctx, nn_node *n) { return var_backward_common(ctx, n, false); }
static nn_status std_backward(nn_ctx *ctx, nn_node *n) { return var_backward_common(ctx, n, true); }
const nn_op nn_op_var = {.name = "var", .backward = var_backward, .saves = 1, .args_size = sizeof(reduce_args)};
const nn_op nn_op_std = {.name = "std", .backward = std_backward, .saves = 1, .saves_output = true, .args_size = sizeof(reduce_args)};

static nn_status var_common(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, bool keepdim,
                            int correction, bool root, nn_tensor **out) {
  NN_ARG(ctx, op, out);
  *out = NULL;
  geom g;
  nn_tensor *c, *y;
  nn_status s = setup(ctx, op, t, dim, keepdim, &g);
  if (s || (s = nn_need_float(ctx, op, t)) || (s = nn_contig(ctx, t, &c))) return s;
  s = nn_new(ctx, t->dtype, g.ndim, g.shape, false, &y);
  if (!s) var_kernel(nn_ptr(c), nn_ptr(y), t->dtype, &g, correction, root);
  nn_tensor_release(c);
  if (s) return s;
  *out = y;
  double den = (double)g.n - correction, k = (root ? 1.0 : 2.0) / (den > 0 ? den : 0.0);
  return record(ctx, root ? &nn_op_std : &nn_op_var, t, out, NULL, &g, keepdim, k);
}
nn_status nn_var(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, int correction, nn_tensor **out) {
  return var_common(ctx, "var", t, dim, keepdim, correction, false, out);
}
nn_status nn_std(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, int correction, nn_tensor **out) {
  return var_common(ctx, "std", t, dim, keepdim, correction, true, out);
}

/* ---- max, min: values and the index of the first extreme (NaN wins, as PyTorch);
   dx = dy scattered to the saved indices ------------------------------------------------------ */
static void extreme_float(const char *x, char *y, int64_t *idx, nn_dtype dt, const geom *g, bool want_max) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j, bi = 0;
      double best = nn_load_f(x, dt, base);
      for (int64_t k = 1; k < g->n && best == best; k++) {
        double v = nn_load_f(x, dt, base + k * g->inner);
        if (v != v || (want_max ? v > best : v < best)) { best = v; bi = k; }
      }
      if (y) nn_store_f(y, dt, o * g->inner + j, best);
      idx[o * g->inner + j] = bi;
    }
}
static void extreme_i64(const int64_t *x, int64_t *y, int64_t *idx, const geom *g, bool want_max) {
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j, bi = 0, best = x[base];
      for (int64_t k = 1; k < g->n; k++) {
        int64_t v = x[base + k * g->inner];
        if (want_max ? v > best : v < best) { best = v; bi = k; }
      }
      if (y) y[o * g->inner + j] = best;
      idx[o * g->inner + j] = bi;
    }
}

static nn_status extreme_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *idx = n->saved, *cy = NULL, *dx = NULL;
  geom g;
  nn_status s = setup(ctx, n->op->name, x, args_of(n)->dim, args_of(n)->keepdim, &g);
  if (!s && !(s = nn_contig(ctx, n->gout, &cy)) && !(s = nn_new(ctx, cy->dtype, x->ndim, x->shape, true, &dx))) {
    const int64_t *ip = (const int64_t *)nn_ptr(idx);   /* made contiguous by the forward */
    for (int64_t o = 0; o < g.outer; o++)
      for (int64_t j = 0; j < g.inner; j++) {
        int64_t r = o * g.inner + j, k = ip[r];
        if (k >= 0 && k < g.n) nn_store_f(nn_ptr(dx), dx->dtype, (o * g.n + k) * g.inner + j, nn_load_f(nn_ptr(cy), cy->dtype, r));
      }
    s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(cy); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_max = {.name = "max", .backward = extreme_backward, .saves = 0, .args_size = sizeof(reduce_args)};
const nn_op nn_op_min = {.name = "min", .backward = extreme_backward, .saves = 0, .args_size = sizeof(reduce_args)};

static nn_status extreme(nn_ctx *ctx, const nn_op *op, nn_tensor *t, int dim, bool keepdim,
                         nn_tensor **values, nn_tensor **indices) {
  const char *name = op->name;
  if (!ctx) return NN_ERR_ARG;   /* (the NULL rule: no out written without a context) */
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (!values && !indices) return nn_fail(ctx, NN_ERR_ARG, "%s: values and indices are both NULL", name);
  geom g;
  nn_status s = setup(ctx, name, t, dim, keepdim, &g);
  if (s) return s;
  if (g.n == 0) {
    char b[NN_SHAPE_BUF];
    if (dim == NN_ALL)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: cannot reduce an empty tensor (shape %s): it has no identity",
                     name, nn_shape_fmt(t->ndim, t->shape, b));
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: cannot reduce over dimension %d of size 0 (shape %s)", name,
                   dim >= 0 ? dim + 1 : dim, nn_shape_fmt(t->ndim, t->shape, b));
  }
  nn_tensor *c = NULL, *y = NULL, *ix = NULL;
  bool grad = values && t->dtype != NN_I64 && nn_needs_grad(ctx, 1, &t);
  if ((s = nn_contig(ctx, t, &c)) || (values && (s = nn_new(ctx, t->dtype, g.ndim, g.shape, false, &y))) ||
      (s = nn_new(ctx, NN_I64, g.ndim, g.shape, false, &ix)))
    goto fail;
  if (t->dtype == NN_I64)
    extreme_i64((const int64_t *)nn_ptr(c), y ? (int64_t *)nn_ptr(y) : NULL, (int64_t *)nn_ptr(ix), &g,
                op == &nn_op_max);
  else
    extreme_float(nn_ptr(c), y ? nn_ptr(y) : NULL, (int64_t *)nn_ptr(ix), t->dtype, &g, op == &nn_op_max);
  nn_tensor_release(c);
  c = NULL;
  if (grad && (s = record(ctx, op, t, &y, ix, &g, keepdim, 0))) goto fail;
  if (values) *values = y;
  if (indices) *indices = ix; else nn_tensor_release(ix);
  return NN_OK;
fail:
  nn_tensor_release(c); nn_tensor_release(y); nn_tensor_release(ix);
  return s;
}
nn_status nn_max(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                 nn_tensor **indices) {
  return extreme(ctx, &nn_op_max, t, dim, keepdim, values, indices);
}
nn_status nn_min(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                 nn_tensor **indices) {
  return extreme(ctx, &nn_op_min, t, dim, keepdim, values, indices);
}

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
extern const nn_op nn_op_cumsum, nn_op_cumprod; /* ops_scan.c */
const nn_op *const nn_ops_reduce[] = {&nn_op_sum, &nn_op_mean, &nn_op_prod, &nn_op_var, &nn_op_std, &nn_op_max, &nn_op_min,
                                      &nn_op_cumsum, &nn_op_cumprod, NULL};
