/* ops_lapack.c — small dense linear algebra through LAPACK (the Fortran routines OpenBLAS
   ships): inv, det, solve, cholesky over [..., n, n] batches, float32 and float64.
   Each matrix is factored in float64 (a float32 input is converted: LU of a float32 matrix
   loses digits PyTorch keeps with its own float32 LAPACK path only for well-conditioned input,
   and the results are stored back as float32). LAPACK is column-major: a row-major buffer is
   the transpose, which each op takes into account instead of copying. The descriptors are
   listed with ops_linalg.c's. */
#include <cblas.h>
#include <limits.h>
#include "nn_impl.h"

/* LAPACK's Fortran entry points (gfortran ABI: the trailing size_t is a character argument's
   length). Declared here rather than through lapacke.h: OpenBLAS exports them and nothing
   else is needed. */
extern void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
extern void dgetri_(const int *n, double *a, const int *lda, const int *ipiv, double *work,
                    const int *lwork, int *info);
extern void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a,
                    const int *lda, const int *ipiv, double *b, const int *ldb, int *info, size_t);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
                    double *u, const int *ldu, double *vt, const int *ldvt, double *work,
                    const int *lwork, int *iwork, int *info, size_t);

/* ---- shared: the batch of square matrices -------------------------------------------------- */

typedef struct {
  int64_t batch, n;       /* matrices and their order */
  nn_tensor *a;           /* the input as contiguous float64 (retained or a copy) */
} sq_batch;

/* t as contiguous float64: t itself (retained) when it already is */
static nn_status f64c(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  return t->dtype == NN_F64 ? nn_contig(ctx, t, out) : nn_as_dtype(ctx, t, NN_F64, out);
}

/* Checks that t is a float batch [..., n, n] and loads it as float64 */
static nn_status sq_load(nn_ctx *ctx, const char *op, nn_tensor *t, sq_batch *b) {
  char b1[NN_SHAPE_BUF];
  b->a = NULL;
  nn_status s = nn_need_float(ctx, op, t);
  if (s) return s;
  int nd = t->ndim;
  if (nd < 2 || t->shape[nd - 1] != t->shape[nd - 2])
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: expected square matrices [..., n, n], got %s", op,
                   nn_shape_fmt(nd, t->shape, b1));
  b->n = t->shape[nd - 1];
  if (b->n > INT_MAX / 2)     /* LAPACK's ints (unreachable: n^2 elements fit in 2^48) */
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: matrices of order %lld are too large", op, (long long)b->n);
  b->batch = b->n ? t->numel / (b->n * b->n) : nn_shape_numel(nd - 2, t->shape);
  return f64c(ctx, t, &b->a);
}

/* A contiguous copy of t with no autograd (nn_clone would record one for an input that
   requires grad) */
static nn_status raw_copy(nn_ctx *ctx, const nn_tensor *t, nn_tensor **out) {
  nn_status s = nn_new_like(ctx, t, false, out);
  if (!s) nn_copy_raw(*out, t);
  return s;
}

/* The float64 result r as a tensor of dtype dt (r itself when dt is float64) */
static nn_status store_as(nn_ctx *ctx, nn_tensor *r, nn_dtype dt, nn_tensor **out) {
  nn_status s = nn_as_dtype(ctx, r, dt, out);
  nn_tensor_release(r);
  return s;
}

/* LU of each matrix of b in place (into lu, float64 [batch, n, n]); ipiv: n ints per matrix.
   *singular: the first matrix (0-based) with a zero pivot, -1 if none; *col its pivot. */
static void lu_all(const sq_batch *b, double *lu, int *ipiv, int64_t *singular, int *col) {
  int n = (int)b->n, info = 0;
  *singular = -1;
  if (n == 0) return;      /* (LAPACK refuses a leading dimension of 0) */
  for (int64_t k = 0; k < b->batch; k++) {
    dgetrf_(&n, &n, lu + k * b->n * b->n, &n, ipiv + k * b->n, &info);
    if (info > 0 && *singular < 0) { *singular = k; *col = info; }
  }
}

static nn_status singular_error(nn_ctx *ctx, const char *op, const sq_batch *b, int64_t k, int col) {
  if (b->batch > 1)
    return nn_fail(ctx, NN_ERR_ARG, "%s: matrix %lld of the batch is singular (pivot %d is zero)",
                   op, (long long)k + 1, col);
  return nn_fail(ctx, NN_ERR_ARG, "%s: the matrix is singular (pivot %d is zero)", op, col);
}

/* A float64 tensor shaped like b's input, and an int pivot array for its matrices */
static nn_status lu_buffers(nn_ctx *ctx, const sq_batch *b, nn_tensor **lu, int **ipiv, size_t *ib) {
  nn_status s = raw_copy(ctx, b->a, lu);
  *ib = (size_t)(b->batch * b->n + 1) * sizeof(int);
  if (!s && !(*ipiv = nn_block_get(ctx, *ib))) {
    nn_tensor_release(*lu);
    *lu = NULL;
    s = nn_fail(ctx, NN_ERR_MEM, "out of memory");
  }
  return s;
}

/* ---- inv: Y = A^-1;  dA = -Y^T dY Y^T ------------------------------------------------------ */

static nn_status inv_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *yt = NULL, *p = NULL, *q = NULL;
  nn_status s = nn_transpose(ctx, n->saved, -1, -2, &yt);
  if (!s && !(s = nn_matmul(ctx, yt, n->gout, &p)) && !(s = nn_matmul(ctx, p, yt, &q)))
    s = nn_grad_accum_scaled(ctx, n, 0, q, -1.0);
  nn_tensor_release(yt); nn_tensor_release(p); nn_tensor_release(q);
  return s;
}
const nn_op nn_op_inv = {.name = "inv", .backward = inv_backward, .saves_output = true};

/* the inverses of b's matrices as float64 [..., n, n] (no autograd); singular: an error */
static nn_status inv_raw(nn_ctx *ctx, const char *op, const sq_batch *b, nn_tensor **out) {
  nn_tensor *lu = NULL;
  int *ipiv = NULL, col = 0, n = (int)b->n, info = 0, lwork = n * 64 > 1 ? n * 64 : 1;
  size_t ib, wb = (size_t)lwork * sizeof(double);
  int64_t bad;
  nn_status s = lu_buffers(ctx, b, &lu, &ipiv, &ib);
  if (s) return s;
  double *w = nn_block_get(ctx, wb), *a = (double *)nn_ptr(lu);
  if (!w) s = nn_fail(ctx, NN_ERR_MEM, "out of memory");
  if (!s) lu_all(b, a, ipiv, &bad, &col);
  if (!s && bad >= 0) s = singular_error(ctx, op, b, bad, col);
  for (int64_t k = 0; !s && n > 0 && k < b->batch; k++)   /* (A^T)^-1 = (A^-1)^T: no transposes */
    dgetri_(&n, a + k * b->n * b->n, &n, ipiv + k * b->n, w, &lwork, &info);
  if (w) nn_block_put(ctx, w, wb);
  nn_block_put(ctx, ipiv, ib);
  if (s) nn_tensor_release(lu);
  else *out = lu;
  return s;
}

nn_status nn_linalg_inv(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  NN_ARG(ctx, "inv", out);
  *out = NULL;
  sq_batch b;
  nn_tensor *r = NULL;
  nn_status s = sq_load(ctx, "inv", a, &b);
  if (!s && !(s = inv_raw(ctx, "inv", &b, &r)) && !(s = store_as(ctx, r, a->dtype, out)))
    s = nn_record(ctx, &nn_op_inv, out, 1, &a, NULL, NULL);
  nn_tensor_release(b.a);
  return s;
}

/* ---- det: the product of U's diagonal, its sign from the row swaps;  dA = dy det A^-T -------
   A singular matrix has det 0 (as PyTorch); its gradient needs the adjugate, which this
   backward does not compute: it says so. */
static nn_status det_backward(nn_ctx *ctx, nn_node *n) {
  sq_batch b;
  nn_tensor *inv = NULL, *it = NULL, *c = NULL, *c1 = NULL, *c2 = NULL, *g = NULL;
  nn_status s = sq_load(ctx, "det (backward)", n->in[0], &b);
  if (!s && !(s = inv_raw(ctx, "det (backward)", &b, &inv)) &&
      !(s = nn_transpose(ctx, inv, -1, -2, &it)) && !(s = nn_mul(ctx, n->gout, n->saved, &c)) &&
      !(s = nn_unsqueeze(ctx, c, -1, &c1)) && !(s = nn_unsqueeze(ctx, c1, -1, &c2)) &&
      !(s = nn_mul(ctx, c2, it, &g)))
    s = nn_grad_accum(ctx, n, 0, g);
  nn_tensor_release(b.a); nn_tensor_release(inv); nn_tensor_release(it); nn_tensor_release(c);
  nn_tensor_release(c1); nn_tensor_release(c2); nn_tensor_release(g);
  return s;
}
const nn_op nn_op_det = {.name = "det", .backward = det_backward, .saves = 1, .saves_output = true};

nn_status nn_linalg_det(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  NN_ARG(ctx, "det", out);
  *out = NULL;
  sq_batch b;
  nn_tensor *lu = NULL, *r = NULL;
  int *ipiv = NULL, col;
  size_t ib = 0;
  int64_t bad;
  nn_status s = sq_load(ctx, "det", a, &b);
  if (!s) s = lu_buffers(ctx, &b, &lu, &ipiv, &ib);
  if (!s) s = nn_new(ctx, NN_F64, a->ndim - 2, a->shape, false, &r);
  if (!s) {
    double *m = (double *)nn_ptr(lu), *d = (double *)nn_ptr(r);
    lu_all(&b, m, ipiv, &bad, &col);
    for (int64_t k = 0; k < b.batch; k++) {     /* det(A^T) = det(A) */
      double v = 1;
      for (int64_t i = 0; i < b.n; i++) {
        v *= m[k * b.n * b.n + i * b.n + i];
        if (ipiv[k * b.n + i] != i + 1) v = -v;
      }
      d[k] = v;
    }
    s = store_as(ctx, r, a->dtype, out);
    r = NULL;
  }
  if (!s) s = nn_record(ctx, &nn_op_det, out, 1, &a, NULL, NULL);
  if (ipiv) nn_block_put(ctx, ipiv, ib);
  nn_tensor_release(lu); nn_tensor_release(r); nn_tensor_release(b.a);
  return s;
}

/* ---- solve: X = A^-1 B, B [..., n, k] (or [n] with A [n, n]: then X is [n]) ------------------
   dB = A^-T dX (a solve with A^T),  dA = -dB X^T. */
static nn_status solve_raw(nn_ctx *ctx, nn_tensor *a, nn_tensor *bm, bool trans, nn_tensor **out);

static nn_status solve_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *gb = NULL, *xt = NULL, *ga = NULL;
  nn_status s = solve_raw(ctx, n->in[0], n->gout, true, &gb);
  if (!s && nn_input_needs_grad(n, 0) && !(s = nn_transpose(ctx, n->saved, -1, -2, &xt)) &&
      !(s = nn_matmul(ctx, gb, xt, &ga)))
    s = nn_grad_accum_scaled(ctx, n, 0, ga, -1.0);
  if (!s) s = nn_grad_accum(ctx, n, 1, gb);
  nn_tensor_release(gb); nn_tensor_release(xt); nn_tensor_release(ga);
  return s;
}
const nn_op nn_op_solve = {.name = "solve", .backward = solve_backward, .saves = 1, .saves_output = true};

/* X = A^-1 B (A^-T B if trans) for a checked A [..., n, n], B [..., n, k] of one float dtype;
   the result in that dtype (no autograd) */
static nn_status solve_raw(nn_ctx *ctx, nn_tensor *a, nn_tensor *bm, bool trans, nn_tensor **out) {
  sq_batch b;
  nn_tensor *lu = NULL, *x = NULL, *bt = NULL;
  int *ipiv = NULL, col, n, k = (int)bm->shape[bm->ndim - 1], info = 0;
  size_t ib = 0;
  int64_t bad;
  nn_status s = sq_load(ctx, "solve", a, &b);
  n = (int)b.n;
  /* B^T contiguous is B column-major, what getrs solves in place */
  if (!s && !(s = lu_buffers(ctx, &b, &lu, &ipiv, &ib)) && !(s = nn_transpose(ctx, bm, -1, -2, &bt)) &&
      !(s = nn_new(ctx, NN_F64, bt->ndim, bt->shape, false, &x))) {
    nn_copy_raw(x, bt);
    lu_all(&b, (double *)nn_ptr(lu), ipiv, &bad, &col);
    if (bad >= 0) s = singular_error(ctx, trans ? "solve (backward)" : "solve", &b, bad, col);
    /* the buffer is A^T column-major: A X = B is trans 'T' on it, A^T X = B is 'N' */
    for (int64_t i = 0; !s && n > 0 && k > 0 && i < b.batch; i++)
      dgetrs_(trans ? "N" : "T", &n, &k, (double *)nn_ptr(lu) + i * b.n * b.n, &n, ipiv + i * b.n,
              (double *)nn_ptr(x) + i * b.n * k, &n, &info, 1);
  }
  nn_tensor *xv = NULL;
  if (!s && !(s = nn_transpose(ctx, x, -1, -2, &xv))) {
    s = nn_new(ctx, bm->dtype, bm->ndim, bm->shape, false, out);
    if (!s) nn_copy_raw(*out, xv);
  }
  if (ipiv) nn_block_put(ctx, ipiv, ib);
  nn_tensor_release(xv); nn_tensor_release(x); nn_tensor_release(bt); nn_tensor_release(lu);
  nn_tensor_release(b.a);
  return s;
}

nn_status nn_linalg_solve(nn_ctx *ctx, nn_tensor *a, nn_tensor *bm, nn_tensor **out) {
  NN_ARG(ctx, "solve", out);
  *out = NULL;
  NN_ARG_AS(ctx, "solve", a && bm, "tensor");
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  nn_status s;
  if ((s = nn_need_float(ctx, "solve", a))) return s;
  if (a->dtype != bm->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "solve: A and B must share a dtype, got %s and %s",
                   nn_dtype_name(a->dtype), nn_dtype_name(bm->dtype));
  if (bm->ndim == 1 && a->ndim == 2) {      /* a vector: as a column, then back */
    nn_tensor *c = NULL, *x = NULL;
    if (!(s = nn_unsqueeze(ctx, bm, 1, &c)) && !(s = nn_linalg_solve(ctx, a, c, &x)))
      s = nn_squeeze(ctx, x, 1, out);
    nn_tensor_release(c); nn_tensor_release(x);
    return s;
  }
  int na = a->ndim;
  bool ok = na >= 2 && bm->ndim == na && bm->shape[na - 2] == a->shape[na - 1];
  for (int i = 0; ok && i < na - 2; i++) ok = a->shape[i] == bm->shape[i];
  if (!ok)
    return nn_fail(ctx, NN_ERR_SHAPE, "solve: expected A [..., n, n] and B [..., n, k] (or [n] for a 2-D A) "
                   "with the same batch dims, got %s and %s", nn_shape_fmt(na, a->shape, b1),
                   nn_shape_fmt(bm->ndim, bm->shape, b2));
  if ((s = solve_raw(ctx, a, bm, false, out))) return s;
  nn_tensor *in[2] = {a, bm};
  return nn_record(ctx, &nn_op_solve, out, 2, in, NULL, NULL);
}

/* ---- cholesky: A = L L^T, L lower (A's lower triangle is read, as PyTorch) ------------------
   dA = L^-T Φ L^-1 symmetrized, Φ = the lower triangle of L^T dL with its diagonal halved
   (Murray 2016, PyTorch's cholesky_backward): two triangular solves per matrix. */
static nn_status cholesky_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *l = NULL, *g = NULL, *p = NULL;
  int64_t m = n->saved->shape[n->saved->ndim - 1], mm = m * m;
  nn_status s = f64c(ctx, n->saved, &l);
  if (!s) s = f64c(ctx, n->gout, &g);
  if (!s) s = nn_new(ctx, NN_F64, n->saved->ndim, n->saved->shape, false, &p);
  int64_t batch = s || mm == 0 ? 0 : l->numel / mm;
  for (int64_t k = 0; k < batch; k++) {
    const double *L = (const double *)nn_ptr(l) + k * mm, *G = (const double *)nn_ptr(g) + k * mm;
    double *P = (double *)nn_ptr(p) + k * mm;
    int in = (int)m;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, in, in, 1.0, L, in, G, in, 0.0, P, in);
    for (int64_t i = 0; i < m; i++) {        /* Φ, then (Φ + Φ^T) / 2 */
      P[i * m + i] *= 0.5;
      for (int64_t j = i + 1; j < m; j++) P[i * m + j] = P[j * m + i] *= 0.5;
    }
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, in, in, 1.0, L, in, P, in);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, in, in, 1.0, L, in, P, in);
  }
  if (!s) s = nn_grad_accum(ctx, n, 0, p);
  nn_tensor_release(l); nn_tensor_release(g); nn_tensor_release(p);
  return s;
}
const nn_op nn_op_cholesky = {.name = "cholesky", .backward = cholesky_backward, .saves_output = true};

nn_status nn_linalg_cholesky(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  NN_ARG(ctx, "cholesky", out);
  *out = NULL;
  sq_batch b;
  nn_tensor *r = NULL;
  nn_status s = sq_load(ctx, "cholesky", a, &b);
  if (!s) s = raw_copy(ctx, b.a, &r);
  for (int64_t k = 0; !s && b.n > 0 && k < b.batch; k++) {
    /* row-major lower = column-major upper: potrf 'U' gives U with A = U^T U, read back as L */
    double *m = (double *)nn_ptr(r) + k * b.n * b.n;
    int n = (int)b.n, info = 0;
    dpotrf_("U", &n, m, &n, &info, 1);
    if (info > 0)
      s = b.batch > 1 ? nn_fail(ctx, NN_ERR_ARG, "cholesky: matrix %lld of the batch is not positive-definite "
                                "(the leading minor of order %d is not positive)", (long long)k + 1, info)
                      : nn_fail(ctx, NN_ERR_ARG, "cholesky: the matrix is not positive-definite (the "
                                "leading minor of order %d is not positive)", info);
    for (int64_t i = 0; i < b.n; i++)         /* the upper triangle (A's, untouched) is zero */
      for (int64_t j = i + 1; j < b.n; j++) m[i * b.n + j] = 0;
  }
  if (!s) { s = store_as(ctx, r, a->dtype, out); r = NULL; }
  if (!s) s = nn_record(ctx, &nn_op_cholesky, out, 1, &a, NULL, NULL);
  nn_tensor_release(r); nn_tensor_release(b.a);
  return s;
}

/* ---- svdvals: the singular values of each matrix [..., m, n], descending ---------------------
   dA = U diag(dσ) V^T (distinct singular values). gesdd on the row-major buffer factors A^T =
   Uc Σ Vc^T, so A's U is Vc (Vc^T's buffer read row-major [m, k]) and A's V^T is Uc^T (Uc's
   buffer read row-major [k, n]): no transposes. */
typedef struct {
  int m, n, k;
  double *a, *u, *vt, *s, *work;     /* one matrix's copy, its factors, gesdd's workspace */
  int *iwork, lwork;
  size_t bytes;                      /* the whole block */
} svd_work;

static nn_status svd_begin(nn_ctx *ctx, const char *op, int m, int n, svd_work *w) {
  int k = m < n ? m : n, info = 0, q = -1;
  double opt = 0;
  w->m = m; w->n = n; w->k = k;
  dgesdd_("S", &n, &m, NULL, &n, NULL, NULL, &n, NULL, &k, &opt, &q, NULL, &info, 1);
  w->lwork = info == 0 && opt >= 1 && opt < 1e9 ? (int)opt : 3 * k + 5 * k * k + m + n + 64;
  size_t nd = (size_t)m * (size_t)n + (size_t)n * (size_t)k + (size_t)k * (size_t)m + (size_t)k + (size_t)w->lwork;
  w->bytes = nd * sizeof(double) + (size_t)(8 * k + 1) * sizeof(int);
  char *p = nn_block_get(ctx, w->bytes);
  if (!p) return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op);
  w->a = (double *)p; w->u = w->a + (size_t)m * n; w->vt = w->u + (size_t)n * k;
  w->s = w->vt + (size_t)k * m; w->work = w->s + k; w->iwork = (int *)(w->work + w->lwork);
  return NN_OK;
}

/* the SVD of the row-major [m, n] matrix at src (its singular values in w->s) */
static nn_status svd_one(nn_ctx *ctx, const char *op, svd_work *w, const double *src) {
  int info = 0, m = w->m, n = w->n, k = w->k;
  memcpy(w->a, src, sizeof(double) * (size_t)m * (size_t)n);
  dgesdd_("S", &n, &m, w->a, &n, w->s, w->u, &n, w->vt, &k, w->work, &w->lwork, w->iwork, &info, 1);
  return info ? nn_fail(ctx, NN_ERR_ARG, "%s: the SVD did not converge (LAPACK info %d)", op, info) : NN_OK;
}

static nn_status svdvals_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *a = NULL, *g = NULL, *ga = NULL;
  nn_tensor *x = n->in[0];
  int nd = x->ndim, m = (int)x->shape[nd - 2], nn = (int)x->shape[nd - 1], k = m < nn ? m : nn;
  svd_work w = {0};
  nn_status s = f64c(ctx, x, &a);
  if (!s) s = f64c(ctx, n->gout, &g);
  if (!s) s = nn_new(ctx, NN_F64, nd, x->shape, true, &ga);
  if (!s && k > 0) s = svd_begin(ctx, "svdvals (backward)", m, nn, &w);
  int64_t batch = s || k == 0 ? 0 : a->numel / ((int64_t)m * nn);
  for (int64_t b = 0; b < batch && !s; b++) {
    if ((s = svd_one(ctx, "svdvals (backward)", &w, (const double *)nn_ptr(a) + b * m * nn))) break;
    const double *gs = (const double *)nn_ptr(g) + b * k;
    double *d = (double *)nn_ptr(ga) + b * m * nn;
    for (int i = 0; i < m; i++)          /* dA[i][j] = Σ_l U[i][l] dσ_l V^T[l][j] */
      for (int l = 0; l < k; l++) {
        double c = w.vt[(size_t)i * k + l] * gs[l];
        for (int j = 0; j < nn; j++) d[(size_t)i * nn + j] += c * w.u[(size_t)l * nn + j];
      }
  }
  if (w.bytes) nn_block_put(ctx, w.a, w.bytes);
  if (!s) s = nn_grad_accum(ctx, n, 0, ga);
  nn_tensor_release(a); nn_tensor_release(g); nn_tensor_release(ga);
  return s;
}
const nn_op nn_op_svdvals = {.name = "svdvals", .backward = svdvals_backward, .saves = 1};

nn_status nn_linalg_svdvals(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "svdvals", out);
  *out = NULL;
  char b1[NN_SHAPE_BUF];
  nn_status s = nn_need_float(ctx, "svdvals", t);
  if (s) return s;
  int nd = t->ndim;
  if (nd < 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "svdvals: expected matrices [..., m, n], got %s", nn_shape_fmt(nd, t->shape, b1));
  int64_t m = t->shape[nd - 2], n = t->shape[nd - 1], k = m < n ? m : n, sh[NN_MAX_DIMS];
  if (m > INT_MAX / 2 || n > INT_MAX / 2)
    return nn_fail(ctx, NN_ERR_SHAPE, "svdvals: matrices of %s are too large", nn_shape_fmt(nd, t->shape, b1));
  memcpy(sh, t->shape, sizeof(int64_t) * (size_t)(nd - 1));
  sh[nd - 2] = k;
  nn_tensor *a = NULL, *r = NULL;
  svd_work w = {0};
  if ((s = f64c(ctx, t, &a)) || (s = nn_new(ctx, NN_F64, nd - 1, sh, false, &r))) goto done;
  if (k > 0 && (s = svd_begin(ctx, "svdvals", (int)m, (int)n, &w))) goto done;
  int64_t batch = k == 0 ? 0 : t->numel / (m * n);
  for (int64_t b = 0; b < batch && !s; b++)
    if (!(s = svd_one(ctx, "svdvals", &w, (const double *)nn_ptr(a) + b * m * n)))
      memcpy((double *)nn_ptr(r) + b * k, w.s, sizeof(double) * (size_t)k);
  if (!s) { s = store_as(ctx, r, t->dtype, out); r = NULL; }
  if (!s) s = nn_record(ctx, &nn_op_svdvals, out, 1, &t, NULL, NULL);
done:
  if (w.bytes) nn_block_put(ctx, w.a, w.bytes);
  nn_tensor_release(a); nn_tensor_release(r);
  return s;
}
