/* ops_norm.c — batch, layer and group normalization, and channel dropout (Dropout2d).

   The three normalizations share one kernel. A "stat" s gathers O blocks of L contiguous
   elements at o·S·L + s·L: for batch norm s is a channel of [N, C, *] (O = N, L = the spatial
   size), for layer and group norm s is a row of L elements (O = 1). The kernel computes each
   stat's mean and variance in one pass (sums shifted by the stat's first element, in double,
   so a large common offset does not cancel the variance away), then y = (x - mean)·invstd and,
   for batch norm, whose weight and bias are per stat, its affine step in the same pass.
   Layer and group norm apply their affine as broadcasting mul/add (their weight varies inside
   a stat). The backward is one pass of sums per stat and one pass writing dx, as PyTorch's. */
#include <math.h>
#include "nn_impl.h"

typedef struct {
  int64_t S, O, L;
  double eps;
  bool batch_stats;   /* statistics of the data (training); else the running statistics */
} norm_args;

typedef struct {
  const norm_args *a;
  nn_dtype dt;
  const char *x, *gout;
  char *y, *dx;
  const nn_tensor *w, *b, *rm, *rv;   /* per-stat tensors (1-d, x's dtype), each may be NULL */
  double *stats;                      /* [S, 3]: mean, invstd, biased variance */
  double *dw, *db;                    /* backward: per-stat weight and bias gradients */
} norm_job;

static double at1(const nn_tensor *t, int64_t s, double def) {
  return t ? nn_load_f(nn_ptr(t), t->dtype, s * t->stride[0]) : def;
}

/* mean and biased variance of stat s, shifted sums in double */
static void stat_moments(const norm_job *j, int64_t s, double *mean, double *var) {
  const norm_args *a = j->a;
  double k = nn_load_f(j->x, j->dt, s * a->L), s1 = 0, s2 = 0;
  for (int64_t o = 0; o < a->O; o++) {
    int64_t base = (o * a->S + s) * a->L;
    for (int64_t i = 0; i < a->L; i++) {
      double d = nn_load_f(j->x, j->dt, base + i) - k;
      s1 += d;
      s2 += d * d;
    }
  }
  double n = (double)(a->O * a->L);
  *mean = k + s1 / n;
  *var = fmax((s2 - s1 * s1 / n) / n, 0.0);
}

static void norm_fwd_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const norm_job *j = arg;
  const norm_args *a = j->a;
  (void)part;
  for (int64_t s = lo; s < hi; s++) {
    double mean, var;
    if (a->batch_stats) stat_moments(j, s, &mean, &var);
    else { mean = at1(j->rm, s, 0); var = at1(j->rv, s, 1); }
    double inv = 1 / sqrt(var + a->eps);
    j->stats[3 * s] = mean; j->stats[3 * s + 1] = inv; j->stats[3 * s + 2] = var;
    double scale = at1(j->w, s, 1) * inv, shift = at1(j->b, s, 0) - mean * scale;
    for (int64_t o = 0; o < a->O; o++) {
      int64_t base = (o * a->S + s) * a->L;
      for (int64_t i = 0; i < a->L; i++)
        nn_store_f(j->y, j->dt, base + i, nn_load_f(j->x, j->dt, base + i) * scale + shift);
    }
  }
}

/* xhat = (x - mean)·invstd, dy' = dy·w:  dw = Σ dy xhat, db = Σ dy,
   dx = invstd·w·(dy - Σdy/n - xhat·Σ(dy xhat)/n) with batch statistics, invstd·w·dy without */
static void norm_bwd_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const norm_job *j = arg;
  const norm_args *a = j->a;
  (void)part;
  double n = (double)(a->O * a->L);
  for (int64_t s = lo; s < hi; s++) {
    double mean = j->stats[3 * s], inv = j->stats[3 * s + 1], sg = 0, sgx = 0;
    for (int64_t o = 0; o < a->O; o++) {
      int64_t base = (o * a->S + s) * a->L;
      for (int64_t i = 0; i < a->L; i++) {
        double g = nn_load_f(j->gout, j->dt, base + i);
        sg += g;
        sgx += g * (nn_load_f(j->x, j->dt, base + i) - mean);
      }
    }
    sgx *= inv;
    j->dw[s] = sgx; j->db[s] = sg;
    if (!j->dx) continue;
    double wi = at1(j->w, s, 1) * inv;
    double mg = a->batch_stats ? sg / n : 0, mgx = a->batch_stats ? sgx / n : 0;
    for (int64_t o = 0; o < a->O; o++) {
      int64_t base = (o * a->S + s) * a->L;
      for (int64_t i = 0; i < a->L; i++) {
        double xh = (nn_load_f(j->x, j->dt, base + i) - mean) * inv;
        nn_store_f(j->dx, j->dt, base + i, wi * (nn_load_f(j->gout, j->dt, base + i) - mg - xh * mgx));
      }
    }
  }
}

/* A [S] tensor of x's dtype holding v[0..S) */
static nn_status stat_tensor(nn_ctx *ctx, const nn_tensor *like, int64_t S, const double *v,
                             nn_tensor **out) {
  nn_status s = nn_new(ctx, like->dtype, 1, &S, false, out);
  if (s) return s;
  for (int64_t i = 0; i < S; i++) nn_store_f(nn_ptr(*out), like->dtype, i, v[i]);
  return NN_OK;
}

/* inputs: x, weight, bias (weight and bias only for batch norm; absent ones NULL) */
static nn_status norm_backward(nn_ctx *ctx, nn_node *n) {
  const norm_args *a = n->args;
  nn_tensor *x = NULL, *g = NULL, *dx = NULL, *tw = NULL, *tb = NULL;
  double *dwb = NULL;
  size_t bytes = 2 * (size_t)a->S * sizeof(double);
  nn_status s = nn_contig(ctx, n->in[0], &x);
  if (s || (s = nn_contig(ctx, n->gout, &g))) goto done;
  if (nn_input_needs_grad(n, 0) && (s = nn_new_like(ctx, x, false, &dx))) goto done;
  if (!(dwb = nn_block_get(ctx, bytes))) { s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", n->op->name); goto done; }
  norm_job j = {.a = a, .dt = x->dtype, .x = nn_ptr(x), .gout = nn_ptr(g), .dx = dx ? nn_ptr(dx) : NULL,
                .w = n->nin > 1 ? n->in[1] : NULL, .stats = nn_tensor_data(n->saved),
                .dw = dwb, .db = dwb + a->S};
  nn_lanes(ctx, a->S, x->numel, norm_bwd_lane, &j);
  if (dx && (s = nn_grad_accum(ctx, n, 0, dx))) goto done;
  if (n->nin > 1 && nn_input_needs_grad(n, 1) &&
      ((s = stat_tensor(ctx, x, a->S, j.dw, &tw)) || (s = nn_grad_accum(ctx, n, 1, tw)))) goto done;
  if (n->nin > 2 && nn_input_needs_grad(n, 2) &&
      ((s = stat_tensor(ctx, x, a->S, j.db, &tb)) || (s = nn_grad_accum(ctx, n, 2, tb)))) goto done;
done:
  if (dwb) nn_block_put(ctx, dwb, bytes);
  nn_tensor_release(x); nn_tensor_release(g); nn_tensor_release(dx);
  nn_tensor_release(tw); nn_tensor_release(tb);
  return s;
}
const nn_op nn_op_batch_norm = {.name = "batch_norm", .backward = norm_backward, .saves = 1,
                                .args_size = sizeof(norm_args)};
const nn_op nn_op_layer_norm = {.name = "layer_norm", .backward = norm_backward, .saves = 1,
                                .args_size = sizeof(norm_args)};
const nn_op nn_op_group_norm = {.name = "group_norm", .backward = norm_backward, .saves = 1,
                                .args_size = sizeof(norm_args)};

/* Runs the kernel on x (any layout) and records op; *stats_out (if given) gets the [S, 3]
   statistics, retained. */
static nn_status normalize(nn_ctx *ctx, const nn_op *op, nn_tensor *t, const norm_args *a,
                           nn_tensor *w, nn_tensor *b, nn_tensor *rm, nn_tensor *rv,
                           nn_tensor **out, nn_tensor **stats_out) {
  nn_tensor *x = NULL, *y = NULL, *st = NULL;
  int64_t sh[2] = {a->S, 3};
  nn_status s = nn_contig(ctx, t, &x);
  if (s || (s = nn_new_like(ctx, x, false, &y)) || (s = nn_new(ctx, NN_F64, 2, sh, true, &st))) goto fail;
  norm_job j = {.a = a, .dt = x->dtype, .x = nn_ptr(x), .y = nn_ptr(y), .w = w, .b = b,
                .rm = rm, .rv = rv, .stats = nn_tensor_data(st)};
  if (x->numel) nn_lanes(ctx, a->S, x->numel, norm_fwd_lane, &j);
  nn_tensor_release(x);
  x = NULL;
  nn_tensor *in[3] = {t, w, b};
  *out = y;
  if ((s = nn_record(ctx, op, out, op == &nn_op_batch_norm ? 3 : 1, in, st, a))) { y = NULL; goto fail; }
  if (stats_out) { *stats_out = st; return NN_OK; }
  nn_tensor_release(st);
  return NN_OK;
fail:
  *out = NULL;
  nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(st);
  return s;
}

/* A per-channel tensor's check: NULL allowed, else 1-d of length C and x's dtype */
static nn_status check_per_channel(nn_ctx *ctx, const char *op, const char *what,
                                   const nn_tensor *p, const nn_tensor *x, int64_t C) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (!p) return NN_OK;
  if (p->ndim != 1 || p->shape[0] != C)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: %s must have shape [%lld] for input shape %s, got %s", op,
                   what, (long long)C, nn_shape_fmt(x->ndim, x->shape, b1), nn_shape_fmt(p->ndim, p->shape, b2));
  if (p->dtype != x->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: %s is %s but the input is %s", op, what,
                   nn_dtype_name(p->dtype), nn_dtype_name(x->dtype));
  return NN_OK;
}

/* running = (1 - m)·running + m·v for each channel, outside autograd */
static void update_running(nn_tensor *r, double m, const double *stats, int col, double f) {
  char *p = nn_ptr(r);
  for (int64_t c = 0; c < r->shape[0]; c++) {
    int64_t k = c * r->stride[0];
    nn_store_f(p, r->dtype, k, (1 - m) * nn_load_f(p, r->dtype, k) + m * stats[3 * c + col] * f);
  }
  r->st->version++;
}

nn_status nn_batch_norm(nn_ctx *ctx, nn_tensor *x, nn_tensor *running_mean, nn_tensor *running_var,
                        nn_tensor *weight, nn_tensor *bias, bool training, double momentum,
                        double eps, nn_tensor **out) {
  const char *op = "batch_norm";
  char b1[NN_SHAPE_BUF];
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, op, x);
  if (s) return s;
  if (x->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must be [N, C] or [N, C, ...], got %s", op,
                   nn_shape_fmt(x->ndim, x->shape, b1));
  int64_t C = x->shape[1], L = 1;
  for (int i = 2; i < x->ndim; i++) L *= x->shape[i];   /* a factor of numel: cannot overflow */
  if ((s = check_per_channel(ctx, op, "running_mean", running_mean, x, C)) ||
      (s = check_per_channel(ctx, op, "running_var", running_var, x, C)) ||
      (s = check_per_channel(ctx, op, "weight", weight, x, C)) ||
      (s = check_per_channel(ctx, op, "bias", bias, x, C)))
    return s;
  if (!running_mean != !running_var)
    return nn_fail(ctx, NN_ERR_ARG, "%s: running_mean and running_var must be given together", op);
  if (!training && !running_mean)
    return nn_fail(ctx, NN_ERR_ARG, "%s: evaluation mode needs running_mean and running_var", op);
  if (!(eps > 0) || !isfinite(eps))
    return nn_fail(ctx, NN_ERR_ARG, "%s: eps must be a positive number, got %g", op, eps);
  if (!(momentum >= 0 && momentum <= 1))
    return nn_fail(ctx, NN_ERR_ARG, "%s: momentum must be between 0 and 1, got %g", op, momentum);
  int64_t count = x->shape[0] * L;
  if (training && count < 2 && x->numel)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected more than 1 value per channel when training, got input shape %s",
                   op, nn_shape_fmt(x->ndim, x->shape, b1));
  if (running_mean && (running_mean->st == x->st || running_var->st == x->st))
    return nn_fail(ctx, NN_ERR_ARG, "%s: the running statistics must not share the input's storage", op);
  norm_args a = {.S = C, .O = x->shape[0], .L = L, .eps = eps, .batch_stats = training};
  nn_tensor *st = NULL;
  if ((s = normalize(ctx, &nn_op_batch_norm, x, &a, weight, bias, running_mean, running_var, out, &st)))
    return s;
  if (training && running_mean && x->numel) {
    const double *v = nn_tensor_data(st);
    update_running(running_mean, momentum, v, 0, 1);
    update_running(running_var, momentum, v, 2, (double)count / (double)(count - 1));
  }
  nn_tensor_release(st);
  return NN_OK;
}

/* y·w + b with w, b broadcast as shape (NULL: skipped); consumes y */
static nn_status affine(nn_ctx *ctx, nn_tensor *y, nn_tensor *w, nn_tensor *b, int nd,
                        const int64_t *shape, nn_tensor **out) {
  nn_status s = NN_OK;
  nn_tensor *p[2] = {w, b};
  for (int k = 0; k < 2 && !s; k++) {
    if (!p[k]) continue;
    nn_tensor *v = NULL, *z = NULL;
    if (!(s = nn_view(ctx, p[k], nd, shape, &v)))
      s = k == 0 ? nn_mul(ctx, y, v, &z) : nn_add(ctx, y, v, &z);
    nn_tensor_release(v);
    nn_tensor_release(y);
    y = z;
  }
  *out = s ? NULL : y;
  if (s) nn_tensor_release(y);
  return s;
}

static nn_status check_eps(nn_ctx *ctx, const char *op, double eps) {
  if (!(eps > 0) || !isfinite(eps))
    return nn_fail(ctx, NN_ERR_ARG, "%s: eps must be a positive number, got %g", op, eps);
  return NN_OK;
}

/* w and b, when given, must have exactly shape (nd dims) and x's dtype */
static nn_status check_affine(nn_ctx *ctx, const char *op, const nn_tensor *x, const nn_tensor *w,
                              const nn_tensor *b, int nd, const int64_t *shape) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  const nn_tensor *p[2] = {w, b};
  for (int k = 0; k < 2; k++) {
    if (!p[k]) continue;
    bool ok = p[k]->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = p[k]->shape[i] == shape[i];
    if (!ok)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: %s must have shape %s, got %s", op, k ? "bias" : "weight",
                     nn_shape_fmt(nd, shape, b1), nn_shape_fmt(p[k]->ndim, p[k]->shape, b2));
    if (p[k]->dtype != x->dtype)
      return nn_fail(ctx, NN_ERR_DTYPE, "%s: %s is %s but the input is %s", op, k ? "bias" : "weight",
                     nn_dtype_name(p[k]->dtype), nn_dtype_name(x->dtype));
  }
  return NN_OK;
}

nn_status nn_layer_norm(nn_ctx *ctx, nn_tensor *x, int nd, const int64_t *normalized_shape,
                        nn_tensor *weight, nn_tensor *bias, double eps, nn_tensor **out) {
  const char *op = "layer_norm";
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG(ctx, op, out);
  *out = NULL;
  NN_ARG(ctx, op, normalized_shape);
  nn_status s = nn_need_float(ctx, op, x);
  if (s || (s = check_eps(ctx, op, eps))) return s;
  if (nd < 1 || nd > x->ndim)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: normalized_shape has %d dims, the input shape %s has %d",
                   op, nd, nn_shape_fmt(x->ndim, x->shape, b1), x->ndim);
  int64_t L = 1;
  for (int i = 0; i < nd; i++) {
    if (normalized_shape[i] != x->shape[x->ndim - nd + i])
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: normalized_shape %s does not match the last dims of input shape %s",
                     op, nn_shape_fmt(nd, normalized_shape, b2), nn_shape_fmt(x->ndim, x->shape, b1));
    L *= normalized_shape[i];
  }
  if ((s = check_affine(ctx, op, x, weight, bias, nd, normalized_shape))) return s;
  norm_args a = {.S = L ? x->numel / L : 0, .O = 1, .L = L, .eps = eps, .batch_stats = true};
  nn_tensor *y;
  if ((s = normalize(ctx, &nn_op_layer_norm, x, &a, NULL, NULL, NULL, NULL, &y, NULL))) return s;
  return affine(ctx, y, weight, bias, nd, normalized_shape, out);
}

nn_status nn_group_norm(nn_ctx *ctx, nn_tensor *x, int64_t groups, nn_tensor *weight, nn_tensor *bias,
                        double eps, nn_tensor **out) {
  const char *op = "group_norm";
  char b1[NN_SHAPE_BUF];
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, op, x);
  if (s || (s = check_eps(ctx, op, eps))) return s;
  if (x->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must be [N, C, ...], got %s", op, nn_shape_fmt(x->ndim, x->shape, b1));
  int64_t C = x->shape[1];
  if (groups < 1 || C % groups)
    return nn_fail(ctx, NN_ERR_ARG, "%s: %lld channels (input shape %s) cannot be split into %lld groups",
                   op, (long long)C, nn_shape_fmt(x->ndim, x->shape, b1), (long long)groups);
  if ((s = check_affine(ctx, op, x, weight, bias, 1, &C))) return s;
  int64_t S = x->numel ? x->shape[0] * groups : 0;   /* ≤ numel when there are elements */
  norm_args a = {.S = S, .O = 1, .L = S ? x->numel / S : 0, .eps = eps, .batch_stats = true};
  nn_tensor *y;
  if ((s = normalize(ctx, &nn_op_group_norm, x, &a, NULL, NULL, NULL, NULL, &y, NULL))) return s;
  int64_t shape[NN_MAX_DIMS];
  shape[0] = C;
  for (int i = 1; i < x->ndim - 1; i++) shape[i] = 1;
  return affine(ctx, y, weight, bias, x->ndim - 1, shape, out);
}

/* ---- dropout2d: whole channels of [N, C, *] zeroed with probability p, the rest scaled by
   1/(1 - p); a mask of shape [N, C, 1, …] times x, so the product's backward is the gradient */
nn_status nn_dropout2d(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double p, bool train, nn_tensor **out) {
  const char *op = "dropout2d";
  char b1[NN_SHAPE_BUF];
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = nn_need_float(ctx, op, t);
  if (s) return s;
  if (!(p >= 0 && p <= 1))
    return nn_fail(ctx, NN_ERR_ARG, "%s: probability has to be between 0 and 1, got %g", op, p);
  if (t->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must be [N, C, ...], got %s", op, nn_shape_fmt(t->ndim, t->shape, b1));
  if (!train || p == 0) { nn_tensor_retain(t); *out = t; return NN_OK; }
  if (!r) r = &ctx->rng;
  int64_t shape[NN_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) shape[i] = i < 2 ? t->shape[i] : 1;
  nn_tensor *mask;
  if ((s = nn_new(ctx, t->dtype, t->ndim, shape, false, &mask))) return s;
  double scale = p == 1 ? 0 : 1 / (1 - p);
  char *mp = nn_ptr(mask);
  for (int64_t i = 0; i < mask->numel; i++)
    nn_store_f(mp, t->dtype, i, nn_rng_uniform(r) >= p ? scale : 0.0);
  s = nn_mul(ctx, t, mask, out);
  nn_tensor_release(mask);
  return s;
}

const nn_op *const nn_ops_norm[] = {&nn_op_batch_norm, &nn_op_layer_norm, &nn_op_group_norm, NULL};
