/* test_tensor.c — the tensor core: creation, random generators, views, broadcasting,
   reductions and joins against naive loops, error statuses and messages, the context's
   lifetime, allocation failures, autograd bookkeeping and the zero-allocation training step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "nn.h"


#define SH(...) (const int64_t[]){__VA_ARGS__}
#define ALL (-1000)

/* the allocator of every context here: counts live blocks, fails on call heap.fail_at */
static check_allocator heap;

static nn_ctx *C;

static double at(const nn_tensor *t, int64_t i) { return check_elem(t, i); }
static bool shape_is(const nn_tensor *t, int nd, const int64_t *sh) {
  if (!t || nn_tensor_ndim(t) != nd) return false;
  for (int i = 0; i < nd; i++) if (nn_tensor_shape(t)[i] != sh[i]) return false;
  return true;
}
static nn_tensor *from(nn_dtype dt, int nd, const int64_t *sh, const void *data) {
  nn_tensor *t;
  if (nn_tensor_from_data(C, dt, nd, sh, data, &t)) { printf("from: %s\n", nn_ctx_errmsg(C)); exit(2); }
  return t;
}
static nn_tensor *randt(int nd, const int64_t *sh) {
  nn_tensor *t;
  nn_randn(C, NULL, NN_F64, nd, sh, &t);
  return t;
}
/* the call failed with status want, *out stayed NULL and the message is exactly msg */
static void expect_err(const char *what, nn_status got, nn_status want, nn_tensor *const *out,
                       const char *msg) {
  CHECKF(got == want, "%s: status %d, expected %d (%s)", what, (int)got, (int)want, nn_ctx_errmsg(C));
  CHECKF(!out || *out == NULL, "%s: *out is not NULL after a failure", what);
  CHECKF(strcmp(nn_ctx_errmsg(C), msg) == 0, "%s: message\n    '%s'\n  expected\n    '%s'", what,
         nn_ctx_errmsg(C), msg);
}

/* ---- creation ----------------------------------------------------------------------------- */
static void test_creation(void) {
  nn_tensor *t;
  CHECKF(nn_zeros(C, NN_F32, 2, SH(2, 3), &t) == NN_OK && shape_is(t, 2, SH(2, 3)), "zeros shape");
  bool ok = true;
  for (int i = 0; i < 6; i++) ok = ok && at(t, i) == 0;
  CHECKF(ok && nn_tensor_dtype(t) == NN_F32, "zeros values");
  nn_tensor_release(t);
  nn_ones(C, NN_I64, 1, SH(4), &t);
  CHECKF(at(t, 0) == 1 && at(t, 3) == 1 && nn_tensor_dtype(t) == NN_I64, "ones int64");
  nn_tensor_release(t);
  nn_full(C, NN_F64, 0, NULL, 2.5, &t);
  CHECKF(nn_tensor_ndim(t) == 0 && nn_tensor_numel(t) == 1 && at(t, 0) == 2.5, "full 0-d");
  nn_tensor_release(t);
  nn_eye(C, NN_F32, 2, 3, &t);
  static const double eye[6] = {1, 0, 0, 0, 1, 0};
  ok = shape_is(t, 2, SH(2, 3));
  for (int i = 0; i < 6; i++) ok = ok && at(t, i) == eye[i];
  CHECKF(ok, "eye(2, 3)");
  nn_tensor_release(t);
  nn_arange(C, NN_F64, 0, 1, 0.1, &t);
  CHECKF(shape_is(t, 1, SH(10)) && at(t, 3) == 0.1 * 3 && at(t, 9) == 0.1 * 9, "arange(0, 1, 0.1)");
  nn_tensor_release(t);
  nn_arange(C, NN_I64, 5, 0, -2, &t);
  CHECKF(shape_is(t, 1, SH(3)) && at(t, 0) == 5 && at(t, 1) == 3 && at(t, 2) == 1, "arange(5, 0, -2) int64");
  nn_tensor_release(t);
  /* linspace: PyTorch computes the first half up from a and the second half down from b */
  nn_linspace(C, NN_F64, 0, 1, 7, &t);
  double step = 1.0 / 6;
  CHECKF(at(t, 0) == 0 && at(t, 6) == 1 && at(t, 2) == step * 2 && at(t, 4) == 1 - step * 2,
         "linspace(0, 1, 7) end points and halves");
  nn_tensor_release(t);
  nn_linspace(C, NN_F32, -1, 1, 5, &t);
  CHECKF(at(t, 0) == -1 && at(t, 1) == -0.5 && at(t, 2) == 0 && at(t, 3) == 0.5 && at(t, 4) == 1, "linspace(-1, 1, 5)");
  nn_tensor_release(t);
  nn_linspace(C, NN_F64, 3, 9, 1, &t);
  CHECKF(shape_is(t, 1, SH(1)) && at(t, 0) == 3, "linspace n = 1");
  nn_tensor_release(t);
  nn_linspace(C, NN_F64, 3, 9, 0, &t);
  CHECKF(shape_is(t, 1, SH(0)), "linspace n = 0");
  nn_tensor_release(t);
  double v[6] = {1, 2, 3, 4, 5, 6};
  t = from(NN_F64, 2, SH(2, 3), v);
  int64_t idx[2] = {1, 2};
  double got = 0;
  CHECKF(nn_tensor_get(C, t, idx, &got) == NN_OK && got == 6, "get [1, 2]");
  CHECKF(nn_tensor_set(C, t, idx, -1) == NN_OK && at(t, 5) == -1, "set [1, 2]");
  idx[1] = 3;
  CHECKF(nn_tensor_get(C, t, idx, &got) == NN_ERR_ARG &&
         strcmp(nn_ctx_errmsg(C), "get: index 3 out of range for dimension 2 of size 3") == 0,
         "get out of range: %s", nn_ctx_errmsg(C));
  nn_tensor_release(t);
}

/* ---- random generators ---------------------------------------------------------------------- */
static void test_random(void) {
  nn_tensor *p;
  nn_randperm(C, NULL, 100, &p);
  int seen[100] = {0};
  bool ok = shape_is(p, 1, SH(100)) && nn_tensor_dtype(p) == NN_I64;
  for (int i = 0; ok && i < 100; i++) {
    int64_t k = (int64_t)at(p, i);
    ok = k >= 0 && k < 100 && !seen[k]++;
  }
  CHECKF(ok, "randperm(100) is a permutation of 0..99");
  nn_tensor_release(p);

  /* same seed, same bits, across contexts */
  nn_ctx *c2 = nn_ctx_new(NULL, NULL);
  nn_manual_seed(C, 7);
  nn_manual_seed(c2, 7);
  nn_tensor *a, *b;
  nn_randn(C, NULL, NN_F32, 1, SH(33), &a);
  nn_randn(c2, NULL, NN_F32, 1, SH(33), &b);
  CHECKF(memcmp(nn_tensor_data(a), nn_tensor_data(b), 33 * 4) == 0, "randn: same seed, same bits");
  nn_tensor_release(a); nn_tensor_release(b);
  nn_ctx_free(c2);
  nn_manual_seed(C, 8);
  nn_rand(C, NULL, NN_F64, 1, SH(4), &a);
  nn_manual_seed(C, 9);
  nn_rand(C, NULL, NN_F64, 1, SH(4), &b);
  CHECKF(memcmp(nn_tensor_data(a), nn_tensor_data(b), 32) != 0, "rand: different seeds differ");
  ok = true;
  for (int i = 0; i < 4; i++) ok = ok && at(a, i) >= 0 && at(a, i) < 1;
  CHECKF(ok, "rand in [0, 1)");
  nn_tensor_release(a); nn_tensor_release(b);

  /* state round trip, with a cached normal pending */
  nn_rng *r;
  nn_rng_new(C, 123, &r);
  (void)nn_rng_normal(r);                 /* leaves the pair's second value cached */
  uint64_t state[5];
  nn_rng_get_state(r, state);
  double first[6], again[6];
  for (int i = 0; i < 6; i++) first[i] = i % 2 ? nn_rng_normal(r) : nn_rng_uniform(r);
  CHECKF(nn_rng_set_state(C, r, state) == NN_OK, "set_state");
  for (int i = 0; i < 6; i++) again[i] = i % 2 ? nn_rng_normal(r) : nn_rng_uniform(r);
  CHECKF(memcmp(first, again, sizeof first) == 0, "get_state/set_state round trip");
  uint64_t zero[5] = {0};
  CHECKF(nn_rng_set_state(C, r, zero) == NN_ERR_ARG &&
         strcmp(nn_ctx_errmsg(C), "set_state: an all-zero xoshiro256** state is invalid") == 0,
         "all-zero state refused");
  bool below = true;
  for (int i = 0; i < 1000; i++) below = below && nn_rng_below(r, 7) < 7;
  CHECKF(below, "rng_below(7) < 7");
  nn_rng_free(C, r);
}

/* ---- views ------------------------------------------------------------------------------------ */
static void test_views(void) {
  double v[12];
  for (int i = 0; i < 12; i++) v[i] = i;
  nn_tensor *x = from(NN_F64, 2, SH(3, 4), v), *t, *n, *s, *w, *c;
  nn_transpose(C, x, 0, 1, &t);
  nn_narrow(C, x, 1, 1, 2, &n);
  nn_select(C, x, 0, 2, &s);
  nn_view(C, x, 2, SH(2, 6), &w);
  nn_clone(C, x, &c);
  CHECKF(nn_tensor_same_storage(x, t) && nn_tensor_same_storage(x, n) && nn_tensor_same_storage(x, s) &&
         nn_tensor_same_storage(x, w) && !nn_tensor_same_storage(x, c), "views share storage, clone does not");
  CHECKF(shape_is(t, 2, SH(4, 3)) && !nn_tensor_is_contiguous(t) && at(t, 1) == 4, "transpose values");
  CHECKF(shape_is(n, 2, SH(3, 2)) && at(n, 0) == 1 && at(n, 3) == 6, "narrow values");
  CHECKF(shape_is(s, 1, SH(4)) && at(s, 0) == 8, "select values");
  int64_t i12[2] = {1, 2};
  nn_tensor_set(C, x, i12, 100);          /* x[1,2] is t[2,1], n[1,1], w[1,0] */
  CHECKF(at(t, 7) == 100 && at(n, 3) == 100 && at(w, 6) == 100 && at(c, 6) == 6, "a write shows through views");
  nn_tensor *bad;
  expect_err("view of a transpose", nn_view(C, t, 1, SH(12), &bad), NN_ERR_SHAPE, &bad,
             "view: a tensor of shape [4, 3] with these strides cannot be viewed as [12] without a copy (use reshape)");
  nn_tensor_release(x); nn_tensor_release(t); nn_tensor_release(n); nn_tensor_release(s);
  nn_tensor_release(w); nn_tensor_release(c);
}

/* ---- broadcasting against naive loops ---------------------------------------------------------- */
static void test_broadcast(void) {
  nn_tensor *a = randt(3, SH(3, 1, 4)), *b = randt(2, SH(2, 4)), *y;
  CHECKF(nn_add(C, a, b, &y) == NN_OK && shape_is(y, 3, SH(3, 2, 4)), "add [3,1,4] + [2,4] shape");
  bool ok = true;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++)
      for (int k = 0; k < 4; k++)
        ok = ok && at(y, (i * 2 + j) * 4 + k) == at(a, i * 4 + k) + at(b, j * 4 + k);
  CHECKF(ok, "add broadcast values");
  nn_tensor_release(y);
  /* strided operand: a transposed [4,2] times [2] */
  nn_tensor *m = randt(2, SH(2, 4)), *mt, *r = randt(1, SH(2));
  nn_transpose(C, m, 0, 1, &mt);
  nn_mul(C, mt, r, &y);
  ok = shape_is(y, 2, SH(4, 2));
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++) ok = ok && at(y, i * 2 + j) == at(m, j * 4 + i) * at(r, j);
  CHECKF(ok, "mul of a transposed operand");
  nn_tensor_release(y);
  /* promotion: float32 + int64 -> float32, float32 * float64 -> float64 */
  nn_tensor *f, *li;
  nn_ones(C, NN_F32, 1, SH(3), &f);
  int64_t iv[3] = {1, 2, 3};
  li = from(NN_I64, 1, SH(3), iv);
  nn_add(C, f, li, &y);
  CHECKF(nn_tensor_dtype(y) == NN_F32 && at(y, 2) == 4, "float32 + int64 is float32");
  nn_tensor_release(y);
  nn_div(C, li, li, &y);
  CHECKF(nn_tensor_dtype(y) == NN_F32 && at(y, 1) == 1, "int64 / int64 is float32");
  nn_tensor_release(y);
  nn_tensor *e;
  CHECKF(nn_add(C, m, r, &e) == NN_ERR_SHAPE && e == NULL &&
         strcmp(nn_ctx_errmsg(C), "add: shapes [2, 4] and [2] do not broadcast") == 0,
         "add non-broadcastable: %s", nn_ctx_errmsg(C));
  /* axpy_: a += alpha b, b broadcast over rows; float64 values against the loop */
  nn_tensor *acc = randt(2, SH(3, 4)), *row = randt(1, SH(4)), *before;
  nn_clone(C, acc, &before);
  CHECKF(nn_axpy_(C, acc, row, -2.5) == NN_OK, "axpy_ broadcast: %s", nn_ctx_errmsg(C));
  ok = true;
  for (int i = 0; i < 12; i++) ok = ok && at(acc, i) == at(before, i) + -2.5 * at(row, i % 4);
  CHECKF(ok, "axpy_ values");
  CHECKF(nn_axpy_(C, row, acc, 1.0) == NN_ERR_SHAPE &&
         strcmp(nn_ctx_errmsg(C), "add_: result shape [3, 4] differs from the tensor's [4]") == 0,
         "axpy_ into a smaller tensor: %s", nn_ctx_errmsg(C));
  CHECKF(nn_axpy_(C, li, li, 2) == NN_OK && at(li, 2) == 9, "axpy_ int64 with an integer alpha");
  CHECKF(nn_axpy_(C, li, li, 0.5) == NN_ERR_ARG &&
         strcmp(nn_ctx_errmsg(C), "add_: alpha must be an integer for an int64 tensor, got 0.5") == 0,
         "axpy_ int64 with a fractional alpha: %s", nn_ctx_errmsg(C));
  CHECKF(nn_axpy_(C, li, li, INFINITY) == NN_ERR_ARG, "axpy_ int64 with an infinite alpha");
  CHECKF(nn_axpy_(C, NULL, li, 1) != NN_OK && nn_axpy_(C, li, NULL, 1) != NN_OK, "axpy_ NULL");
  nn_tensor_release(acc); nn_tensor_release(row); nn_tensor_release(before);
  nn_tensor_release(a); nn_tensor_release(b); nn_tensor_release(m); nn_tensor_release(mt);
  nn_tensor_release(r); nn_tensor_release(f); nn_tensor_release(li);
}

/* ---- float32 exp (Lunet's own, vectorized) against exp in double ---------------------------- */
static double ulps_off(float got, double want) {
  if (want == 0) return got == 0 ? 0 : 1e9;
  int e;
  frexp(want, &e);                                /* want in [2^(e-1), 2^e) */
  double ulp = fmax(ldexp(1.0, e - 1 - 23), ldexp(1.0, -149));
  return fabs((double)got - want) / ulp;
}

static void test_exp_f32(void) {
  enum { N = 400000 };
  float *x = malloc(N * sizeof *x);
  if (!x) { CHECKF(0, "out of memory"); return; }
  for (int i = 0; i < N; i++) x[i] = -104.0f + 193.0f * (float)i / (float)N;  /* -104 .. 89 */
  x[0] = 0; x[1] = (float)INFINITY; x[2] = -(float)INFINITY; x[3] = NAN; x[4] = 88.72f;
  x[5] = -87.0f; x[6] = -100.0f; x[7] = 1e-8f;
  nn_tensor *t = from(NN_F32, 1, SH(N), x), *y = NULL;
  CHECKF(nn_exp(C, t, &y) == NN_OK, "exp float32: %s", nn_ctx_errmsg(C));
  const float *v = y ? nn_tensor_data(y) : NULL;
  double worst = 0;
  int at_worst = 0;
  for (int i = 8; v && i < N; i++) {
    double want = exp((double)x[i]);
    double off = want > 3.4028234663852886e38 ? (isinf(v[i]) ? 0 : 1e9) : ulps_off(v[i], want);
    if (off > worst) { worst = off; at_worst = i; }
  }
  CHECKF(v && worst <= 2, "exp float32 within 2 ulp of exp in double (worst %.2f ulp at x = %.9g)",
         worst, (double)x[at_worst]);
  CHECKF(v && v[0] == 1 && isinf(v[1]) && v[1] > 0 && v[2] == 0 && isnan(v[3]),
         "exp float32: e^0 = 1, e^inf = inf, e^-inf = 0, NaN stays NaN");
  CHECKF(v && v[4] > 3.3e38f && v[5] > 0 && v[6] > 0 && v[6] < 1e-43f && v[7] == 1.0f,
         "exp float32 near the ends of the range (%g %g %g %g)", v ? v[4] : 0, v ? v[5] : 0,
         v ? v[6] : 0, v ? v[7] : 0);
  nn_tensor_release(t); nn_tensor_release(y);
  free(x);
}

/* ---- reductions against naive loops --------------------------------------------------------------- */
typedef enum { R_SUM, R_MEAN, R_PROD, R_VAR, R_STD, R_MAX, R_MIN } rk;
/* naive reduction of x [2,3,4] over dim (or all) at output position (i, j) of the remaining dims */
static double naive(const nn_tensor *x, rk k, int dim, int64_t o, int64_t *arg) {
  const int64_t *sh = nn_tensor_shape(x);
  int64_t n = dim == ALL ? 24 : sh[dim], idx[24];
  for (int64_t q = 0; q < n; q++) {
    if (dim == ALL) idx[q] = q;
    else {
      int64_t inner = 1;
      for (int d = dim + 1; d < 3; d++) inner *= sh[d];
      idx[q] = (o / inner) * n * inner + q * inner + o % inner;
    }
  }
  double s = k == R_PROD ? 1 : 0, m = 0, best = at(x, idx[0]);
  *arg = 0;
  for (int64_t q = 0; q < n; q++) {
    double v = at(x, idx[q]);
    if (k == R_PROD) s *= v; else s += v;
    if ((k == R_MAX && v > best) || (k == R_MIN && v < best)) { best = v; *arg = q; }
  }
  m = s / (double)n;
  if (k == R_SUM || k == R_PROD) return s;
  if (k == R_MEAN) return m;
  if (k == R_MAX || k == R_MIN) return best;
  double ss = 0;
  for (int64_t q = 0; q < n; q++) ss += (at(x, idx[q]) - m) * (at(x, idx[q]) - m);
  return k == R_VAR ? ss / (double)(n - 1) : sqrt(ss / (double)(n - 1));
}
static void test_reductions(void) {
  static const char *names[] = {"sum", "mean", "prod", "var", "std", "max", "min"};
  nn_tensor *x = randt(3, SH(2, 3, 4));
  static const int dims[] = {ALL, 0, 1, 2, -1};
  for (int k = R_SUM; k <= R_MIN; k++)
    for (int di = 0; di < 5; di++)
      for (int keep = 0; keep < 2; keep++) {
        int dim = dims[di], nd = dim == -1 ? 2 : dim;
        nn_tensor *y = NULL, *ix = NULL;
        nn_status s;
        switch ((rk)k) {
          case R_SUM: s = nn_sum(C, x, dim, keep, &y); break;
          case R_MEAN: s = nn_mean(C, x, dim, keep, &y); break;
          case R_PROD: s = nn_prod(C, x, dim, keep, &y); break;
          case R_VAR: s = nn_var(C, x, dim, keep, 1, &y); break;
          case R_STD: s = nn_std(C, x, dim, keep, 1, &y); break;
          case R_MAX: s = nn_max(C, x, dim, keep, &y, &ix); break;
          default: s = nn_min(C, x, dim, keep, &y, &ix); break;
        }
        CHECKF(s == NN_OK, "%s dim %d: %s", names[k], dim, nn_ctx_errmsg(C));
        if (s) continue;
        int64_t want[3], wn = 0;
        for (int d = 0; d < 3; d++)
          if (dim != ALL && d != nd) want[wn++] = nn_tensor_shape(x)[d];
          else if (keep) want[wn++] = 1;
        CHECKF(shape_is(y, (int)wn, want), "%s dim %d keepdim %d: shape", names[k], dim, keep);
        bool ok = true;
        for (int64_t o = 0; o < nn_tensor_numel(y); o++) {
          int64_t arg;
          double w = naive(x, (rk)k, dim == -1 ? 2 : dim, o, &arg);
          ok = ok && fabs(at(y, o) - w) <= 1e-12 * fmax(1, fabs(w));
          if (ix) ok = ok && at(ix, o) == (double)arg && nn_tensor_dtype(ix) == NN_I64;
        }
        CHECKF(ok, "%s dim %d keepdim %d: values against a naive loop", names[k], dim, keep);
        nn_tensor_release(y); nn_tensor_release(ix);
      }
  nn_tensor_release(x);

  /* float32 sums: the all-dims sum accumulates in double; rows and columns against naive loops */
  nn_tensor *f, *y;
  nn_full(C, NN_F32, 1, SH(1000000), 0.1, &f);
  nn_sum(C, f, ALL, false, &y);
  CHECKF(fabs(at(y, 0) - 1e6 * (double)0.1f) < 1e-2, "float32 sum of 1e6 x 0.1: %.6f", at(y, 0));
  nn_tensor_release(y); nn_tensor_release(f);
  nn_rand(C, NULL, NN_F32, 2, SH(37, 300), &f);
  nn_tensor *rows, *cols;
  nn_sum(C, f, 1, false, &rows);
  nn_sum(C, f, 0, false, &cols);
  bool ok = shape_is(rows, 1, SH(37)) && shape_is(cols, 1, SH(300));
  for (int i = 0; i < 37; i++) { double s = 0; for (int j = 0; j < 300; j++) s += at(f, i * 300 + j);
    ok = ok && fabs(at(rows, i) - s) < 1e-4; }
  for (int j = 0; j < 300; j++) { double s = 0; for (int i = 0; i < 37; i++) s += at(f, i * 300 + j);
    ok = ok && fabs(at(cols, j) - s) < 1e-5; }
  CHECKF(ok, "float32 row and column sums");
  nn_tensor_release(rows); nn_tensor_release(cols);
  nn_tensor *ft;                          /* a non-contiguous input */
  nn_transpose(C, f, 0, 1, &ft);
  nn_sum(C, ft, 1, true, &rows);
  ok = shape_is(rows, 2, SH(300, 1));
  for (int j = 0; j < 300; j++) { double s = 0; for (int i = 0; i < 37; i++) s += at(f, i * 300 + j);
    ok = ok && fabs(at(rows, j) - s) < 1e-5; }
  CHECKF(ok, "sum of a transposed float32 tensor");
  nn_tensor_release(rows); nn_tensor_release(ft); nn_tensor_release(f);

  /* ties: the first occurrence; NaN propagates with its index */
  double tv[6] = {1, 3, 3, NAN, 2, 5};
  nn_tensor *t = from(NN_F64, 2, SH(2, 3), tv), *v, *ix;
  nn_max(C, t, 1, false, &v, &ix);
  CHECKF(at(v, 0) == 3 && at(ix, 0) == 1 && isnan(at(v, 1)) && at(ix, 1) == 0, "max: first of ties, NaN wins");
  nn_tensor_release(v); nn_tensor_release(ix);
  nn_min(C, t, ALL, false, &v, &ix);
  CHECKF(nn_tensor_ndim(v) == 0 && isnan(at(v, 0)) && at(ix, 0) == 3, "min over all: NaN at flat index 3");
  nn_tensor_release(v); nn_tensor_release(ix);
  nn_max(C, t, 0, true, NULL, &ix);
  CHECKF(shape_is(ix, 2, SH(1, 3)) && at(ix, 0) == 1 && at(ix, 1) == 0 && at(ix, 2) == 1, "max indices only (NaN first)");
  nn_tensor_release(ix); nn_tensor_release(t);

  /* int64: sum and prod stay int64 (exact); mean/var/std refuse */
  int64_t iv[4] = {3000000000LL, 3, -2, 1};
  nn_tensor *it = from(NN_I64, 1, SH(4), iv), *e;
  nn_sum(C, it, ALL, false, &y);
  int64_t got = 0;
  nn_item_i64(C, y, &got);
  CHECKF(nn_tensor_dtype(y) == NN_I64 && got == 3000000002LL, "int64 sum exact");
  nn_tensor_release(y);
  nn_prod(C, it, 0, false, &y);
  nn_item_i64(C, y, &got);
  CHECKF(nn_tensor_dtype(y) == NN_I64 && got == -18000000000LL, "int64 prod exact");
  nn_tensor_release(y);
  nn_max(C, it, 0, false, &y, NULL);
  nn_item_i64(C, y, &got);
  CHECKF(got == 3000000000LL, "int64 max");
  nn_tensor_release(y);
  expect_err("mean int64", nn_mean(C, it, ALL, false, &e), NN_ERR_DTYPE, &e,
             "mean: needs a floating dtype (float32 or float64), got int64");
  expect_err("std int64", nn_std(C, it, 0, false, 1, &e), NN_ERR_DTYPE, &e,
             "std: needs a floating dtype (float32 or float64), got int64");
  nn_tensor_release(it);
  /* empty tensors: sum 0, prod 1, mean nan, max refuses */
  nn_zeros(C, NN_F64, 2, SH(0, 3), &t);
  nn_sum(C, t, 0, false, &y);
  CHECKF(shape_is(y, 1, SH(3)) && at(y, 1) == 0, "sum over an empty dim is 0");
  nn_tensor_release(y);
  nn_prod(C, t, ALL, false, &y);
  CHECKF(at(y, 0) == 1, "prod of an empty tensor is 1");
  nn_tensor_release(y);
  nn_mean(C, t, ALL, false, &y);
  CHECKF(isnan(at(y, 0)), "mean of an empty tensor is nan");
  nn_tensor_release(y);
  nn_tensor *e2 = NULL;
  expect_err("max empty", nn_max(C, t, 0, false, &e, &e2), NN_ERR_SHAPE, &e,
             "max: cannot reduce over dimension 1 of size 0 (shape [0, 3])");
  CHECKF(e2 == NULL, "max empty: indices NULL");
  nn_tensor_release(t);
  /* var with one element and correction 1: nan, as PyTorch */
  nn_ones(C, NN_F64, 1, SH(1), &t);
  nn_var(C, t, 0, false, 1, &y);
  CHECKF(isnan(at(y, 0)), "var of one element is nan");
  nn_tensor_release(y); nn_tensor_release(t);
}

/* ---- index_select, cat, stack, copy_ ------------------------------------------------------------ */
static void test_index(void) {
  double v[12];
  for (int i = 0; i < 12; i++) v[i] = i;
  nn_tensor *x = from(NN_F64, 2, SH(3, 4), v), *y, *e;
  int64_t iv[3] = {2, 0, 2};
  nn_tensor *idx = from(NN_I64, 1, SH(3), iv);
  nn_index_select(C, x, 0, idx, &y);
  CHECKF(shape_is(y, 2, SH(3, 4)) && at(y, 0) == 8 && at(y, 4) == 0 && at(y, 11) == 11, "index_select dim 0");
  nn_tensor_release(y);
  nn_index_select(C, x, -1, idx, &y);
  CHECKF(shape_is(y, 2, SH(3, 3)) && at(y, 0) == 2 && at(y, 1) == 0 && at(y, 8) == 10, "index_select dim -1");
  nn_tensor_release(y);
  int64_t bad[2] = {1, 4};
  nn_tensor *bi = from(NN_I64, 1, SH(2), bad);
  expect_err("index_select out of range", nn_index_select(C, x, 1, bi, &e), NN_ERR_ARG, &e,
             "index_select: index 4 is out of range for dimension 2 of size 4 (shape [3, 4])");
  expect_err("index_select float index", nn_index_select(C, x, 1, x, &e), NN_ERR_DTYPE, &e,
             "index_select: index must be int64, got float64");
  expect_err("index_select bad dim", nn_index_select(C, x, 2, idx, &e), NN_ERR_ARG, &e,
             "index_select: dimension 3 out of range for a 2-d tensor of shape [3, 4]");
  nn_tensor_release(bi); nn_tensor_release(idx);

  /* cat with promotion (float32 + float64 -> float64) */
  nn_tensor *f;
  nn_full(C, NN_F32, 2, SH(3, 1), 0.5, &f);
  nn_tensor *two[2] = {x, f};
  CHECKF(nn_cat(C, 2, two, 1, &y) == NN_OK && shape_is(y, 2, SH(3, 5)) && nn_tensor_dtype(y) == NN_F64,
         "cat promotes and joins");
  CHECKF(at(y, 3) == 3 && at(y, 4) == 0.5 && at(y, 5) == 4 && at(y, 14) == 0.5, "cat values");
  nn_tensor_release(y);
  expect_err("cat mismatch", nn_cat(C, 2, two, 0, &e), NN_ERR_SHAPE, &e,
             "cat: sizes of tensors must match except in dimension 1: tensor 1 has shape [3, 4] and tensor 2 "
             "has shape [3, 1]");
  nn_tensor *empty;
  nn_zeros(C, NN_F64, 1, SH(0), &empty);
  nn_tensor *three[3] = {empty, x, x};
  CHECKF(nn_cat(C, 3, three, 0, &y) == NN_OK && shape_is(y, 2, SH(6, 4)) && at(y, 12) == 0,
         "cat skips a 1-D empty tensor (legacy rule)");
  nn_tensor_release(y);
  expect_err("cat empty list", nn_cat(C, 0, three, 0, &e), NN_ERR_ARG, &e, "cat: expects a non-empty list of tensors");
  nn_tensor *sc;
  nn_full(C, NN_F64, 0, NULL, 1, &sc);
  nn_tensor *scs[2] = {sc, sc};
  expect_err("cat 0-d", nn_cat(C, 2, scs, 0, &e), NN_ERR_SHAPE, &e,
             "cat: zero-dimensional tensor (number 1 of the list) cannot be concatenated");
  CHECKF(nn_stack(C, 2, scs, 0, &y) == NN_OK && shape_is(y, 1, SH(2)), "stack of 0-d tensors");
  nn_tensor_release(y);
  nn_tensor *xs[4] = {x, x, x, x};
  CHECKF(nn_stack(C, 4, xs, 1, &y) == NN_OK && shape_is(y, 3, SH(3, 4, 4)), "stack 4 on dim 1");
  bool ok = true;
  for (int i = 0; i < 3; i++) for (int k = 0; k < 4; k++) for (int j = 0; j < 4; j++)
    ok = ok && at(y, (i * 4 + k) * 4 + j) == v[i * 4 + j];
  CHECKF(ok, "stack values");
  nn_tensor_release(y);
  nn_tensor *mixed[2] = {x, f};
  expect_err("stack mismatch", nn_stack(C, 2, mixed, 0, &e), NN_ERR_SHAPE, &e,
             "stack: expects each tensor to be equal size, but got [3, 4] at entry 1 and [3, 1] at entry 2");
  expect_err("stack bad dim", nn_stack(C, 2, xs, 3, &e), NN_ERR_ARG, &e,
             "stack: dimension 4 out of range for a 3-d result (tensors of shape [3, 4])");

  /* copy_: broadcast, dtype conversion, overlap, version bump, refusal */
  nn_tensor *d;
  nn_zeros(C, NN_I64, 2, SH(3, 4), &d);
  uint64_t v0 = nn_tensor_version(d);
  double rv[4] = {1.9, -2.7, 3, 4};
  nn_tensor *row = from(NN_F64, 1, SH(4), rv);
  CHECKF(nn_copy_(C, d, row) == NN_OK && at(d, 0) == 1 && at(d, 1) == -2 && at(d, 11) == 4 &&
         nn_tensor_version(d) == v0 + 1, "copy_ broadcasts, truncates to int64, bumps the version");
  CHECKF(nn_copy_(C, row, d) == NN_ERR_SHAPE &&
         strcmp(nn_ctx_errmsg(C), "copy_: source of shape [3, 4] does not broadcast to the destination's [4]") == 0,
         "copy_ to a smaller shape: %s", nn_ctx_errmsg(C));
  double sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  nn_tensor *m = from(NN_F64, 2, SH(3, 3), sq), *mt;
  nn_transpose(C, m, 0, 1, &mt);
  nn_copy_(C, m, mt);                     /* overlapping: m <- m^T */
  CHECKF(at(m, 1) == 4 && at(m, 3) == 2 && at(m, 5) == 8 && at(m, 8) == 9, "copy_ from an overlapping view");
  nn_tensor_set_requires_grad(C, m, true);
  CHECKF(nn_copy_(C, m, row) == NN_ERR_STATE &&
         strcmp(nn_ctx_errmsg(C), "copy_: a tensor that requires grad cannot be changed in place while grad "
                "mode is on (use lunet.no_grad, or an out-of-place op)") == 0, "copy_ refuses a grad leaf");
  bool was = nn_set_grad_enabled(C, false);
  nn_tensor *z;
  nn_zeros(C, NN_F64, 0, NULL, &z);
  CHECKF(nn_copy_(C, m, z) == NN_OK && at(m, 4) == 0, "copy_ into a grad leaf under no_grad");
  nn_set_grad_enabled(C, was);
  nn_tensor_release(z); nn_tensor_release(m); nn_tensor_release(mt); nn_tensor_release(row);
  nn_tensor_release(d); nn_tensor_release(sc); nn_tensor_release(empty); nn_tensor_release(f);
  nn_tensor_release(x);
}

/* ---- error statuses and messages ---------------------------------------------------------------- */
static void test_errors(void) {
  nn_tensor *e, *x;
  expect_err("negative size", nn_zeros(C, NN_F32, 2, SH(2, -1), &e), NN_ERR_SHAPE, &e,
             "tensor: negative size -1 in dimension 2");
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  expect_err("9 dims", nn_ones(C, NN_F32, 9, nine, &e), NN_ERR_SHAPE, &e,
             "tensor: 9 dimensions (at most 8 are supported)");
  nn_zeros(C, NN_F32, 2, SH(2, 3), &x);
  expect_err("sum bad dim", nn_sum(C, x, 2, false, &e), NN_ERR_ARG, &e,
             "sum: dimension 3 out of range for a 2-d tensor of shape [2, 3]");
  expect_err("max bad dim", nn_max(C, x, -3, false, &e, NULL), NN_ERR_ARG, &e,
             "max: dimension -3 out of range for a 2-d tensor of shape [2, 3]");
  expect_err("max both NULL", nn_max(C, x, 0, false, NULL, NULL), NN_ERR_ARG, NULL,
             "max: values and indices are both NULL");
  expect_err("var bad dim", nn_var(C, x, 5, true, 1, &e), NN_ERR_ARG, &e,
             "var: dimension 6 out of range for a 2-d tensor of shape [2, 3]");
  expect_err("sum NULL", nn_sum(C, NULL, 0, false, &e), NN_ERR_ARG, &e, "sum: tensor is NULL");
  expect_err("randn int64", nn_randn(C, NULL, NN_I64, 1, SH(2), &e), NN_ERR_DTYPE, &e,
             "randn: needs a floating dtype (float32 or float64), got int64");
  nn_tensor *li;
  nn_zeros(C, NN_I64, 1, SH(2), &li);
  CHECKF(nn_tensor_set_requires_grad(C, li, true) == NN_ERR_DTYPE &&
         strcmp(nn_ctx_errmsg(C), "set_requires_grad: only floating-point tensors can require gradients (got int64)") == 0,
         "requires_grad on int64");
  expect_err("linspace negative", nn_linspace(C, NN_F32, 0, 1, -1, &e), NN_ERR_ARG, &e,
             "linspace: number of steps must be non-negative, got -1");
  expect_err("arange step 0", nn_arange(C, NN_F32, 0, 1, 0, &e), NN_ERR_ARG, &e, "arange: step must be nonzero");
  expect_err("randperm negative", nn_randperm(C, NULL, -2, &e), NN_ERR_ARG, &e,
             "randperm: n must be non-negative, got -2");
  expect_err("eye negative", nn_eye(C, NN_F32, -1, 2, &e), NN_ERR_ARG, &e, "eye: negative size (-1, 2)");
  /* addmm: shapes, dtypes, NULL */
  nn_tensor *m34, *m45, *v3;
  nn_zeros(C, NN_F32, 2, SH(3, 4), &m34);
  nn_zeros(C, NN_F32, 2, SH(4, 5), &m45);
  nn_zeros(C, NN_F32, 1, SH(3), &v3);
  expect_err("addmm mismatch", nn_addmm(C, NULL, m34, m34, &e), NN_ERR_SHAPE, &e,
             "addmm: shapes [3, 4] and [3, 4] cannot be multiplied (4 vs 3)");
  expect_err("addmm 1-D", nn_addmm(C, NULL, v3, m34, &e), NN_ERR_SHAPE, &e,
             "addmm: expected two matrices, got [3] and [3, 4]");
  expect_err("addmm bias", nn_addmm(C, v3, m34, m45, &e), NN_ERR_SHAPE, &e,
             "addmm: bias of shape [3] does not broadcast to the product's [3, 5]");
  nn_tensor *i45;
  nn_zeros(C, NN_I64, 2, SH(4, 5), &i45);
  expect_err("addmm dtype", nn_addmm(C, NULL, m34, i45, &e), NN_ERR_DTYPE, &e,
             "addmm: bias, input and weight must share a floating dtype, got float32 and int64");
  nn_tensor_release(i45);
  expect_err("addmm NULL", nn_addmm(C, NULL, NULL, m45, &e), NN_ERR_ARG, &e, "addmm: tensor is NULL");
  /* linear and linear_relu: the same checks, each naming itself */
  nn_tensor *w54, *b4;
  nn_zeros(C, NN_F32, 2, SH(5, 4), &w54);
  nn_zeros(C, NN_F32, 1, SH(4), &b4);
  nn_zeros(C, NN_I64, 2, SH(4, 5), &i45);
  nn_status (*lin[2])(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, nn_tensor **) = {nn_linear, nn_linear_relu};
  for (int k = 0; k < 2; k++) {
    const char *nm = k ? "linear_relu" : "linear";
    char want[160];
    snprintf(want, sizeof want, "%s: weight must be 2-D [out, in], got [3]", nm);
    expect_err("linear 1-D weight", lin[k](C, m34, v3, NULL, &e), NN_ERR_SHAPE, &e, want);
    snprintf(want, sizeof want, "%s: expected input with 4 features, got 5 (input shape [4, 5], weight [5, 4])", nm);
    expect_err("linear features", lin[k](C, m45, w54, NULL, &e), NN_ERR_SHAPE, &e, want);
    snprintf(want, sizeof want, "%s: bias must have shape [5], got [4]", nm);
    expect_err("linear bias", lin[k](C, m34, w54, b4, &e), NN_ERR_SHAPE, &e, want);
    snprintf(want, sizeof want, "%s: input, weight and bias must share a floating dtype, got int64, float32", nm);
    expect_err("linear dtype", lin[k](C, i45, m45, NULL, &e), NN_ERR_DTYPE, &e, want);
    snprintf(want, sizeof want, "%s: tensor is NULL", nm);
    expect_err("linear NULL", lin[k](C, NULL, w54, NULL, &e), NN_ERR_ARG, &e, want);
  }
  nn_tensor_release(w54); nn_tensor_release(b4); nn_tensor_release(i45);
  /* the product itself against the loop: bias [5] + [3,4][4,5] */
  nn_tensor *a34 = randt(2, SH(3, 4)), *b45 = randt(2, SH(4, 5)), *c5 = randt(1, SH(5)), *y;
  CHECKF(nn_addmm(C, c5, a34, b45, &y) == NN_OK && shape_is(y, 2, SH(3, 5)), "addmm [3,4][4,5]");
  bool ok = y != NULL;
  for (int i = 0; ok && i < 3; i++)
    for (int j = 0; j < 5; j++) {
      double want = at(c5, j);
      for (int k = 0; k < 4; k++) want += at(a34, i * 4 + k) * at(b45, k * 5 + j);
      ok = ok && fabs(at(y, i * 5 + j) - want) < 1e-12;
    }
  CHECKF(ok, "addmm values");
  nn_tensor_release(y);
  /* dot of float vectors (BLAS, no graph) against the loop, and a strided one */
  nn_tensor *u = randt(1, SH(7)), *d, *col;
  nn_select(C, b45, 1, 2, &col);                  /* column 2 of [4,5]: stride 5 */
  nn_tensor *u4;
  nn_narrow(C, u, 0, 0, 4, &u4);
  CHECKF(nn_dot(C, u4, col, &d) == NN_OK && nn_tensor_ndim(d) == 0, "dot of a strided column");
  double want = 0;
  for (int k = 0; k < 4; k++) want += at(u, k) * at(b45, k * 5 + 2);
  CHECKF(d && fabs(at(d, 0) - want) < 1e-12, "dot value %g, expected %g", d ? at(d, 0) : 0, want);
  nn_tensor_release(d);
  nn_tensor_release(u); nn_tensor_release(u4); nn_tensor_release(col);
  nn_tensor_release(a34); nn_tensor_release(b45); nn_tensor_release(c5);
  nn_tensor_release(m34); nn_tensor_release(m45); nn_tensor_release(v3);
  nn_tensor_release(li); nn_tensor_release(x);
  nn_ctx_clear_error(C);
  CHECKF(nn_ctx_status(C) == NN_OK && nn_ctx_errmsg(C)[0] == '\0', "clear_error");
}

/* ---- the context's lifetime, allocation failures ------------------------------------------------- */
static void test_ctx_lifetime(void) {
  heap.live = 0; heap.calls = 0; heap.fail_at = 0;
  nn_ctx *c = nn_ctx_new(check_alloc, &heap);
  nn_tensor *t;
  nn_full(c, NN_F64, 1, SH(5), 3, &t);
  nn_ctx_free(c);                         /* deferred: t is alive */
  CHECKF(heap.live > 0 && at(t, 4) == 3, "a tensor outlives nn_ctx_free");
  nn_tensor_release(t);                   /* the last object: the context goes now */
  CHECKF(heap.live == 0, "context freed with its last tensor (%ld blocks left)", heap.live);
}

/* One run of a small program; returns the first non-OK status (checking *out == NULL). */
static nn_status program(nn_ctx *c) {
  nn_tensor *x = NULL, *w = NULL, *b = NULL, *h = NULL, *r = NULL, *y = NULL, *L = NULL, *ix = NULL,
            *cat = NULL, *sel = NULL, *idx = NULL, *tt = NULL;
  nn_status s;
#define STEP(call, out)                                                             \
  if ((s = (call)) != NN_OK) {                                                      \
    CHECKF(out == NULL, "allocation failure at call %ld left *out set", heap.fail_at); \
    goto done;                                                                      \
  }
  STEP(nn_randn(c, NULL, NN_F32, 2, SH(4, 3), &x), x);
  STEP(nn_randn(c, NULL, NN_F32, 2, SH(2, 3), &w), w);
  STEP(nn_zeros(c, NN_F32, 1, SH(2), &b), b);
  STEP(nn_tensor_set_requires_grad(c, w, true), NULL);
  STEP(nn_tensor_set_requires_grad(c, b, true), NULL);
  STEP(nn_linear(c, x, w, b, &h), h);
  STEP(nn_relu(c, h, &r), r);
  STEP(nn_transpose(c, r, 0, 1, &tt), tt);
  nn_tensor *parts[4] = {r, r, r, r};
  STEP(nn_cat(c, 4, parts, 0, &cat), cat);
  STEP(nn_var(c, cat, 0, false, 1, &y), y);
  int64_t iv[2] = {1, 0};
  STEP(nn_tensor_from_data(c, NN_I64, 1, SH(2), iv, &idx), idx);
  STEP(nn_index_select(c, tt, 0, idx, &sel), sel);
  STEP(nn_max(c, sel, 1, false, NULL, &ix), ix);
  nn_tensor *y2 = NULL;
  STEP(nn_sum(c, y, ALL, false, &y2), y2);
  L = y2;
  STEP(nn_backward(c, L, NULL), NULL);
done:
  nn_tensor_release(x); nn_tensor_release(w); nn_tensor_release(b); nn_tensor_release(h);
  nn_tensor_release(r); nn_tensor_release(y); nn_tensor_release(L); nn_tensor_release(ix);
  nn_tensor_release(cat); nn_tensor_release(sel); nn_tensor_release(idx); nn_tensor_release(tt);
  return s;
#undef STEP
}

static void test_alloc_failures(void) {
  int failures = 0;
  for (long n = 1; n < 10000; n++) {
    heap.live = 0; heap.calls = 0; heap.fail_at = n;
    nn_ctx *c = nn_ctx_new(check_alloc, &heap);
    if (!c) { CHECKF(n == 1 && heap.live == 0, "ctx_new failed at call %ld", n); continue; }
    nn_status s = program(c);
    bool done = s == NN_OK;
    if (!done) {
      failures++;
      if (s != NN_ERR_MEM)
        CHECKF(0, "allocation failure at call %ld: status %d (%s), expected NN_ERR_MEM", n, (int)s, nn_ctx_errmsg(c));
    }
    nn_ctx_free(c);
    if (heap.live != 0) { CHECKF(0, "allocation failure at call %ld: %ld blocks leaked", n, heap.live); break; }
    if (done) { CHECKF(failures > 10, "the program saw only %d allocation failures", failures); break; }
  }
  heap.fail_at = 0;
}

/* ---- autograd bookkeeping -------------------------------------------------------------------------- */
static void test_autograd(void) {
  double xv[3] = {1, 2, 3}, av[3] = {4, 5, 6};
  nn_tensor *x = from(NN_F64, 1, SH(3), xv), *a = from(NN_F64, 1, SH(3), av), *y, *L;
  nn_tensor_set_requires_grad(C, x, true);
  /* an input saved by mul changed in place before backward */
  nn_mul(C, x, a, &y);
  nn_sum(C, y, ALL, false, &L);
  nn_adds_(C, a, 1.0);
  CHECKF(nn_backward(C, L, NULL) == NN_ERR_STATE &&
         strcmp(nn_ctx_errmsg(C), "backward: an input of mul was modified by an in-place operation after it was "
                "used (version 1, expected 0); its gradient would be wrong") == 0,
         "in-place change detected: %s", nn_ctx_errmsg(C));
  nn_tensor_release(y); nn_tensor_release(L);
  nn_tensor_set_grad(C, x, NULL);
  /* backward twice */
  nn_mul(C, x, x, &y);
  nn_sum(C, y, ALL, false, &L);
  CHECKF(nn_backward(C, L, NULL) == NN_OK, "first backward");
  CHECKF(nn_backward(C, L, NULL) == NN_ERR_STATE &&
         strcmp(nn_ctx_errmsg(C), "backward: trying to backward through the graph a second time (its saved "
                "tensors were freed by the first backward; run the forward pass again)") == 0,
         "backward twice: %s", nn_ctx_errmsg(C));
  nn_tensor_release(y); nn_tensor_release(L);
  /* the grad of Σ x² is 2x; a second forward/backward accumulates to 4x */
  nn_tensor *g = nn_tensor_grad(x);
  CHECKF(g && at(g, 0) == 2 && at(g, 2) == 6, "d Σx² = 2x");
  nn_mul(C, x, x, &y);
  nn_sum(C, y, ALL, false, &L);
  nn_backward(C, L, NULL);
  g = nn_tensor_grad(x);
  CHECKF(g && at(g, 0) == 4 && at(g, 1) == 8 && at(g, 2) == 12, "gradients accumulate across backward calls");
  nn_tensor_release(y); nn_tensor_release(L);
  nn_tensor_zero_grad(x);
  CHECKF(nn_tensor_grad(x) && at(nn_tensor_grad(x), 1) == 0, "zero_grad");
  /* zero_grad_deferred waits when nothing else holds the grad: every way of reading it after
     sees zeros, and every way of writing it starts from zeros */
  {
    double wv[6] = {1, -2, 0.5, 3, 0.25, -1}, bv[2] = {0.1, -0.2};
    nn_tensor *X2 = from(NN_F64, 2, SH(3, 2), wv), *W = from(NN_F64, 2, SH(2, 2), wv + 2);
    nn_tensor *B = from(NN_F64, 1, SH(2), bv), *seed = from(NN_F64, 1, SH(3), xv), *Y, *S;
    nn_tensor_set_requires_grad(C, W, true);
    nn_tensor_set_requires_grad(C, B, true);
    nn_tensor_set_requires_grad(C, x, true);
    double want_w[4], want_b[2];
    for (int round = 0; round < 4; round++) {
      nn_linear(C, X2, W, B, &Y);          /* the products' slots (nn_grad_slot) */
      nn_sum(C, Y, ALL, false, &S);
      nn_backward(C, S, NULL);
      nn_tensor_release(Y); nn_tensor_release(S);
      nn_mul(C, x, x, &Y);                 /* nn_grad_accum */
      nn_sum(C, Y, ALL, false, &S);
      nn_backward(C, S, NULL);
      nn_tensor_release(Y); nn_tensor_release(S);
      nn_backward(C, x, seed);             /* a leaf's own seed */
      if (round == 0) {
        for (int k = 0; k < 4; k++) want_w[k] = at(nn_tensor_grad(W), k);
        for (int k = 0; k < 2; k++) want_b[k] = at(nn_tensor_grad(B), k);
      }
      bool same = true;
      for (int k = 0; k < 4; k++) same = same && at(nn_tensor_grad(W), k) == want_w[k];
      for (int k = 0; k < 2; k++) same = same && at(nn_tensor_grad(B), k) == want_b[k];
      for (int k = 0; k < 3; k++) same = same && at(nn_tensor_grad(x), k) == 3 * xv[k];
      CHECKF(same, "round %d after zero_grad: the gradients are one backward's, not a sum", round);
      nn_tensor_zero_grad_deferred(W); nn_tensor_zero_grad_deferred(B);
      nn_tensor_zero_grad_deferred(x);
      if (round == 2) {                    /* read right after zero_grad: zeros */
        bool zero = at(nn_tensor_grad(W), 3) == 0 && at(nn_tensor_grad(B), 0) == 0 &&
                    at(nn_tensor_grad(x), 2) == 0;
        CHECKF(zero, "zero_grad: the gradients read as zeros");
      }
    }
    /* a reference held elsewhere sees the zeros at once */
    nn_tensor *gw = nn_tensor_grad(W);
    nn_tensor_retain(gw);
    nn_linear(C, X2, W, B, &Y);
    nn_sum(C, Y, ALL, false, &S);
    nn_backward(C, S, NULL);
    nn_tensor_zero_grad_deferred(W);
    CHECKF(((double *)nn_tensor_data(gw))[0] == 0 && ((double *)nn_tensor_data(gw))[3] == 0,
           "zero_grad_deferred with the grad held elsewhere: zeros in that buffer");
    nn_tensor_release(gw); nn_tensor_release(Y); nn_tensor_release(S);
    /* the plain zero_grad fills at once: a borrowed pointer kept from before sees the zeros */
    nn_linear(C, X2, W, B, &Y);
    nn_sum(C, Y, ALL, false, &S);
    nn_backward(C, S, NULL);
    gw = nn_tensor_grad(W);
    nn_tensor_zero_grad(W);
    CHECKF(((double *)nn_tensor_data(gw))[1] == 0 && ((double *)nn_tensor_data(gw))[2] == 0,
           "zero_grad: zeros through a pointer kept from before");
    nn_tensor_release(Y); nn_tensor_release(S);
    nn_tensor_release(X2); nn_tensor_release(W); nn_tensor_release(B); nn_tensor_release(seed);
  }
  /* no_grad records nothing */
  bool was = nn_set_grad_enabled(C, false);
  CHECKF(was && !nn_grad_enabled(C), "grad mode off");
  nn_muls(C, x, 2, &y);
  CHECKF(!nn_tensor_requires_grad(y) && nn_tensor_grad_fn(y) == NULL && nn_tensor_is_leaf(y), "no_grad: no node");
  nn_tensor_release(y);
  nn_set_grad_enabled(C, true);
  nn_sum(C, x, 0, false, &y);
  CHECKF(nn_tensor_grad_fn(y) && strcmp(nn_tensor_grad_fn(y), "sum") == 0, "grad_fn of sum");
  nn_tensor_release(y);
  nn_tensor *vals, *ix;
  nn_max(C, x, 0, false, &vals, &ix);
  CHECKF(strcmp(nn_tensor_grad_fn(vals), "max") == 0 && !nn_tensor_requires_grad(ix), "max records, indices do not");
  nn_tensor_release(vals); nn_tensor_release(ix);
  nn_tensor_release(x); nn_tensor_release(a);
}

/* ---- the steady state of a tiny training step allocates nothing ---------------------------------- */
static void test_steady_state(void) {
  nn_ctx *c = nn_ctx_new(NULL, NULL);
  nn_rng *r;
  nn_rng_new(c, 5, &r);
  nn_tensor *x, *w1, *b1, *w2, *b2, *t;
  nn_randn(c, r, NN_F32, 2, SH(8, 4), &x);
  nn_randn(c, r, NN_F32, 2, SH(6, 4), &w1);
  nn_zeros(c, NN_F32, 1, SH(6), &b1);
  nn_randn(c, r, NN_F32, 2, SH(3, 6), &w2);
  nn_zeros(c, NN_F32, 1, SH(3), &b2);
  nn_randint(c, r, 0, 3, 1, SH(8), &t);
  nn_tensor *params[4] = {w1, b1, w2, b2};
  for (int i = 0; i < 4; i++) nn_tensor_set_requires_grad(c, params[i], true);
  double first = 0, last = 0;
  uint64_t before = 0;
  bool ok = true;
  for (int step = 0; step < 110; step++) {
    if (step == 10) before = nn_ctx_alloc_calls(c);
    nn_tensor *h = NULL, *a = NULL, *o = NULL, *L = NULL;
    ok = ok && !nn_linear(c, x, w1, b1, &h) && !nn_relu(c, h, &a) && !nn_linear(c, a, w2, b2, &o) &&
         !nn_cross_entropy(c, o, t, NN_REDUCE_MEAN, &L) && !nn_backward(c, L, NULL);
    if (L) { if (step == 0) nn_item(c, L, &first); nn_item(c, L, &last); }
    nn_tensor_release(h); nn_tensor_release(a); nn_tensor_release(o); nn_tensor_release(L);
    bool was = nn_set_grad_enabled(c, false);
    for (int i = 0; i < 4; i++) {
      nn_tensor *g = nn_tensor_grad(params[i]), *d = NULL;
      ok = ok && g && !nn_muls(c, g, -0.1, &d) && !nn_add_(c, params[i], d);
      nn_tensor_release(d);
      nn_tensor_zero_grad(params[i]);
    }
    nn_set_grad_enabled(c, was);
  }
  CHECKF(ok, "training step failed: %s", nn_ctx_errmsg(c));
  CHECKF(nn_ctx_alloc_calls(c) == before, "100 steady-state steps called the allocator %llu times",
         (unsigned long long)(nn_ctx_alloc_calls(c) - before));
  CHECKF(last < first, "the loss went down (%g -> %g)", first, last);
  nn_tensor_release(x); nn_tensor_release(t);
  for (int i = 0; i < 4; i++) nn_tensor_release(params[i]);
  nn_rng_free(c, r);
  nn_ctx_free(c);
}

int main(int argc, char **argv) {
  (void)argc; (void)argv;
  C = nn_ctx_new(check_alloc, &heap);
  if (!C) return 1;
  test_creation();
  test_random();
  test_views();
  test_broadcast();
  test_exp_f32();
  test_reductions();
  test_index();
  test_errors();
  test_autograd();
  nn_ctx_free(C);
  CHECKF(heap.live == 0, "the main context leaked %ld blocks", heap.live);
  test_ctx_lifetime();
  test_alloc_failures();
  test_steady_state();
  return check_report("test_tensor");
}
