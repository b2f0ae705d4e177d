/* ops_conv.c — convolution (conv2d; conv1d as conv2d of height 1) and transposed convolution,
   NCHW, weights laid out as PyTorch's.

   Both are products with an unfolded image (im2col): of the two images a convolution relates,
   call the one the kernel slides over the *big* side (conv's input, conv_transpose's output) and
   the other the *small* side (one position per kernel placement). Per image and group, with
   col = im2col(big) [Kb = C_big/G·kh·kw, P = small H·W] and Wm the weight as a matrix
   [C_small, Kb] (conv: [O, C/G·kh·kw]; conv_transpose: [C_in, O/G·kh·kw]):
     small = Wm · col                      conv's forward, conv_transpose's input gradient
     big  += col2im(Wm^T · small)          conv's input gradient, conv_transpose's forward
     dWm  += small · col^T                 both weight gradients (small = dy or x, col of x or dy)
   so one lane function serves all four directions. The batch is split in lanes (nn_lanes),
   each lane its images with its own column buffer (from the block cache: after the first step
   no allocation); weight and bias gradients are summed per lane and the lanes' sums added in
   lane order, so the result does not depend on which thread ran a lane. The products go
   through Linear's own single-thread path (nn_gemm_serial). */
#include <stdio.h>
#include "nn_impl.h"

typedef struct { int64_t big, small, k, s, p, d; } axis;   /* one spatial dim; p: zeros before */
typedef struct { int64_t N, G, Cb, Cs; axis h, w; } geom;  /* Cb, Cs: channels of each side */

typedef struct {
  geom g;
  nn_dtype dt;
  const char *w;                 /* Wm [Cs, Kb] */
  const char *big_in, *small_in; /* images read: [N, Cb, Hb, Wb], [N, Cs, Hs, Ws] */
  char *big_out, *small_out;     /* images written (NULL: not this direction) */
  const char *bias_big, *bias_small; /* forward biases put in first (NULL: none) */
  bool zero_big;                 /* big_out starts at zero (else it is added to) */
  double beta_small;             /* small_out = beta small_out + Wm col */
  bool db_of_big;                /* the bias gradient sums big_in (conv_transpose) or small_in */
  char *col[NN_LANES_MAX], *dw[NN_LANES_MAX], *db[NN_LANES_MAX];
  int parts;
} conv_job;

/* d[i] += s[i] (a row of col2im at stride 1: vectorized) */
static void add_f32(float *restrict d, const float *restrict s, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

/* o in [*lo, *hi) are the positions of [0, len) with 0 <= o s + off < n */
static void valid_range(int64_t off, int64_t s, int64_t n, int64_t len, int64_t *lo, int64_t *hi) {
  *lo = off < 0 ? (-off + s - 1) / s : 0;
  *hi = off >= n ? 0 : (n - 1 - off) / s + 1;
  if (*hi > len) *hi = len;
  if (*lo > *hi) *lo = *hi;
}

/* Both axes at stride 1 and the width kept (a "same" convolution's): then the valid rows of one
   tap's block of col are one stretch of the image, shifted by the tap. The stretch is copied
   (or added) whole, from the first valid element of the first row to the last of the last;
   the entries past each row's valid columns, which the stretch takes from the neighbouring
   row, are zeros in col (im2col writes them after, col2im clears them before). */
static bool flat(const geom *g) {
  return g->h.s == 1 && g->w.s == 1 && g->w.small == g->w.big;
}

/* The block of tap (ki, kj) of channel c: rows [*olo, *ohi) of col valid, reading the image
   from element *first (of the stretch starting at row *olo's column lo) */
static void flat_rows(const geom *g, int64_t c, int64_t ki, int64_t off, int64_t lo,
                      int64_t *olo, int64_t *ohi, int64_t *first) {
  const axis *h = &g->h, *w = &g->w;
  int64_t ih0 = ki * h->d - h->p;               /* the image row of col's row 0 */
  valid_range(ih0, 1, h->big, h->small, olo, ohi);
  *first = (c * h->big + ih0 + *olo) * w->big + off + lo;
}

/* zeros in rows [olo, ohi) of a tap's block of col outside the valid columns [lo, hi) */
static void clear_edges(char *col, int64_t olo, int64_t ohi, int64_t Ws, int64_t lo, int64_t hi,
                        int64_t es) {
  for (int64_t oh = olo; oh < ohi; oh++) {
    char *row = col + oh * Ws * es;
    if (lo) memset(row, 0, (size_t)(lo * es));
    if (hi < Ws) memset(row + hi * es, 0, (size_t)((Ws - hi) * es));
  }
}

static void im2col_flat(const geom *g, nn_dtype dt, const char *img, char *col) {
  const axis *h = &g->h, *w = &g->w;
  int64_t es = (int64_t)nn_dtype_size(dt), cbg = g->Cb / g->G, Ws = w->small, Hs = h->small;
  for (int64_t c = 0; c < cbg; c++)
    for (int64_t ki = 0; ki < h->k; ki++)
      for (int64_t kj = 0; kj < w->k; kj++, col += Hs * Ws * es) {
        int64_t off = kj * w->d - w->p, lo, hi, olo, ohi, first;
        valid_range(off, 1, w->big, Ws, &lo, &hi);
        flat_rows(g, c, ki, off, lo, &olo, &ohi, &first);
        if (hi <= lo || ohi <= olo) { memset(col, 0, (size_t)(Hs * Ws * es)); continue; }
        memset(col, 0, (size_t)(olo * Ws * es));
        memset(col + ohi * Ws * es, 0, (size_t)((Hs - ohi) * Ws * es));
        memcpy(col + (olo * Ws + lo) * es, img + first * es,
               (size_t)(((ohi - olo) * Ws - lo - (Ws - hi)) * es));
        clear_edges(col, olo, ohi, Ws, lo, hi, es);
      }
}

static void col2im_flat(const geom *g, nn_dtype dt, char *col, char *img) {
  const axis *h = &g->h, *w = &g->w;
  int64_t es = (int64_t)nn_dtype_size(dt), cbg = g->Cb / g->G, Ws = w->small, Hs = h->small;
  for (int64_t c = 0; c < cbg; c++)
    for (int64_t ki = 0; ki < h->k; ki++)
      for (int64_t kj = 0; kj < w->k; kj++, col += Hs * Ws * es) {
        int64_t off = kj * w->d - w->p, lo, hi, olo, ohi, first;
        valid_range(off, 1, w->big, Ws, &lo, &hi);
        flat_rows(g, c, ki, off, lo, &olo, &ohi, &first);
        if (hi <= lo || ohi <= olo) continue;
        clear_edges(col, olo, ohi, Ws, lo, hi, es);
        int64_t n = (ohi - olo) * Ws - lo - (Ws - hi);
        char *src = col + (olo * Ws + lo) * es, *dst = img + first * es;
        if (dt == NN_F32) add_f32((float *)dst, (const float *)src, n);
        else for (int64_t i = 0; i < n; i++) ((double *)dst)[i] += ((const double *)src)[i];
      }
}

/* One group of one image, [Cbg, Hb, Wb] at img, unfolded into col [Cbg·kh·kw, Hs·Ws] */
static void im2col(const geom *g, nn_dtype dt, const char *img, char *col) {
  const axis *h = &g->h, *w = &g->w;
  int64_t es = (int64_t)nn_dtype_size(dt), cbg = g->Cb / g->G;
  if (flat(g)) { im2col_flat(g, dt, img, col); return; }
  for (int64_t c = 0; c < cbg; c++)
    for (int64_t ki = 0; ki < h->k; ki++)
      for (int64_t kj = 0; kj < w->k; kj++) {
        int64_t off = kj * w->d - w->p, lo, hi;
        valid_range(off, w->s, w->big, w->small, &lo, &hi);
        for (int64_t oh = 0; oh < h->small; oh++, col += w->small * es) {
          int64_t ih = oh * h->s - h->p + ki * h->d;
          if (ih < 0 || ih >= h->big) { memset(col, 0, (size_t)(w->small * es)); continue; }
          const char *src = img + ((c * h->big + ih) * w->big + off) * es;
          memset(col, 0, (size_t)(lo * es));
          memset(col + hi * es, 0, (size_t)((w->small - hi) * es));
          if (w->s == 1) memcpy(col + lo * es, src + lo * es, (size_t)((hi - lo) * es));
          else if (dt == NN_F32)
            for (int64_t o = lo; o < hi; o++) ((float *)col)[o] = ((const float *)src)[o * w->s];
          else
            for (int64_t o = lo; o < hi; o++) ((double *)col)[o] = ((const double *)src)[o * w->s];
        }
      }
}

/* The adjoint of im2col: col's entries added back into the image they were read from (col is
   scratch: the flat form clears entries of it) */
static void col2im(const geom *g, nn_dtype dt, char *col, char *img) {
  const axis *h = &g->h, *w = &g->w;
  int64_t es = (int64_t)nn_dtype_size(dt), cbg = g->Cb / g->G;
  if (flat(g)) { col2im_flat(g, dt, col, img); return; }
  for (int64_t c = 0; c < cbg; c++)
    for (int64_t ki = 0; ki < h->k; ki++)
      for (int64_t kj = 0; kj < w->k; kj++) {
        int64_t off = kj * w->d - w->p, lo, hi;
        valid_range(off, w->s, w->big, w->small, &lo, &hi);
        for (int64_t oh = 0; oh < h->small; oh++, col += w->small * es) {
          int64_t ih = oh * h->s - h->p + ki * h->d;
          if (ih < 0 || ih >= h->big) continue;
          char *dst = img + ((c * h->big + ih) * w->big + off) * es;
          if (dt == NN_F32 && w->s == 1)
            add_f32((float *)dst + lo, (const float *)col + lo, hi - lo);
          else if (dt == NN_F32)
            for (int64_t o = lo; o < hi; o++) ((float *)dst)[o * w->s] += ((const float *)col)[o];
          else
            for (int64_t o = lo; o < hi; o++) ((double *)dst)[o * w->s] += ((const double *)col)[o];
        }
      }
}

/* Each of n channels of P elements at img set to its bias value */
static void fill_bias(nn_dtype dt, char *img, const char *bias, int64_t n, int64_t P) {
  for (int64_t c = 0; c < n; c++)
    if (dt == NN_F32)
      for (int64_t i = 0; i < P; i++) ((float *)img)[c * P + i] = ((const float *)bias)[c];
    else
      for (int64_t i = 0; i < P; i++) ((double *)img)[c * P + i] = ((const double *)bias)[c];
}

/* db[c] += the sum of channel c of img (n channels of P elements) */
static void sum_channels(nn_dtype dt, const char *img, char *db, int64_t n, int64_t P) {
  for (int64_t c = 0; c < n; c++) {
    double s = 0;
    if (dt == NN_F32) s = nn_sum_f32_row((const float *)img + c * P, P);
    else for (int64_t i = 0; i < P; i++) s += nn_load_f(img, dt, c * P + i);
    nn_store_f(db, dt, c, nn_load_f(db, dt, c) + s);
  }
}

/* A 1×1 kernel at stride 1 without padding: the image is its own column matrix */
static bool trivial(const geom *g) {
  return g->h.k == 1 && g->w.k == 1 && g->h.s == 1 && g->w.s == 1 && g->h.p == 0 && g->w.p == 0 &&
         g->h.small == g->h.big && g->w.small == g->w.big;
}

static void conv_lane(void *arg, int part, int64_t lo, int64_t hi) {
  const conv_job *j = arg;
  const geom *g = &j->g;
  nn_dtype dt = j->dt;
  int64_t es = (int64_t)nn_dtype_size(dt), G = g->G;
  int64_t Pb = g->h.big * g->w.big, P = g->h.small * g->w.small;
  int64_t cbg = g->Cb / G, sg = g->Cs / G, Kb = cbg * g->h.k * g->w.k;
  bool direct = trivial(g);
  for (int64_t n = lo; n < hi; n++) {
    const char *bi = j->big_in ? j->big_in + n * g->Cb * Pb * es : NULL;
    const char *si = j->small_in ? j->small_in + n * g->Cs * P * es : NULL;
    char *bo = j->big_out ? j->big_out + n * g->Cb * Pb * es : NULL;
    char *so = j->small_out ? j->small_out + n * g->Cs * P * es : NULL;
    double beta_s = j->beta_small;
    if (bo && j->bias_big) fill_bias(dt, bo, j->bias_big, g->Cb, Pb);
    else if (bo && j->zero_big) memset(bo, 0, (size_t)(g->Cb * Pb * es));
    if (so && j->bias_small) { fill_bias(dt, so, j->bias_small, g->Cs, P); beta_s = 1; }
    for (int64_t q = 0; q < G; q++) {
      const char *wq = j->w + q * sg * Kb * es, *col = NULL;
      if (bi) {
        col = direct ? bi + q * cbg * Pb * es : j->col[part];
        if (!direct) im2col(g, dt, bi + q * cbg * Pb * es, j->col[part]);
      }
      if (so)      /* small = Wm col */
        nn_gemm_serial(dt, sg, P, Kb, wq, Kb, 1, col, P, 1, so + q * sg * P * es, P, beta_s);
      if (j->dw[part])   /* dWm += small col^T */
        nn_gemm_serial(dt, sg, Kb, P, si + q * sg * P * es, P, 1, col, 1, P,
                       j->dw[part] + q * sg * Kb * es, Kb, 1.0);
      if (bo && direct)  /* big += Wm^T small */
        nn_gemm_serial(dt, Kb, P, sg, wq, 1, Kb, si + q * sg * P * es, P, 1, bo + q * cbg * Pb * es,
                       P, 1.0);
      else if (bo) {
        nn_gemm_serial(dt, Kb, P, sg, wq, 1, Kb, si + q * sg * P * es, P, 1, j->col[part], P, 0.0);
        col2im(g, dt, j->col[part], bo + q * cbg * Pb * es);
      }
    }
    if (j->db[part]) {
      if (j->db_of_big) sum_channels(dt, bi, j->db[part], g->Cb, Pb);
      else sum_channels(dt, si, j->db[part], g->Cs, P);
    }
  }
}

/* Elements lo..hi-1 of [dW, db]: the other lanes' sums added into lane 0's, in lane order */
static void conv_combine(void *arg, int part, int64_t lo, int64_t hi) {
  const conv_job *j = arg;
  int64_t nw = j->dw[0] ? j->g.Cs * (j->g.Cb / j->g.G) * j->g.h.k * j->g.w.k : 0;
  int64_t nb = j->db[0] ? (j->db_of_big ? j->g.Cb : j->g.Cs) : 0;
  (void)part;
  for (int64_t i = lo; i < hi; i++) {
    bool isw = i < nw;
    char *d = isw ? j->dw[0] : j->db[0];
    int64_t k = isw ? i : i - nw;
    if (!isw && k >= nb) break;
    double s = nn_load_f(d, j->dt, k);
    for (int p = 1; p < j->parts; p++) s += nn_load_f(isw ? j->dw[p] : j->db[p], j->dt, k);
    nn_store_f(d, j->dt, k, s);
  }
}

/* Runs j over the batch in lanes: column buffers and the other lanes' gradient sums from the
   block cache (given back after), then the sums added in a second phase. */
static nn_status conv_run(nn_ctx *ctx, conv_job *j) {
  const geom *g = &j->g;
  int64_t es = (int64_t)nn_dtype_size(j->dt), Kb = g->Cb / g->G * g->h.k * g->w.k;
  int64_t P = g->h.small * g->w.small, colb = 0, nw = 0, nb = 0, work = 0, extra;
  if (!trivial(g) && !nn_size_mul(Kb, P, &colb)) colb = -1;
  if (colb < 0 || !nn_size_mul(colb, es, &colb))
    return nn_fail(ctx, NN_ERR_MEM, "conv: column buffer of %lld x %lld elements is too large",
                   (long long)Kb, (long long)P);
  if (j->dw[0]) nw = g->Cs * Kb;
  if (j->db[0]) nb = j->db_of_big ? g->Cb : g->Cs;
  extra = nw + nb;
  if (!nn_size_mul(Kb * g->Cs, P, &work) || !nn_size_mul(work, g->N, &work)) work = INT64_MAX;
  int parts = nn_lane_count(ctx, g->N, work);
  size_t partb = (size_t)(extra * es);
  char *blk[NN_LANES_MAX] = {0};
  nn_status s = NN_OK;
  j->parts = parts;
  for (int p = 0; p < parts && !s; p++) {
    size_t need = (size_t)colb + (p > 0 ? partb : 0);
    if (need == 0) continue;
    if (!(blk[p] = p > 0 ? nn_block_get_zeroed(ctx, need) : nn_block_get(ctx, need))) {
      s = nn_fail(ctx, NN_ERR_MEM, "conv: out of memory for %zu bytes of work space", need);
      break;
    }
    j->col[p] = blk[p];
    if (p > 0 && nw) j->dw[p] = blk[p] + colb;
    if (p > 0 && nb) j->db[p] = blk[p] + colb + nw * es;
  }
  if (!s) {
    nn_blas_threads(ctx);
    unsigned mode = nn_ftz_begin();
    if (parts > 1 && extra > 0) nn_lanes_then(ctx, g->N, work, conv_lane, j, extra, conv_combine);
    else nn_lanes(ctx, g->N, work, conv_lane, j);
    nn_ftz_end(mode);
  }
  for (int p = parts - 1; p >= 0; p--)   /* (last first: the cache hands them back in order) */
    if (blk[p]) nn_block_put(ctx, blk[p], (size_t)colb + (p > 0 ? partb : 0));
  return s;
}

/* ---- argument checks shared by conv2d and conv_transpose2d ---------------------------------- */
typedef struct { geom g; bool transposed; } conv_args;

static int64_t or1(int64_t v) { return v ? v : 1; }

/* One spatial dim of a convolution: the small side from the big (conv) or the big side from
   the small (conv_transpose, with output_padding op); false (and a message) if it has none */
static nn_status axis_sizes(nn_ctx *ctx, const char *name, const char *dim, axis *a, int64_t in,
                            int64_t extra, int64_t op, bool transposed) {
  int64_t eff, pad2, span = 0;
  if (!nn_size_mul(a->d, a->k - 1, &eff) || !nn_size_add(eff, 1, &eff) ||
      !nn_size_mul(a->p, 2, &pad2) || !nn_size_add(pad2, extra, &pad2))
    return nn_fail(ctx, NN_ERR_ARG, "%s: kernel, dilation or padding too large", name);
  if (!transposed) {
    a->big = in;
    if (!nn_size_add(in, pad2, &span) || span < eff)
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: kernel %s %lld (dilated %lld) is bigger than the padded "
                     "input %s %lld", name, dim, (long long)a->k, (long long)eff, dim,
                     (long long)(in + pad2));
    a->small = (span - eff) / a->s + 1;
    return NN_OK;
  }
  a->small = in;
  if (in > 0 && (!nn_size_mul(in - 1, a->s, &span) || !nn_size_add(span, eff + op, &span)))
    return nn_fail(ctx, NN_ERR_ARG, "%s: output %s too large", name, dim);
  if (in > 0) span -= pad2;
  if (in == 0) span = 0;
  if (span < 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: padding %lld leaves no output %s (input %s %lld)", name,
                   (long long)a->p, dim, dim, (long long)in);
  a->big = span;
  return NN_OK;
}

/* Checks x [N,C,H,W], w (conv: [O,C/G,kh,kw]; transposed: [C,O/G,kh,kw]), b [O] and the options;
   fills the geometry and the output shape. */
static nn_status conv_check(nn_ctx *ctx, const char *name, nn_tensor *x, nn_tensor *w,
                            nn_tensor *b, const nn_conv_opts *o, bool transposed, geom *g,
                            int64_t *oshape) {
  static const nn_conv_opts defaults = {.groups = 1};
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s;
  if (!o) o = &defaults;
  if ((s = nn_need_float(ctx, name, x)) || (s = nn_need_float(ctx, name, w)) ||
      (b && (s = nn_need_float(ctx, name, b))))
    return s;
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: input, weight and bias must have one dtype (%s, %s%s%s)",
                   name, nn_dtype_name(x->dtype), nn_dtype_name(w->dtype), b ? ", " : "",
                   b ? nn_dtype_name(b->dtype) : "");
  if (x->ndim != 4 || w->ndim != 4)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected a 4-D input [N, C, H, W] and a 4-D weight, got "
                   "input %s and weight %s", name, nn_shape_fmt(x->ndim, x->shape, b1),
                   nn_shape_fmt(w->ndim, w->shape, b2));
  int64_t G = or1(o->groups);
  for (int i = 0; i < 2; i++)
    if (o->stride[i] < 0 || o->dilation[i] < 0 || o->padding[i] < 0 || o->padding_extra[i] < 0 ||
        o->output_padding[i] < 0 || G < 1)
      return nn_fail(ctx, NN_ERR_ARG, "%s: stride, dilation, padding and groups must be positive "
                     "(stride %lld, dilation %lld, padding %lld, groups %lld)", name,
                     (long long)o->stride[i], (long long)o->dilation[i], (long long)o->padding[i],
                     (long long)o->groups);
  int64_t C = x->shape[1], wc = transposed ? w->shape[0] : w->shape[1] * G;
  int64_t O = transposed ? w->shape[1] * G : w->shape[0];
  if (C % G || (!transposed && O % G))
    return nn_fail(ctx, NN_ERR_ARG, "%s: groups %lld must divide the input channels (%lld) and the "
                   "output channels (%lld)", name, (long long)G, (long long)C, (long long)O);
  if (C != wc)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input has %lld channels but the weight expects %lld "
                   "(groups %lld; input %s, weight %s)", name, (long long)C, (long long)wc,
                   (long long)G, nn_shape_fmt(4, x->shape, b1), nn_shape_fmt(4, w->shape, b2));
  if (w->shape[2] < 1 || w->shape[3] < 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: empty kernel (weight %s)", name,
                   nn_shape_fmt(4, w->shape, b2));
  if (b && (b->ndim != 1 || b->shape[0] != O))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: bias must be [%lld], got %s", name, (long long)O,
                   nn_shape_fmt(b->ndim, b->shape, b1));
  *g = (geom){.N = x->shape[0], .G = G, .Cb = transposed ? O : C, .Cs = transposed ? C : O};
  axis *ax[2] = {&g->h, &g->w};
  for (int i = 0; i < 2; i++) {
    *ax[i] = (axis){.k = w->shape[2 + i], .s = or1(o->stride[i]), .p = o->padding[i],
                    .d = or1(o->dilation[i])};
    if (o->output_padding[i] && (!transposed || (o->output_padding[i] >= ax[i]->s &&
                                                 o->output_padding[i] >= ax[i]->d)))
      return nn_fail(ctx, NN_ERR_ARG, "%s: output_padding %lld must be smaller than the stride "
                     "(%lld) or the dilation (%lld)%s", name, (long long)o->output_padding[i],
                     (long long)ax[i]->s, (long long)ax[i]->d, transposed ? "" : " (transposed only)");
    if ((s = axis_sizes(ctx, name, i ? "width" : "height", ax[i], x->shape[2 + i],
                        o->padding_extra[i], o->output_padding[i], transposed)))
      return s;
  }
  oshape[0] = g->N; oshape[1] = O;
  oshape[2] = transposed ? g->h.big : g->h.small;
  oshape[3] = transposed ? g->w.big : g->w.small;
  return nn_check_shape(ctx, name, 4, oshape);
}

/* ---- conv2d: y = conv(x, w) + b; conv_transpose2d: y = conv's input gradient of x, + b ------
   conv backward:            dx += col2im(Wm^T dy), dW += dy col(x)^T, db += Σ dy
   conv_transpose backward:  dx += Wm col(dy),      dW += x col(dy)^T,  db += Σ dy */
static nn_status conv_backward(nn_ctx *ctx, nn_node *n) {
  const conv_args *a = n->args;
  bool tr = a->transposed;
  nn_tensor *x = NULL, *w = NULL, *gy = NULL, *dx, *dw, *db = NULL;
  bool fresh;
  nn_status s;
  if ((s = nn_contig(ctx, n->in[0], &x)) || (s = nn_contig(ctx, n->in[1], &w)) ||
      (s = nn_contig(ctx, n->gout, &gy)) || (s = nn_grad_slot(ctx, n, 0, &dx, &fresh)) ||
      (s = nn_grad_slot(ctx, n, 1, &dw, NULL)) ||
      (n->nin > 2 && (s = nn_grad_slot(ctx, n, 2, &db, NULL))))
    goto done;
  conv_job j = {.g = a->g, .dt = x->dtype, .w = nn_ptr(w), .db_of_big = tr};
  j.big_in = tr ? nn_ptr(gy) : nn_ptr(x);
  j.small_in = tr ? nn_ptr(x) : nn_ptr(gy);
  if (dx && tr) { j.small_out = nn_ptr(dx); j.beta_small = fresh ? 0.0 : 1.0; }
  if (dx && !tr) { j.big_out = nn_ptr(dx); j.zero_big = fresh; }
  if (!dw && !tr) j.big_in = NULL;     /* conv's dx alone reads no column of x */
  j.dw[0] = dw ? nn_ptr(dw) : NULL;
  j.db[0] = db ? nn_ptr(db) : NULL;
  if (!dx && !dw && !db) goto done;
  s = conv_run(ctx, &j);
done:
  nn_tensor_release(x); nn_tensor_release(w); nn_tensor_release(gy);
  return s;
}
const nn_op nn_op_conv2d = {.name = "conv2d", .backward = conv_backward, .saves = 3,
                            .args_size = sizeof(conv_args)};
const nn_op nn_op_conv_transpose2d = {.name = "conv_transpose2d", .backward = conv_backward,
                                      .saves = 3, .args_size = sizeof(conv_args)};

static nn_status conv_any(nn_ctx *ctx, const nn_op *op, nn_tensor *x0, nn_tensor *w0, nn_tensor *b0,
                          const nn_conv_opts *o, nn_tensor **out) {
  const char *name = op->name;
  bool tr = op == &nn_op_conv_transpose2d;
  NN_ARG(ctx, name, out);
  *out = NULL;
  NN_ARG_AS(ctx, name, x0 && w0, "tensor");
  conv_args args = {.transposed = tr};
  int64_t oshape[4];
  nn_status s = conv_check(ctx, name, x0, w0, b0, o, tr, &args.g, oshape);
  if (s) return s;
  nn_tensor *x = NULL, *w = NULL, *b = NULL, *y = NULL;
  if ((s = nn_contig(ctx, x0, &x)) || (s = nn_contig(ctx, w0, &w)) ||
      (b0 && (s = nn_contig(ctx, b0, &b))) || (s = nn_new(ctx, x->dtype, 4, oshape, false, &y)))
    goto done;
  conv_job j = {.g = args.g, .dt = x->dtype, .w = nn_ptr(w)};
  if (tr) {
    j.small_in = nn_ptr(x); j.big_out = nn_ptr(y); j.zero_big = true;
    j.bias_big = b ? nn_ptr(b) : NULL;
  } else {
    j.big_in = nn_ptr(x); j.small_out = nn_ptr(y);
    j.bias_small = b ? nn_ptr(b) : NULL;
  }
  if (y->numel > 0 && (s = conv_run(ctx, &j))) goto done;
  *out = y;
  y = NULL;
  nn_tensor *in[3] = {x0, w0, b0};
  s = nn_record(ctx, op, out, b0 ? 3 : 2, in, NULL, &args);
done:
  nn_tensor_release(x); nn_tensor_release(w); nn_tensor_release(b); nn_tensor_release(y);
  return s;
}

nn_status nn_conv2d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b, const nn_conv_opts *opts,
                    nn_tensor **out) {
  return conv_any(ctx, &nn_op_conv2d, x, w, b, opts, out);
}
nn_status nn_conv_transpose2d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                              const nn_conv_opts *opts, nn_tensor **out) {
  return conv_any(ctx, &nn_op_conv_transpose2d, x, w, b, opts, out);
}

/* conv1d: x [N,C,L] and w [O,C/G,k] seen as [N,C,1,L] and [O,C/G,1,k] (views, recorded), the
   options of dim 0 moved to the width */
nn_status nn_conv1d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b, const nn_conv_opts *opts,
                    nn_tensor **out) {
  NN_ARG(ctx, "conv1d", out);
  *out = NULL;
  NN_ARG_AS(ctx, "conv1d", x && w, "tensor");
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (x->ndim != 3 || w->ndim != 3)
    return nn_fail(ctx, NN_ERR_SHAPE, "conv1d: expected a 3-D input [N, C, L] and a 3-D weight, got "
                   "input %s and weight %s", nn_shape_fmt(x->ndim, x->shape, b1),
                   nn_shape_fmt(w->ndim, w->shape, b2));
  nn_conv_opts o = {.groups = 1};
  if (opts) {
    o.groups = opts->groups;
    o.stride[1] = opts->stride[0]; o.padding[1] = opts->padding[0];
    o.padding_extra[1] = opts->padding_extra[0]; o.dilation[1] = opts->dilation[0];
    o.output_padding[1] = opts->output_padding[0];
  }
  nn_tensor *x4 = NULL, *w4 = NULL, *y4 = NULL;
  nn_status s;
  if (!(s = nn_unsqueeze(ctx, x, 2, &x4)) && !(s = nn_unsqueeze(ctx, w, 2, &w4)) &&
      !(s = nn_conv2d(ctx, x4, w4, b, &o, &y4)))
    s = nn_squeeze(ctx, y4, 2, out);
  nn_tensor_release(x4); nn_tensor_release(w4); nn_tensor_release(y4);
  if (s && nn_ctx_errmsg(ctx) && strncmp(nn_ctx_errmsg(ctx), "conv2d:", 7) == 0) {
    char msg[512];    /* the message names the op the caller called */
    snprintf(msg, sizeof msg, "conv1d:%s", nn_ctx_errmsg(ctx) + 7);
    return nn_fail(ctx, s, "%s", msg);
  }
  return s;
}

const nn_op *const nn_ops_conv[] = {&nn_op_conv2d, &nn_op_conv_transpose2d, NULL};
