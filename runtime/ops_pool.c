/* ops_pool.c — max pooling over the last two dims (max_pool2d) or the last one (max_pool1d).

   y = the max of each window (padding counts as -inf; a NaN in a window is its max, as in
   PyTorch). The forward writes each max's position in its plane beside it, and the backward
   adds dy at those positions: dx[argmax] += dy. Both run over the planes (N·C) in lanes, one
   pass each; the positions are the node's saved tensor and what return_indices gives. */
#include "nn_impl.h"

typedef struct { int64_t in, out, k, s, p, d; } pool_axis;
typedef struct { int64_t planes; pool_axis h, w; } pool_args;

typedef struct {
  const pool_args *a;
  nn_dtype dt;
  const char *x, *gy;
  char *y, *dx;
  int64_t *idx;
  bool zero_dx;
} pool_job;

/* k in [*lo, *hi) are the kernel taps of window o that fall inside [0, n) */
static void taps(const pool_axis *ax, int64_t o, int64_t *start, int64_t *lo, int64_t *hi) {
  *start = o * ax->s - ax->p;
  *lo = *start < 0 ? (-*start + ax->d - 1) / ax->d : 0;
  *hi = *start >= ax->in ? 0 : (ax->in - 1 - *start) / ax->d + 1;
  if (*hi > ax->k) *hi = ax->k;
}

#define POOL_PLANE(T)                                                                        \
  do {                                                                                       \
    const T *xp = (const T *)j->x + pl * H * W;                                              \
    T *yp = (T *)j->y + pl * OH * OW;                                                        \
    for (int64_t oh = 0; oh < OH; oh++) {                                                    \
      int64_t hs, hlo, hhi;                                                                  \
      taps(&a->h, oh, &hs, &hlo, &hhi);                                                      \
      for (int64_t ow = 0; ow < OW; ow++) {                                                  \
        int64_t ws, wlo, whi, best = -1;                                                     \
        taps(&a->w, ow, &ws, &wlo, &whi);                                                    \
        T m = -(T)INFINITY;                                                                  \
        for (int64_t ki = hlo; ki < hhi; ki++)                                               \
          for (int64_t kj = wlo; kj < whi; kj++) {                                           \
            int64_t at = (hs + ki * a->h.d) * W + ws + kj * a->w.d;                          \
            T v = xp[at];                                                                    \
            if (v > m || v != v || best < 0) { m = v; best = at; if (v != v) ki = hhi; }     \
            if (v != v) break;                                                               \
          }                                                                                  \
        yp[oh * OW + ow] = m;                                                                \
        ip[oh * OW + ow] = best;                                                             \
      }                                                                                      \
    }                                                                                        \
  } while (0)

/* The usual 2×2 window at stride 2 with every window inside the plane: a strict > over the four
   taps in row-major order keeps the first largest, as the general loop does, and without its
   bounds arithmetic and branches the compiler vectorizes it. NaN is the general loop's to
   handle: a row function says whether a window summed to NaN (a NaN in it, or inf - inf), and
   such a plane is done again by the general loop. (One pass: a separate scan for NaN read the
   plane twice.) */
#define POOL_2X2(T, NAME)                                                                    \
  static int NAME(const T *restrict r0, const T *restrict r1, int64_t W, int64_t OW,         \
                  int64_t base, T *restrict y, int64_t *restrict ip) {                       \
    int bad = 0;                                                                             \
    for (int64_t ow = 0; ow < OW; ow++) {                                                    \
      T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1], m = a;       \
      T sum = (a + b) + (c + d);                                                             \
      int64_t k = base + 2 * ow;                                                             \
      bool u = b > m;                                                                        \
      m = u ? b : m; k = u ? base + 2 * ow + 1 : k;                                          \
      u = c > m;                                                                             \
      m = u ? c : m; k = u ? base + 2 * ow + W : k;                                          \
      u = d > m;                                                                             \
      m = u ? d : m; k = u ? base + 2 * ow + W + 1 : k;                                      \
      bad |= sum != sum;                                                                     \
      y[ow] = m;                                                                             \
      ip[ow] = k;                                                                            \
    }                                                                                        \
    return bad;                                                                              \
  }
POOL_2X2(float, pool_row_f32)
POOL_2X2(double, pool_row_f64)

/* one plane through POOL_2X2's row function; done false if the general loop must redo it */
#define POOL_PLANE_2X2(T, ROW, done)                                                         \
  do {                                                                                       \
    const T *xp = (const T *)j->x + pl * H * W;                                              \
    int bad = 0;                                                                             \
    for (int64_t oh = 0; oh < OH; oh++)                                                      \
      bad |= ROW(xp + 2 * oh * W, xp + (2 * oh + 1) * W, W, OW, 2 * oh * W,                  \
                 (T *)j->y + pl * OH * OW + oh * OW, ip + oh * OW);                          \
    done = !bad;                                                                             \
  } while (0)

static bool whole_2x2(const pool_args *a) {
  return a->h.k == 2 && a->w.k == 2 && a->h.s == 2 && a->w.s == 2 && a->h.p == 0 &&
         a->w.p == 0 && a->h.d == 1 && a->w.d == 1 && 2 * a->h.out <= a->h.in &&
         2 * a->w.out <= a->w.in;
}

static void pool_fwd_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const pool_job *j = arg;
  const pool_args *a = j->a;
  int64_t H = a->h.in, W = a->w.in, OH = a->h.out, OW = a->w.out;
  bool fast = whole_2x2(a);
  (void)part;
  for (int64_t pl = lo; pl < hi; pl++) {
    int64_t *ip = j->idx + pl * OH * OW;
    bool done = false;
    if (fast && j->dt == NN_F32) POOL_PLANE_2X2(float, pool_row_f32, done);
    else if (fast) POOL_PLANE_2X2(double, pool_row_f64, done);
    if (done) continue;
    if (j->dt == NN_F32) POOL_PLANE(float);
    else POOL_PLANE(double);
  }
}

static void pool_bwd_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const pool_job *j = arg;
  const pool_args *a = j->a;
  int64_t P = a->h.in * a->w.in, Q = a->h.out * a->w.out;
  (void)part;
  for (int64_t pl = lo; pl < hi; pl++) {
    const int64_t *ip = j->idx + pl * Q;
    if (j->dt == NN_F32) {
      float *d = (float *)j->dx + pl * P;
      const float *g = (const float *)j->gy + pl * Q;
      if (j->zero_dx) memset(d, 0, (size_t)P * sizeof *d);
      for (int64_t q = 0; q < Q; q++) if (ip[q] >= 0) d[ip[q]] += g[q];
    } else {
      double *d = (double *)j->dx + pl * P;
      const double *g = (const double *)j->gy + pl * Q;
      if (j->zero_dx) memset(d, 0, (size_t)P * sizeof *d);
      for (int64_t q = 0; q < Q; q++) if (ip[q] >= 0) d[ip[q]] += g[q];
    }
  }
}

/* ---- max_pool: dx[argmax] += dy ------------------------------------------------------------- */
static nn_status max_pool_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *dx, *gy = NULL;
  bool fresh;
  nn_status s = nn_grad_slot(ctx, n, 0, &dx, &fresh);
  if (s || !dx || (s = nn_contig(ctx, n->gout, &gy))) return s;
  const pool_args *a = n->args;
  pool_job j = {.a = a, .dt = dx->dtype, .gy = nn_ptr(gy), .dx = nn_ptr(dx),
                .idx = (int64_t *)nn_ptr(n->saved), .zero_dx = fresh};
  nn_lanes(ctx, a->planes, dx->numel, pool_bwd_lane, &j);
  nn_tensor_release(gy);
  return NN_OK;
}
const nn_op nn_op_max_pool2d = {.name = "max_pool2d", .backward = max_pool_backward,
                                .args_size = sizeof(pool_args)};

/* One axis's output size; a message when the options are out of range */
static nn_status pool_axis_size(nn_ctx *ctx, const char *name, pool_axis *ax, bool ceil_mode) {
  int64_t eff, span;
  if (ax->k < 1 || ax->s < 1 || ax->d < 1 || ax->p < 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s: kernel, stride and dilation must be positive and padding "
                   "not negative (kernel %lld, stride %lld, dilation %lld, padding %lld)", name,
                   (long long)ax->k, (long long)ax->s, (long long)ax->d, (long long)ax->p);
  if (ax->p > ax->k / 2)
    return nn_fail(ctx, NN_ERR_ARG, "%s: padding should be at most half of the kernel size, got "
                   "padding %lld and kernel %lld", name, (long long)ax->p, (long long)ax->k);
  if (!nn_size_mul(ax->d, ax->k - 1, &eff) || !nn_size_add(ax->in, 2 * ax->p, &span) ||
      !nn_size_add(span, -eff - 1 + (ceil_mode ? ax->s - 1 : 0), &span))
    return nn_fail(ctx, NN_ERR_ARG, "%s: kernel or dilation too large", name);
  if (span < (ceil_mode ? ax->s - 1 : 0))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: kernel %lld (dilated %lld) is bigger than the padded "
                   "input %lld", name, (long long)ax->k, (long long)(eff + 1),
                   (long long)(ax->in + 2 * ax->p));
  ax->out = span / ax->s + 1;
  if (ceil_mode && (ax->out - 1) * ax->s >= ax->in + ax->p) ax->out--;   /* PyTorch's rule */
  return NN_OK;
}

/* Max pooling over the last `dims` dims (1 or 2) of x; the 1-d form is the 2-d one with a
   1-high kernel */
static nn_status max_pool_any(nn_ctx *ctx, const char *name, int dims, nn_tensor *x0,
                              const nn_pool_opts *o, nn_tensor **out, nn_tensor **indices) {
  NN_ARG(ctx, name, out);
  *out = NULL;
  if (indices) *indices = NULL;
  NN_ARG_AS(ctx, name, o, "opts");
  nn_status s = nn_need_float(ctx, name, x0);
  char b1[NN_SHAPE_BUF];
  if (s) return s;
  if (x0->ndim != dims + 1 && x0->ndim != dims + 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected a %d-D or %d-D input, got %s", name, dims + 1,
                   dims + 2, nn_shape_fmt(x0->ndim, x0->shape, b1));
  pool_args a = {.planes = 1, .h = {.in = 1, .k = 1, .s = 1, .d = 1}};
  pool_axis *ax[2] = {&a.w, &a.h};    /* the last dim first */
  for (int i = 0; i < dims; i++) {
    int k = dims - 1 - i;             /* opts index of the i-th dim from the end */
    *ax[i] = (pool_axis){.in = x0->shape[x0->ndim - 1 - i], .k = o->kernel[k],
                         .s = o->stride[k] ? o->stride[k] : o->kernel[k], .p = o->padding[k],
                         .d = o->dilation[k] ? o->dilation[k] : 1};
  }
  for (int i = 0; i < dims; i++)
    if ((s = pool_axis_size(ctx, name, ax[i], o->ceil_mode))) return s;
  if (dims == 1 && (s = pool_axis_size(ctx, name, &a.h, false))) return s;
  int64_t shape[NN_MAX_DIMS];
  for (int i = 0; i < x0->ndim - dims; i++) a.planes *= (shape[i] = x0->shape[i]);
  shape[x0->ndim - 1] = a.w.out;
  if (dims == 2) shape[x0->ndim - 2] = a.h.out;
  if ((s = nn_check_shape(ctx, name, x0->ndim, shape))) return s;
  nn_tensor *x = NULL, *y = NULL, *idx = NULL;
  if ((s = nn_contig(ctx, x0, &x)) || (s = nn_new(ctx, x->dtype, x->ndim, shape, false, &y)) ||
      (s = nn_new(ctx, NN_I64, x->ndim, shape, false, &idx)))
    goto done;
  pool_job j = {.a = &a, .dt = x->dtype, .x = nn_ptr(x), .y = nn_ptr(y), .idx = (int64_t *)nn_ptr(idx)};
  if (y->numel > 0) nn_lanes(ctx, a.planes, x->numel, pool_fwd_lane, &j);
  *out = y;
  y = NULL;
  if ((s = nn_record(ctx, &nn_op_max_pool2d, out, 1, &x0, idx, &a))) goto done;
  if (indices) { *indices = idx; idx = NULL; }
done:
  nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(idx);
  return s;
}

nn_status nn_max_pool2d(nn_ctx *ctx, nn_tensor *x, const nn_pool_opts *opts, nn_tensor **out,
                        nn_tensor **indices) {
  return max_pool_any(ctx, "max_pool2d", 2, x, opts, out, indices);
}
nn_status nn_max_pool1d(nn_ctx *ctx, nn_tensor *x, const nn_pool_opts *opts, nn_tensor **out,
                        nn_tensor **indices) {
  return max_pool_any(ctx, "max_pool1d", 1, x, opts, out, indices);
}

const nn_op *const nn_ops_pool[] = {&nn_op_max_pool2d, NULL};
