/* ops_rnn.c — sequence models: embedding lookups and recurrent layers (RNN tanh/ReLU, LSTM,
   GRU) run over a whole sequence as one op, the time loop here in C.

   A recurrent layer is x_t W_ih^T + b_ih for every step (one product over all steps, made by the
   caller with nn_linear) and then the recurrence, which is this file's op nn_rnn_seq. Batch rows
   never meet in a recurrence, so the rows are split into lanes once for the whole sequence:
   each lane runs every time step for its rows (the step's product h W_hh^T for those rows, then
   the gates and the state update while the product's rows are in cache), with no hand-off
   between steps. Backward through time is one pass per lane the same way, and the gradient of
   W_hh is one product over all steps at the end. Nothing is allocated per step. */
#include <cblas.h>
#include <limits.h>
#include "nn_impl.h"

/* ---- type-generic math: each kernel is written once for float and double ------------------ */
#define EXP(u) _Generic((u), float: nn_expf, default: exp)(u)
/* tanh through nn_expf: libm's tanhf is a call per element that no loop vectorizes */
static inline float tanh_f32(float u) { return 2.0f / (1.0f + nn_expf(-2.0f * u)) - 1.0f; }
#define TANH(u) _Generic((u), float: tanh_f32, default: tanh)(u)
#define SIGM(u) (1 / (1 + EXP(-(u))))

/* C[M,N] = op(A) op(B) + beta C, row-major, on the calling thread (the lanes split the work) */
static void mm(nn_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const char *a,
               int64_t lda, const char *b, int64_t ldb, double beta, char *c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  enum CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
  if (dt == NN_F32)
    cblas_sgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)K, 1.0f, (const float *)a, (int)lda,
                (const float *)b, (int)ldb, (float)beta, (float *)c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)K, 1.0, (const double *)a, (int)lda,
                (const double *)b, (int)ldb, beta, (double *)c, (int)ldc);
}

/* ---- embedding: Y[..., D] = W[ids[...], :] ------------------------------------------------
   dW[ids[i]] += dY[i] for every i in order (a scatter-add, serial so the sums are the same bits
   every run); the padding row gets no gradient. */
typedef struct { int64_t padding; } embed_args;

static nn_status embedding_backward(nn_ctx *ctx, nn_node *n) {
  const embed_args *a = n->args;
  nn_tensor *ids = NULL, *g = NULL, *slot;
  nn_status s;
  if ((s = nn_grad_slot(ctx, n, 1, &slot, NULL)) || !slot) return s;
  if ((s = nn_contig(ctx, n->in[0], &ids)) || (s = nn_contig(ctx, n->gout, &g))) goto done;
  int64_t D = slot->shape[1], m = ids->numel;
  const int64_t *id = (const int64_t *)nn_ptr(ids);
  for (int64_t i = 0; i < m; i++) {
    if (id[i] == a->padding) continue;
    if (slot->dtype == NN_F32) {
      float *d = (float *)nn_ptr(slot) + id[i] * D;
      const float *gy = (const float *)nn_ptr(g) + i * D;
      for (int64_t k = 0; k < D; k++) d[k] += gy[k];
    } else {
      double *d = (double *)nn_ptr(slot) + id[i] * D;
      const double *gy = (const double *)nn_ptr(g) + i * D;
      for (int64_t k = 0; k < D; k++) d[k] += gy[k];
    }
  }
done:
  nn_tensor_release(ids); nn_tensor_release(g);
  return s;
}
const nn_op nn_op_embedding = {.name = "embedding", .backward = embedding_backward, .saves = 1,
                               .args_size = sizeof(embed_args)};

nn_status nn_embedding(nn_ctx *ctx, nn_tensor *ids, nn_tensor *weight, int64_t padding_idx,
                       nn_tensor **out) {
  NN_ARG(ctx, "embedding", out);
  *out = NULL;
  NN_ARG_AS(ctx, "embedding", ids && weight, "tensor");
  char b1[NN_SHAPE_BUF];
  if (weight->ndim != 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "embedding: weight must be 2-D [num, dim], got %s",
                   nn_shape_fmt(weight->ndim, weight->shape, b1));
  if (weight->dtype == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "embedding: weight must be float32 or float64, got int64");
  if (ids->dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "embedding: ids must be int64, got %s",
                   nn_dtype_name(ids->dtype));
  if (ids->ndim >= NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_SHAPE, "embedding: ids have %d dims; at most %d", ids->ndim,
                   NN_MAX_DIMS - 1);
  int64_t N = weight->shape[0], D = weight->shape[1];
  if (padding_idx < -1 || padding_idx >= N)
    return nn_fail(ctx, NN_ERR_ARG, "embedding: padding_idx %lld is out of range for %lld rows",
                   (long long)padding_idx, (long long)N);
  nn_tensor *ic = NULL, *wc = NULL, *y = NULL;
  nn_status s;
  if ((s = nn_contig(ctx, ids, &ic)) || (s = nn_contig(ctx, weight, &wc))) goto done;
  const int64_t *id = (const int64_t *)nn_ptr(ic);
  for (int64_t i = 0; i < ic->numel; i++)
    if (id[i] < 0 || id[i] >= N) {
      s = nn_fail(ctx, NN_ERR_ARG, "embedding: id %lld is out of range for %lld rows (0..%lld)",
                  (long long)id[i], (long long)N, (long long)N - 1);
      goto done;
    }
  int64_t shape[NN_MAX_DIMS];
  memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
  shape[ids->ndim] = D;
  if ((s = nn_check_shape(ctx, "embedding", ids->ndim + 1, shape)) ||
      (s = nn_new(ctx, weight->dtype, ids->ndim + 1, shape, false, &y)))
    goto done;
  size_t row = (size_t)D * nn_dtype_size(weight->dtype);
  for (int64_t i = 0; i < ic->numel; i++)
    memcpy(nn_ptr(y) + (size_t)i * row, nn_ptr(wc) + (size_t)id[i] * row, row);
  embed_args args = {padding_idx};
  nn_tensor *in[2] = {ids, weight};
  *out = y;
  y = NULL;
  s = nn_record(ctx, &nn_op_embedding, out, 2, in, NULL, &args);
done:
  nn_tensor_release(ic); nn_tensor_release(wc); nn_tensor_release(y);
  return s;
}

/* ---- rnn_seq: one recurrent layer, one direction, over a whole sequence -------------------
   pre-activations a_t = gx_t + h_{t-1} W_hh^T + b_hh  (G gate blocks of H: LSTM i,f,g,o; GRU r,z,n)
     RNN:  h_t = tanh(a_t) or relu(a_t)
     LSTM: c_t = σ(f) c_{t-1} + σ(i) tanh(g),  h_t = σ(o) tanh(c_t)
     GRU:  r, z = σ(.), n = tanh(gx_n + r (h W_hn^T + b_hn)),  h_t = (1 - z) n + z h_{t-1}
   out [T + 1 (+1 LSTM), B, H]: h_t by time, then the last h, then (LSTM) the last c.
   Backward, t from last to first: dh = dY_t + dh carried; the gates' gradients da_t (dgh);
   dh_{t-1} = da_t W_hh (+ dh z for GRU); after the loop dW_hh = Σ_t da_t^T h_{t-1} as one
   product and db_hh = Σ da_t. The work space (the node's saved tensor) keeps h0, c0, every
   h_t, c_t and the gates' activations. */
typedef struct { int mode; bool reverse; } rnn_args;

/* Geometry and buffers of one layer's forward or backward (the lanes' shared job) */
typedef struct {
  nn_dtype dt;
  int mode;
  bool reverse;
  int64_t T, B, H, G, A;          /* steps, batch, hidden, gate blocks, activation blocks */
  const char *gx, *whh, *bhh;     /* forward's inputs (bhh may be NULL) */
  char *ws;                       /* h0 | c0 | h_t by time | c_t by time | activations */
  char *hh;                       /* [B, G H] scratch: the step's h W_hh^T + b_hh */
  const char *gy;                 /* backward: dY [T, B, H] (contiguous, the out's gradient) */
  char *dgh, *dgx;                /* [T, B, G H]: the gates' gradients (dgx: GRU's input side) */
  char *dh, *dc;                  /* [B, H] carried state gradients */
  char *dw, *db;                  /* W_hh's and b_hh's gradients (dW lanes) */
  bool h0;                        /* an h0 was given (else its product is skipped) */
} rnn_job;

static bool is_lstm(int mode) { return mode == NN_RNN_LSTM; }
static int64_t gates_of(int mode) { return mode == NN_RNN_LSTM ? 4 : mode == NN_RNN_GRU ? 3 : 1; }
/* activation blocks kept per step: LSTM i f g o tanh(c); GRU r z n (h W_hn^T + b_hn); RNN h */
static int64_t acts_of(int mode) { return mode == NN_RNN_LSTM ? 5 : mode == NN_RNN_GRU ? 4 : 1; }

/* element offsets into the work space */
static int64_t ws_h(const rnn_job *j, int64_t t) {   /* t = -1: h0 */
  return t < 0 ? 0 : 2 * j->B * j->H + t * j->B * j->H;
}
static int64_t ws_c(const rnn_job *j, int64_t t) {   /* LSTM only; t = -1: c0 */
  return t < 0 ? j->B * j->H : (2 + j->T) * j->B * j->H + t * j->B * j->H;
}
static int64_t ws_act(const rnn_job *j, int64_t t) {
  return (2 + (is_lstm(j->mode) ? 2 : 1) * j->T) * j->B * j->H + t * j->B * j->A * j->H;
}
/* the time index before t in the direction of the run, -1 at the start */
static int64_t prev_t(const rnn_job *j, int64_t t) {
  return j->reverse ? (t + 1 < j->T ? t + 1 : -1) : t - 1;
}
/* elements a layer's product touches, for the lanes' split (saturating: only a threshold) */
static int64_t work_of(int64_t T, int64_t B, int64_t GH, int64_t H) {
  int64_t w;
  return nn_size_mul(T, B, &w) && nn_size_mul(w, GH, &w) && nn_size_mul(w, H, &w) ? w : INT64_MAX;
}
static bool ws_size(int64_t T, int64_t B, int64_t H, int mode, int64_t *n) {
  int64_t per = (is_lstm(mode) ? 2 : 1) + acts_of(mode), bh;
  return nn_size_mul(B, H, &bh) && nn_size_mul(T, per, n) && nn_size_add(*n, 2, n) &&
         nn_size_mul(*n, bh, n) && *n <= NN_NUMEL_MAX;
}

/* one step's state update for rows of a lane: x gx_t, g hh, p h_{t-1}, cp c_{t-1}, a the
   activations, h h_t, c c_t (row strides: x, g G H; a A H; the others H) */
#define RNN_FW_STEP(T_, sfx)                                                                   \
  static void fw_step_##sfx(int mode, int64_t n, int64_t H, const T_ *restrict x,              \
                            const T_ *restrict g, const T_ *restrict p, const T_ *restrict cp, \
                            T_ *restrict a, T_ *restrict h, T_ *restrict c) {                  \
    for (int64_t r = 0; r < n; r++, p += H, h += H)                                            \
      if (mode == NN_RNN_LSTM) {                                                               \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ i = SIGM(x[k] + g[k]), f = SIGM(x[H + k] + g[H + k]);                             \
          T_ u = TANH(x[2 * H + k] + g[2 * H + k]), o = SIGM(x[3 * H + k] + g[3 * H + k]);     \
          T_ cc = f * cp[k] + i * u, tc = TANH(cc);                                            \
          a[k] = i; a[H + k] = f; a[2 * H + k] = u; a[3 * H + k] = o; a[4 * H + k] = tc;       \
          c[k] = cc; h[k] = o * tc;                                                            \
        }                                                                                      \
        x += 4 * H; g += 4 * H; a += 5 * H; cp += H; c += H;                                   \
      } else if (mode == NN_RNN_GRU) {                                                         \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ rr = SIGM(x[k] + g[k]), z = SIGM(x[H + k] + g[H + k]), hn = g[2 * H + k];         \
          T_ nn = TANH(x[2 * H + k] + rr * hn);                                                \
          a[k] = rr; a[H + k] = z; a[2 * H + k] = nn; a[3 * H + k] = hn;                       \
          h[k] = (1 - z) * nn + z * p[k];                                                      \
        }                                                                                      \
        x += 3 * H; g += 3 * H; a += 4 * H;                                                    \
      } else {                                                                                 \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ v = x[k] + g[k];                                                                  \
          v = mode == NN_RNN_TANH ? TANH(v) : (v > 0 ? v : 0);                                 \
          a[k] = v; h[k] = v;                                                                  \
        }                                                                                      \
        x += H; g += H; a += H;                                                                \
      }                                                                                        \
  }
RNN_FW_STEP(float, f32)
RNN_FW_STEP(double, f64)

/* The forward of rows lo..hi-1 through every step */
static void fw_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const rnn_job *j = arg;
  int64_t n = hi - lo, H = j->H, GH = j->G * H, es = (int64_t)nn_dtype_size(j->dt);
  (void)part;
  if (n <= 0) return;
  char *hh = j->hh + lo * GH * es;
  for (int64_t s = 0; s < j->T; s++) {
    int64_t t = j->reverse ? j->T - 1 - s : s, tp = prev_t(j, t);
    const char *p = j->ws + (ws_h(j, tp) + lo * H) * es;
    for (int64_t r = 0; r < n; r++)
      if (j->bhh) memcpy(hh + r * GH * es, j->bhh, (size_t)(GH * es));
      else memset(hh + r * GH * es, 0, (size_t)(GH * es));
    mm(j->dt, false, true, n, GH, H, p, H, j->whh, H, 1.0, hh, GH);
    const char *x = j->gx + (t * j->B + lo) * GH * es;
    char *a = j->ws + (ws_act(j, t) + lo * j->A * H) * es, *h = j->ws + (ws_h(j, t) + lo * H) * es;
    char *cp = is_lstm(j->mode) ? j->ws + (ws_c(j, tp) + lo * H) * es : NULL;
    char *c = is_lstm(j->mode) ? j->ws + (ws_c(j, t) + lo * H) * es : NULL;
    if (j->dt == NN_F32)
      fw_step_f32(j->mode, n, H, (const float *)x, (const float *)hh, (const float *)p,
                  (const float *)cp, (float *)a, (float *)h, (float *)c);
    else
      fw_step_f64(j->mode, n, H, (const double *)x, (const double *)hh, (const double *)p,
                  (const double *)cp, (double *)a, (double *)h, (double *)c);
  }
}

/* one step's backward for rows of a lane: dh (in: dL/dh_t; out: the part of dL/dh_{t-1} that
   does not go through W_hh), dc (LSTM, in: dL/dc_t from later steps; out: dL/dc_{t-1}), a the
   step's activations, p h_{t-1}, cp c_{t-1}; writes the gates' gradients dg (and GRU's dx) */
#define RNN_BW_STEP(T_, sfx)                                                                   \
  static void bw_step_##sfx(int mode, int64_t n, int64_t H, const T_ *restrict a,              \
                            const T_ *restrict p, const T_ *restrict cp, T_ *restrict dh,      \
                            T_ *restrict dc, T_ *restrict dg, T_ *restrict dx) {               \
    for (int64_t r = 0; r < n; r++, dh += H)                                                   \
      if (mode == NN_RNN_LSTM) {                                                               \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ i = a[k], f = a[H + k], u = a[2 * H + k], o = a[3 * H + k], tc = a[4 * H + k];    \
          T_ d = dc[k] + dh[k] * o * (1 - tc * tc);                                            \
          dg[k] = d * u * i * (1 - i);                                                         \
          dg[H + k] = d * cp[k] * f * (1 - f);                                                 \
          dg[2 * H + k] = d * i * (1 - u * u);                                                 \
          dg[3 * H + k] = dh[k] * tc * o * (1 - o);                                            \
          dc[k] = d * f;                                                                       \
        }                                                                                      \
        a += 5 * H; dg += 4 * H; cp += H; dc += H;                                             \
      } else if (mode == NN_RNN_GRU) {                                                         \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ rr = a[k], z = a[H + k], nn = a[2 * H + k], hn = a[3 * H + k], d = dh[k];         \
          T_ dn = d * (1 - z) * (1 - nn * nn);                                                 \
          T_ dr = dn * hn * rr * (1 - rr), dz = d * (p[k] - nn) * z * (1 - z);                 \
          dg[k] = dr; dg[H + k] = dz; dg[2 * H + k] = dn * rr;                                 \
          dx[k] = dr; dx[H + k] = dz; dx[2 * H + k] = dn;                                      \
          dh[k] = d * z;                                                                       \
        }                                                                                      \
        a += 4 * H; dg += 3 * H; dx += 3 * H; p += H;                                          \
      } else {                                                                                 \
        for (int64_t k = 0; k < H; k++) {                                                      \
          T_ y = a[k];                                                                         \
          dg[k] = mode == NN_RNN_TANH ? dh[k] * (1 - y * y) : (y > 0 ? dh[k] : 0);             \
        }                                                                                      \
        a += H; dg += H;                                                                       \
      }                                                                                        \
  }
RNN_BW_STEP(float, f32)
RNN_BW_STEP(double, f64)

/* dst += src over n elements */
static void add_to(nn_dtype dt, char *dst, const char *src, int64_t n) {
  if (dt == NN_F32)
    for (int64_t i = 0; i < n; i++) ((float *)dst)[i] += ((const float *)src)[i];
  else
    for (int64_t i = 0; i < n; i++) ((double *)dst)[i] += ((const double *)src)[i];
}

/* The backward through time of rows lo..hi-1: dh, dc start as the last state's gradients */
static void bw_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const rnn_job *j = arg;
  int64_t n = hi - lo, H = j->H, GH = j->G * H, es = (int64_t)nn_dtype_size(j->dt);
  bool gru = j->mode == NN_RNN_GRU;
  (void)part;
  if (n <= 0) return;
  char *dh = j->dh + lo * H * es, *dc = is_lstm(j->mode) ? j->dc + lo * H * es : NULL;
  for (int64_t s = j->T - 1; s >= 0; s--) {
    int64_t t = j->reverse ? j->T - 1 - s : s, tp = prev_t(j, t);
    add_to(j->dt, dh, j->gy + (t * j->B + lo) * H * es, n * H);
    const char *a = j->ws + (ws_act(j, t) + lo * j->A * H) * es;
    const char *p = j->ws + (ws_h(j, tp) + lo * H) * es;
    const char *cp = is_lstm(j->mode) ? j->ws + (ws_c(j, tp) + lo * H) * es : NULL;
    char *dg = j->dgh + (t * j->B + lo) * GH * es;
    char *dx = gru ? j->dgx + (t * j->B + lo) * GH * es : NULL;
    if (j->dt == NN_F32)
      bw_step_f32(j->mode, n, H, (const float *)a, (const float *)p, (const float *)cp,
                  (float *)dh, (float *)dc, (float *)dg, (float *)dx);
    else
      bw_step_f64(j->mode, n, H, (const double *)a, (const double *)p, (const double *)cp,
                  (double *)dh, (double *)dc, (double *)dg, (double *)dx);
    mm(j->dt, false, false, n, H, GH, dg, GH, j->whh, H, gru ? 1.0 : 0.0, dh, H);
  }
}

/* Rows lo..hi-1 of dW_hh [G H, H] += Σ_t da_t^T h_{t-1} and of db_hh += Σ_t da_t: the steps
   whose h_{t-1} is an h_t of the work space as one product (their rows are consecutive), the
   first step's (h0) as another */
static void dw_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const rnn_job *j = arg;
  int64_t n = hi - lo, H = j->H, GH = j->G * H, B = j->B, es = (int64_t)nn_dtype_size(j->dt);
  (void)part;
  if (n <= 0) return;
  int64_t k = (j->T - 1) * B;                       /* rows of the steps after the first */
  int64_t d0 = j->reverse ? 0 : B, h0 = j->reverse ? B : 0;   /* their dgh row, their h row */
  if (j->dw) {
    char *dw = j->dw + lo * H * es;
    if (k > 0)
      mm(j->dt, true, false, n, H, k, j->dgh + (d0 * GH + lo) * es, GH,
         j->ws + (ws_h(j, 0) + h0 * H) * es, H, 1.0, dw, H);
    int64_t first = j->reverse ? j->T - 1 : 0;     /* the step that read h0 */
    if (j->h0) mm(j->dt, true, false, n, H, B, j->dgh + (first * B * GH + lo) * es, GH, j->ws, H, 1.0, dw, H);
  }
  if (j->db)
    for (int64_t r = 0; r < j->T * B; r++) add_to(j->dt, j->db + lo * es, j->dgh + (r * GH + lo) * es, n);
}

static nn_status rnn_seq_backward(nn_ctx *ctx, nn_node *n) {
  const rnn_args *a = n->args;
  nn_tensor *gx = n->in[0], *whh = NULL, *gy = NULL, *dgh = NULL, *dgx = NULL, *dh = NULL,
            *dc = NULL, *slot;
  int64_t T = gx->shape[0], B = gx->shape[1], G = gates_of(a->mode), H = n->in[1]->shape[1];
  rnn_job j = {.dt = gx->dtype, .mode = a->mode, .reverse = a->reverse, .T = T, .B = B, .H = H,
               .G = G, .A = acts_of(a->mode), .ws = nn_ptr(n->saved), .h0 = n->in[3] != NULL};
  int64_t es = (int64_t)nn_dtype_size(j.dt), st[2] = {B, H};
  nn_status s;
  if ((s = nn_contig(ctx, n->in[1], &whh)) || (s = nn_contig(ctx, n->gout, &gy)) ||
      (s = nn_new_like(ctx, gx, false, &dgh)) ||
      (a->mode == NN_RNN_GRU && (s = nn_new_like(ctx, gx, false, &dgx))) ||
      (s = nn_new(ctx, j.dt, 2, st, false, &dh)) ||
      (is_lstm(a->mode) && (s = nn_new(ctx, j.dt, 2, st, false, &dc))))
    goto done;
  j.whh = nn_ptr(whh); j.gy = nn_ptr(gy); j.dgh = nn_ptr(dgh); j.dgx = dgx ? nn_ptr(dgx) : NULL;
  j.dh = nn_ptr(dh); j.dc = dc ? nn_ptr(dc) : NULL;
  memcpy(j.dh, j.gy + T * B * H * es, (size_t)(B * H * es));          /* the last h's */
  if (dc) memcpy(j.dc, j.gy + (T + 1) * B * H * es, (size_t)(B * H * es));   /* the last c's */
  nn_blas_threads(ctx);
  unsigned mode = nn_ftz_begin();
  nn_lanes(ctx, B, work_of(T, B, G * H, H), bw_rows, &j);
  if (!(s = nn_grad_slot(ctx, n, 1, &slot, NULL)) && slot) j.dw = nn_ptr(slot);
  if (!s && !(s = nn_grad_slot(ctx, n, 2, &slot, NULL)) && slot) j.db = nn_ptr(slot);
  if (!s && (j.dw || j.db)) nn_lanes(ctx, G * H, work_of(T, B, G * H, H), dw_rows, &j);
  nn_ftz_end(mode);
  if (!s) s = nn_grad_accum(ctx, n, 0, dgx ? dgx : dgh);
  if (!s) s = nn_grad_accum(ctx, n, 3, dh);
  if (!s && dc) s = nn_grad_accum(ctx, n, 4, dc);
done:
  nn_tensor_release(whh); nn_tensor_release(gy); nn_tensor_release(dgh);
  nn_tensor_release(dgx); nn_tensor_release(dh); nn_tensor_release(dc);
  return s;
}
const nn_op nn_op_rnn_seq = {.name = "rnn_seq", .backward = rnn_seq_backward, .saves = 2,
                             .args_size = sizeof(rnn_args)};

static const char *const mode_names[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};

/* The shapes, dtypes and sizes nn_rnn_seq accepts */
static nn_status rnn_seq_check(nn_ctx *ctx, int mode, nn_tensor *gx, nn_tensor *whh,
                               nn_tensor *bhh, nn_tensor *h0, nn_tensor *c0) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (mode < NN_RNN_TANH || mode > NN_RNN_GRU)
    return nn_fail(ctx, NN_ERR_ARG, "rnn_seq: unknown mode %d", mode);
  const char *m = mode_names[mode];
  if (whh->ndim != 2 || whh->shape[0] != gates_of(mode) * whh->shape[1] || whh->shape[1] < 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "rnn_seq (%s): w_hh must be [%lld * hidden, hidden], got %s",
                   m, (long long)gates_of(mode), nn_shape_fmt(whh->ndim, whh->shape, b1));
  int64_t H = whh->shape[1], GH = whh->shape[0];
  if (gx->ndim != 3 || gx->shape[2] != GH || gx->shape[0] < 1)
    return nn_fail(ctx, NN_ERR_SHAPE, "rnn_seq (%s): gx must be [steps >= 1, batch, %lld], got %s (w_hh %s)",
                   m, (long long)GH, nn_shape_fmt(gx->ndim, gx->shape, b1),
                   nn_shape_fmt(2, whh->shape, b2));
  int64_t T = gx->shape[0], B = gx->shape[1], st[2] = {B, H}, wsn;
  if (bhh && (bhh->ndim != 1 || bhh->shape[0] != GH))
    return nn_fail(ctx, NN_ERR_SHAPE, "rnn_seq (%s): b_hh must be [%lld], got %s", m,
                   (long long)GH, nn_shape_fmt(bhh->ndim, bhh->shape, b1));
  nn_tensor *states[2] = {h0, c0};
  for (int i = 0; i < 2; i++)
    if (states[i] && (states[i]->ndim != 2 || states[i]->shape[0] != B || states[i]->shape[1] != H))
      return nn_fail(ctx, NN_ERR_SHAPE, "rnn_seq (%s): %s must be %s, got %s", m, i ? "c0" : "h0",
                     nn_shape_fmt(2, st, b1), nn_shape_fmt(states[i]->ndim, states[i]->shape, b2));
  if (c0 && mode != NN_RNN_LSTM)
    return nn_fail(ctx, NN_ERR_ARG, "rnn_seq (%s): c0 is for an LSTM only", m);
  nn_tensor *all[5] = {gx, whh, bhh, h0, c0};
  for (int i = 0; i < 5; i++)
    if (all[i] && (all[i]->dtype == NN_I64 || all[i]->dtype != gx->dtype))
      return nn_fail(ctx, NN_ERR_DTYPE, "rnn_seq (%s): gx, w_hh, b_hh, h0 and c0 must share a floating dtype, got %s and %s",
                     m, nn_dtype_name(gx->dtype), nn_dtype_name(all[i]->dtype));
  int64_t tb;
  if (!ws_size(T, B, H, mode, &wsn) || !nn_size_mul(T, B, &tb) || tb > INT_MAX || GH > INT_MAX)
    return nn_fail(ctx, NN_ERR_SHAPE, "rnn_seq (%s): too large (gx %s)", m,
                   nn_shape_fmt(3, gx->shape, b1));
  return NN_OK;
}

nn_status nn_rnn_seq(nn_ctx *ctx, nn_rnn_mode mode, nn_tensor *gx, nn_tensor *w_hh,
                     nn_tensor *b_hh, nn_tensor *h0, nn_tensor *c0, bool reverse,
                     nn_tensor **out) {
  NN_ARG(ctx, "rnn_seq", out);
  *out = NULL;
  NN_ARG_AS(ctx, "rnn_seq", gx && w_hh, "tensor");
  nn_status s = rnn_seq_check(ctx, (int)mode, gx, w_hh, b_hh, h0, c0);
  if (s) return s;
  if ((s = nn_check_interrupt(ctx, "rnn_seq"))) return s;
  int64_t T = gx->shape[0], B = gx->shape[1], H = w_hh->shape[1], G = gates_of(mode), wsn;
  int64_t L = is_lstm(mode) ? 2 : 1, oshape[3] = {T + L, B, H}, es = (int64_t)nn_dtype_size(gx->dtype);
  ws_size(T, B, H, mode, &wsn);
  nn_tensor *gc = NULL, *wc = NULL, *bc = NULL, *ws = NULL, *y = NULL, *view = NULL;
  char *hh = NULL;
  size_t hhn = (size_t)(B * G * H * es);
  if ((s = nn_contig(ctx, gx, &gc)) || (s = nn_contig(ctx, w_hh, &wc)) ||
      (b_hh && (s = nn_contig(ctx, b_hh, &bc))) || (s = nn_new(ctx, gx->dtype, 1, &wsn, false, &ws)) ||
      (s = nn_new(ctx, gx->dtype, 3, oshape, false, &y)))
    goto done;
  if (hhn && !(hh = nn_block_get(ctx, hhn))) { s = nn_fail(ctx, NN_ERR_MEM, "rnn_seq: out of memory"); goto done; }
  rnn_job j = {.dt = gx->dtype, .mode = mode, .reverse = reverse, .T = T, .B = B, .H = H, .G = G,
               .A = acts_of(mode), .gx = nn_ptr(gc), .whh = nn_ptr(wc), .bhh = bc ? nn_ptr(bc) : NULL,
               .ws = nn_ptr(ws), .hh = hh};
  int64_t bh = B * H, sh2[2] = {B, H};
  nn_tensor *st[2] = {h0, c0};
  for (int i = 0; i < 2; i++) {       /* h0, c0 (zeros when absent) at the start of ws */
    if ((s = nn_alias(ctx, ws, 2, sh2, (int64_t[]){H, 1}, i * bh, &view))) goto done;
    if (st[i]) nn_copy_raw(view, st[i]);
    else memset(nn_ptr(view), 0, (size_t)(bh * es));
    nn_tensor_release(view);
    view = NULL;
  }
  nn_blas_threads(ctx);
  unsigned fm = nn_ftz_begin();
  nn_lanes(ctx, B, work_of(T, B, G * H, H), fw_rows, &j);
  nn_ftz_end(fm);
  int64_t last = reverse ? 0 : T - 1;
  memcpy(nn_ptr(y), j.ws + ws_h(&j, 0) * es, (size_t)(T * bh * es));
  memcpy(nn_ptr(y) + T * bh * es, j.ws + ws_h(&j, last) * es, (size_t)(bh * es));
  if (L == 2) memcpy(nn_ptr(y) + (T + 1) * bh * es, j.ws + ws_c(&j, last) * es, (size_t)(bh * es));
  rnn_args args = {(int)mode, reverse};
  nn_tensor *in[5] = {gx, w_hh, b_hh, h0, c0};
  *out = y;
  y = NULL;
  s = nn_record(ctx, &nn_op_rnn_seq, out, 5, in, ws, &args);
done:
  if (hh) nn_block_put(ctx, hh, hhn);
  nn_tensor_release(gc); nn_tensor_release(wc); nn_tensor_release(bc);
  nn_tensor_release(ws); nn_tensor_release(y); nn_tensor_release(view);
  return s;
}

/* this file's ops, for the op list (oplist.c) */
const nn_op *const nn_ops_rnn[] = {&nn_op_embedding, &nn_op_rnn_seq, NULL};
