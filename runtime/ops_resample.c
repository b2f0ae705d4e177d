/* ops_resample.c — average pooling, adaptive pooling and interpolation (nearest, bilinear) over
   the last one or two dims of [N, C, (H,) W] (NCL / NCHW, as PyTorch; leading dims are planes).

   Average pooling, adaptive average pooling and both interpolations are separable: each output
   element is Σ_i Σ_j wh[i]·ww[j]·x[h_i, w_j] over a few taps per axis. One function (axis_taps)
   builds an axis's taps (input index and weight per output index) from the op's arguments, in
   PyTorch's index arithmetic; the forward gathers through them and the backward, rebuilding
   them from the node's arguments, scatters, so these ops are two kernels. A one-dim op is the
   two-dim one with H = 1. Adaptive max pooling walks the adaptive windows and keeps its argmax. */
#include <math.h>
#include "nn_impl.h"

enum { RS_AVG, RS_ADAPTIVE, RS_NEAREST, RS_LINEAR };

typedef struct {
  int kind, sd;                 /* sd: spatial dims (1 or 2) */
  int64_t in[2], out[2];        /* H, W (H = 1 with one spatial dim) */
  int64_t k[2], st[2], pad[2];  /* average pooling */
  bool count_include_pad, align_corners;
  int64_t divisor;              /* average pooling's divisor_override, 0 if none */
  double scale[2];              /* interpolation's scale factors, 0 when a size was given */
} rs_args;

typedef struct { int64_t T; int64_t *idx; double *w; } taps;   /* [out·T] each */

/* adaptive window of output o: [floor(o·in/out), ceil((o+1)·in/out)) */
static int64_t ad_start(int64_t o, int64_t in, int64_t out) { return o * in / out; }
static int64_t ad_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

static int64_t tap_count(const rs_args *a, int ax) {
  switch (a->kind) {
    case RS_AVG: return a->k[ax] < a->in[ax] ? a->k[ax] : a->in[ax];   /* taps inside the input */
    case RS_ADAPTIVE: return a->in[ax] / a->out[ax] + 2;   /* bounds ceil(in/out) + 1 */
    case RS_NEAREST: return 1;
    default: return 2;
  }
}

/* PyTorch's nearest_idx, in float as PyTorch computes it */
static int64_t nearest_src(const rs_args *a, int ax, int64_t o) {
  int64_t in = a->in[ax], out = a->out[ax];
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  float scale = a->scale[ax] > 0 ? (float)(1.0 / a->scale[ax]) : (float)in / (float)out;
  int64_t i = (int64_t)floorf((float)o * scale);
  return i < in - 1 ? i : in - 1;
}

/* PyTorch's linear source index and weights (area_pixel_compute_source_index) */
static void linear_src(const rs_args *a, int ax, int64_t o, int64_t *idx, double *w) {
  int64_t in = a->in[ax], out = a->out[ax];
  if (out == in) { idx[0] = idx[1] = o; w[0] = 1; w[1] = 0; return; }
  double r = a->align_corners ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0)
                              : (a->scale[ax] > 0 ? 1 / a->scale[ax] : (double)in / (double)out);
  double src = a->align_corners ? r * (double)o : fmax(r * ((double)o + 0.5) - 0.5, 0);
  int64_t i0 = (int64_t)src;
  if (i0 > in - 1) i0 = in - 1;
  double l1 = fmin(fmax(src - (double)i0, 0), 1);
  idx[0] = i0; idx[1] = i0 + (i0 < in - 1); w[0] = 1 - l1; w[1] = l1;
}

/* the taps of output o along axis ax; unused ones get weight 0 and a valid index */
static void output_taps(const rs_args *a, int ax, int64_t o, int64_t T, int64_t *idx, double *w) {
  int64_t in = a->in[ax], out = a->out[ax], lo = 0, hi = 0;
  double wt = 0;
  for (int64_t t = 0; t < T; t++) { idx[t] = 0; w[t] = 0; }
  if (a->kind == RS_NEAREST) { idx[0] = nearest_src(a, ax, o); w[0] = 1; return; }
  if (a->kind == RS_LINEAR) { linear_src(a, ax, o, idx, w); return; }
  if (a->kind == RS_ADAPTIVE) {
    lo = ad_start(o, in, out); hi = ad_end(o, in, out);
    wt = 1.0 / (double)(hi - lo);
  } else {
    int64_t start = o * a->st[ax] - a->pad[ax], end = start + a->k[ax];
    if (end > in + a->pad[ax]) end = in + a->pad[ax];
    int64_t plen = end - start;
    lo = start > 0 ? start : 0; hi = end < in ? end : in;
    if (a->divisor) wt = ax == 0 ? 1.0 / (double)a->divisor : 1;
    else wt = a->count_include_pad ? 1.0 / (double)plen : hi > lo ? 1.0 / (double)(hi - lo) : 0;
  }
  for (int64_t i = lo; i < hi && i - lo < T; i++) { idx[i - lo] = i; w[i - lo] = wt; }
}

/* both axes' taps in one scratch block (nn_block_put(ctx, tp[0].idx, *bytes) frees it) */
static nn_status build_taps(nn_ctx *ctx, const rs_args *a, taps tp[2], size_t *bytes) {
  int64_t n[2];
  for (int ax = 0; ax < 2; ax++) {
    tp[ax].T = tap_count(a, ax);
    if (!nn_size_mul(tp[ax].T, a->out[ax], &n[ax])) return nn_fail(ctx, NN_ERR_MEM, "resample: too many taps");
  }
  int64_t total, b;
  if (!nn_size_add(n[0], n[1], &total) || !nn_size_mul(total, 16, &b))
    return nn_fail(ctx, NN_ERR_MEM, "resample: too many taps");
  char *p = nn_block_get(ctx, (size_t)b);
  if (!p) return nn_fail(ctx, NN_ERR_MEM, "resample: out of memory for %lld taps", (long long)total);
  *bytes = (size_t)b;
  tp[0].idx = (int64_t *)p; tp[1].idx = tp[0].idx + n[0];
  tp[0].w = (double *)(tp[1].idx + n[1]); tp[1].w = tp[0].w + n[0];
  for (int ax = 0; ax < 2; ax++)
    for (int64_t o = 0; o < a->out[ax]; o++)
      output_taps(a, ax, o, tp[ax].T, tp[ax].idx + o * tp[ax].T, tp[ax].w + o * tp[ax].T);
  return NN_OK;
}

typedef struct {
  const rs_args *a;
  const taps *tp;
  nn_dtype dt;
  char *x, *y;          /* input plane data and output plane data (backward: dx and dy) */
  int64_t *arg;         /* adaptive max: argmax per output */
} rs_job;

static void gather_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const rs_job *j = arg;
  const rs_args *a = j->a;
  const taps *th = &j->tp[0], *tw = &j->tp[1];
  int64_t H = a->in[0], W = a->in[1], OH = a->out[0], OW = a->out[1];
  (void)part;
  for (int64_t p = lo; p < hi; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double acc = 0;
        for (int64_t i = 0; i < th->T; i++) {
          double wh = th->w[oh * th->T + i];
          if (wh == 0) continue;   /* unused taps: skipped, so an inf beside them stays out */
          int64_t row = (p * H + th->idx[oh * th->T + i]) * W;
          for (int64_t k = 0; k < tw->T; k++) {
            double ww = tw->w[ow * tw->T + k];
            if (ww != 0) acc += wh * ww * nn_load_f(j->x, j->dt, row + tw->idx[ow * tw->T + k]);
          }
        }
        nn_store_f(j->y, j->dt, (p * OH + oh) * OW + ow, acc);
      }
}

/* dx (zeroed) += the transpose of gather applied to dy */
static void scatter_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const rs_job *j = arg;
  const rs_args *a = j->a;
  const taps *th = &j->tp[0], *tw = &j->tp[1];
  int64_t H = a->in[0], W = a->in[1], OH = a->out[0], OW = a->out[1];
  (void)part;
  for (int64_t p = lo; p < hi; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double g = nn_load_f(j->y, j->dt, (p * OH + oh) * OW + ow);
        for (int64_t i = 0; i < th->T; i++) {
          double wh = th->w[oh * th->T + i];
          if (wh == 0) continue;
          int64_t row = (p * H + th->idx[oh * th->T + i]) * W;
          for (int64_t k = 0; k < tw->T; k++) {
            double ww = tw->w[ow * tw->T + k];
            if (ww == 0) continue;
            int64_t e = row + tw->idx[ow * tw->T + k];
            nn_store_f(j->x, j->dt, e, nn_load_f(j->x, j->dt, e) + g * wh * ww);
          }
        }
      }
}

static int64_t plane_count(const nn_tensor *t, int sd) {
  int64_t P = 1;
  for (int i = 0; i < t->ndim - sd; i++) P *= t->shape[i];   /* a factor of numel */
  return P;
}

static nn_status gather_backward(nn_ctx *ctx, nn_node *n) {
  const rs_args *a = n->args;
  nn_tensor *x = n->in[0], *g = NULL, *dx = NULL;
  taps tp[2];
  size_t bytes = 0;
  nn_status s = nn_contig(ctx, n->gout, &g);
  if (s || (s = nn_new_like(ctx, x, true, &dx)) || (s = build_taps(ctx, a, tp, &bytes))) goto done;
  rs_job j = {.a = a, .tp = tp, .dt = x->dtype, .x = nn_ptr(dx), .y = nn_ptr(g)};
  nn_lanes(ctx, plane_count(x, a->sd), x->numel + g->numel, scatter_lane, &j);
  nn_block_put(ctx, tp[0].idx, bytes);
  s = nn_grad_accum(ctx, n, 0, dx);
done:
  nn_tensor_release(g); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_avg_pool = {.name = "avg_pool", .backward = gather_backward, .args_size = sizeof(rs_args)};
const nn_op nn_op_adaptive_avg_pool = {.name = "adaptive_avg_pool", .backward = gather_backward,
                                       .args_size = sizeof(rs_args)};
const nn_op nn_op_interpolate = {.name = "interpolate", .backward = gather_backward,
                                 .args_size = sizeof(rs_args)};

/* The input's checks, its spatial sizes into a->in, and the output tensor (a->out set) */
static nn_status rs_setup(nn_ctx *ctx, const char *op, nn_tensor *x, rs_args *a, nn_tensor **y) {
  char b1[NN_SHAPE_BUF];
  nn_status s = nn_need_float(ctx, op, x);
  if (s) return s;
  int sd = a->sd;
  a->in[0] = sd == 2 ? x->shape[x->ndim - 2] : 1;
  a->in[1] = x->shape[x->ndim - 1];
  int64_t shape[NN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
  if (sd == 2) shape[x->ndim - 2] = a->out[0];
  shape[x->ndim - 1] = a->out[1];
  int64_t numel;
  if (!nn_shape_count(x->ndim, shape, &numel))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: output of %lld x %lld per plane for input shape %s is too large", op,
                   (long long)a->out[0], (long long)a->out[1], nn_shape_fmt(x->ndim, x->shape, b1));
  return nn_new(ctx, x->dtype, x->ndim, shape, false, y);
}

/* the gather ops' forward: taps, lanes over planes, record */
static nn_status gather_op(nn_ctx *ctx, const nn_op *op, nn_tensor *t, rs_args *a, nn_tensor **out) {
  nn_tensor *x = NULL, *y = NULL;
  taps tp[2];
  size_t bytes = 0;
  nn_status s = rs_setup(ctx, op->name, t, a, &y);
  if (s || (s = nn_contig(ctx, t, &x)) || (s = build_taps(ctx, a, tp, &bytes))) goto fail;
  rs_job j = {.a = a, .tp = tp, .dt = x->dtype, .x = nn_ptr(x), .y = nn_ptr(y)};
  if (y->numel) nn_lanes(ctx, plane_count(x, a->sd), x->numel + y->numel, gather_lane, &j);
  nn_block_put(ctx, tp[0].idx, bytes);
  nn_tensor_release(x);
  *out = y;
  return nn_record(ctx, op, out, 1, &t, NULL, a);
fail:
  nn_tensor_release(x); nn_tensor_release(y);
  return s;
}

/* Checks a spatial input of sd dims ([C, *] or [N, C, *]) */
static nn_status check_spatial(nn_ctx *ctx, const char *op, const nn_tensor *x, int sd, bool unbatched) {
  char b1[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, op, x, "tensor");
  if (x->ndim != sd + 2 && !(unbatched && x->ndim == sd + 1))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must have %d%s dims (%s), got shape %s", op, sd + 2,
                   unbatched ? " or one fewer" : "", sd == 2 ? "N, C, H, W" : "N, C, L",
                   nn_shape_fmt(x->ndim, x->shape, b1));
  for (int i = x->ndim - sd; i < x->ndim; i++)
    if (x->shape[i] < 1)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: spatial dims must be non-empty, got shape %s", op,
                     nn_shape_fmt(x->ndim, x->shape, b1));
  return NN_OK;
}

/* PyTorch's pooling_output_shape (dilation 1) with its checks */
static nn_status pool_len(nn_ctx *ctx, const char *op, int64_t in, int64_t k, int64_t st, int64_t pad,
                          bool ceil_mode, int64_t *out) {
  if (k < 1 || st < 1 || pad < 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s: kernel size and stride must be positive and padding >= 0, got "
                   "kernel %lld, stride %lld, padding %lld", op, (long long)k, (long long)st, (long long)pad);
  if (pad > k / 2)
    return nn_fail(ctx, NN_ERR_ARG, "%s: padding %lld should be at most half of the kernel size %lld", op,
                   (long long)pad, (long long)k);
  int64_t span;   /* in + 2 pad - k (+ st - 1 with ceil_mode); pad ≤ k/2 keeps it below in + st */
  if (!nn_size_add(in - k + 2 * pad, ceil_mode ? st - 1 : 0, &span) || span < 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: kernel size %lld with padding %lld is larger than the input size %lld",
                   op, (long long)k, (long long)pad, (long long)in);
  int64_t o = span / st + 1;
  if (ceil_mode && (o - 1) * st >= in + pad) o--;
  *out = o;
  return NN_OK;
}

static nn_status avg_pool(nn_ctx *ctx, const char *op, nn_tensor *x, int sd, const int64_t *k,
                          const int64_t *st, const int64_t *pad, bool ceil_mode, bool cip,
                          int64_t divisor, nn_tensor **out) {
  NN_ARG(ctx, op, out);
  *out = NULL;
  nn_status s = check_spatial(ctx, op, x, sd, true);
  if (s) return s;
  if (divisor < 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s: divisor_override must be positive, got %lld", op, (long long)divisor);
  rs_args a = {.kind = RS_AVG, .sd = sd, .count_include_pad = cip, .divisor = divisor,
               .k = {1, 1}, .st = {1, 1}, .out = {1, 1}};
  for (int ax = 2 - sd; ax < 2; ax++) {
    int i = ax - (2 - sd);
    NN_ARG_AS(ctx, op, k && st && pad, "kernel, stride or padding");
    a.k[ax] = k[i]; a.st[ax] = st[i]; a.pad[ax] = pad[i];
    if ((s = pool_len(ctx, op, x->shape[x->ndim - sd + i], k[i], st[i], pad[i], ceil_mode, &a.out[ax])))
      return s;
  }
  return gather_op(ctx, &nn_op_avg_pool, x, &a, out);
}

nn_status nn_avg_pool2d(nn_ctx *ctx, nn_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                        const int64_t padding[2], bool ceil_mode, bool count_include_pad,
                        int64_t divisor_override, nn_tensor **out) {
  return avg_pool(ctx, "avg_pool2d", x, 2, kernel, stride, padding, ceil_mode, count_include_pad,
                  divisor_override, out);
}

nn_status nn_avg_pool1d(nn_ctx *ctx, nn_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                        bool ceil_mode, bool count_include_pad, nn_tensor **out) {
  return avg_pool(ctx, "avg_pool1d", x, 1, &kernel, &stride, &padding, ceil_mode, count_include_pad, 0, out);
}

static nn_status adaptive_args(nn_ctx *ctx, const char *op, nn_tensor *x, const int64_t size[2], rs_args *a) {
  NN_ARG(ctx, op, size);
  nn_status s = check_spatial(ctx, op, x, 2, true);
  if (s) return s;
  if (size[0] < 1 || size[1] < 1)
    return nn_fail(ctx, NN_ERR_ARG, "%s: output size must be positive, got [%lld, %lld]", op,
                   (long long)size[0], (long long)size[1]);
  /* the window arithmetic multiplies an output index by an input size */
  int64_t p0, p1;
  if (size[0] > NN_NUMEL_MAX || size[1] > NN_NUMEL_MAX ||
      !nn_size_mul(size[0] + 1, x->shape[x->ndim - 2], &p0) || p0 > NN_NUMEL_MAX * 1024 ||
      !nn_size_mul(size[1] + 1, x->shape[x->ndim - 1], &p1) || p1 > NN_NUMEL_MAX * 1024)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: output size [%lld, %lld] is too large", op, (long long)size[0],
                   (long long)size[1]);
  *a = (rs_args){.kind = RS_ADAPTIVE, .sd = 2, .out = {size[0], size[1]}};
  return NN_OK;
}

nn_status nn_adaptive_avg_pool2d(nn_ctx *ctx, nn_tensor *x, const int64_t size[2], nn_tensor **out) {
  const char *op = "adaptive_avg_pool2d";
  NN_ARG(ctx, op, out);
  *out = NULL;
  rs_args a;
  nn_status s = adaptive_args(ctx, op, x, size, &a);
  return s ? s : gather_op(ctx, &nn_op_adaptive_avg_pool, x, &a, out);
}

/* ---- adaptive max pooling: the max of each adaptive window (NaN wins, as PyTorch), its index
   (h·W + w within the plane) kept for the backward: dx[argmax] += dy */
static void amax_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const rs_job *j = arg;
  const rs_args *a = j->a;
  int64_t H = a->in[0], W = a->in[1], OH = a->out[0], OW = a->out[1];
  (void)part;
  for (int64_t p = lo; p < hi; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t hs = ad_start(oh, H, OH), he = ad_end(oh, H, OH);
        int64_t ws = ad_start(ow, W, OW), we = ad_end(ow, W, OW), best = hs * W + ws;
        double m = nn_load_f(j->x, j->dt, p * H * W + best);
        for (int64_t h = hs; h < he && !isnan(m); h++)
          for (int64_t w = ws; w < we; w++) {
            double v = nn_load_f(j->x, j->dt, p * H * W + h * W + w);
            if (v > m || isnan(v)) { m = v; best = h * W + w; if (isnan(v)) break; }
          }
        int64_t o = (p * OH + oh) * OW + ow;
        nn_store_f(j->y, j->dt, o, m);
        j->arg[o] = best;
      }
}

static nn_status amax_backward(nn_ctx *ctx, nn_node *n) {
  const rs_args *a = n->args;
  nn_tensor *x = n->in[0], *g = NULL, *dx = NULL;
  nn_status s = nn_contig(ctx, n->gout, &g);
  if (s || (s = nn_new_like(ctx, x, true, &dx))) goto done;
  const int64_t *idx = nn_tensor_data(n->saved);
  int64_t per = a->out[0] * a->out[1], HW = a->in[0] * a->in[1];
  char *dp = nn_ptr(dx);
  const char *gp = nn_ptr(g);
  for (int64_t o = 0; o < g->numel; o++) {
    int64_t e = o / per * HW + idx[o];
    nn_store_f(dp, x->dtype, e, nn_load_f(dp, x->dtype, e) + nn_load_f(gp, x->dtype, o));
  }
  s = nn_grad_accum(ctx, n, 0, dx);
done:
  nn_tensor_release(g); nn_tensor_release(dx);
  return s;
}
const nn_op nn_op_adaptive_max_pool = {.name = "adaptive_max_pool", .backward = amax_backward,
                                       .args_size = sizeof(rs_args)};

nn_status nn_adaptive_max_pool2d(nn_ctx *ctx, nn_tensor *t, const int64_t size[2], nn_tensor **out,
                                 nn_tensor **indices) {
  const char *op = "adaptive_max_pool2d";
  NN_ARG(ctx, op, out);
  *out = NULL;
  if (indices) *indices = NULL;
  rs_args a;
  nn_tensor *x = NULL, *y = NULL, *ix = NULL;
  nn_status s = adaptive_args(ctx, op, t, size, &a);
  if (s || (s = rs_setup(ctx, op, t, &a, &y)) || (s = nn_contig(ctx, t, &x)) ||
      (s = nn_new(ctx, NN_I64, y->ndim, y->shape, false, &ix)))
    goto fail;
  rs_job j = {.a = &a, .dt = x->dtype, .x = nn_ptr(x), .y = nn_ptr(y), .arg = nn_tensor_data(ix)};
  if (y->numel) nn_lanes(ctx, plane_count(x, 2), x->numel + y->numel, amax_lane, &j);
  nn_tensor_release(x);
  *out = y;
  if ((s = nn_record(ctx, &nn_op_adaptive_max_pool, out, 1, &t, ix, &a))) { nn_tensor_release(ix); return s; }
  if (indices) *indices = ix;
  else nn_tensor_release(ix);
  return NN_OK;
fail:
  nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(ix);
  return s;
}

/* ---- interpolate: sizes given, or scale factors (out = floor(in·scale), and the index
   arithmetic then uses 1/scale, as PyTorch without recompute_scale_factor) */
nn_status nn_interpolate(nn_ctx *ctx, nn_tensor *x, const int64_t *size, const double *scale,
                         nn_interp_mode mode, bool align_corners, nn_tensor **out) {
  const char *op = "interpolate";
  char b1[NN_SHAPE_BUF];
  NN_ARG(ctx, op, out);
  *out = NULL;
  NN_ARG_AS(ctx, op, x, "tensor");
  int sd = x->ndim - 2;
  if (sd < 1 || sd > 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input must be [N, C, L] or [N, C, H, W], got %s", op,
                   nn_shape_fmt(x->ndim, x->shape, b1));
  nn_status s = check_spatial(ctx, op, x, sd, false);
  if (s) return s;
  if (mode != NN_INTERP_NEAREST && mode != NN_INTERP_LINEAR)
    return nn_fail(ctx, NN_ERR_ARG, "%s: unknown mode %d", op, (int)mode);
  if (!size == !scale)
    return nn_fail(ctx, NN_ERR_ARG, "%s: give either the output size or the scale factors, not %s", op,
                   size ? "both" : "neither");
  rs_args a = {.kind = mode == NN_INTERP_NEAREST ? RS_NEAREST : RS_LINEAR, .sd = sd,
               .align_corners = align_corners, .out = {1, 1}};
  for (int i = 0; i < sd; i++) {
    int ax = 2 - sd + i;
    int64_t in = x->shape[x->ndim - sd + i], o;
    if (scale) {
      double f = floor((double)in * scale[i]);
      if (!(scale[i] > 0) || !(f >= 1 && f <= 0x1p48))
        return nn_fail(ctx, NN_ERR_ARG, "%s: scale factor %g gives an output size of %g for input size %lld",
                       op, scale[i], f, (long long)in);
      o = (int64_t)f;
      a.scale[ax] = scale[i];
    } else if ((o = size[i]) < 1) {
      return nn_fail(ctx, NN_ERR_ARG, "%s: output size must be positive, got %lld", op, (long long)o);
    }
    a.out[ax] = o;
  }
  return gather_op(ctx, &nn_op_interpolate, x, &a, out);
}

const nn_op *const nn_ops_resample[] = {&nn_op_avg_pool, &nn_op_adaptive_avg_pool, &nn_op_adaptive_max_pool,
                                        &nn_op_interpolate, NULL};
