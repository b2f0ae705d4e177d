/* ops_linalg.c — matrix products through BLAS: matmul (1-D, 2-D, batched with broadcast
   batch dims), dot, and the fused linear layer. Transposed views go to BLAS as transpose
   flags, never as copies. */
#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include "nn_impl.h"

/* How BLAS can read a 2-D matrix with these strides: as is, as a transpose, or not at all. */
typedef struct { bool trans; int64_t ld; bool ok; } gemm_view;
static gemm_view as_gemm(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  gemm_view v = {false, 0, false};
  if ((cs == 1 || cols == 1) && rs >= (cols > 1 ? cols : 1)) { v.ld = rows > 1 ? rs : (cols > 1 ? cols : 1); v.ok = true; }
  else if ((rs == 1 || rows == 1) && cs >= (rows > 1 ? rows : 1)) { v.trans = true; v.ld = cols > 1 ? cs : (rows > 1 ? rows : 1); v.ok = true; }
  return v;
}

extern char *openblas_get_corename(void);

/* OpenBLAS has small-matrix kernels for this CPU (0.3.21: the AVX-512 cores) */
static bool small_kernels(void) {
  static atomic_int known = -1;     /* (computed once; any thread computes the same) */
  int k = atomic_load_explicit(&known, memory_order_relaxed);
  if (k < 0) {
    const char *core = openblas_get_corename();
    k = core && (strstr(core, "kylake") || strstr(core, "ooperlake") || strstr(core, "apphire"));
    atomic_store_explicit(&known, k, memory_order_relaxed);
  }
  return k;
}

/* OpenBLAS runs one of its generic kernels (no AVX) on a CPU with AVX2 and FMA: Lunet's own
   float32 product is faster there (gemm_avx2.c) */
static bool own_sgemm(void) {
  static atomic_int known = -1;     /* (computed once; any thread computes the same) */
  int k = atomic_load_explicit(&known, memory_order_relaxed);
  if (k < 0) {
    k = nn_blas_generic_kernel() && nn_sgemm_avx2_usable();
    atomic_store_explicit(&known, k, memory_order_relaxed);
  }
  return k;
}

/* C[M,N] = op(A) op(B) + beta C on one thread, A/B/C given by pointer, shape and strides */
static void gemm1(nn_dtype dt, int64_t M, int64_t N, int64_t K, const char *a, int64_t ars,
                  int64_t acs, const char *b, int64_t brs, int64_t bcs, char *c, int64_t ldc,
                  double beta) {
  gemm_view va = as_gemm(M, K, ars, acs), vb = as_gemm(K, N, brs, bcs);
  enum CBLAS_TRANSPOSE ta = va.trans ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = vb.trans ? CblasTrans : CblasNoTrans;
  if (M == 0 || N == 0) return;
  if (dt == NN_F32 && M == 1 && own_sgemm()) {
    nn_sgemv_avx2(N, K, (const float *)a, acs, (const float *)b, brs, bcs, (float *)c, (float)beta);
    return;
  }
  if (dt == NN_F32 && M > 1 && own_sgemm()) {
    nn_sgemm_avx2(M, N, K, (const float *)a, ars, acs, (const float *)b, brs, bcs, (float *)c, ldc,
                  (float)beta);
    return;
  }
  if (M == 1 && K > 0 && acs <= INT_MAX && !small_kernels()) {
    /* one row (a layer on one sample): a matrix-vector product skips a GEMM's packing, which
       dominates so small a product on OpenBLAS's generic kernel; where OpenBLAS has
       small-matrix kernels (SkylakeX) sgemm is the faster (scripts/bench/op_overhead.lua) */
    enum CBLAS_TRANSPOSE tv = vb.trans ? CblasNoTrans : CblasTrans;   /* c = op(B)^T a */
    int rows = vb.trans ? (int)N : (int)K, cols = vb.trans ? (int)K : (int)N;
    if (beta == 0) memset(c, 0, (size_t)N * nn_dtype_size(dt));   /* gemv scales y by beta */
    if (dt == NN_F32)
      cblas_sgemv(CblasRowMajor, tv, rows, cols, 1.0f, (const float *)b, (int)vb.ld,
                  (const float *)a, (int)acs, 1.0f, (float *)c, 1);
    else
      cblas_dgemv(CblasRowMajor, tv, rows, cols, 1.0, (const double *)b, (int)vb.ld,
                  (const double *)a, (int)acs, 1.0, (double *)c, 1);
    return;
  }
  if (dt == NN_F32)
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, (const float *)a, (int)va.ld,
                (const float *)b, (int)vb.ld, (float)beta, (float *)c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0, (const double *)a, (int)va.ld,
                (const double *)b, (int)vb.ld, beta, (double *)c, (int)ldc);
}

/* gemm1 for the ops that split their own work in lanes (convolution: each lane its images) */
void nn_gemm_serial(nn_dtype dt, int64_t M, int64_t N, int64_t K, const char *a, int64_t ars,
                    int64_t acs, const char *b, int64_t brs, int64_t bcs, char *c, int64_t ldc,
                    double beta) {
  gemm1(dt, M, N, K, a, ars, acs, b, brs, bcs, c, ldc, beta);
}

/* The same product split into bands of rows of C (or of columns, when C is wide and short).
   Two reasons to split: the context's threads each take bands, and OpenBLAS's small-matrix
   kernels (no packing, used up to about 100^3 multiply-adds) beat its general path on the
   products of small-batch training, so a product a little above that runs faster as bands
   below it, even on one thread. Each element is computed as in a one-call product. */
typedef struct {
  nn_dtype dt;
  int64_t M, N, K, ars, acs, brs, bcs, ldc;
  const char *a, *b;
  char *c;
  const char *bias;    /* NULL, or a row [N] put into every row of C first (then beta = 1) */
  bool relu;           /* then C = max(C, 0) (the fused linear_relu) */
  double beta;
  int bands, parts;
  bool by_cols;
  float **bt;          /* float32 B^T given (A·B^T): each part's own copy of B, or NULL */
} gemm_job;

static void gemm_part(void *arg, int part) {
  const gemm_job *j = arg;
  int64_t es = (int64_t)nn_dtype_size(j->dt), n = j->by_cols ? j->N : j->M;
  const char *b = j->b;
  int64_t brs = j->brs, bcs = j->bcs;
  if (j->bt) {            /* B = W^T, W [N, K] with rows bcs apart: this part's B, contiguous */
    nn_transpose_avx2(j->N, j->K, (const float *)j->b, j->bcs, j->bt[part], j->N);
    b = (const char *)j->bt[part]; brs = j->N; bcs = 1;
  }
  /* a part takes consecutive bands: part 0 the first rows, as every lane-split op (nn_lanes) */
  int b0 = (int)((int64_t)j->bands * part / j->parts), b1 = (int)((int64_t)j->bands * (part + 1) / j->parts);
  for (int band = b0; band < b1; band++) {
    int64_t lo = n * band / j->bands, hi = n * (band + 1) / j->bands;
    if (hi <= lo) continue;
    int64_t r0 = j->by_cols ? 0 : lo, r1 = j->by_cols ? j->M : hi;    /* the band's rows */
    int64_t c0 = j->by_cols ? lo : 0, c1 = j->by_cols ? hi : j->N;    /* and columns */
    if (j->bias)            /* each band writes its own rows: they stay in its core's cache */
      for (int64_t r = r0; r < r1; r++)
        memcpy(j->c + (r * j->ldc + c0) * es, j->bias + c0 * es, (size_t)((c1 - c0) * es));
    if (j->by_cols)
      gemm1(j->dt, j->M, hi - lo, j->K, j->a, j->ars, j->acs, b + lo * bcs * es, brs, bcs,
            j->c + lo * es, j->ldc, j->beta);
    else
      gemm1(j->dt, hi - lo, j->N, j->K, j->a + lo * j->ars * es, j->ars, j->acs, b, brs, bcs,
            j->c + lo * j->ldc * es, j->ldc, j->beta);
    for (int64_t r = r0; j->relu && r < r1; r++)   /* the band while it is in cache */
      if (j->dt == NN_F32) {
        float *y = (float *)j->c + r * j->ldc;
        for (int64_t k = c0; k < c1; k++) y[k] = y[k] > 0 ? y[k] : 0.0f;
      } else {
        double *y = (double *)j->c + r * j->ldc;
        for (int64_t k = c0; k < c1; k++) y[k] = y[k] > 0 ? y[k] : 0.0;
      }
  }
}

/* Why the products are split this way (OpenBLAS 0.3.21, digits-sized products; the numbers
   are in docs/benchmarks.md, from scripts/bench/digits_fit.lua):
   - bands of rows below the small-matrix kernels' limit beat one call, on one thread and more
     so on two, for A·B and A^T·B; OpenBLAS's own threads are slower than both;
   - A·B^T (the linear layer's X W^T) is slow in the small kernels, slower than transposing W
     and running A·B. So where W is small (a copy that stays in L1) and N wide enough, each
     part transposes W for itself (a copy made by one core and read by the other costs more
     than it saves) and runs A·B. Past BT_MAX elements, or for narrow N, A·B^T stays. */
#define SMALL_MACS 1.0e6    /* OpenBLAS's small-matrix kernels take products up to this */
#define SPLIT_MACS 1.0e5    /* below this a product stays on one thread */
#define BAND_MIN 8          /* rows (or columns) per band at least */
#define BT_MAX 16384        /* elements of B^T at most that a part transposes for itself */

/* C = op(A) op(B) + (bias broadcast over rows, or beta C), then max(C, 0) if relu */
static void gemm_any(nn_ctx *ctx, nn_dtype dt, int64_t M, int64_t N, int64_t K, const char *a,
                     int64_t ars, int64_t acs, const char *b, int64_t brs, int64_t bcs, char *c,
                     int64_t ldc, double beta, const char *bias, bool relu) {
  nn_blas_threads(ctx);
  /* by rows unless C is too short for them: the lanes of the ops around (nn_lanes) split rows,
     and a layer's output split by columns has each core write lines the other core's ops then
     read */
  gemm_job j = {.dt = dt, .M = M, .N = N, .K = K, .ars = ars, .acs = acs, .brs = brs, .bcs = bcs,
                .ldc = ldc, .a = a, .b = b, .c = c, .bias = bias, .relu = relu,
                .beta = bias ? 1.0 : beta, .bands = 1, .parts = 1,
                .by_cols = N > M && M < 4 * BAND_MIN, .bt = NULL};
  double macs = (double)M * (double)N * (double)K;
  int threads = ctx->threads;
  /* A·B^T with a plain A is slow in the small kernels: unless the parts transpose B (tb),
     only split it across threads */
  bool nt = !as_gemm(M, K, ars, acs).trans && as_gemm(K, N, brs, bcs).trans;
  bool tb = nt && brs == 1 && dt == NN_F32 && N >= 16 && K * N <= BT_MAX && small_kernels() &&
            nn_sgemm_avx2_usable();       /* (the transposes are AVX2: every such CPU has it) */
  if (tb) nt = false;
  int64_t bands = 1;
  if (!nt && macs > SMALL_MACS && macs <= 16 * SMALL_MACS) bands = (int64_t)(macs / SMALL_MACS) + 1;
  if (threads > 1 && macs >= SPLIT_MACS) {
    if (bands < threads) bands = threads;
    bands = (bands + threads - 1) / threads * threads;
  }
  int64_t n = j.by_cols ? N : M;
  if (bands > n / BAND_MIN) bands = n / BAND_MIN;
  j.bands = bands > 1 ? (int)bands : 1;
  j.parts = threads < j.bands ? threads : j.bands;
  if (j.parts > NN_LANES_MAX) j.parts = NN_LANES_MAX;
  size_t btn = (size_t)(K * N) * sizeof(float);
  float *bt[NN_LANES_MAX];
  if (tb && (j.by_cols ? M : M / j.parts) >= 16) {  /* rows enough to pay for the copy */
    int p = 0;
    while (p < j.parts && (bt[p] = nn_block_get(ctx, btn))) p++;
    if (p == j.parts) j.bt = bt;
    else while (p > 0) nn_block_put(ctx, bt[--p], btn);   /* (without memory: A·B^T as given) */
  }
  unsigned mode = nn_ftz_begin();      /* gradients drift into subnormals late in training */
  if (j.parts <= 1) gemm_part(&j, 0);
  else nn_pool_run(ctx, j.parts, gemm_part, &j);
  nn_ftz_end(mode);
  /* (returned last first: the cache hands them out in the same order next time, so each part
     gets back the copy its own core wrote, still in its cache) */
  for (int p = j.parts - 1; p >= 0 && j.bt; p--) nn_block_put(ctx, j.bt[p], btn);
}

static void gemm(nn_ctx *ctx, nn_dtype dt, int64_t M, int64_t N, int64_t K, const char *a,
                 int64_t ars, int64_t acs, const char *b, int64_t brs, int64_t bcs, char *c,
                 int64_t ldc, double beta) {
  gemm_any(ctx, dt, M, N, K, a, ars, acs, b, brs, bcs, c, ldc, beta, NULL, false);
}

/* int64 has no BLAS: a plain triple loop */
static void gemm_i64(int64_t M, int64_t N, int64_t K, const int64_t *a, int64_t ars, int64_t acs,
                     const int64_t *b, int64_t brs, int64_t bcs, int64_t *c, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      uint64_t s = 0;   /* wraps, as int64 arithmetic does everywhere (no signed overflow) */
      for (int64_t k = 0; k < K; k++) s += (uint64_t)a[i * ars + k * acs] * (uint64_t)b[k * brs + j * bcs];
      c[i * ldc + j] = (int64_t)s;
    }
}

static nn_status gemm_ready(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  int n = t->ndim;
  gemm_view v = as_gemm(t->shape[n - 2], t->shape[n - 1], t->stride[n - 2], t->stride[n - 1]);
  if (t->dtype == NN_I64 || v.ok) { nn_tensor_retain(t); *out = t; return NN_OK; }
  nn_status s = nn_new_like(ctx, t, false, out);
  if (!s) nn_copy_raw(*out, t);
  return s;
}

/* ---- mm: Y[...,M,N] = A[...,M,K] B[...,K,N], batch dims broadcast -----------------------
   dA += dY B^T,  dB += A^T dY (summed over broadcast batch dims) */
static nn_status mm_raw(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);

static nn_status mm_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *a = n->in[0], *b = n->in[1], *t = NULL, *g = NULL;
  nn_status s = NN_OK;
  for (int i = 0; i < 2 && !s; i++) {
    if (!nn_input_needs_grad(n, i)) continue;
    nn_tensor *other = i == 0 ? b : a;
    if ((s = nn_transpose(ctx, other, -1, -2, &t))) break;
    s = i == 0 ? mm_raw(ctx, n->gout, t, &g) : mm_raw(ctx, t, n->gout, &g);
    if (!s) s = nn_grad_accum(ctx, n, i, g);
    nn_tensor_release(t); nn_tensor_release(g);
    t = g = NULL;
  }
  return s;
}
const nn_op nn_op_matmul = {.name = "matmul", .backward = mm_backward, .saves = 3};

/* the offsets in A and B (elements) of product bi of a broadcast batch of shape bsh */
static void batch_offsets(int64_t bi, int64_t nbd, const int64_t *bsh, const int64_t *sa,
                          const int64_t *sb, int64_t *oa, int64_t *ob) {
  *oa = *ob = 0;
  for (int64_t d = nbd - 1; d >= 0; d--) {
    int64_t k = bi % bsh[d];
    bi /= bsh[d]; *oa += k * sa[d]; *ob += k * sb[d];
  }
}

/* products lo..hi-1 of a batch, each on this thread (mm_raw's lanes) */
typedef struct {
  nn_dtype dt;
  int64_t M, N, K, nbd, ars, acs, brs, bcs;
  const int64_t *bsh, *sa, *sb;     /* batch shape, A's and B's batch strides */
  const char *a, *b;
  char *y;
} mm_batch;

static void mm_batch_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const mm_batch *j = arg;
  int64_t es = (int64_t)nn_dtype_size(j->dt);
  (void)part;
  for (int64_t bi = lo; bi < hi; bi++) {
    int64_t oa, ob;
    batch_offsets(bi, j->nbd, j->bsh, j->sa, j->sb, &oa, &ob);
    gemm1(j->dt, j->M, j->N, j->K, j->a + oa * es, j->ars, j->acs, j->b + ob * es, j->brs, j->bcs,
          j->y + bi * j->M * j->N * es, j->N > 0 ? j->N : 1, 0.0);
  }
}

static nn_status mm_raw(nn_ctx *ctx, nn_tensor *a0, nn_tensor *b0, nn_tensor **out) {
  *out = NULL;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  int na = a0->ndim, nb = b0->ndim;
  int64_t M = a0->shape[na - 2], K = a0->shape[na - 1], N = b0->shape[nb - 1];
  if (b0->shape[nb - 2] != K)
    return nn_fail(ctx, NN_ERR_SHAPE, "matmul: shapes %s and %s cannot be multiplied (%lld vs %lld)",
                   nn_shape_fmt(na, a0->shape, b1), nn_shape_fmt(nb, b0->shape, b2),
                   (long long)K, (long long)b0->shape[nb - 2]);
  /* batch dims: broadcast a[:-2] with b[:-2] */
  nn_tensor ha = {0}, hb = {0};
  ha.ndim = na - 2; hb.ndim = nb - 2;
  memcpy(ha.shape, a0->shape, sizeof(int64_t) * (size_t)ha.ndim);
  memcpy(hb.shape, b0->shape, sizeof(int64_t) * (size_t)hb.ndim);
  int nbd;
  int64_t bsh[NN_MAX_DIMS + 2];
  nn_status s = nn_broadcast_shape(ctx, "matmul", &ha, &hb, &nbd, bsh);
  if (s) return nn_fail(ctx, NN_ERR_SHAPE, "matmul: batch dimensions of %s and %s do not broadcast",
                        nn_shape_fmt(na, a0->shape, b1), nn_shape_fmt(nb, b0->shape, b2));
  if (nbd + 2 > NN_MAX_DIMS) return nn_fail(ctx, NN_ERR_SHAPE, "matmul: too many dimensions");
  nn_tensor *a = NULL, *b = NULL, *y = NULL;
  if ((s = gemm_ready(ctx, a0, &a)) || (s = gemm_ready(ctx, b0, &b))) goto done;
  bsh[nbd] = M; bsh[nbd + 1] = N;
  if ((s = nn_new(ctx, a->dtype, nbd + 2, bsh, false, &y))) goto done;
  for (int i = 0; i < a->ndim - 2; i++) ha.stride[i] = a->stride[i];
  for (int i = 0; i < b->ndim - 2; i++) hb.stride[i] = b->stride[i];
  int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
  nn_broadcast_strides(&ha, nbd, bsh, sa);
  nn_broadcast_strides(&hb, nbd, bsh, sb);
  int64_t batches = nn_shape_numel(nbd, bsh), es = (int64_t)nn_dtype_size(a->dtype);
  double macs = (double)M * (double)N * (double)K;
  if (a->dtype != NN_I64 && K > 0 && batches > 1 && macs < SPLIT_MACS &&
      macs * (double)batches >= SPLIT_MACS && ctx->threads > 1) {
    /* many small products (attention's heads): each too small to split, so the batch is split
       in lanes instead, each product whole on one thread (the same bits as one at a time) */
    mm_batch j = {.dt = a->dtype, .M = M, .N = N, .K = K, .nbd = nbd, .bsh = bsh, .sa = sa,
                  .sb = sb, .a = nn_ptr(a), .b = nn_ptr(b), .y = nn_ptr(y), .ars = a->stride[na - 2],
                  .acs = a->stride[na - 1], .brs = b->stride[nb - 2], .bcs = b->stride[nb - 1]};
    nn_blas_threads(ctx);
    unsigned mode = nn_ftz_begin();
    nn_lanes(ctx, batches, batches * (M * K + K * N + M * N), mm_batch_rows, &j);
    nn_ftz_end(mode);
    batches = 0;                        /* (done) */
  }
  for (int64_t bi = 0; bi < batches; bi++) {
    if ((s = nn_check_interrupt(ctx, "matmul"))) goto done;   /* Ctrl-C in a long batch */
    int64_t oa, ob;
    batch_offsets(bi, nbd, bsh, sa, sb, &oa, &ob);
    const char *pa = nn_ptr(a) + oa * es, *pb = nn_ptr(b) + ob * es;
    char *py = nn_ptr(y) + bi * M * N * es;
    if (a->dtype == NN_I64)
      gemm_i64(M, N, K, (const int64_t *)pa, a->stride[na - 2], a->stride[na - 1], (const int64_t *)pb,
               b->stride[nb - 2], b->stride[nb - 1], (int64_t *)py, N);
    else if (K == 0)
      memset(py, 0, (size_t)(M * N * es));
    else
      gemm(ctx, a->dtype, M, N, K, pa, a->stride[na - 2], a->stride[na - 1], pb, b->stride[nb - 2],
           b->stride[nb - 1], py, N > 0 ? N : 1, 0.0);
  }
  *out = y;
  y = NULL;
done:
  nn_tensor_release(a); nn_tensor_release(b); nn_tensor_release(y);
  return s;
}

nn_status nn_matmul(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "matmul", out);
  *out = NULL;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, "matmul", a && b, "tensor");
  if (a->ndim == 0 || b->ndim == 0)
    return nn_fail(ctx, NN_ERR_SHAPE, "matmul: both arguments need at least 1 dimension, got %s and %s",
                   nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  if (a->dtype != b->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "matmul: expected both tensors to have the same dtype, got %s and %s",
                   nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  /* 1-D operands become matrices (a row, a column) and the extra dim is dropped after */
  nn_tensor *a2 = a, *b2t = b, *y = NULL;
  nn_status s = NN_OK;
  if (a->ndim == 1 && (s = nn_unsqueeze(ctx, a, 0, &a2))) return s;
  if (b->ndim == 1 && (s = nn_unsqueeze(ctx, b, 1, &b2t))) goto done;
  if (a2->shape[a2->ndim - 1] != b2t->shape[b2t->ndim - 2]) {
    s = nn_fail(ctx, NN_ERR_SHAPE, "matmul: shapes %s and %s cannot be multiplied (%lld vs %lld)",
                nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2),
                (long long)a2->shape[a2->ndim - 1], (long long)b2t->shape[b2t->ndim - 2]);
    goto done;
  }
  if ((s = mm_raw(ctx, a2, b2t, &y))) goto done;
  nn_tensor *in[2] = {a2, b2t};
  if ((s = nn_record(ctx, &nn_op_matmul, &y, 2, in, NULL, NULL))) goto done;
  if (a->ndim == 1 || b->ndim == 1) {
    nn_tensor *t = y, *u = NULL;
    s = nn_squeeze(ctx, t, b->ndim == 1 ? -1 : -2, &u);
    if (!s && a->ndim == 1 && b->ndim == 1) {
      nn_tensor_release(t);
      t = u;
      s = nn_squeeze(ctx, t, -1, &u);
    }
    nn_tensor_release(t);
    y = s ? NULL : u;
  }
  if (!s) { *out = y; y = NULL; }
done:
  if (a2 != a) nn_tensor_release(a2);
  if (b2t != b) nn_tensor_release(b2t);
  nn_tensor_release(y);
  return s;
}

nn_status nn_dot(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "dot", out);
  *out = NULL;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, "dot", a && b, "tensor");
  if (a->ndim != 1 || b->ndim != 1 || a->shape[0] != b->shape[0])
    return nn_fail(ctx, NN_ERR_SHAPE, "dot: expects two 1-D tensors of the same size, got %s and %s",
                   nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  if (a->dtype != NN_I64 && a->dtype == b->dtype && a->shape[0] <= INT_MAX && a->stride[0] >= 1 &&
      a->stride[0] <= INT_MAX && b->stride[0] >= 1 && b->stride[0] <= INT_MAX &&
      !nn_needs_grad(ctx, 2, (nn_tensor *[]){a, b})) {
    /* nothing to record: one BLAS dot, no product machinery (sums of squares, norms) */
    nn_status s = nn_new(ctx, a->dtype, 0, NULL, false, out);
    if (s) return s;
    int n = (int)a->shape[0], ia = (int)a->stride[0], ib = (int)b->stride[0];
    if (a->dtype == NN_F32)
      *(float *)nn_ptr(*out) = n ? cblas_sdot(n, (const float *)nn_ptr(a), ia, (const float *)nn_ptr(b), ib) : 0;
    else
      *(double *)nn_ptr(*out) = n ? cblas_ddot(n, (const double *)nn_ptr(a), ia, (const double *)nn_ptr(b), ib) : 0;
    return NN_OK;
  }
  return nn_matmul(ctx, a, b, out);
}

/* ---- the backward of a layer (linear, addmm) split by the batch's rows ----------------------
   Each lane takes rows [lo, hi) of dY and X, as the forward's bands and the element-wise ops
   did (nn_lanes), so it reads only what its own core made: its rows of dX = dY W, its share
   of dW = dY^T X (a sum over rows: lane 0 accumulates into the gradient, the others into
   buffers of their own that are added after, in lane order, so the bits stay the same run
   after run) and its column sums of dY for the bias. */
typedef struct {
  nn_dtype dt;
  int64_t Kg, Kx;                  /* dY's and dX's widths */
  const char *g, *x, *w;
  int64_t x0, x1, wb0, wb1;        /* X's strides; W as the [Kg, Kx] operand of dX = dY W */
  char *dx; double dx_beta;        /* NULL: no dX */
  int64_t dwM, dwN, dwa_r, dwa_c, dwb_r, dwb_c;   /* dW = A B over rows: A's, B's strides */
  const char *dwa, *dwb;           /* A and B at row 0 (the rows are A's columns, B's rows) */
  char *dw[NN_LANES_MAX]; double dw_beta;            /* NULL: no dW */
  char *db[NN_LANES_MAX];             /* NULL: no bias; db[0] accumulates, the others start at 0 */
  const char *gy, *mask;           /* linear_relu: g (and dwa) is a buffer for gy [mask > 0] */
  int parts;                       /* lanes (layer_bw_run) */
} layer_bw;

/* rows lo..hi-1 of the masked dY: dY [Y > 0], the backward of the fused ReLU; with db, its
   column sums too, in the same pass (the rows added in order, as col_sums does) */
static void mask_rows(const layer_bw *j, int64_t lo, int64_t hi, char *db) {
  int64_t K = j->Kg;
  for (int64_t i = lo; i < hi; i++)
    if (j->dt == NN_F32) {
      float *restrict d = (float *)j->g + i * K, *restrict s = (float *)db;
      const float *restrict g = (const float *)j->gy + i * K, *restrict y = (const float *)j->mask + i * K;
      for (int64_t k = 0; k < K; k++) d[k] = y[k] > 0 ? g[k] : 0.0f;
      if (s) for (int64_t k = 0; k < K; k++) s[k] += d[k];
    } else {
      double *restrict d = (double *)j->g + i * K, *restrict s = (double *)db;
      const double *restrict g = (const double *)j->gy + i * K, *restrict y = (const double *)j->mask + i * K;
      for (int64_t k = 0; k < K; k++) d[k] = y[k] > 0 ? g[k] : 0.0;
      if (s) for (int64_t k = 0; k < K; k++) s[k] += d[k];
    }
}

/* db[k] += Σ rows lo..hi-1 of g[·, k] (g contiguous, K wide): a bias's gradient */
static void col_sums(nn_dtype dt, char *db, const char *g, int64_t K, int64_t lo, int64_t hi) {
  if (dt == NN_F32) {
    float *d = (float *)db;
    const float *gy = (const float *)g;
    for (int64_t i = lo; i < hi; i++)
      for (int64_t k = 0; k < K; k++) d[k] += gy[i * K + k];
  } else {
    double *d = (double *)db;
    const double *gy = (const double *)g;
    for (int64_t i = lo; i < hi; i++)
      for (int64_t k = 0; k < K; k++) d[k] += gy[i * K + k];
  }
}

static void layer_bw_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const layer_bw *j = arg;
  int64_t es = (int64_t)nn_dtype_size(j->dt), n = hi - lo;
  if (n <= 0) return;
  if (j->mask) mask_rows(j, lo, hi, j->db[part]);
  if (j->dx)
    gemm1(j->dt, n, j->Kx, j->Kg, j->g + lo * j->Kg * es, j->Kg, 1, j->w, j->wb0, j->wb1,
          j->dx + lo * j->Kx * es, j->Kx, j->dx_beta);
  if (j->dw[part])
    gemm1(j->dt, j->dwM, j->dwN, n, j->dwa + lo * j->dwa_c * es, j->dwa_r, j->dwa_c,
          j->dwb + lo * j->dwb_r * es, j->dwb_r, j->dwb_c, j->dw[part], j->dwN,
          part == 0 ? j->dw_beta : 0.0);
  if (j->db[part] && !j->mask) col_sums(j->dt, j->db[part], j->g, j->Kg, lo, hi);
}

/* How many lanes a layer's backward over N rows takes: 1 (whole products, banded) when the
   context has one thread or the layer is too small or too big to gain from lanes */
static int layer_lanes(nn_ctx *ctx, int64_t N, int64_t Kg, int64_t Kx) {
  double macs = (double)N * (double)Kg * (double)Kx;
  return N >= 2 * BAND_MIN && Kg > 0 && Kx > 0 && macs >= SPLIT_MACS && macs <= 16 * SMALL_MACS
             ? nn_lane_count(ctx, N, N * (Kg + Kx)) : 1;
}

/* Elements lo..hi-1 of [dW, db]: the other lanes' partial sums added into lane 0's (the
   gradient), in lane order: each element gets the same sum whichever lane adds it. */
static void combine_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const layer_bw *j = arg;
  int64_t dwn = j->dw[0] ? j->dwM * j->dwN : 0, dbn = j->db[0] ? j->Kg : 0;
  (void)part;
  for (int k = 0; k < 2; k++) {                 /* k = 0: dW, 1: db (after dW's elements) */
    int64_t base = k ? dwn : 0, n = k ? dbn : dwn;
    int64_t a = lo > base ? lo - base : 0, b = hi - base < n ? hi - base : n;
    for (int p = 1; p < j->parts && a < b; p++) {
      char *d = k ? j->db[0] : j->dw[0], *s = k ? j->db[p] : j->dw[p];
      if (j->dt == NN_F32)
        for (int64_t i = a; i < b; i++) ((float *)d)[i] += ((const float *)s)[i];
      else
        for (int64_t i = a; i < b; i++) ((double *)d)[i] += ((const double *)s)[i];
    }
  }
}

/* Runs j over N rows in `parts` lanes. dw[0] and db[0] are the gradients (or NULL); the other
   lanes' partial sums get buffers here, added in the same hand-off once every lane is done,
   each lane a range of the elements (the sums are as big as the weights: on the calling
   thread alone they would be a serial part of every step). */
static nn_status layer_bw_run(nn_ctx *ctx, layer_bw *j, int64_t N, int parts) {
  nn_status s = NN_OK;
  nn_tensor *tmp[NN_LANES_MAX] = {0};
  int64_t dwn = j->dwM * j->dwN, extra = (j->dw[0] ? dwn : 0) + (j->db[0] ? j->Kg : 0);
  for (int p = 1; p < parts && extra > 0; p++) {
    if ((s = nn_new(ctx, j->dt, 1, &extra, false, &tmp[p]))) break;
    char *t = nn_ptr(tmp[p]);
    if (j->dw[0]) { j->dw[p] = t; t += dwn * (int64_t)nn_dtype_size(j->dt); }
    if (j->db[0]) { j->db[p] = t; memset(t, 0, (size_t)j->Kg * nn_dtype_size(j->dt)); }
  }
  if (!s) {
    nn_blas_threads(ctx);
    unsigned mode = nn_ftz_begin();
    j->parts = parts;
    nn_lanes_then(ctx, N, N * (j->Kg + j->Kx), layer_bw_rows, j, extra, combine_rows);
    nn_ftz_end(mode);
  }
  for (int p = 1; p < parts; p++) nn_tensor_release(tmp[p]);
  return s;
}

/* The backward of a layer, linear or addmm, described by j (its operands; the slots are filled
   here): the gradients of X, W and a row bias (row_bias) into their slots, in lanes when the
   context has threads and the layer is worth it, else each product whole (banded by gemm for
   OpenBLAS's small kernels). */
static nn_status layer_backward(nn_ctx *ctx, nn_node *n, layer_bw *j, int64_t N, bool row_bias) {
  nn_tensor *slot;
  bool fresh, full = N > 0 && j->Kg > 0 && j->Kx > 0;  /* a product writes every element */
  nn_status s;
  size_t es = nn_dtype_size(j->dt);
  if ((s = nn_grad_slot(ctx, n, 0, &slot, &fresh))) return s;
  if (slot && full) { j->dx = nn_ptr(slot); j->dx_beta = fresh ? 0.0 : 1.0; }
  else if (slot && fresh) memset(nn_ptr(slot), 0, (size_t)slot->numel * es);
  if ((s = nn_grad_slot(ctx, n, 1, &slot, &fresh))) return s;
  if (slot && full) { j->dw[0] = nn_ptr(slot); j->dw_beta = fresh ? 0.0 : 1.0; }
  else if (slot && fresh) memset(nn_ptr(slot), 0, (size_t)slot->numel * es);
  if (row_bias && (s = nn_grad_slot(ctx, n, 2, &slot, NULL))) return s;
  if (row_bias && slot) j->db[0] = nn_ptr(slot);
  int parts = layer_lanes(ctx, N, j->Kg, j->Kx);
  if (parts > 1) return layer_bw_run(ctx, j, N, parts);
  if (j->mask) mask_rows(j, 0, N, j->db[0]);
  if (j->dx)
    gemm(ctx, j->dt, N, j->Kx, j->Kg, j->g, j->Kg, 1, j->w, j->wb0, j->wb1, j->dx, j->Kx, j->dx_beta);
  if (j->dw[0])
    gemm(ctx, j->dt, j->dwM, j->dwN, N, j->dwa, j->dwa_r, j->dwa_c, j->dwb, j->dwb_r, j->dwb_c,
         j->dw[0], j->dwN, j->dw_beta);
  if (j->db[0] && !j->mask) col_sums(j->dt, j->db[0], j->g, j->Kg, 0, N);
  return NN_OK;
}

/* ---- linear: Y[N,out] = X[N,in] W[out,in]^T + b ----------------------------------------------
   One op: GEMM with the bias put into each band of Y first (beta = 1). Backward is two GEMMs and
   a column sum, accumulating straight into the gradient buffers (beta = 1, nothing allocated):
   dX += dY W,  dW += dY^T X,  db += Σ_rows dY.
   linear_relu: Y = max(X W^T + b, 0) as one op, what a Sequential runs for a Linear followed by
   a ReLU: the ReLU on each band while it is in cache, no op, no pass and no activation of its
   own, and in backward dY [Y > 0] made by each lane for its own rows before its products. */
static nn_status linear_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *g = n->gout, *x = NULL, *w = NULL, *gm = NULL;
  int64_t N = g->shape[0], O = g->shape[1], In = n->in[1]->shape[1];
  nn_status s;
  bool relu = n->saved != NULL;     /* linear_relu: the saved output is the mask */
  if (!(s = gemm_ready(ctx, n->in[0], &x)) && !(s = gemm_ready(ctx, n->in[1], &w)) &&
      !(relu && (s = nn_new_like(ctx, g, false, &gm)))) {
    /* dX = dY W, dW = dY^T X: the rows of the batch are dY^T's columns and X's rows */
    const char *gp = relu ? nn_ptr(gm) : nn_ptr(g);
    layer_bw j = {.dt = g->dtype, .Kg = O, .Kx = In, .g = gp, .x = nn_ptr(x), .w = nn_ptr(w),
                  .x0 = x->stride[0], .x1 = x->stride[1], .wb0 = w->stride[0], .wb1 = w->stride[1],
                  .dwM = O, .dwN = In, .dwa_r = 1, .dwa_c = O, .dwb_r = x->stride[0],
                  .dwb_c = x->stride[1], .dwa = gp, .dwb = nn_ptr(x),
                  .gy = relu ? nn_ptr(g) : NULL, .mask = relu ? nn_ptr(n->saved) : NULL};
    s = layer_backward(ctx, n, &j, N, n->nin > 2);
  }
  nn_tensor_release(x); nn_tensor_release(w); nn_tensor_release(gm);
  return s;
}
const nn_op nn_op_linear = {.name = "linear", .backward = linear_backward, .saves = 3};
const nn_op nn_op_linear_relu = {.name = "linear_relu", .backward = linear_backward, .saves = 3,
                                 .saves_output = true};   /* the output is the mask */

static nn_status linear_any(nn_ctx *ctx, const nn_op *op, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                            nn_tensor **out) {
  const char *name = op->name;
  NN_ARG(ctx, name, out);
  *out = NULL;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  bool relu = op == &nn_op_linear_relu;
  NN_ARG_AS(ctx, name, x && w, "tensor");
  if (w->ndim != 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: weight must be 2-D [out, in], got %s", name,
                   nn_shape_fmt(w->ndim, w->shape, b1));
  int64_t O = w->shape[0], In = w->shape[1];
  if ((x->ndim != 1 && x->ndim != 2) || x->shape[x->ndim - 1] != In)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected input with %lld features, got %lld (input shape %s, weight %s)",
                   name, (long long)In, (long long)(x->ndim ? x->shape[x->ndim - 1] : 0),
                   nn_shape_fmt(x->ndim, x->shape, b1), nn_shape_fmt(2, w->shape, b2));
  if (b && (b->ndim != 1 || b->shape[0] != O))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: bias must have shape [%lld], got %s", name, (long long)O,
                   nn_shape_fmt(b->ndim, b->shape, b1));
  if (x->dtype == NN_I64 || x->dtype != w->dtype || (b && b->dtype != w->dtype))
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: input, weight and bias must share a floating dtype, got %s, %s%s%s",
                   name, nn_dtype_name(x->dtype), nn_dtype_name(w->dtype), b ? " and " : "",
                   b ? nn_dtype_name(b->dtype) : "");
  nn_status s;
  if (x->ndim == 1) {              /* a single sample: [in] -> [1, in] -> [1, out] -> [out] */
    nn_tensor *x2, *y2;
    if ((s = nn_unsqueeze(ctx, x, 0, &x2))) return s;
    s = linear_any(ctx, op, x2, w, b, &y2);
    nn_tensor_release(x2);
    if (s) return s;
    s = nn_squeeze(ctx, y2, 0, out);
    nn_tensor_release(y2);
    return s;
  }
  nn_tensor *xr = NULL, *wr = NULL, *br = NULL, *y = NULL;
  int64_t N = x->shape[0], shape[2] = {N, O};
  if ((s = gemm_ready(ctx, x, &xr)) || (s = gemm_ready(ctx, w, &wr)) ||
      (b && (s = nn_contiguous(ctx, b, &br))) || (s = nn_new(ctx, x->dtype, 2, shape, false, &y)))
    goto done;
  size_t es = nn_dtype_size(y->dtype);
  if (In > 0 && N > 0 && O > 0) {
    gemm_any(ctx, y->dtype, N, O, In, nn_ptr(xr), xr->stride[0], xr->stride[1], nn_ptr(wr),
             wr->stride[1], wr->stride[0], nn_ptr(y), O, 0.0, b ? nn_ptr(br) : NULL, relu);
  } else if (!b) memset(nn_ptr(y), 0, (size_t)(N * O) * es);
  else {
    for (int64_t i = 0; i < N; i++) memcpy(nn_ptr(y) + (size_t)(i * O) * es, nn_ptr(br), (size_t)O * es);
    for (int64_t i = 0; relu && i < N * O; i++)
      if (y->dtype == NN_F32) ((float *)nn_ptr(y))[i] = fmaxf(((float *)nn_ptr(y))[i], 0.0f);
      else ((double *)nn_ptr(y))[i] = fmax(((double *)nn_ptr(y))[i], 0.0);
  }
  nn_tensor *in[3] = {x, w, b};
  *out = y;
  y = NULL;
  s = nn_record(ctx, op, out, b ? 3 : 2, in, NULL, NULL);
done:
  nn_tensor_release(xr); nn_tensor_release(wr); nn_tensor_release(br); nn_tensor_release(y);
  return s;
}

nn_status nn_linear(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_tensor **out) {
  return linear_any(ctx, &nn_op_linear, x, w, b, out);
}

nn_status nn_linear_relu(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_tensor **out) {
  return linear_any(ctx, &nn_op_linear_relu, x, w, b, out);
}

/* ---- addmm: Y[N,M] = bias + X[N,K] W[K,M] (PyTorch's addmm; bias broadcasts to [N,M]) -------
   The linear layer with its weight stored [in, out], as scikit-learn's coefs_: one op, no
   transposed view to record. A bias row goes into each band of Y before its GEMM (beta = 1);
   another bias shape is copied in first. Backward accumulates straight into the gradient
   buffers: dX += dY W^T,  dW += X^T dY,  dbias += dY summed over its broadcast dims. */
static nn_status addmm_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *g = n->gout, *x = NULL, *w = NULL;
  int64_t N = g->shape[0], M = g->shape[1], K = n->in[0]->shape[1];
  bool row_bias = n->nin > 2 && n->in[2]->ndim == 1;
  nn_status s;
  if (!(s = gemm_ready(ctx, n->in[0], &x)) && !(s = gemm_ready(ctx, n->in[1], &w))) {
    /* dX = dY W^T, dW = X^T dY: the rows of the batch are X^T's columns and dY's rows */
    layer_bw j = {.dt = g->dtype, .Kg = M, .Kx = K, .g = nn_ptr(g), .x = nn_ptr(x), .w = nn_ptr(w),
                  .x0 = x->stride[0], .x1 = x->stride[1], .wb0 = w->stride[1], .wb1 = w->stride[0],
                  .dwM = K, .dwN = M, .dwa_r = x->stride[1], .dwa_c = x->stride[0], .dwb_r = M,
                  .dwb_c = 1, .dwa = nn_ptr(x), .dwb = nn_ptr(g)};
    s = layer_backward(ctx, n, &j, N, row_bias);
  }
  /* another bias shape: dY reduced over its broadcast dims */
  if (!s && n->nin > 2 && !row_bias && nn_input_needs_grad(n, 2)) s = nn_grad_accum(ctx, n, 2, g);
  nn_tensor_release(x); nn_tensor_release(w);
  return s;
}
const nn_op nn_op_addmm = {.name = "addmm", .backward = addmm_backward, .saves = 3};

nn_status nn_addmm(nn_ctx *ctx, nn_tensor *bias, nn_tensor *x, nn_tensor *w, nn_tensor **out) {
  NN_ARG(ctx, "addmm", out);
  *out = NULL;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, "addmm", x && w, "tensor");
  if (x->ndim != 2 || w->ndim != 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "addmm: expected two matrices, got %s and %s",
                   nn_shape_fmt(x->ndim, x->shape, b1), nn_shape_fmt(w->ndim, w->shape, b2));
  int64_t N = x->shape[0], K = x->shape[1], M = w->shape[1];
  if (w->shape[0] != K)
    return nn_fail(ctx, NN_ERR_SHAPE, "addmm: shapes %s and %s cannot be multiplied (%lld vs %lld)",
                   nn_shape_fmt(2, x->shape, b1), nn_shape_fmt(2, w->shape, b2), (long long)K,
                   (long long)w->shape[0]);
  if (x->dtype == NN_I64 || x->dtype != w->dtype || (bias && bias->dtype != w->dtype))
    return nn_fail(ctx, NN_ERR_DTYPE, "addmm: bias, input and weight must share a floating dtype, got %s%s%s and %s",
                   bias ? nn_dtype_name(bias->dtype) : "", bias ? ", " : "", nn_dtype_name(x->dtype),
                   nn_dtype_name(w->dtype));
  nn_tensor yh = {0};                 /* the result's geometry, to check the bias broadcasts */
  yh.ndim = 2; yh.shape[0] = N; yh.shape[1] = M;
  if (bias) {
    int nd;
    int64_t sh[NN_MAX_DIMS];
    if (nn_broadcast_shape(ctx, "addmm", bias, &yh, &nd, sh) || nd != 2 || sh[0] != N || sh[1] != M)
      return nn_fail(ctx, NN_ERR_SHAPE, "addmm: bias of shape %s does not broadcast to the product's %s",
                     nn_shape_fmt(bias->ndim, bias->shape, b1), nn_shape_fmt(2, yh.shape, b2));
  }
  nn_tensor *xr = NULL, *wr = NULL, *br = NULL, *y = NULL;
  int64_t shape[2] = {N, M};
  nn_status s;
  if ((s = gemm_ready(ctx, x, &xr)) || (s = gemm_ready(ctx, w, &wr)) ||
      (s = nn_new(ctx, x->dtype, 2, shape, bias == NULL && K == 0, &y)))
    goto done;
  bool row = bias && bias->ndim == 1;   /* the layer's case: one row for every band */
  if (row && (s = nn_contiguous(ctx, bias, &br))) goto done;
  if (bias && !row) nn_copy_raw(y, bias);   /* broadcasts */
  if (N > 0 && M > 0 && K > 0)
    gemm_any(ctx, y->dtype, N, M, K, nn_ptr(xr), xr->stride[0], xr->stride[1], nn_ptr(wr),
             wr->stride[0], wr->stride[1], nn_ptr(y), M, bias ? 1.0 : 0.0, row ? nn_ptr(br) : NULL,
             false);
  else if (row)
    for (int64_t i = 0; i < N; i++)
      memcpy(nn_ptr(y) + (size_t)(i * M) * nn_dtype_size(y->dtype), nn_ptr(br), (size_t)M * nn_dtype_size(y->dtype));
  nn_tensor *in[3] = {x, w, bias};
  *out = y;
  y = NULL;
  s = nn_record(ctx, &nn_op_addmm, out, bias ? 3 : 2, in, NULL, NULL);
done:
  nn_tensor_release(xr); nn_tensor_release(wr); nn_tensor_release(br); nn_tensor_release(y);
  return s;
}

/* ---- products made of the ops above (their gradients come from them) ---------------------
   bmm, mv and outer are matmul with PyTorch's shape rules checked first (matmul itself would
   broadcast or promote what these refuse); baddbmm and addmv add a scaled input to it. */

static nn_status product_check(nn_ctx *ctx, const char *op, nn_tensor *a, nn_tensor *b, int na,
                               int nb) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG_AS(ctx, op, a && b, "tensor");
  bool ok = a->ndim == na && b->ndim == nb;
  if (ok && na == 3) ok = a->shape[0] == b->shape[0] && a->shape[2] == b->shape[1];
  if (ok && na == 2) ok = a->shape[1] == b->shape[0];
  if (!ok)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected %s, got %s and %s", op,
                   na == 3 ? "[B, n, m] and [B, m, p]" : na == 2 ? "[n, m] and [m]" : "two 1-D tensors",
                   nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  if (a->dtype != b->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: expected both tensors to have the same dtype, got %s and %s",
                   op, nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  return NN_OK;
}

nn_status nn_bmm(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "bmm", out);
  *out = NULL;
  nn_status s = product_check(ctx, "bmm", a, b, 3, 3);
  return s ? s : nn_matmul(ctx, a, b, out);
}

nn_status nn_mv(nn_ctx *ctx, nn_tensor *m, nn_tensor *v, nn_tensor **out) {
  NN_ARG(ctx, "mv", out);
  *out = NULL;
  nn_status s = product_check(ctx, "mv", m, v, 2, 1);
  return s ? s : nn_matmul(ctx, m, v, out);
}

nn_status nn_outer(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "outer", out);
  *out = NULL;
  nn_status s = product_check(ctx, "outer", a, b, 1, 1);
  if (s) return s;
  nn_tensor *col = NULL, *row = NULL;      /* [n, 1] · [1, m]: a product of depth 1 */
  if (!(s = nn_unsqueeze(ctx, a, 1, &col)) && !(s = nn_unsqueeze(ctx, b, 0, &row)))
    s = nn_mul(ctx, col, row, out);
  nn_tensor_release(col); nn_tensor_release(row);
  return s;
}

/* beta input + alpha p, input broadcast to p's shape (beta 0: input's values are not read, as
   PyTorch, so NaN in it does not propagate; its shape must still broadcast) */
static nn_status add_scaled(nn_ctx *ctx, const char *op, nn_tensor *input, nn_tensor *p,
                            double beta, double alpha, nn_tensor **out) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  int nd;
  int64_t sh[NN_MAX_DIMS];
  if (nn_broadcast_shape(ctx, op, input, p, &nd, sh) || nd != p->ndim ||
      memcmp(sh, p->shape, sizeof(int64_t) * (size_t)nd))
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: input of shape %s does not broadcast to the product's %s",
                   op, nn_shape_fmt(input->ndim, input->shape, b1), nn_shape_fmt(p->ndim, p->shape, b2));
  if (input->dtype != p->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: input has dtype %s, the product %s", op,
                   nn_dtype_name(input->dtype), nn_dtype_name(p->dtype));
  nn_tensor *sp = NULL, *si = NULL;
  nn_status s = NN_OK;
  if (alpha != 1) s = nn_muls(ctx, p, alpha, &sp);
  else { nn_tensor_retain(p); sp = p; }
  if (!s && beta == 0) {                  /* the product, at its own shape */
    *out = sp;
    return NN_OK;
  }
  if (!s && beta != 1) s = nn_muls(ctx, input, beta, &si);
  if (!s) s = nn_add(ctx, si ? si : input, sp, out);
  nn_tensor_release(sp); nn_tensor_release(si);
  return s;
}

/* beta input + alpha product(a, b): baddbmm (product bmm) and addmv (mv) */
static nn_status add_product(nn_ctx *ctx, const char *op,
                             nn_status (*product)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor **),
                             nn_tensor *input, nn_tensor *a, nn_tensor *b, double beta, double alpha,
                             nn_tensor **out) {
  NN_ARG(ctx, op, out);
  *out = NULL;
  NN_ARG_AS(ctx, op, input && a && b, "tensor");
  nn_tensor *p = NULL;
  nn_status s = product(ctx, a, b, &p);
  if (s) return s;
  s = add_scaled(ctx, op, input, p, beta, alpha, out);
  nn_tensor_release(p);
  return s;
}

nn_status nn_baddbmm(nn_ctx *ctx, nn_tensor *input, nn_tensor *a, nn_tensor *b, double beta,
                     double alpha, nn_tensor **out) {
  return add_product(ctx, "baddbmm", nn_bmm, input, a, b, beta, alpha, out);
}

nn_status nn_addmv(nn_ctx *ctx, nn_tensor *input, nn_tensor *m, nn_tensor *v, double beta,
                   double alpha, nn_tensor **out) {
  return add_product(ctx, "addmv", nn_mv, input, m, v, beta, alpha, out);
}

/* ---- cross: the cross product of 3-vectors along dim (a and b broadcast) ------------------
   Made of narrow, mul, sub and cat, so its gradient is theirs. dim NN_ALL: the first dim of
   size 3 of the broadcast shape (torch.cross without dim). */
nn_status nn_cross(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, int dim, nn_tensor **out) {
  NN_ARG(ctx, "cross", out);
  *out = NULL;
  NN_ARG_AS(ctx, "cross", a && b, "tensor");
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  int nd;
  int64_t sh[NN_MAX_DIMS];
  nn_status s = nn_broadcast_shape(ctx, "cross", a, b, &nd, sh);
  if (s) return s;
  if (dim == NN_ALL)
    for (int d = nd - 1; d >= 0; d--) if (sh[d] == 3) dim = d;
  if (dim == NN_ALL)
    return nn_fail(ctx, NN_ERR_SHAPE, "cross: no dimension of size 3 in %s and %s",
                   nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  if ((s = nn_check_dim(ctx, "cross", &dim, nd))) return s;
  int da = dim - (nd - a->ndim), db = dim - (nd - b->ndim);   /* the dim in each operand */
  if (da < 0 || db < 0 || a->shape[da] != 3 || b->shape[db] != 3)
    return nn_fail(ctx, NN_ERR_SHAPE, "cross: dimension %d must have size 3 in both, got %s and %s",
                   dim + 1, nn_shape_fmt(a->ndim, a->shape, b1), nn_shape_fmt(b->ndim, b->shape, b2));
  nn_tensor *ca[3] = {0}, *cb[3] = {0}, *c[3] = {0};
  for (int i = 0; i < 3 && !s; i++)
    if (!(s = nn_narrow(ctx, a, da, i, 1, &ca[i]))) s = nn_narrow(ctx, b, db, i, 1, &cb[i]);
  for (int i = 0; i < 3 && !s; i++) {      /* c_i = a_j b_k - a_k b_j, (i, j, k) cyclic */
    int j = (i + 1) % 3, k = (i + 2) % 3;
    nn_tensor *p = NULL, *q = NULL;
    if (!(s = nn_mul(ctx, ca[j], cb[k], &p)) && !(s = nn_mul(ctx, ca[k], cb[j], &q)))
      s = nn_sub(ctx, p, q, &c[i]);
    nn_tensor_release(p); nn_tensor_release(q);
  }
  if (!s) s = nn_cat(ctx, 3, c, dim, out);
  for (int i = 0; i < 3; i++) { nn_tensor_release(ca[i]); nn_tensor_release(cb[i]); nn_tensor_release(c[i]); }
  return s;
}

/* ---- norms (torch.linalg.vector_norm, matrix_norm), made of abs, pow, sum, max, min -------- */

typedef enum { R_SUM, R_MAX, R_MIN } red_kind;

/* t reduced over dims[0..n) (distinct, 0-based) with keepdim, then those dims squeezed unless
   keepdim. Takes over the reference *t. */
static nn_status reduce_keep(nn_ctx *ctx, red_kind k, nn_tensor **t, int n, const int *dims, bool keepdim) {
  nn_status s = NN_OK;
  for (int i = 0; i < n && !s; i++) {
    nn_tensor *r = NULL;
    s = k == R_SUM ? nn_sum(ctx, *t, dims[i], true, &r)
                   : (k == R_MAX ? nn_max : nn_min)(ctx, *t, dims[i], true, &r, NULL);
    if (!s) { nn_tensor_release(*t); *t = r; }
  }
  for (int d = NN_MAX_DIMS - 1; d >= 0 && !s && !keepdim; d--) {   /* highest dim first */
    bool listed = false;
    for (int i = 0; i < n; i++) listed = listed || dims[i] == d;
    nn_tensor *r = NULL;
    if (listed && !(s = nn_squeeze(ctx, *t, d, &r))) { nn_tensor_release(*t); *t = r; }
  }
  return s;
}

/* dims (NULL/0: all) normalized into d[], each at most once */
static nn_status norm_dims(nn_ctx *ctx, const char *op, const nn_tensor *t, int n, const int *dims, int *d, int *nd) {
  *nd = n > 0 ? n : t->ndim;
  if (n > NN_MAX_DIMS) return nn_fail(ctx, NN_ERR_ARG, "%s: %d dims given, a tensor has at most %d", op, n, NN_MAX_DIMS);
  for (int i = 0; i < *nd; i++) {
    d[i] = n > 0 ? dims[i] : i;
    nn_status s = nn_check_dim(ctx, op, &d[i], t->ndim);
    if (s) return s;
    for (int j = 0; j < i; j++)
      if (d[j] == d[i]) return nn_fail(ctx, NN_ERR_ARG, "%s: dim %d is listed twice", op, d[i] + 1);
  }
  return NN_OK;
}

nn_status nn_linalg_vector_norm(nn_ctx *ctx, nn_tensor *t, double ord, int ndims, const int *dims,
                                bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "vector_norm", out);
  *out = NULL;
  if (ndims > 0) NN_ARG(ctx, "vector_norm", dims);
  int d[NN_MAX_DIMS], nd;
  nn_status s = nn_need_float(ctx, "vector_norm", t);
  if (s || (s = norm_dims(ctx, "vector_norm", t, ndims, dims, d, &nd))) return s;
  if (ord != ord) return nn_fail(ctx, NN_ERR_ARG, "vector_norm: ord is NaN");
  nn_tensor *x = NULL, *r = NULL, *z = NULL;
  if ((s = nn_abs(ctx, t, &x))) return s;
  if (isinf(ord)) s = reduce_keep(ctx, ord > 0 ? R_MAX : R_MIN, &x, nd, d, keepdim);
  else if (ord == 0) {                      /* the count of nonzeros (no gradient) */
    if (!(s = nn_zeros(ctx, x->dtype, 0, NULL, &z)) && !(s = nn_compare(ctx, NN_NE, x, z, &r))) {
      nn_tensor_release(x); x = r; r = NULL;
      s = reduce_keep(ctx, R_SUM, &x, nd, d, keepdim);
    }
  } else {                                  /* (Σ |x|^p)^(1/p) */
    if (ord != 1 && !(s = nn_pows(ctx, x, ord, &r))) { nn_tensor_release(x); x = r; r = NULL; }
    if (!s) s = reduce_keep(ctx, R_SUM, &x, nd, d, keepdim);
    if (!s && ord != 1 && !(s = nn_pows(ctx, x, 1.0 / ord, &r))) { nn_tensor_release(x); x = r; r = NULL; }
  }
  nn_tensor_release(z); nn_tensor_release(r);
  if (s) nn_tensor_release(x);
  else *out = x;
  return s;
}

/* the matrix norms of singular values: "2" the largest, "-2" the smallest, "nuc" their sum,
   over dims d[0], d[1] (distinct, normalized) */
static nn_status svd_norm(nn_ctx *ctx, nn_tensor *t, red_kind k, const int *d, bool keepdim, nn_tensor **out) {
  int perm[NN_MAX_DIMS], n = 0, last;
  for (int i = 0; i < t->ndim; i++) if (i != d[0] && i != d[1]) perm[n++] = i;
  last = n;                                /* the singular values' dim */
  perm[n++] = d[0]; perm[n++] = d[1];
  nn_tensor *p = NULL, *x = NULL, *r = NULL;
  nn_status s = nn_permute(ctx, t, perm, &p);
  if (!s) s = nn_linalg_svdvals(ctx, p, &x);
  if (!s) s = reduce_keep(ctx, k, &x, 1, &last, false);
  for (int i = 0; i < 2 && !s && keepdim; i++) {   /* the two dims back, as size 1 */
    int at = i == 0 ? (d[0] < d[1] ? d[0] : d[1]) : (d[0] < d[1] ? d[1] : d[0]);
    if (!(s = nn_unsqueeze(ctx, x, at, &r))) { nn_tensor_release(x); x = r; }
  }
  nn_tensor_release(p);
  if (s) nn_tensor_release(x);
  else *out = x;
  return s;
}

nn_status nn_linalg_matrix_norm(nn_ctx *ctx, nn_tensor *t, const char *ord, int d0, int d1,
                                bool keepdim, nn_tensor **out) {
  NN_ARG(ctx, "matrix_norm", out);
  *out = NULL;
  NN_ARG(ctx, "matrix_norm", ord);
  nn_status s = nn_need_float(ctx, "matrix_norm", t);
  if (s) return s;
  char b1[NN_SHAPE_BUF];
  if (t->ndim < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "matrix_norm: expected at least 2 dimensions, got %s",
                   nn_shape_fmt(t->ndim, t->shape, b1));
  int d[2], nd;
  if ((s = norm_dims(ctx, "matrix_norm", t, 2, (const int[]){d0, d1}, d, &nd))) return s;
  if (strcmp(ord, "fro") == 0) return nn_linalg_vector_norm(ctx, t, 2.0, 2, d, keepdim, out);
  if (strcmp(ord, "2") == 0 || strcmp(ord, "-2") == 0 || strcmp(ord, "nuc") == 0)
    return svd_norm(ctx, t, ord[0] == 'n' ? R_SUM : ord[0] == '2' ? R_MAX : R_MIN, d, keepdim, out);
  /* "1": the largest column sum of |t| (sum over rows d0, then max over d1); "inf": rows */
  static const struct { const char *name; int sum_dim; red_kind k; } kinds[] = {
    {"1", 0, R_MAX}, {"-1", 0, R_MIN}, {"inf", 1, R_MAX}, {"-inf", 1, R_MIN}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (strcmp(ord, kinds[i].name) != 0) continue;
    nn_tensor *x = NULL;
    if ((s = nn_abs(ctx, t, &x))) return s;
    int sd = d[kinds[i].sum_dim], md = d[1 - kinds[i].sum_dim];
    if (!(s = reduce_keep(ctx, R_SUM, &x, 1, &sd, true)))
      s = reduce_keep(ctx, kinds[i].k, &x, 1, &md, true);
    if (!s && !keepdim) {
      nn_tensor *r = NULL;                 /* drop the two kept dims, the higher first */
      int hi = d[0] > d[1] ? d[0] : d[1], lo = d[0] + d[1] - hi;
      if (!(s = nn_squeeze(ctx, x, hi, &r))) { nn_tensor_release(x); x = r; s = nn_squeeze(ctx, x, lo, &r); }
      if (!s) { nn_tensor_release(x); x = r; }
    }
    if (s) nn_tensor_release(x);
    else *out = x;
    return s;
  }
  return nn_fail(ctx, NN_ERR_ARG, "matrix_norm: ord \"%s\" is not one of \"fro\", \"nuc\", \"1\", \"-1\", "
                 "\"2\", \"-2\", \"inf\", \"-inf\"", ord);
}

/* the LAPACK ops (ops_lapack.c) are listed with this file's */
extern const nn_op nn_op_inv, nn_op_det, nn_op_solve, nn_op_cholesky, nn_op_svdvals;

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
const nn_op *const nn_ops_linalg[] = {&nn_op_matmul, &nn_op_linear, &nn_op_linear_relu, &nn_op_addmm,
                                      &nn_op_inv, &nn_op_det, &nn_op_solve, &nn_op_cholesky,
                                      &nn_op_svdvals, NULL};
