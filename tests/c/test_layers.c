/*
** test_layers.c — the nn_module API: forward values of every built-in layer against naive
** loops and math.h, Linear's initialization bounds, parameter enumeration and names,
** gradients through a Sequential, train/eval, set_param, every error path with its
** message, and out-of-memory at every allocation while building a network.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn.h"
#include "nn_internal.h"

static nn_tensor *tensor2(nn_ctx *ctx, nn_dtype dt, int64_t r, int64_t c, const double *v) {
  int64_t shape[2] = {r, c};
  nn_tensor *t = NULL;
  if (nn_tensor_new(ctx, dt, 2, shape, &t) != NN_OK) { fprintf(stderr, "alloc\n"); exit(2); }
  for (int64_t i = 0; i < r * c; i++) {
    int64_t idx[2] = {i / c, i % c};
    nn_tensor_set(ctx, t, idx, v[i]);
  }
  return t;
}

static nn_tensor *tensor1(nn_ctx *ctx, nn_dtype dt, int64_t n, const double *v) {
  nn_tensor *t = NULL;
  if (nn_tensor_new(ctx, dt, 1, &n, &t) != NN_OK) { fprintf(stderr, "alloc\n"); exit(2); }
  for (int64_t i = 0; i < n; i++) nn_tensor_set(ctx, t, &i, v[i]);
  return t;
}

static double get2(nn_ctx *ctx, const nn_tensor *t, int64_t i, int64_t j) {
  int64_t idx[2] = {i, j};
  double v = NAN;
  nn_tensor_get(ctx, t, idx, &v);
  return v;
}

static double getflat(nn_ctx *ctx, const nn_tensor *t, int64_t k) {
  int64_t idx[NN_MAX_DIMS];
  int nd = nn_tensor_ndim(t);
  const int64_t *sh = nn_tensor_shape(t);
  for (int d = nd - 1; d >= 0; d--) { idx[d] = k % sh[d]; k /= sh[d]; }
  double v = NAN;
  nn_tensor_get(ctx, t, idx, &v);
  return v;
}

/* ---- Linear ------------------------------------------------------------------------------ */

static const double X[2 * 3] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0};
static const double W[2 * 3] = {0.1, 0.2, 0.3, -0.4, 0.5, -0.6};
static const double B[2] = {0.05, -0.07};

static void test_linear_forward(nn_ctx *ctx) {
  nn_module *m;
  OK(nn_linear_new(ctx, NULL, 3, 2, true, NN_F64, &m));
  CHECK(nn_module_kind_of(m) == NN_LINEAR);
  CHECK(strcmp(nn_module_name(m), "Linear") == 0);
  CHECK(nn_module_in_features(m) == 3 && nn_module_out_features(m) == 2);
  nn_tensor *w = tensor2(ctx, NN_F64, 2, 3, W), *b = tensor1(ctx, NN_F64, 2, B);
  OK(nn_module_set_param(ctx, m, "weight", w));
  OK(nn_module_set_param(ctx, m, "bias", b));
  /* the new parameters share the given storage, are leaves and need grad */
  nn_tensor *pw = nn_module_param(m, 0, NULL, 0);
  CHECK(nn_tensor_same_storage(pw, w));
  CHECK(nn_tensor_is_leaf(pw) && nn_tensor_requires_grad(pw));
  CHECK(!nn_tensor_requires_grad(w));
  nn_tensor *x = tensor2(ctx, NN_F64, 2, 3, X), *y = NULL;
  OK(nn_module_forward(ctx, m, x, &y));
  CHECK(y && nn_tensor_ndim(y) == 2 && nn_tensor_shape(y)[0] == 2 && nn_tensor_shape(y)[1] == 2);
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 2; o++) {
      double want = B[o];
      for (int i = 0; i < 3; i++) want += X[n * 3 + i] * W[o * 3 + i];
      CHECK_NEAR(get2(ctx, y, n, o), want, 1e-12);
    }
  /* 3-D input: leading dims kept */
  nn_tensor *x3, *y3 = NULL;
  int64_t s3[3] = {1, 2, 3};
  OK(nn_reshape(ctx, x, 3, s3, &x3));
  OK(nn_module_forward(ctx, m, x3, &y3));
  CHECK(y3 && nn_tensor_ndim(y3) == 3 && nn_tensor_shape(y3)[2] == 2);
  if (y3) CHECK_NEAR(getflat(ctx, y3, 3), get2(ctx, y, 1, 1), 1e-12);
  /* 1-D input */
  nn_tensor *x1 = tensor1(ctx, NN_F64, 3, X), *y1 = NULL;
  OK(nn_module_forward(ctx, m, x1, &y1));
  CHECK(y1 && nn_tensor_ndim(y1) == 1 && nn_tensor_shape(y1)[0] == 2);
  if (y1) CHECK_NEAR(getflat(ctx, y1, 0), get2(ctx, y, 0, 0), 1e-12);
  nn_tensor_release(x1); nn_tensor_release(y1);
  nn_tensor_release(x3); nn_tensor_release(y3);
  nn_tensor_release(x); nn_tensor_release(y);
  nn_tensor_release(w); nn_tensor_release(b);
  nn_module_release(m);
}

static void test_linear_init(nn_ctx *ctx) {
  nn_rng *r;
  OK(nn_rng_new(ctx, 42, &r));
  nn_module *m;
  OK(nn_linear_new(ctx, r, 64, 16, true, NN_F32, &m));
  CHECK(nn_module_num_params(m) == 2);
  char name[32];
  nn_tensor *w = nn_module_param(m, 0, name, sizeof name);
  CHECK(strcmp(name, "weight") == 0);
  nn_tensor *b = nn_module_param(m, 1, name, sizeof name);
  CHECK(strcmp(name, "bias") == 0);
  CHECK(nn_module_param(m, 2, name, sizeof name) == NULL && name[0] == '\0');
  CHECK(nn_module_param(m, -1, NULL, 0) == NULL);
  CHECK(nn_tensor_dtype(w) == NN_F32);
  CHECK(nn_tensor_shape(w)[0] == 16 && nn_tensor_shape(w)[1] == 64 && nn_tensor_ndim(b) == 1);
  CHECK(nn_tensor_requires_grad(w) && nn_tensor_is_leaf(w) && nn_tensor_requires_grad(b));
  double bound = 1.0 / 8.0, lo = 1, hi = -1, sum = 0;
  bool inside = true;
  for (int64_t k = 0; k < 16 * 64; k++) {
    double v = getflat(ctx, w, k);
    inside = inside && fabs(v) <= bound;
    lo = fmin(lo, v); hi = fmax(hi, v); sum += v;
  }
  CHECK(inside);
  CHECK(lo < -0.9 * bound && hi > 0.9 * bound); /* spans the range */
  CHECK(fabs(sum / 1024) < 0.02);               /* mean ~ 0 (sd of the mean ~ 0.0023) */
  bool binside = true;
  for (int64_t k = 0; k < 16; k++) binside = binside && fabs(getflat(ctx, b, k)) <= bound;
  CHECK(binside);
  /* same seed, same numbers; no bias: one parameter */
  nn_module *m2, *m3;
  nn_rng_seed(r, 42);
  OK(nn_linear_new(ctx, r, 64, 16, false, NN_F32, &m2));
  CHECK(nn_module_num_params(m2) == 1);
  CHECK(getflat(ctx, nn_module_param(m2, 0, NULL, 0), 5) == getflat(ctx, w, 5));
  OK(nn_linear_new(ctx, NULL, 2, 2, true, NN_F64, &m3));
  CHECK(nn_tensor_dtype(nn_module_param(m3, 1, NULL, 0)) == NN_F64);
  nn_module_release(m3);
  nn_module_release(m2);
  nn_module_release(m);
  nn_rng_free(ctx, r);
}

/* ---- activations ------------------------------------------------------------------------- */

static const double V[6] = {-2.0, -0.5, 0.0, 0.3, 1.0, 2.5};

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static void check_layer(nn_ctx *ctx, nn_module_kind kind, double arg, double (*f)(double, double)) {
  nn_module *m;
  OK(nn_layer_new(ctx, kind, arg, &m));
  if (!m) return;
  nn_tensor *x = tensor2(ctx, NN_F64, 2, 3, V), *y = NULL;
  OK(nn_module_forward(ctx, m, x, &y));
  CHECK(y && nn_tensor_numel(y) == 6);
  for (int k = 0; y && k < 6; k++) {
    double want = f(V[k], arg);
    if (fabs(getflat(ctx, y, k) - want) > 1e-12) {
      check_failures++;
      fprintf(stderr, "%s: element %d = %.15g, want %.15g\n", nn_module_name(m), k,
              getflat(ctx, y, k), want);
    }
    check_total++;
  }
  CHECK(nn_module_num_params(m) == 0);
  nn_tensor_release(y); nn_tensor_release(x);
  nn_module_release(m);
}

static double f_relu(double x, double a) { (void)a; return x > 0 ? x : 0; }
static double f_leaky(double x, double a) { return x > 0 ? x : a * x; }
static double f_sigmoid(double x, double a) { (void)a; return 1 / (1 + exp(-x)); }
static double f_tanh(double x, double a) { (void)a; return tanh(x); }
static double f_gelu(double x, double a) { (void)a; return gelu_ref(x); }
static double f_id(double x, double a) { (void)a; return x; }

static void test_activations(nn_ctx *ctx) {
  check_layer(ctx, NN_RELU, 0, f_relu);
  check_layer(ctx, NN_LEAKY_RELU, 0.1, f_leaky);
  check_layer(ctx, NN_SIGMOID, 0, f_sigmoid);
  check_layer(ctx, NN_TANH, 0, f_tanh);
  check_layer(ctx, NN_GELU, 0, f_gelu);
  check_layer(ctx, NN_IDENTITY, 0, f_id);
}

static void test_softmax(nn_ctx *ctx) {
  nn_module *sm, *lsm;
  OK(nn_layer_new(ctx, NN_SOFTMAX, -1, &sm));
  OK(nn_layer_new(ctx, NN_LOG_SOFTMAX, 0, &lsm));
  CHECK(nn_module_arg(sm) == -1 && nn_module_arg(lsm) == 0);
  nn_tensor *x = tensor2(ctx, NN_F64, 2, 3, V), *y = NULL, *z = NULL;
  OK(nn_module_forward(ctx, sm, x, &y));
  OK(nn_module_forward(ctx, lsm, x, &z));
  for (int r = 0; y && r < 2; r++) {
    double den = 0;
    for (int c = 0; c < 3; c++) den += exp(V[r * 3 + c]);
    for (int c = 0; c < 3; c++) CHECK_NEAR(get2(ctx, y, r, c), exp(V[r * 3 + c]) / den, 1e-12);
  }
  for (int c = 0; z && c < 3; c++) {            /* log-softmax down the columns (dim 0) */
    double lse = log(exp(V[c]) + exp(V[3 + c]));
    CHECK_NEAR(get2(ctx, z, 0, c), V[c] - lse, 1e-12);
    CHECK_NEAR(get2(ctx, z, 1, c), V[3 + c] - lse, 1e-12);
  }
  nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(z);
  nn_module_release(sm); nn_module_release(lsm);
}

static void test_flatten(nn_ctx *ctx) {
  nn_module *f, *g;
  OK(nn_layer_new(ctx, NN_FLATTEN, 1, &f));
  OK(nn_flatten_new(ctx, 0, 1, &g));
  CHECK(nn_module_arg(g) == 0 && nn_module_arg2(g) == 1 && nn_module_arg2(f) == -1);
  int64_t shape[4] = {2, 3, 4, 5};
  nn_tensor *x, *y = NULL, *z = NULL;
  OK(nn_zeros(ctx, NN_F32, 4, shape, &x));
  OK(nn_module_forward(ctx, f, x, &y));
  CHECK(y && nn_tensor_ndim(y) == 2 && nn_tensor_shape(y)[0] == 2 && nn_tensor_shape(y)[1] == 60);
  OK(nn_module_forward(ctx, g, x, &z));
  CHECK(z && nn_tensor_ndim(z) == 3 && nn_tensor_shape(z)[0] == 6 && nn_tensor_shape(z)[2] == 5);
  nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(z);
  nn_module_release(f); nn_module_release(g);
}

static void test_dropout(nn_ctx *ctx) {
  nn_module *d;
  nn_rng *r;
  OK(nn_rng_new(ctx, 7, &r));
  OK(nn_layer_new(ctx, NN_DROPOUT, 0.5, &d));
  nn_module_set_rng(d, r);
  CHECK(nn_module_is_training(d));
  int64_t n = 1000;
  nn_tensor *x, *y = NULL;
  OK(nn_ones(ctx, NN_F64, 1, &n, &x));
  OK(nn_module_forward(ctx, d, x, &y));
  int zeros = 0, twos = 0;
  for (int64_t k = 0; y && k < n; k++) {
    double v = getflat(ctx, y, k);
    zeros += v == 0.0;
    twos += v == 2.0;
  }
  CHECK(zeros + twos == n);                 /* inverted dropout: 0 or 1/(1-p) */
  CHECK(zeros > 400 && zeros < 600);        /* Binomial(1000, 0.5): sd 16 */
  nn_tensor_release(y);
  nn_module_train(d, false);
  CHECK(!nn_module_is_training(d));
  OK(nn_module_forward(ctx, d, x, &y));
  bool same = true;
  for (int64_t k = 0; y && k < n; k++) same = same && getflat(ctx, y, k) == 1.0;
  CHECK(same);
  nn_tensor_release(y);
  nn_tensor_release(x);
  nn_module_release(d);
  nn_rng_free(ctx, r);
}

/* ---- Sequential ------------------------------------------------------------------------------ */

static void test_sequential(nn_ctx *ctx) {
  nn_module *seq, *l1, *act, *l2, *inner;
  OK(nn_sequential_new(ctx, &seq));
  OK(nn_linear_new(ctx, NULL, 3, 2, true, NN_F64, &l1));
  OK(nn_layer_new(ctx, NN_TANH, 0, &act));
  OK(nn_linear_new(ctx, NULL, 2, 1, false, NN_F64, &l2));
  OK(nn_sequential_new(ctx, &inner));
  OK(nn_sequential_add(ctx, inner, l2));
  OK(nn_sequential_add(ctx, seq, l1));
  OK(nn_sequential_add(ctx, seq, act));
  OK(nn_sequential_add(ctx, seq, inner));
  CHECK(nn_module_num_children(seq) == 3 && nn_module_child(seq, 1) == act);
  CHECK(nn_module_child(seq, 3) == NULL && nn_module_child(seq, -1) == NULL);
  CHECK(nn_module_num_params(seq) == 3);
  char name[64];
  const char *want[3] = {"0.weight", "0.bias", "2.0.weight"};
  for (int i = 0; i < 3; i++) {
    nn_tensor *p = nn_module_param(seq, i, name, sizeof name);
    CHECK(p != NULL);
    if (strcmp(name, want[i]) != 0) {
      check_failures++;
      fprintf(stderr, "param %d named '%s', want '%s'\n", i, name, want[i]);
    }
    check_total++;
  }
  CHECK(nn_module_param(seq, 2, NULL, 0) == nn_module_param(l2, 0, NULL, 0));
  /* a short name buffer truncates and stays terminated */
  char small[4];
  CHECK(nn_module_param(seq, 2, small, sizeof small) != NULL && strlen(small) == 3);

  /* forward = l2(tanh(l1(x))); the sum's gradient w.r.t. l1's bias by the chain rule */
  nn_module_release(l2);   /* inner keeps it */
  nn_module_release(inner);
  nn_tensor *wt = tensor2(ctx, NN_F64, 2, 3, W);
  OK(nn_module_set_param(ctx, seq, "0.weight", wt));
  nn_tensor_release(wt);
  nn_tensor *w1 = nn_module_param(seq, 0, NULL, 0);
  nn_tensor *b1 = nn_module_param(seq, 1, NULL, 0);
  nn_tensor *w2 = nn_module_param(seq, 2, NULL, 0);
  nn_tensor *x = tensor2(ctx, NN_F64, 2, 3, X), *y = NULL, *loss = NULL;
  OK(nn_module_forward(ctx, seq, x, &y));
  CHECK(y && nn_tensor_shape(y)[0] == 2 && nn_tensor_shape(y)[1] == 1);
  OK(nn_sum(ctx, y, NN_ALL, false, &loss));
  OK(nn_backward(ctx, loss, NULL));
  nn_tensor *gb = nn_tensor_grad(b1);
  CHECK(gb != NULL && nn_tensor_grad(w1) != NULL && nn_tensor_grad(w2) != NULL);
  for (int o = 0; gb && o < 2; o++) {
    double want_g = 0;
    for (int n = 0; n < 2; n++) {
      double h = getflat(ctx, b1, o);
      for (int i = 0; i < 3; i++) h += X[n * 3 + i] * W[o * 3 + i];
      want_g += getflat(ctx, w2, o) * (1 - tanh(h) * tanh(h));
    }
    CHECK_NEAR(getflat(ctx, gb, o), want_g, 1e-12);
  }
  for (int n = 0; y && n < 2; n++) {
    double out = 0;
    for (int o = 0; o < 2; o++) {
      double h = getflat(ctx, b1, o);
      for (int i = 0; i < 3; i++) h += X[n * 3 + i] * W[o * 3 + i];
      out += getflat(ctx, w2, o) * tanh(h);
    }
    CHECK_NEAR(get2(ctx, y, n, 0), out, 1e-12);
  }
  /* train/eval reach every child */
  nn_module_train(seq, false);
  CHECK(!nn_module_is_training(seq) && !nn_module_is_training(nn_module_child(seq, 2)));
  nn_module_train(seq, true);
  CHECK(nn_module_is_training(nn_module_child(nn_module_child(seq, 2), 0)));
  nn_tensor_release(loss); nn_tensor_release(y); nn_tensor_release(x);
  nn_module_release(l1); nn_module_release(act);
  nn_module_release(seq);
}

/* A Sequential runs a Linear and the ReLU after it as one op (nn_linear_relu): the output and
   every gradient are the same bits as the layers one by one (nn_module_forward on each), in
   float32 and float64, for a 1-D input too; an in-place change of the fused output is caught
   by backward; nn_module_chain_forward's bad arguments. */
static void fused_run(nn_ctx *ctx, nn_module **mods, int n, bool fused, nn_tensor *x,
                      nn_tensor **y, nn_tensor **g) {
  nn_tensor *h, *next, *loss, *sq;
  if (fused) OK(nn_module_chain_forward(ctx, mods, n, x, &h));
  else {
    nn_tensor_retain(h = x);
    for (int i = 0; i < n; i++) {
      OK(nn_module_forward(ctx, mods[i], h, &next));
      nn_tensor_release(h);
      h = next;
    }
  }
  OK(nn_mul(ctx, h, h, &sq));
  OK(nn_sum(ctx, sq, NN_ALL, false, &loss));
  OK(nn_backward(ctx, loss, NULL));
  *y = h;
  for (int i = 0, k = 0; i < n; i++)
    for (int p = 0; p < nn_module_num_params(mods[i]); p++) {
      nn_tensor *gp = nn_tensor_grad(nn_module_param(mods[i], p, NULL, 0)), *c;
      OK(nn_clone(ctx, gp, &c));
      g[k++] = c;
      nn_tensor_set_grad(ctx, nn_module_param(mods[i], p, NULL, 0), NULL);
    }
  nn_tensor_release(sq); nn_tensor_release(loss);
}

static bool same_bits(const nn_tensor *a, const nn_tensor *b) {
  return a && b && nn_tensor_numel(a) == nn_tensor_numel(b) &&
         memcmp(nn_tensor_data(a), nn_tensor_data(b),
                (size_t)nn_tensor_numel(a) * (nn_tensor_dtype(a) == NN_F32 ? 4 : 8)) == 0;
}

static void test_fused(nn_ctx *ctx) {
  nn_rng *r = nn_ctx_rng(ctx);
  nn_manual_seed(ctx, 5);
  for (int dt = 0; dt < 2; dt++)
    for (int one = 0; one < 2; one++) {
      nn_dtype d = dt ? NN_F64 : NN_F32;
      nn_module *m[5];
      OK(nn_linear_new(ctx, r, 16, 32, true, d, &m[0]));
      OK(nn_layer_new(ctx, NN_RELU, 0, &m[1]));
      OK(nn_linear_new(ctx, r, 32, 24, false, d, &m[2]));
      OK(nn_layer_new(ctx, NN_RELU, 0, &m[3]));
      OK(nn_linear_new(ctx, r, 24, 3, true, d, &m[4]));
      int64_t xs[2] = {40, 16};
      nn_tensor *x, *ya, *yb, *ga[5], *gb[5];
      OK(nn_randn(ctx, r, d, one ? 1 : 2, one ? xs + 1 : xs, &x));
      fused_run(ctx, m, 5, false, x, &ya, ga);
      fused_run(ctx, m, 5, true, x, &yb, gb);
      CHECKF(same_bits(ya, yb), "fused Sequential (%s%s): output differs from the layers one by one",
             dt ? "float64" : "float32", one ? ", 1-D input" : "");
      for (int k = 0; k < 5; k++) {
        CHECKF(same_bits(ga[k], gb[k]), "fused Sequential (%s%s): gradient %d differs",
               dt ? "float64" : "float32", one ? ", 1-D input" : "", k);
        nn_tensor_release(ga[k]); nn_tensor_release(gb[k]);
      }
      nn_tensor_release(ya); nn_tensor_release(yb);
      /* the fused output is saved for its mask: changing it in place is caught */
      nn_tensor *h, *s;
      OK(nn_module_chain_forward(ctx, m, 2, x, &h));
      OK(nn_sum(ctx, h, NN_ALL, false, &s));
      bool was = nn_set_grad_enabled(ctx, false);   /* (as torch.no_grad: allowed, recorded) */
      OK(nn_adds_(ctx, h, 1.0));
      nn_set_grad_enabled(ctx, was);
      CHECK(nn_backward(ctx, s, NULL) == NN_ERR_STATE);
      CHECK_MSG(ctx, "backward: a tensor saved by linear_relu was modified by an in-place operation "
                     "after it was used; its gradient would be wrong");
      nn_tensor_release(h); nn_tensor_release(s); nn_tensor_release(x);
      for (int k = 0; k < 5; k++) nn_module_release(m[k]);
    }
  /* bad arguments: the error names the problem, *out stays NULL */
  nn_module *lin, *m2[2];
  int64_t xs[2] = {2, 3};
  nn_tensor *x, *y = (nn_tensor *)&y;
  OK(nn_linear_new(ctx, NULL, 3, 2, true, NN_F32, &lin));
  OK(nn_zeros(ctx, NN_F32, 2, xs, &x));
  CHECK(nn_module_chain_forward(ctx, NULL, 1, x, &y) == NN_ERR_ARG && y == NULL);
  CHECK_MSG(ctx, "forward: no modules");
  y = (nn_tensor *)&y;
  CHECK(nn_module_chain_forward(ctx, &lin, -1, x, &y) == NN_ERR_ARG && y == NULL);
  m2[0] = lin; m2[1] = NULL;
  CHECK(nn_module_chain_forward(ctx, m2, 2, x, &y) == NN_ERR_ARG && y == NULL);
  CHECK_MSG(ctx, "forward: module 2 is NULL");
  CHECK(nn_module_chain_forward(ctx, m2, 1, NULL, &y) == NN_ERR_ARG && y == NULL);
  CHECK(nn_module_chain_forward(ctx, m2, 0, x, &y) == NN_OK && y == x);   /* no modules: x itself */
  nn_tensor_release(y);
  nn_tensor_release(x);
  nn_module_release(lin);
}

/* ---- errors ------------------------------------------------------------------------------------ */

static void test_errors(nn_ctx *ctx) {
  nn_module *m = (nn_module *)&m, *lin, *seq;
  CHECK(nn_linear_new(ctx, NULL, 0, 3, true, NN_F32, &m) == NN_ERR_ARG && m == NULL);
  CHECK_MSG(ctx, "Linear: in_features and out_features must be positive, got 0 and 3");
  m = (nn_module *)&m;
  CHECK(nn_linear_new(ctx, NULL, 2, 3, true, NN_I64, &m) == NN_ERR_DTYPE && m == NULL);
  CHECK_MSG(ctx, "Linear: dtype must be float32 or float64, got int64");
  m = (nn_module *)&m;
  CHECK(nn_layer_new(ctx, NN_LINEAR, 0, &m) == NN_ERR_ARG && m == NULL);
  CHECK_MSG(ctx, "layer_new: Linear has parameters: use nn_linear_new");
  CHECK(nn_layer_new(ctx, NN_SEQUENTIAL, 0, &m) == NN_ERR_ARG && m == NULL);
  CHECK(nn_layer_new(ctx, (nn_module_kind)99, 0, &m) == NN_ERR_ARG && m == NULL);
  CHECK_MSG(ctx, "layer_new: unknown layer kind 99");
  CHECK(nn_layer_new(ctx, NN_DROPOUT, 1.5, &m) == NN_ERR_ARG && m == NULL);
  CHECK_MSG(ctx, "Dropout: probability has to be between 0 and 1, but got 1.5");
  CHECK(nn_layer_new(ctx, NN_DROPOUT, NAN, &m) == NN_ERR_ARG);
  CHECK(nn_layer_new(ctx, NN_SOFTMAX, 0.5, &m) == NN_ERR_ARG && m == NULL);
  CHECK_MSG(ctx, "Softmax: dim must be an integer, got 0.5");
  CHECK(nn_layer_new(ctx, NN_LEAKY_RELU, INFINITY, &m) == NN_ERR_ARG);
  CHECK_MSG(ctx, "LeakyReLU: negative_slope must be finite, got inf");

  /* Linear on the wrong number of features, the wrong dtype, a 0-d tensor */
  OK(nn_linear_new(ctx, NULL, 64, 128, true, NN_F32, &lin));
  int64_t xs[2] = {200, 32};
  nn_tensor *x, *y = (nn_tensor *)&y, *xd, *x0;
  OK(nn_zeros(ctx, NN_F32, 2, xs, &x));
  CHECK(nn_module_forward(ctx, lin, x, &y) == NN_ERR_SHAPE && y == NULL);
  CHECK_MSG(ctx, "Linear: expected input with 64 features, got 32 (input shape [200, 32])");
  xs[1] = 64;
  OK(nn_zeros(ctx, NN_F64, 2, xs, &xd));
  y = (nn_tensor *)&y;
  CHECK(nn_module_forward(ctx, lin, xd, &y) == NN_ERR_DTYPE && y == NULL);
  CHECK_MSG(ctx, "Linear: input is float64 but the layer's weight is float32");
  OK(nn_zeros(ctx, NN_F32, 0, xs, &x0));
  CHECK(nn_module_forward(ctx, lin, x0, &y) == NN_ERR_SHAPE && y == NULL);
  CHECK_MSG(ctx, "Linear: expected input with 64 features, got 0 (input shape [])");
  CHECK(nn_module_forward(ctx, lin, NULL, &y) == NN_ERR_ARG && y == NULL);
  CHECK_MSG(ctx, "Linear: tensor is NULL");
  CHECK(nn_module_forward(ctx, NULL, x, &y) == NN_ERR_ARG && y == NULL);
  CHECK_MSG(ctx, "forward: module is NULL");

  /* set_param: unknown name, wrong shape, wrong dtype; the old parameter stays */
  nn_tensor *old = nn_module_param(lin, 0, NULL, 0);
  CHECK(nn_module_set_param(ctx, lin, "wieght", x) == NN_ERR_ARG);
  CHECK_MSG(ctx, "Linear: no parameter named 'wieght'");
  CHECK(nn_module_set_param(ctx, lin, "weight", x) == NN_ERR_SHAPE);
  CHECK_MSG(ctx, "Linear: parameter weight has shape [128, 64], got a tensor of shape [200, 32]");
  int64_t ws[2] = {128, 64};
  nn_tensor *wd;
  OK(nn_zeros(ctx, NN_F64, 2, ws, &wd));
  CHECK(nn_module_set_param(ctx, lin, "weight", wd) == NN_ERR_DTYPE);
  CHECK_MSG(ctx, "Linear: parameter weight is float32, got a float64 tensor");
  CHECK(nn_module_param(lin, 0, NULL, 0) == old);

  /* Sequential.add: not a Sequential, itself, a cycle through a child */
  nn_module *inner;
  OK(nn_sequential_new(ctx, &seq));
  OK(nn_sequential_new(ctx, &inner));
  CHECK(nn_sequential_add(ctx, lin, seq) == NN_ERR_ARG);
  CHECK_MSG(ctx, "Sequential.add: Linear is not a Sequential");
  CHECK(nn_sequential_add(ctx, seq, seq) == NN_ERR_ARG);
  CHECK_MSG(ctx, "Sequential.add: a Sequential cannot contain itself");
  OK(nn_sequential_add(ctx, seq, inner));
  CHECK(nn_sequential_add(ctx, inner, seq) == NN_ERR_ARG);
  CHECK(nn_sequential_add(ctx, seq, NULL) == NN_ERR_ARG);
  /* an error inside a Sequential is the child's own message */
  OK(nn_sequential_add(ctx, inner, lin));
  CHECK(nn_module_forward(ctx, seq, x, &y) == NN_ERR_SHAPE && y == NULL);
  CHECK_MSG(ctx, "Linear: expected input with 64 features, got 32 (input shape [200, 32])");
  CHECK(nn_module_num_params(seq) == 2);
  char name[32];
  nn_module_param(seq, 1, name, sizeof name);
  CHECK(strcmp(name, "0.0.bias") == 0);

  /* NULL-tolerant inspectors */
  nn_module_release(NULL);
  nn_module_retain(NULL);
  nn_module_train(NULL, true);
  CHECK(nn_module_num_params(NULL) == 0 && nn_module_param(NULL, 0, NULL, 0) == NULL);
  CHECK(nn_module_in_features(inner) == -1);

  nn_tensor_release(x); nn_tensor_release(xd); nn_tensor_release(x0); nn_tensor_release(wd);
  nn_module_release(inner);
  nn_module_release(seq);
  nn_module_release(lin);
}

/* ---- out of memory --------------------------------------------------------------------------- */

/* Builds Sequential(Linear(5, 4), ReLU, Linear(4, 2)) and runs it; every failure must be a
   clean NN_ERR_MEM with nothing left alive. */
static nn_status build_and_run(nn_ctx *ctx) {
  nn_module *seq = NULL, *a = NULL, *b = NULL, *c = NULL;
  nn_tensor *x = NULL, *y = NULL;
  int64_t xs[2] = {3, 5};
  nn_status s;
  (void)((s = nn_sequential_new(ctx, &seq)) ||
         (s = nn_linear_new(ctx, NULL, 5, 4, true, NN_F32, &a)) ||
         (s = nn_layer_new(ctx, NN_RELU, 0, &b)) ||
         (s = nn_linear_new(ctx, NULL, 4, 2, true, NN_F32, &c)) ||
         (s = nn_sequential_add(ctx, seq, a)) || (s = nn_sequential_add(ctx, seq, b)) ||
         (s = nn_sequential_add(ctx, seq, c)) || (s = nn_ones(ctx, NN_F32, 2, xs, &x)) ||
         (s = nn_module_forward(ctx, seq, x, &y)));
  nn_tensor_release(y); nn_tensor_release(x);
  nn_module_release(a); nn_module_release(b); nn_module_release(c); nn_module_release(seq);
  return s;
}

static void test_oom(void) {
  int ok_at = 0;
  for (long k = 2; k < 400 && !ok_at; k++) {
    check_allocator f = {0, k, 0};
    nn_ctx *ctx = nn_ctx_new(check_alloc, &f);
    if (!ctx) continue;
    nn_status s = build_and_run(ctx);
    if (s == NN_OK) ok_at = (int)k;
    else CHECK(s == NN_ERR_MEM);
    CHECK(nn_ctx_bytes_in_use(ctx) == 0);
    nn_ctx_free(ctx);
  }
  CHECK(ok_at > 2);   /* some allocations failed before one run got through */
}

int main(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  if (!ctx) return 2;
  test_linear_forward(ctx);
  test_linear_init(ctx);
  test_activations(ctx);
  test_softmax(ctx);
  test_flatten(ctx);
  test_dropout(ctx);
  test_sequential(ctx);
  test_fused(ctx);
  test_errors(ctx);
  CHECK(nn_ctx_bytes_in_use(ctx) == 0);
  nn_ctx_free(ctx);
  test_oom();
  return check_report("test_layers");
}
