/* ops_scan.c — scans along a dim (cumsum, cumprod, cummax, cummin) and the reductions built
   from other ops: logsumexp, norm, all, any, count_nonzero, aminmax.

   A scan sees its input (contiguous) as [outer, n, inner] and runs along n for each of the
   outer*inner rows. cumsum and cumprod have their own backward; cummax/cummin compute indices
   and take the values with gather (its gradient). The composed reductions record through the
   ops they call, so their gradients are those ops'. */
#include "nn_impl.h"

typedef struct { int dim; } scan_args;

typedef struct { int64_t outer, n, inner; int dim; } scan_geom;

/* no element: nothing to run (a [2^40, 0] tensor has 2^40 empty rows, not worth walking) */
static bool scan_empty(const scan_geom *g) { return g->outer == 0 || g->n == 0 || g->inner == 0; }

static nn_status scan_setup(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, scan_geom *g) {
  memset(g, 0, sizeof *g);
  NN_ARG_AS(ctx, op, t, "tensor");
  int d = dim;
  nn_status s = NN_OK;
  if (t->ndim == 0 && (dim == 0 || dim == -1)) d = 0;
  else if ((s = nn_check_dim(ctx, op, &d, t->ndim))) return s;
  g->dim = d; g->outer = 1; g->inner = 1;
  g->n = t->ndim ? t->shape[d] : 1;
  for (int i = 0; i < t->ndim; i++) {
    if (i < d) g->outer *= t->shape[i];
    if (i > d) g->inner *= t->shape[i];
  }
  return NN_OK;
}

/* y[k] = x[0] op .. op x[k] along each row (reverse: x[k] op .. op x[n-1]), in double for floats */
static void scan_rows(const char *x, char *y, nn_dtype dt, const scan_geom *g, bool mul, bool reverse) {
  if (scan_empty(g)) return;
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j;
      double acc = mul ? 1 : 0;
      uint64_t iacc = mul ? 1 : 0;
      for (int64_t q = 0; q < g->n; q++) {
        int64_t i = base + (reverse ? g->n - 1 - q : q) * g->inner;
        if (dt == NN_I64) {
          uint64_t v = (uint64_t)((const int64_t *)x)[i];
          iacc = mul ? iacc * v : iacc + v;
          ((int64_t *)y)[i] = (int64_t)iacc;
        } else {
          double v = nn_load_f(x, dt, i);
          acc = mul ? acc * v : acc + v;
          nn_store_f(y, dt, i, acc);
        }
      }
    }
}

/* cumsum: dx = the reverse cumulative sum of dy */
static nn_status cumsum_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *g = NULL, *dx = NULL, *c = NULL;
  scan_geom sg;
  nn_status s = scan_setup(ctx, "cumsum", x, ((const scan_args *)n->args)->dim, &sg);
  if (!s && !(s = nn_as_dtype(ctx, n->gout, x->dtype, &g)) && !(s = nn_contig(ctx, g, &c)) &&
      !(s = nn_new(ctx, x->dtype, x->ndim, x->shape, false, &dx))) {
    scan_rows(nn_ptr(c), nn_ptr(dx), x->dtype, &sg, false, true);
    s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(g); nn_tensor_release(c); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_cumsum = {.name = "cumsum", .backward = cumsum_backward, .args_size = sizeof(scan_args)};

/* cumprod's gradient, exact with zeros: for k before the row's first zero z,
   dx_k = (Σ_{j>=k} dy_j y_j) / x_k; at z, dx_z = y_{z-1} (dy_z + Σ_{j>z} dy_j Π_{z<i<=j} x_i);
   after z, 0. */
static void cumprod_grad(const char *x, const char *y, const char *gy, char *dx, nn_dtype dt, const scan_geom *g) {
  if (scan_empty(g)) return;
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j, z = g->n;
#define AT(p, k) nn_load_f(p, dt, base + (k) * g->inner)
      for (int64_t k = 0; k < g->n && z == g->n; k++) if (AT(x, k) == 0) z = k;
      double tail = 0;                        /* Σ_{j>=k} dy_j y_j, from the end */
      for (int64_t k = g->n - 1; k >= 0; k--) {
        tail += AT(gy, k) * AT(y, k);
        double r = 0;
        if (k < z) r = tail / AT(x, k);
        else if (k == z) {
          double pre = k ? AT(y, k - 1) : 1, run = 1, acc = AT(gy, k);
          for (int64_t q = k + 1; q < g->n; q++) { run *= AT(x, q); acc += AT(gy, q) * run; }
          r = pre * acc;
        }
        nn_store_f(dx, dt, base + k * g->inner, r);
      }
#undef AT
    }
}
static nn_status cumprod_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *cx = NULL, *cy = NULL, *g = NULL, *cg = NULL, *dx = NULL;
  scan_geom sg;
  nn_status s = scan_setup(ctx, "cumprod", x, ((const scan_args *)n->args)->dim, &sg);
  if (!s && !(s = nn_contig(ctx, x, &cx)) && !(s = nn_contig(ctx, n->saved, &cy)) &&
      !(s = nn_as_dtype(ctx, n->gout, x->dtype, &g)) && !(s = nn_contig(ctx, g, &cg)) &&
      !(s = nn_new(ctx, x->dtype, x->ndim, x->shape, false, &dx))) {
    cumprod_grad(nn_ptr(cx), nn_ptr(cy), nn_ptr(cg), nn_ptr(dx), x->dtype, &sg);
    s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(cx); nn_tensor_release(cy); nn_tensor_release(g); nn_tensor_release(cg);
  nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_cumprod = {.name = "cumprod", .backward = cumprod_backward, .saves = 1, .saves_output = true,
                             .args_size = sizeof(scan_args)};

static nn_status scan_op(nn_ctx *ctx, const nn_op *op, nn_tensor *t, int dim, nn_tensor **out) {
  NN_ARG(ctx, op->name, out);
  *out = NULL;
  scan_geom g;
  nn_tensor *c, *y;
  nn_status s = scan_setup(ctx, op->name, t, dim, &g);
  if (s || (s = nn_contig(ctx, t, &c))) return s;
  if (!(s = nn_new(ctx, t->dtype, t->ndim, t->shape, false, &y))) {
    scan_rows(nn_ptr(c), nn_ptr(y), t->dtype, &g, op == &nn_op_cumprod, false);
    *out = y;
  }
  nn_tensor_release(c);
  scan_args a = {g.dim};
  return s ? s : nn_record(ctx, op, out, 1, &t, NULL, &a);
}
nn_status nn_cumsum(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) { return scan_op(ctx, &nn_op_cumsum, t, dim, out); }
nn_status nn_cumprod(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) { return scan_op(ctx, &nn_op_cumprod, t, dim, out); }

/* ---- cummax, cummin: the running extreme's index (the latest of equal ones; a NaN, once
   seen, stays the extreme), as PyTorch's ---------------------------------------------------- */
static void cumext_rows(const char *x, int64_t *ix, nn_dtype dt, const scan_geom *g, bool want_max) {
  if (scan_empty(g)) return;
  for (int64_t o = 0; o < g->outer; o++)
    for (int64_t j = 0; j < g->inner; j++) {
      int64_t base = o * g->n * g->inner + j, bi = 0;
      for (int64_t k = 0; k < g->n; k++) {
        int64_t i = base + k * g->inner, b = base + bi * g->inner;
        bool take;
        if (dt == NN_I64) {
          int64_t v = ((const int64_t *)x)[i], w = ((const int64_t *)x)[b];
          take = want_max ? v >= w : v <= w;
        } else {
          double v = nn_load_f(x, dt, i), w = nn_load_f(x, dt, b);
          take = v != v || (w == w && (want_max ? v >= w : v <= w));
        }
        if (take) bi = k;
        ix[i] = bi;
      }
    }
}
static nn_status cumext(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, bool want_max, nn_tensor **values,
                        nn_tensor **indices) {
  if (!ctx) return NN_ERR_ARG;
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (!values && !indices) return nn_fail(ctx, NN_ERR_ARG, "%s: values and indices are both NULL", op);
  scan_geom g;
  nn_tensor *c = NULL, *ix = NULL;
  nn_status s = scan_setup(ctx, op, t, dim, &g);
  if (s || (s = nn_contig(ctx, t, &c))) return s;
  if (!(s = nn_new(ctx, NN_I64, t->ndim, t->shape, false, &ix))) {
    cumext_rows(nn_ptr(c), (int64_t *)nn_ptr(ix), t->dtype, &g, want_max);
    if (values) s = nn_gather(ctx, t, g.dim, ix, values);
  }
  nn_tensor_release(c);
  if (!s && indices) *indices = ix;
  else nn_tensor_release(ix);
  return s;
}
nn_status nn_cummax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **values, nn_tensor **indices) {
  return cumext(ctx, "cummax", t, dim, true, values, indices);
}
nn_status nn_cummin(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **values, nn_tensor **indices) {
  return cumext(ctx, "cummin", t, dim, false, values, indices);
}

/* ---- composed reductions ------------------------------------------------------------------ */

/* logsumexp = m + log Σ exp(x - m), m the (detached) max, replaced by 0 where infinite so that
   all -inf gives -inf and +inf gives +inf without inf - inf */
nn_status nn_logsumexp(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "logsumexp", out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, "logsumexp", t);
  if (s) return s;
  nn_tensor *m = NULL, *d = NULL, *e = NULL, *sm = NULL, *l = NULL, *r = NULL;
  bool was = nn_set_grad_enabled(ctx, false);
  s = t->numel ? nn_max(ctx, t, dim, true, &m, NULL) : nn_sum(ctx, t, dim, true, &m);
  nn_set_grad_enabled(ctx, was);
  if (s) return s;
  for (int64_t i = 0; i < m->numel; i++)
    if (isinf(nn_load_f(nn_ptr(m), m->dtype, i))) nn_store_f(nn_ptr(m), m->dtype, i, 0);
  if (!(s = nn_sub(ctx, t, m, &d)) && !(s = nn_exp(ctx, d, &e)) && !(s = nn_sum(ctx, e, dim, true, &sm)) &&
      !(s = nn_log(ctx, sm, &l)) && !(s = nn_add(ctx, l, m, &r))) {
    if (keepdim || t->ndim == 0) { *out = r; r = NULL; }
    else if (dim == NN_ALL) { int64_t none = 0; s = nn_reshape(ctx, r, 0, &none, out); }
    else s = nn_squeeze(ctx, r, dim, out);
  }
  nn_tensor_release(m); nn_tensor_release(d); nn_tensor_release(e); nn_tensor_release(sm);
  nn_tensor_release(l); nn_tensor_release(r);
  return s;
}

/* t != 0 as 0/1 of t's dtype (no gradient) */
static nn_status nonzero_mask(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  nn_tensor *z;
  nn_status s = nn_new(ctx, t->dtype, 0, NULL, true, &z);
  if (s) return s;
  s = nn_compare(ctx, NN_NE, t, z, out);
  nn_tensor_release(z);
  return s;
}

/* all: Π (t != 0) (empty: 1); any: Σ (t != 0) > 0 (empty: 0); 0/1 of t's dtype */
static nn_status all_any(nn_ctx *ctx, const char *op, nn_tensor *t, int dim, bool keepdim, bool all, nn_tensor **out) {
  NN_ARG(ctx, op, out);
  *out = NULL;
  NN_ARG_AS(ctx, op, t, "tensor");
  nn_tensor *m = NULL, *r = NULL, *z = NULL;
  nn_status s = nonzero_mask(ctx, t, &m);
  if (!s) s = all ? nn_prod(ctx, m, dim, keepdim, out) : nn_sum(ctx, m, dim, keepdim, &r);
  if (!s && !all && !(s = nn_new(ctx, t->dtype, 0, NULL, true, &z))) s = nn_compare(ctx, NN_GT, r, z, out);
  nn_tensor_release(m); nn_tensor_release(r); nn_tensor_release(z);
  return s;
}
nn_status nn_all(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  return all_any(ctx, "all", t, dim, keepdim, true, out);
}
nn_status nn_any(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out) {
  return all_any(ctx, "any", t, dim, keepdim, false, out);
}
nn_status nn_count_nonzero(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) {
  NN_ARG(ctx, "count_nonzero", out);
  *out = NULL;
  NN_ARG_AS(ctx, "count_nonzero", t, "tensor");
  nn_tensor *m = NULL, *i = NULL;
  nn_status s = nonzero_mask(ctx, t, &m);
  if (!s && !(s = nn_to(ctx, m, NN_I64, &i))) s = nn_sum(ctx, i, dim, false, out);
  nn_tensor_release(m); nn_tensor_release(i);
  return s;
}

/* norm: (Σ |x|^p)^(1/p); p = 2 as sqrt(Σ x²), 1 as Σ |x|, inf / -inf as max / min |x|, 0 as the
   count of nonzeros (no gradient) */
nn_status nn_norm(nn_ctx *ctx, nn_tensor *t, double p, int dim, bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "norm", out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, "norm", t);
  if (s) return s;
  if (p != p) return nn_fail(ctx, NN_ERR_ARG, "norm: p is NaN");
  nn_tensor *a = NULL, *q = NULL, *r = NULL;
  if (p == 2) {
    if (!(s = nn_mul(ctx, t, t, &q)) && !(s = nn_sum(ctx, q, dim, keepdim, &r))) s = nn_sqrt(ctx, r, out);
  } else if (p == 0) {
    if (!(s = nonzero_mask(ctx, t, &q))) s = nn_sum(ctx, q, dim, keepdim, out);
  } else if (!(s = nn_abs(ctx, t, &a))) {
    if (isinf(p)) {
      if (t->numel == 0 && p > 0) s = nn_sum(ctx, a, dim, keepdim, out);   /* max of nothing: 0 */
      else s = (p > 0 ? nn_max : nn_min)(ctx, a, dim, keepdim, out, NULL);
    } else if (p == 1) s = nn_sum(ctx, a, dim, keepdim, out);
    else if (!(s = nn_pows(ctx, a, p, &q)) && !(s = nn_sum(ctx, q, dim, keepdim, &r))) s = nn_pows(ctx, r, 1 / p, out);
  }
  nn_tensor_release(a); nn_tensor_release(q); nn_tensor_release(r);
  return s;
}

/* aminmax: min and max together (each with its gradient) */
nn_status nn_aminmax(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **min, nn_tensor **max) {
  NN_ARG(ctx, "aminmax", min);
  *min = NULL;
  NN_ARG(ctx, "aminmax", max);
  *max = NULL;
  NN_ARG_AS(ctx, "aminmax", t, "tensor");
  nn_tensor *lo = NULL;
  nn_status s = nn_min(ctx, t, dim, keepdim, &lo, NULL);
  if (!s && !(s = nn_max(ctx, t, dim, keepdim, max, NULL))) { *min = lo; lo = NULL; }
  nn_tensor_release(lo);
  return s;
}
