/* ops_nn.c — softmax, log-softmax, dropout and the losses. Cross-entropy is one fused op
   (log-sum-exp, NLL and the reduction together), as is BCE with logits. */
#include <math.h>
#include "nn_impl.h"

/* Splits a contiguous tensor around dim: outer × D × inner. */
static void split_dim(const nn_tensor *t, int dim, int64_t *outer, int64_t *D, int64_t *inner) {
  *outer = 1; *inner = 1; *D = t->ndim ? t->shape[dim] : 1;
  for (int i = 0; i < dim; i++) *outer *= t->shape[i];
  for (int i = dim + 1; i < t->ndim; i++) *inner *= t->shape[i];
}

typedef struct { int dim; } softmax_args;   /* softmax's and log_softmax's payload */

/* ---- softmax / log_softmax over dim --------------------------------------------------------
   y = exp(x - lse(x));  softmax:     dx = y (dy - Σ dy y)
   y = x - lse(x);       log_softmax: dx = dy - exp(y) Σ dy */
static void softmax_kernel(const nn_tensor *x, nn_tensor *y, int dim, bool logf_) {
  int64_t outer, D, inner;
  if (x->numel == 0) return;   /* an empty [2^40, 0] still has 2^40 rows to walk */
  split_dim(x, dim, &outer, &D, &inner);
  nn_dtype dt = x->dtype;
  const char *xp = nn_ptr(x);
  char *yp = nn_ptr(y);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * D * inner + i;
      double m = -INFINITY, s = 0;
      for (int64_t d = 0; d < D; d++) { double v = nn_load_f(xp, dt, base + d * inner); if (v > m) m = v; }
      if (m == -INFINITY) m = 0;
      for (int64_t d = 0; d < D; d++) s += exp(nn_load_f(xp, dt, base + d * inner) - m);
      double lse = m + log(s);
      for (int64_t d = 0; d < D; d++) {
        double v = nn_load_f(xp, dt, base + d * inner) - lse;
        nn_store_f(yp, dt, base + d * inner, logf_ ? v : exp(v));
      }
    }
}

static nn_status softmax_bw(nn_ctx *ctx, nn_node *n, bool logf_) {
  nn_tensor *y = n->saved, *g = n->gout, *dx;
  nn_status s = nn_new_like(ctx, y, false, &dx);
  if (s) return s;
  int64_t outer, D, inner;
  split_dim(y, ((const softmax_args *)n->args)->dim, &outer, &D, &inner);
  if (y->numel == 0) outer = 0;   /* no rows to walk in an empty tensor, however many */
  nn_dtype dt = y->dtype;
  const char *yp = nn_ptr(y), *gp = nn_ptr(g);
  char *dp = nn_ptr(dx);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * D * inner + i;
      double acc = 0;
      for (int64_t d = 0; d < D; d++) {
        int64_t k = base + d * inner;
        acc += logf_ ? nn_load_f(gp, dt, k) : nn_load_f(gp, dt, k) * nn_load_f(yp, dt, k);
      }
      for (int64_t d = 0; d < D; d++) {
        int64_t k = base + d * inner;
        double yv = nn_load_f(yp, dt, k), gv = nn_load_f(gp, dt, k);
        nn_store_f(dp, dt, k, logf_ ? gv - exp(yv) * acc : yv * (gv - acc));
      }
    }
  s = nn_grad_accum(ctx, n, 0, dx);
  nn_tensor_release(dx);
  return s;
}
static nn_status softmax_backward(nn_ctx *ctx, nn_node *n) { return softmax_bw(ctx, n, false); }
static nn_status log_softmax_backward(nn_ctx *ctx, nn_node *n) { return softmax_bw(ctx, n, true); }
const nn_op nn_op_softmax = {.name = "softmax", .backward = softmax_backward,
                             .saves_output = true, .args_size = sizeof(softmax_args)};
const nn_op nn_op_log_softmax = {.name = "log_softmax", .backward = log_softmax_backward,
                                 .saves_output = true, .args_size = sizeof(softmax_args)};

static nn_status softmax_any(nn_ctx *ctx, const nn_op *op, nn_tensor *t, int dim, nn_tensor **out) {
  NN_ARG(ctx, op->name, out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, op->name, t);
  if (s || (s = nn_check_dim(ctx, op->name, &dim, t->ndim))) return s;
  /* kernels index as if contiguous; the grad (and the saved output) are contiguous too */
  nn_tensor *x = NULL, *y = NULL;
  if ((s = nn_new_like(ctx, t, false, &y))) return s;
  if (nn_is_contig(t)) { x = t; nn_tensor_retain(t); }
  else if (!(s = nn_new_like(ctx, t, false, &x))) nn_copy_raw(x, t);
  if (s) { nn_tensor_release(y); return s; }
  softmax_kernel(x, y, dim, op == &nn_op_log_softmax);
  nn_tensor_release(x);
  *out = y;
  softmax_args args = {.dim = dim};
  return nn_record(ctx, op, out, 1, &t, NULL, &args);
}
nn_status nn_softmax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) {
  return softmax_any(ctx, &nn_op_softmax, t, dim, out);
}
nn_status nn_log_softmax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out) {
  return softmax_any(ctx, &nn_op_log_softmax, t, dim, out);
}

/* ---- dropout: y = x m / (1 - p), m ~ Bernoulli(1 - p);  dx = dy m / (1 - p) ------------------ */
static nn_status dropout_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t;
  nn_status s = nn_mul(ctx, n->gout, n->saved, &t);
  if (s) return s;
  s = nn_grad_accum(ctx, n, 0, t);
  nn_tensor_release(t);
  return s;
}
const nn_op nn_op_dropout = {.name = "dropout", .backward = dropout_backward, .saves = 0};

nn_status nn_dropout(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double p, bool train, nn_tensor **out) {
  NN_ARG(ctx, "dropout", out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, "dropout", t);
  if (s) return s;
  if (!(p >= 0 && p <= 1))
    return nn_fail(ctx, NN_ERR_ARG, "dropout: probability has to be between 0 and 1, got %g", p);
  if (!train || p == 0) { nn_tensor_retain(t); *out = t; return NN_OK; }
  if (!r) r = &ctx->rng;
  nn_tensor *mask, *y;
  if ((s = nn_new_like(ctx, t, false, &mask))) return s;
  double scale = p == 1 ? 0 : 1 / (1 - p);
  char *mp = nn_ptr(mask);
  for (int64_t i = 0; i < mask->numel; i++)
    nn_store_f(mp, t->dtype, i, nn_rng_uniform(r) >= p ? scale : 0.0);
  bool was = ctx->grad_enabled;
  ctx->grad_enabled = false;
  s = nn_mul(ctx, t, mask, &y);
  ctx->grad_enabled = was;
  if (s) { nn_tensor_release(mask); return s; }
  *out = y;
  s = nn_record(ctx, &nn_op_dropout, out, 1, &t, mask, NULL);
  nn_tensor_release(mask);
  return s;
}

/* ---- reductions of element-wise losses ------------------------------------------------------- */

static nn_status check_reduction(nn_ctx *ctx, const char *op, nn_reduction red) {
  if (red != NN_REDUCE_MEAN && red != NN_REDUCE_SUM && red != NN_REDUCE_NONE)
    return nn_fail(ctx, NN_ERR_ARG, "%s: reduction must be mean, sum or none (got %d)", op, (int)red);
  return NN_OK;
}

static nn_status reduce_loss(nn_ctx *ctx, nn_tensor *l, nn_reduction red, nn_tensor **out) {
  if (red == NN_REDUCE_NONE) { *out = l; return NN_OK; }
  nn_status s = red == NN_REDUCE_MEAN ? nn_mean(ctx, l, NN_ALL, false, out)
                                      : nn_sum(ctx, l, NN_ALL, false, out);
  nn_tensor_release(l);
  return s;
}

static nn_status same_shape(nn_ctx *ctx, const char *op, const nn_tensor *a, const nn_tensor *b) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, op, a && b, "tensor");
  if (!nn_same_shape(a, b))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input shape %s and target shape %s differ", op,
                   nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  return NN_OK;
}

/* mse: mean((a - b)²) — composed of recorded ops */
nn_status nn_mse_loss(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_reduction red, nn_tensor **out) {
  NN_ARG(ctx, "mse_loss", out);
  *out = NULL;
  nn_status s = same_shape(ctx, "mse_loss", a, b);
  if (s || (s = check_reduction(ctx, "mse_loss", red)) || (s = nn_need_float(ctx, "mse_loss", a))) return s;
  nn_tensor *d, *sq;
  if ((s = nn_sub(ctx, a, b, &d))) return s;
  s = nn_mul(ctx, d, d, &sq);
  nn_tensor_release(d);
  return s ? s : reduce_loss(ctx, sq, red, out);
}

/* l1: mean(|a - b|) */
nn_status nn_l1_loss(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_reduction red, nn_tensor **out) {
  NN_ARG(ctx, "l1_loss", out);
  *out = NULL;
  nn_status s = same_shape(ctx, "l1_loss", a, b);
  if (s || (s = check_reduction(ctx, "l1_loss", red)) || (s = nn_need_float(ctx, "l1_loss", a))) return s;
  nn_tensor *d, *ab;
  if ((s = nn_sub(ctx, a, b, &d))) return s;
  s = nn_abs(ctx, d, &ab);
  nn_tensor_release(d);
  return s ? s : reduce_loss(ctx, ab, red, out);
}

/* ---- binary cross-entropy on probabilities (logs clamped at -100, as PyTorch) ----------------
   l = -(t log p + (1 - t) log(1 - p));  dp = dy (p - t) / max(p (1 - p), 1e-12);
   dt = dy (log(1 - p) - log p) */
static nn_status bce_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *p = n->in[0], *t = n->in[1], *g = n->gout, *dp = NULL, *dt = NULL;
  nn_dtype d = p->dtype;
  nn_status s;
  if ((s = nn_new_like(ctx, p, false, &dp)) || (s = nn_new_like(ctx, p, false, &dt))) goto done;
  for (int64_t i = 0; i < p->numel; i++) {
    double pv = nn_get_flat(p, i), tv = nn_get_flat(t, i), gv = nn_load_f(nn_ptr(g), d, i);
    double den = pv * (1 - pv);
    nn_store_f(nn_ptr(dp), d, i, gv * (pv - tv) / (den > 1e-12 ? den : 1e-12));
    double lp = pv > 0 ? log(pv) : -100, l1p = pv < 1 ? log1p(-pv) : -100;
    if (lp < -100) lp = -100;
    if (l1p < -100) l1p = -100;
    nn_store_f(nn_ptr(dt), d, i, gv * (l1p - lp));
  }
  if (!(s = nn_grad_accum(ctx, n, 0, dp))) s = nn_grad_accum(ctx, n, 1, dt);
done:
  nn_tensor_release(dp); nn_tensor_release(dt);
  return s;
}
const nn_op nn_op_binary_cross_entropy = {.name = "binary_cross_entropy", .backward = bce_backward, .saves = 3};

nn_status nn_binary_cross_entropy(nn_ctx *ctx, nn_tensor *p, nn_tensor *t, nn_reduction red,
                                  nn_tensor **out) {
  const char *op = "binary_cross_entropy";
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = same_shape(ctx, op, p, t);
  if (s || (s = check_reduction(ctx, op, red)) || (s = nn_need_float(ctx, op, p)) || (s = nn_need_float(ctx, op, t)))
    return s;
  nn_tensor *l;
  if ((s = nn_new_like(ctx, p, false, &l))) return s;
  for (int64_t i = 0; i < p->numel; i++) {
    double pv = nn_get_flat(p, i), tv = nn_get_flat(t, i);
    if (!(pv >= 0 && pv <= 1)) {
      nn_tensor_release(l);
      return nn_fail(ctx, NN_ERR_ARG, "%s: input values must be between 0 and 1, got %g at element %lld",
                     op, pv, (long long)i);
    }
    double lp = pv > 0 ? log(pv) : -100, l1p = pv < 1 ? log1p(-pv) : -100;
    if (lp < -100) lp = -100;
    if (l1p < -100) l1p = -100;
    nn_store_f(nn_ptr(l), p->dtype, i, -(tv * lp + (1 - tv) * l1p));
  }
  nn_tensor *in[2] = {p, t};
  if ((s = nn_record(ctx, &nn_op_binary_cross_entropy, &l, 2, in, NULL, NULL))) return s;
  return reduce_loss(ctx, l, red, out);
}

/* ---- BCE with logits, stable form ------------------------------------------------------------
   l = max(z, 0) - z t + log(1 + exp(-|z|));  dz = dy (σ(z) - t);  dt = -dy z */
static nn_status bcel_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *z = n->in[0], *t = n->in[1], *g = n->gout, *dz = NULL, *dt = NULL;
  nn_dtype d = z->dtype;
  nn_status s;
  if ((s = nn_new_like(ctx, z, false, &dz)) || (s = nn_new_like(ctx, z, false, &dt))) goto done;
  for (int64_t i = 0; i < z->numel; i++) {
    double zv = nn_get_flat(z, i), tv = nn_get_flat(t, i), gv = nn_load_f(nn_ptr(g), d, i);
    double sg = zv >= 0 ? 1 / (1 + exp(-zv)) : exp(zv) / (1 + exp(zv));
    nn_store_f(nn_ptr(dz), d, i, gv * (sg - tv));
    nn_store_f(nn_ptr(dt), d, i, -gv * zv);
  }
  if (!(s = nn_grad_accum(ctx, n, 0, dz))) s = nn_grad_accum(ctx, n, 1, dt);
done:
  nn_tensor_release(dz); nn_tensor_release(dt);
  return s;
}
const nn_op nn_op_bce_with_logits = {.name = "bce_with_logits", .backward = bcel_backward, .saves = 3};

nn_status nn_bce_with_logits(nn_ctx *ctx, nn_tensor *z, nn_tensor *t, nn_reduction red, nn_tensor **out) {
  const char *op = "binary_cross_entropy_with_logits";
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = same_shape(ctx, op, z, t);
  if (s || (s = check_reduction(ctx, op, red)) || (s = nn_need_float(ctx, op, z)) || (s = nn_need_float(ctx, op, t)))
    return s;
  nn_tensor *l;
  if ((s = nn_new_like(ctx, z, false, &l))) return s;
  for (int64_t i = 0; i < z->numel; i++) {
    double zv = nn_get_flat(z, i), tv = nn_get_flat(t, i);
    nn_store_f(nn_ptr(l), z->dtype, i, (zv > 0 ? zv : 0) - zv * tv + log1p(exp(-fabs(zv))));
  }
  nn_tensor *in[2] = {z, t};
  if ((s = nn_record(ctx, &nn_op_bce_with_logits, &l, 2, in, NULL, NULL))) return s;
  return reduce_loss(ctx, l, red, out);
}

/* ---- class targets ----------------------------------------------------------------------------- */

/* Logits [N,C] (or [C] with a 0-d target) and a target of N class ids or [N,C] probabilities. */
static nn_status check_class_target(nn_ctx *ctx, const char *op, const nn_tensor *x,
                                    const nn_tensor *t, bool allow_probs) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s = nn_need_float(ctx, op, x);
  if (s) return s;
  NN_ARG_AS(ctx, op, t, "target");
  if (x->ndim != 2 && x->ndim != 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must be [N, C] or [C], got %s", op,
                   nn_shape_fmt(x->ndim, x->shape, b1));
  int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1];
  if (t->dtype == NN_I64) {
    if (t->numel != N || t->ndim != x->ndim - 1)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: target shape %s does not match input shape %s (expected %lld class ids)",
                     op, nn_shape_fmt(t->ndim, t->shape, b1), nn_shape_fmt(x->ndim, x->shape, b2), (long long)N);
    for (int64_t i = 0; i < N; i++) {
      int64_t c = (int64_t)nn_get_flat(t, i);
      if (c < 0 || c >= C)
        return nn_fail(ctx, NN_ERR_ARG, "%s: target %lld is out of bounds for %lld classes", op,
                       (long long)c, (long long)C);
    }
    return NN_OK;
  }
  if (!allow_probs)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: target must be int64 class ids, got %s", op, nn_dtype_name(t->dtype));
  if (!nn_same_shape(t, x))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: probability target shape %s differs from input shape %s", op,
                   nn_shape_fmt(t->ndim, t->shape, b1), nn_shape_fmt(x->ndim, x->shape, b2));
  return NN_OK;
}

/* The class losses' payload: the reduction and the rows it averages over */
typedef struct { nn_reduction red; int64_t rows; } loss_args;

/* The weight of row i's loss in the result: 1/N for mean, 1 for sum, and for none dy[i]. */
static double row_weight(const nn_node *n, int64_t i) {
  const loss_args *a = n->args;
  nn_reduction red = a->red;
  if (red == NN_REDUCE_NONE) return nn_get_flat(n->gout, i);
  double g = nn_get_flat(n->gout, 0);
  return red == NN_REDUCE_MEAN ? g / (double)a->rows : g;
}

static nn_status make_loss_out(nn_ctx *ctx, const nn_tensor *x, nn_reduction red, nn_tensor **l) {
  int64_t N = x->ndim == 2 ? x->shape[0] : 1;
  return red == NN_REDUCE_NONE ? nn_new(ctx, x->dtype, x->ndim - 1, &N, false, l)
                               : nn_new(ctx, x->dtype, 0, &N, false, l);
}

static void store_loss(nn_tensor *l, nn_reduction red, int64_t i, double v, double *total) {
  if (red == NN_REDUCE_NONE) nn_store_f(nn_ptr(l), l->dtype, i, v);
  else *total += v;
}

/* ---- cross-entropy, fused: p = softmax(x);  l_i = lse(x_i) - x_i[t_i]  (or -Σ_c q_c log p_c)
   dx_i = w_i (p_i Σ_c q_c - q_i) with q the one-hot or probability target;
   dq_i = -w_i log p_i (probability targets only). p is saved for backward. */
typedef struct { const float *p; const int64_t *t; float *dx; int64_t C; float w; } ce_bw_job;
static void ce_bw_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const ce_bw_job *j = arg;
  (void)part;
  for (int64_t i = lo; i < hi; i++) {
    const float *pr = j->p + i * j->C;
    float *dr = j->dx + i * j->C;
    for (int64_t k = 0; k < j->C; k++) dr[k] = j->w * pr[k];
    dr[j->t[i]] -= j->w;
  }
}

static nn_status ce_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *t = n->in[1], *p = n->saved, *dx = NULL, *dq = NULL;
  int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1];
  nn_dtype d = x->dtype;
  nn_status s;
  if ((s = nn_new(ctx, d, x->ndim, x->shape, false, &dx))) return s;
  const char *pp = nn_ptr(p);
  char *dp = nn_ptr(dx);
  bool ids = t->dtype == NN_I64;
  bool hot = ids && d == NN_F32 && nn_is_contig(t) && ((const loss_args *)n->args)->red != NN_REDUCE_NONE;
  if (hot) {
    /* the training hot path: one weight for every row, rows in lanes as in the forward */
    ce_bw_job j = {(const float *)pp, (const int64_t *)nn_ptr(t), (float *)dp, C, (float)row_weight(n, 0)};
    nn_lanes(ctx, N, N * C * 2, ce_bw_rows, &j);
  } else for (int64_t i = 0; i < N; i++) {
    double w = row_weight(n, i);
    if (ids) {
      int64_t c = (int64_t)nn_get_flat(t, i);
      if (d == NN_F32) {
        const float *pr = (const float *)pp + i * C;
        float *dr = (float *)dp + i * C, wf = (float)w;
        for (int64_t j = 0; j < C; j++) dr[j] = wf * pr[j];
        dr[c] -= wf;
      } else {
        const double *pr = (const double *)pp + i * C;
        double *dr = (double *)dp + i * C;
        for (int64_t j = 0; j < C; j++) dr[j] = w * pr[j];
        dr[c] -= w;
      }
    } else {
      double qs = 0;
      for (int64_t j = 0; j < C; j++) qs += nn_get_flat(t, i * C + j);
      for (int64_t j = 0; j < C; j++) {
        int64_t k = i * C + j;
        nn_store_f(dp, d, k, w * (nn_load_f(pp, d, k) * qs - nn_get_flat(t, k)));
      }
    }
  }
  s = nn_grad_accum(ctx, n, 0, dx);
  if (!s && !ids && nn_input_needs_grad(n, 1) && !(s = nn_new_like(ctx, t, false, &dq))) {
    for (int64_t i = 0; i < N; i++) {
      double w = row_weight(n, i);
      for (int64_t j = 0; j < C; j++) {
        double pv = nn_load_f(pp, d, i * C + j);
        nn_store_f(nn_ptr(dq), t->dtype, i * C + j, -w * log(pv > 0 ? pv : 1e-300));
      }
    }
    s = nn_grad_accum(ctx, n, 1, dq);
  }
  nn_tensor_release(dx); nn_tensor_release(dq);
  return s;
}
const nn_op nn_op_cross_entropy = {.name = "cross_entropy", .backward = ce_backward, .saves = 2,
                                   .args_size = sizeof(loss_args)};

typedef struct {
  const float *x;
  const int64_t *t;
  float *p;
  int64_t C;
  nn_tensor *l;
  nn_reduction red;
  double total[NN_LANES_MAX];  /* each lane's sum of its rows' losses */
} ce_job;

static void ce_rows(void *arg, int part, int64_t lo, int64_t hi) {
  ce_job *j = arg;
  enum { ROWS = 64 };
  int64_t C = j->C;
  double total = 0;
  for (int64_t i0 = lo; i0 < hi; i0 += ROWS) {
    int64_t rows = hi - i0 < ROWS ? hi - i0 : ROWS;
    float shifted_t[ROWS];                      /* x[t_i] - max_i */
    const float *xb = j->x + i0 * C;
    float *pb = j->p + i0 * C;
    for (int64_t i = 0; i < rows; i++) {
      const float *xi = xb + i * C;
      float m = xi[0];
      for (int64_t k = 1; k < C; k++) m = xi[k] > m ? xi[k] : m;
      for (int64_t k = 0; k < C; k++) pb[i * C + k] = xi[k] - m;
      shifted_t[i] = pb[i * C + j->t[i0 + i]];
    }
    for (int64_t k = 0; k < rows * C; k++) pb[k] = nn_expf(pb[k]);
    for (int64_t i = 0; i < rows; i++) {
      float *p1 = pb + i * C, sum = 0;
      for (int64_t k = 0; k < C; k++) sum += p1[k];
      float inv = 1.0f / sum;
      for (int64_t k = 0; k < C; k++) p1[k] *= inv;
      store_loss(j->l, j->red, i0 + i, (double)logf(sum) - (double)shifted_t[i], &total);
    }
  }
  j->total[part] = total;
}

nn_status nn_cross_entropy(nn_ctx *ctx, nn_tensor *x, nn_tensor *t, nn_reduction red, nn_tensor **out) {
  NN_ARG(ctx, "cross_entropy", out);
  *out = NULL;
  nn_status s = check_class_target(ctx, "cross_entropy", x, t, true);
  if (s || (s = check_reduction(ctx, "cross_entropy", red))) return s;
  int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1];
  nn_tensor *xc = NULL, *p = NULL, *l = NULL;
  if ((s = nn_contiguous(ctx, x, &xc)) || (s = nn_new_like(ctx, x, false, &p)) ||
      (s = make_loss_out(ctx, x, red, &l)))
    goto done;
  double total = 0;
  nn_dtype d = x->dtype;
  char *pp = nn_ptr(p);
  bool probs_ready = false;
  if (d == NN_F32 && t->dtype == NN_I64 && nn_is_contig(t)) {
    /* the training hot path: p and the loss together, rows split into lanes (each core the
       rows its part of the last product made) and, in each, blocks of rows so that the
       exponentials run as one vectorized loop over the block (rows are often 10 wide) */
    ce_job j = {(const float *)nn_ptr(xc), (const int64_t *)nn_ptr(t), (float *)pp, C, l, red, {0}};
    nn_lanes(ctx, N, N * C * 8, ce_rows, &j);
    for (int q = 0; q < NN_LANES_MAX; q++) total += j.total[q];    /* in lane order */
    probs_ready = true;
  } else {
    softmax_kernel(xc, p, x->ndim - 1, true);       /* p holds log-probabilities for now */
    for (int64_t i = 0; i < N; i++) {
      double li = 0;
      if (t->dtype == NN_I64) li = -nn_load_f(pp, d, i * C + (int64_t)nn_get_flat(t, i));
      else for (int64_t j = 0; j < C; j++) li -= nn_get_flat(t, i * C + j) * nn_load_f(pp, d, i * C + j);
      store_loss(l, red, i, li, &total);
    }
  }
  if (red != NN_REDUCE_NONE) nn_store_f(nn_ptr(l), d, 0, red == NN_REDUCE_MEAN ? (N ? total / (double)N : NAN) : total);
  nn_tensor *in[2] = {x, t};
  if (!probs_ready && nn_needs_grad(ctx, 2, in)) {   /* backward reads probabilities */
    if (d == NN_F32) { float *q = (float *)pp; for (int64_t i = 0; i < N * C; i++) q[i] = expf(q[i]); }
    else { double *q = (double *)pp; for (int64_t i = 0; i < N * C; i++) q[i] = exp(q[i]); }
  }
  *out = l;
  l = NULL;
  loss_args args = {.red = red, .rows = N};
  s = nn_record(ctx, &nn_op_cross_entropy, out, 2, in, p, &args);
done:
  nn_tensor_release(xc); nn_tensor_release(p); nn_tensor_release(l);
  return s;
}

/* ---- nll: l_i = -x_i[t_i];  dx_i[t_i] = -w_i ------------------------------------------------- */
static nn_status nll_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *x = n->in[0], *t = n->in[1], *dx;
  int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1];
  nn_status s = nn_new(ctx, x->dtype, x->ndim, x->shape, true, &dx);
  if (s) return s;
  for (int64_t i = 0; i < N; i++)
    nn_store_f(nn_ptr(dx), x->dtype, i * C + (int64_t)nn_get_flat(t, i), -row_weight(n, i));
  s = nn_grad_accum(ctx, n, 0, dx);
  nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_nll_loss = {.name = "nll_loss", .backward = nll_backward, .saves = 2,
                              .args_size = sizeof(loss_args)};

nn_status nn_nll_loss(nn_ctx *ctx, nn_tensor *x, nn_tensor *t, nn_reduction red, nn_tensor **out) {
  NN_ARG(ctx, "nll_loss", out);
  *out = NULL;
  nn_status s = check_class_target(ctx, "nll_loss", x, t, false);
  if (s || (s = check_reduction(ctx, "nll_loss", red))) return s;
  int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1];
  nn_tensor *l;
  if ((s = make_loss_out(ctx, x, red, &l))) return s;
  double total = 0;
  for (int64_t i = 0; i < N; i++)
    store_loss(l, red, i, -nn_get_flat(x, i * C + (int64_t)nn_get_flat(t, i)), &total);
  if (red != NN_REDUCE_NONE) nn_store_f(nn_ptr(l), x->dtype, 0, red == NN_REDUCE_MEAN ? (N ? total / (double)N : NAN) : total);
  nn_tensor *in[2] = {x, t};
  loss_args args = {.red = red, .rows = N};
  *out = l;
  return nn_record(ctx, &nn_op_nll_loss, out, 2, in, NULL, &args);
}

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
const nn_op *const nn_ops_nn[] = {&nn_op_softmax, &nn_op_log_softmax, &nn_op_dropout, &nn_op_binary_cross_entropy, &nn_op_bce_with_logits, &nn_op_cross_entropy, &nn_op_nll_loss, NULL};
