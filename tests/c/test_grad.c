/* test_grad.c — gradient checks for every op of the op list (nn_op_count/nn_op_name).

   Each op has a case in the table below (keyed by op name); an op without one fails the test.
   A case builds float64 inputs away from kinks, runs the public function, reduces the result
   with a fixed random weighting L = Σ y·w, runs backward and compares every input's gradient
   with central differences (eps 1e-6): |analytic - numeric| / max(1, |analytic|, |numeric|)
   must stay below 1e-6. The context runs on a counting allocator: nothing may leak. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "nn.h"


static check_allocator heap; /* counts live blocks: nothing may leak */
static nn_ctx *C;

/* ---- deterministic inputs ------------------------------------------------------------- */
static uint64_t seed = 12345;
static double urand(void) {                 /* splitmix64 → [0, 1) */
  uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

/* float64 tensor with |x| in [lo, hi], random sign if sgn */
static nn_tensor *mk(int nd, const int64_t *shape, double lo, double hi, bool sgn) {
  nn_tensor *t;
  if (nn_tensor_new(C, NN_F64, nd, shape, &t) != NN_OK) { printf("mk: %s\n", nn_ctx_errmsg(C)); exit(2); }
  double *p = nn_tensor_data(t);
  for (int64_t i = 0; i < nn_tensor_numel(t); i++) {
    double v = lo + (hi - lo) * urand();
    p[i] = sgn && urand() < 0.5 ? -v : v;
  }
  return t;
}
#define SH(...) (const int64_t[]){__VA_ARGS__}
#define MK(nd, lo, hi, sgn, ...) mk(nd, SH(__VA_ARGS__), lo, hi, sgn)
static nn_tensor *mki(int n, const int64_t *v) {
  nn_tensor *t;
  int64_t sh[1] = {n};
  nn_tensor_from_data(C, NN_I64, 1, sh, v, &t);
  return t;
}

/* element i (row-major) of any tensor */
static double at(const nn_tensor *t, int64_t i) { return check_elem(t, i); }

/* ---- the check ------------------------------------------------------------------------- */
typedef nn_status (*binfn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor **);
typedef nn_status (*unfn)(nn_ctx *, nn_tensor *, nn_tensor **);
typedef nn_status (*scfn)(nn_ctx *, nn_tensor *, double, nn_tensor **);
typedef nn_status (*redfn)(nn_ctx *, nn_tensor *, int, bool, nn_tensor **);
typedef nn_status (*lossfn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_reduction, nn_tensor **);

typedef nn_status (*layerfn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, nn_tensor **);
typedef struct A {
  nn_status (*f)(nn_tensor **in, const struct A *a, nn_tensor **out);
  binfn bin; unfn un; scfn sc; redfn red; lossfn loss; layerfn layer;
  int d0, d1, n;
  bool keep;
  double s0, s1;
  int nd;
  int64_t shape[8];
  int dims[8];
  nn_reduction rd;
  nn_rng *rng;
} A;

#define MAXW 4096
static double wts[MAXW];

/* L = Σ y_j w_j computed in C (no autograd) */
static bool eval(const A *a, nn_tensor **in, double *L) {
  nn_tensor *y;
  if (a->f(in, a, &y) != NN_OK) return false;
  double s = 0;
  for (int64_t j = 0; j < nn_tensor_numel(y); j++) s += at(y, j) * wts[j % MAXW];
  nn_tensor_release(y);
  *L = s;
  return true;
}

static void gradcheck(const char *label, const A *a, int nin, nn_tensor **in, unsigned diff) {
  for (int j = 0; j < MAXW; j++) wts[j] = 2 * urand() - 1;
  for (int i = 0; i < nin; i++)
    if (diff >> i & 1) { nn_tensor_set_requires_grad(C, in[i], true); nn_tensor_set_grad(C, in[i], NULL); }
  nn_tensor *y = NULL, *w = NULL, *yw = NULL, *L = NULL;
  nn_status s = a->f(in, a, &y);
  CHECKF(s == NN_OK, "%s: forward failed: %s", label, nn_ctx_errmsg(C));
  if (s) goto done;
  CHECKF(nn_tensor_requires_grad(y), "%s: result does not require grad", label);
  if (nn_tensor_new(C, NN_F64, nn_tensor_ndim(y), nn_tensor_shape(y), &w)) goto done;
  for (int64_t j = 0; j < nn_tensor_numel(w); j++) ((double *)nn_tensor_data(w))[j] = wts[j % MAXW];
  if ((s = nn_mul(C, y, w, &yw)) || (s = nn_sum(C, yw, NN_ALL, false, &L)) || (s = nn_backward(C, L, NULL))) {
    CHECKF(0, "%s: backward failed: %s", label, nn_ctx_errmsg(C));
    goto done;
  }
  bool was = nn_set_grad_enabled(C, false);
  double worst = 0;
  for (int i = 0; i < nin; i++) {
    if (!(diff >> i & 1)) continue;
    nn_tensor *g = nn_tensor_grad(in[i]);
    CHECKF(g != NULL, "%s: input %d got no gradient", label, i);
    if (!g) continue;
    double *x = nn_tensor_data(in[i]);
    for (int64_t j = 0; j < nn_tensor_numel(in[i]); j++) {
      double x0 = x[j], lp = 0, lm = 0, eps = 1e-6;
      x[j] = x0 + eps;
      bool ok = eval(a, in, &lp);
      x[j] = x0 - eps;
      ok = ok && eval(a, in, &lm);
      x[j] = x0;
      if (!ok) { CHECKF(0, "%s: forward failed in the numeric pass: %s", label, nn_ctx_errmsg(C)); break; }
      double num = (lp - lm) / (2 * eps), an = at(g, j);
      double err = fabs(num - an) / fmax(1.0, fmax(fabs(num), fabs(an)));
      if (!(err <= worst)) worst = err;
      if (!(err < 1e-6)) {
        printf("  %s: input %d element %lld: analytic %.10g numeric %.10g\n", label, i, (long long)j, an, num);
        break;
      }
    }
  }
  nn_set_grad_enabled(C, was);
  CHECKF(worst < 1e-6, "%s: max relative error %.3g", label, worst);
done:
  nn_tensor_release(y); nn_tensor_release(w); nn_tensor_release(yw); nn_tensor_release(L);
  for (int i = 0; i < nin; i++)
    if (diff >> i & 1) { nn_tensor_set_grad(C, in[i], NULL); nn_tensor_set_requires_grad(C, in[i], false); }
}

static void release_all(int n, nn_tensor **t) { for (int i = 0; i < n; i++) nn_tensor_release(t[i]); }

/* ---- forwards ------------------------------------------------------------------------------ */
static nn_status f_bin(nn_tensor **in, const A *a, nn_tensor **out) { return a->bin(C, in[0], in[1], out); }
static nn_status f_un(nn_tensor **in, const A *a, nn_tensor **out) { return a->un(C, in[0], out); }
static nn_status f_sc(nn_tensor **in, const A *a, nn_tensor **out) { return a->sc(C, in[0], a->s0, out); }
static nn_status f_red(nn_tensor **in, const A *a, nn_tensor **out) { return a->red(C, in[0], a->d0, a->keep, out); }
static nn_status f_leaky(nn_tensor **in, const A *a, nn_tensor **out) { return nn_leaky_relu(C, in[0], a->s0, out); }
static nn_status f_clamp(nn_tensor **in, const A *a, nn_tensor **out) { return nn_clamp(C, in[0], a->s0, a->s1, out); }
static nn_status f_hardtanh(nn_tensor **in, const A *a, nn_tensor **out) { return nn_hardtanh(C, in[0], a->s0, a->s1, out); }
static nn_status f_softplus(nn_tensor **in, const A *a, nn_tensor **out) { return nn_softplus(C, in[0], a->s0, a->s1, out); }
static nn_status f_nan_to_num(nn_tensor **in, const A *a, nn_tensor **out) { return nn_nan_to_num(C, in[0], 0, a->s0, a->s1, out); }
static nn_status f_lerp(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_lerp(C, in[0], in[1], in[2], out); }
static nn_status f_lerps(nn_tensor **in, const A *a, nn_tensor **out) { return nn_lerps(C, in[0], in[1], a->s0, out); }
static nn_status f_where(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_where(C, in[2], in[0], in[1], out); }
static nn_status f_var(nn_tensor **in, const A *a, nn_tensor **out) { return nn_var(C, in[0], a->d0, a->keep, a->d1, out); }
static nn_status f_std(nn_tensor **in, const A *a, nn_tensor **out) { return nn_std(C, in[0], a->d0, a->keep, a->d1, out); }
static nn_status f_max(nn_tensor **in, const A *a, nn_tensor **out) { return nn_max(C, in[0], a->d0, a->keep, out, NULL); }
static nn_status f_min(nn_tensor **in, const A *a, nn_tensor **out) { return nn_min(C, in[0], a->d0, a->keep, out, NULL); }
static nn_status f_index_select(nn_tensor **in, const A *a, nn_tensor **out) { return nn_index_select(C, in[0], a->d0, in[1], out); }
static nn_status f_cat(nn_tensor **in, const A *a, nn_tensor **out) { return nn_cat(C, a->n, in, a->d0, out); }
static nn_status f_stack(nn_tensor **in, const A *a, nn_tensor **out) { return nn_stack(C, a->n, in, a->d0, out); }
/* a layer (linear, linear_relu): x, w and, with n > 2, the bias */
static nn_status f_layer(nn_tensor **in, const A *a, nn_tensor **out) { return a->layer(C, in[0], in[1], a->n > 2 ? in[2] : NULL, out); }
/* the layer on a transposed input (a non-contiguous x) */
static nn_status f_layer_t(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_tensor *xt;
  nn_status s = nn_transpose(C, in[0], 0, 1, &xt);
  if (!s) s = a->layer(C, xt, in[1], a->n > 2 ? in[2] : NULL, out);
  nn_tensor_release(xt);
  return s;
}
static nn_status f_addmm(nn_tensor **in, const A *a, nn_tensor **out) { return nn_addmm(C, a->n > 2 ? in[2] : NULL, in[0], in[1], out); }
/* addmm with a transposed weight view (w^T of a [M,K] tensor) */
static nn_status f_addmm_t(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_tensor *wt;
  nn_status s = nn_transpose(C, in[1], 0, 1, &wt);
  if (!s) s = nn_addmm(C, a->n > 2 ? in[2] : NULL, in[0], wt, out);
  nn_tensor_release(wt);
  return s;
}
static nn_status f_dim(nn_tensor **in, const A *a, nn_tensor **out) {   /* softmax, log_softmax */
  return a->d1 ? nn_log_softmax(C, in[0], a->d0, out) : nn_softmax(C, in[0], a->d0, out);
}
static nn_status f_dropout(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_rng_seed(a->rng, 42);            /* the same mask on every evaluation */
  return nn_dropout(C, a->rng, in[0], a->s0, true, out);
}
static nn_status f_loss(nn_tensor **in, const A *a, nn_tensor **out) { return a->loss(C, in[0], in[1], a->rd, out); }
static nn_status f_transpose(nn_tensor **in, const A *a, nn_tensor **out) { return nn_transpose(C, in[0], a->d0, a->d1, out); }
static nn_status f_narrow(nn_tensor **in, const A *a, nn_tensor **out) { return nn_narrow(C, in[0], a->d0, a->d1, a->n, out); }
static nn_status f_select(nn_tensor **in, const A *a, nn_tensor **out) { return nn_select(C, in[0], a->d0, a->d1, out); }
static nn_status f_permute(nn_tensor **in, const A *a, nn_tensor **out) { return nn_permute(C, in[0], a->dims, out); }
static nn_status f_expand(nn_tensor **in, const A *a, nn_tensor **out) { return nn_expand(C, in[0], a->nd, a->shape, out); }
static nn_status f_view(nn_tensor **in, const A *a, nn_tensor **out) { return nn_view(C, in[0], a->nd, a->shape, out); }
static nn_status f_unsqueeze(nn_tensor **in, const A *a, nn_tensor **out) { return nn_unsqueeze(C, in[0], a->d0, out); }
static nn_status f_squeeze(nn_tensor **in, const A *a, nn_tensor **out) { return nn_squeeze(C, in[0], a->d0, out); }
static nn_status f_flatten(nn_tensor **in, const A *a, nn_tensor **out) { return nn_flatten(C, in[0], a->d0, a->d1, out); }
static nn_status f_clone(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_clone(C, in[0], out); }
static nn_status f_to(nn_tensor **in, const A *a, nn_tensor **out) { return nn_to(C, in[0], (nn_dtype)a->d0, out); }
/* reshape / contiguous of a transposed input: not viewable, so a copy (clone) then a view */
static nn_status f_reshape_t(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_tensor *t;
  nn_status s = nn_transpose(C, in[0], 0, 1, &t);
  if (!s) s = a->d0 ? nn_contiguous(C, t, out) : nn_reshape(C, t, a->nd, a->shape, out);
  nn_tensor_release(t);
  return s;
}
/* a reduction of a transposed (non-contiguous) input */
static nn_status f_red_t(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_tensor *t;
  nn_status s = nn_transpose(C, in[0], 0, 1, &t);
  if (!s) s = a->red(C, t, a->d0, a->keep, out);
  nn_tensor_release(t);
  return s;
}

/* ---- cases, one function per op name ---------------------------------------------------------- */

/* a binary op on [3,1,4] × [2,4] (broadcasting both ways), [2,3] × [2,3] and [2,3] × 0-d */
static void binary_cases(const char *name, binfn f, double lo, double hi, bool sgn_a, bool sgn_b) {
  A a = {.f = f_bin, .bin = f};
  char label[128];
  nn_tensor *in[2] = {MK(3, lo, hi, sgn_a, 3, 1, 4), MK(2, lo, hi, sgn_b, 2, 4)};
  snprintf(label, sizeof label, "%s [3,1,4]x[2,4]", name);
  gradcheck(label, &a, 2, in, 3);
  release_all(2, in);
  nn_tensor *in2[2] = {MK(2, lo, hi, sgn_a, 2, 3), MK(2, lo, hi, sgn_b, 2, 3)};
  snprintf(label, sizeof label, "%s [2,3]x[2,3]", name);
  gradcheck(label, &a, 2, in2, 3);
  snprintf(label, sizeof label, "%s [2,3]x[2,3] (only a)", name);
  gradcheck(label, &a, 2, in2, 1);
  release_all(2, in2);
  nn_tensor *in3[2] = {MK(2, lo, hi, sgn_a, 2, 3), mk(0, NULL, lo, hi, sgn_b)};
  snprintf(label, sizeof label, "%s [2,3]x[]", name);
  gradcheck(label, &a, 2, in3, 3);
  release_all(2, in3);
}
/* the element-wise binary ops (the rows of runtime/ops_binary.def): one row each, with the
   range of their inputs' magnitudes (away from kinks and outside the domain) and whether the
   signs of a and of b vary */
static const struct { const char *op; binfn f; double lo, hi; bool sgn_a, sgn_b; } binary_rows[] = {
  {"add", nn_add, 0.1, 2, true, true}, {"sub", nn_sub, 0.1, 2, true, true},
  {"mul", nn_mul, 0.1, 2, true, true}, {"div", nn_div, 0.5, 2, true, true},
  {"pow", nn_pow, 0.5, 2, false, true}, {"maximum", nn_maximum, 0.1, 2, true, true},
  {"minimum", nn_minimum, 0.1, 2, true, true},
  {"atan2", nn_atan2, 0.2, 2, true, true}, {"fmod", nn_fmod, 0.3, 2, true, true},
  {"remainder", nn_remainder, 0.3, 2, true, true},
};
#define NBINARY (int)(sizeof binary_rows / sizeof binary_rows[0])
static void binary_case(int k) {
  binary_cases(binary_rows[k].op, binary_rows[k].f, binary_rows[k].lo, binary_rows[k].hi,
               binary_rows[k].sgn_a, binary_rows[k].sgn_b);
}

static void scalar_case(const char *name, scfn f, double s, double lo, double hi, bool sgn) {
  A a = {.f = f_sc, .sc = f, .s0 = s};
  char label[128];
  snprintf(label, sizeof label, "%s(%g)", name, s);
  nn_tensor *x = MK(2, lo, hi, sgn, 3, 4);
  gradcheck(label, &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_adds(void) { scalar_case("adds", nn_adds, 0.7, 0.1, 2, true); }
static void c_muls(void) { scalar_case("muls", nn_muls, -1.3, 0.1, 2, true); }
static void c_rsubs(void) { scalar_case("rsubs", nn_rsubs, 2.5, 0.1, 2, true); }
static void c_rdivs(void) { scalar_case("rdivs", nn_rdivs, 1.7, 0.5, 2, true); }
static void c_pows(void) {
  scalar_case("pows", nn_pows, 2.0, 0.1, 2, true);
  scalar_case("pows", nn_pows, 3.0, 0.1, 2, true);
  scalar_case("pows", nn_pows, -1.5, 0.5, 2, false);
  scalar_case("pows", nn_pows, 0.5, 0.5, 2, false);
}

/* the element-wise unary ops (the rows of runtime/ops_unary.def): one row each, with the range
   of its input's magnitudes (away from kinks and outside the domain) and whether signs vary */
static const struct { const char *op; unfn f; double lo, hi; bool sgn; } unary_rows[] = {
  {"neg", nn_neg, 0.1, 2, true}, {"exp", nn_exp, 0.1, 2, true}, {"log", nn_log, 0.2, 3, false},
  {"sqrt", nn_sqrt, 0.2, 3, false}, {"abs", nn_abs, 0.1, 2, true}, {"sign", nn_sign, 0.1, 2, true},
  {"tanh", nn_tanh, 0.1, 2, true}, {"sigmoid", nn_sigmoid, 0.1, 3, true},
  {"relu", nn_relu, 0.1, 2, true}, {"gelu", nn_gelu, 0.1, 3, true},
  {"sin", nn_sin, 0.1, 4, true}, {"cos", nn_cos, 0.1, 4, true},
  {"tan", nn_tan, 0.1, 1.2, true}, {"asin", nn_asin, 0.1, 0.9, true},
  {"acos", nn_acos, 0.1, 0.9, true}, {"atan", nn_atan, 0.1, 3, true},
  {"sinh", nn_sinh, 0.1, 2, true}, {"cosh", nn_cosh, 0.1, 2, true},
  {"asinh", nn_asinh, 0.1, 3, true}, {"acosh", nn_acosh, 1.2, 3, false},
  {"atanh", nn_atanh, 0.1, 0.9, true}, {"floor", nn_floor, 0.1, 3, true},
  {"ceil", nn_ceil, 0.1, 3, true}, {"round", nn_round, 0.1, 3, true},
  {"trunc", nn_trunc, 0.1, 3, true}, {"frac", nn_frac, 0.1, 3, true},
  {"log1p", nn_log1p, 0.1, 0.9, true}, {"expm1", nn_expm1, 0.1, 2, true},
  {"log2", nn_log2, 0.2, 3, false}, {"log10", nn_log10, 0.2, 3, false},
  {"exp2", nn_exp2, 0.1, 2, true}, {"erf", nn_erf, 0.1, 2, true}, {"erfc", nn_erfc, 0.1, 2, true},
  {"rsqrt", nn_rsqrt, 0.3, 3, false}, {"reciprocal", nn_reciprocal, 0.5, 2, true},
  {"square", nn_square, 0.1, 2, true}, {"silu", nn_silu, 0.1, 3, true},
  {"mish", nn_mish, 0.1, 3, true},
};
#define NUNARY (int)(sizeof unary_rows / sizeof unary_rows[0])
/* forward values of the newest rows against libm, in both float types */
static void check_sin_cos(void) {
  for (int dt = 0; dt < 2; dt++) {
    nn_tensor *x, *s = NULL, *c = NULL;
    nn_full(C, dt ? NN_F64 : NN_F32, 1, SH(3), 0.75, &x);
    nn_sin(C, x, &s);
    nn_cos(C, x, &c);
    double tol = dt ? 1e-15 : 1e-6;
    CHECKF(s && fabs(at(s, 2) - sin(0.75)) < tol, "sin(0.75) in %s", dt ? "float64" : "float32");
    CHECKF(c && fabs(at(c, 0) - cos(0.75)) < tol, "cos(0.75) in %s", dt ? "float64" : "float32");
    nn_tensor_release(x); nn_tensor_release(s); nn_tensor_release(c);
  }
}
static void unary_case(int k) {
  A a = {.f = f_un, .un = unary_rows[k].f};
  nn_tensor *x = MK(3, unary_rows[k].lo, unary_rows[k].hi, unary_rows[k].sgn, 2, 3, 4);
  gradcheck(unary_rows[k].op, &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_leaky_relu(void) {
  A a = {.f = f_leaky, .s0 = 0.1};
  nn_tensor *x = MK(2, 0.1, 2, true, 4, 5);
  gradcheck("leaky_relu(0.1)", &a, 1, &x, 1);
  nn_tensor_release(x);
}
/* issue 13's parameterised element-wise ops and lerp (a composite: its gradient is its ops') */
static void c_hardtanh(void) {
  A a = {.f = f_hardtanh, .s0 = -0.5, .s1 = 0.7};
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4);
  gradcheck("hardtanh(-0.5, 0.7)", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_softplus(void) {
  A a = {.f = f_softplus, .s0 = 2.0, .s1 = 3.0};   /* some elements past the threshold */
  nn_tensor *x = MK(2, 0.1, 3, true, 3, 4);
  gradcheck("softplus(2, 3)", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_nan_to_num(void) {
  A a = {.f = f_nan_to_num, .s0 = 5, .s1 = -5};
  nn_tensor *x = MK(2, 0.1, 3, true, 3, 4);
  gradcheck("nan_to_num", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_lerp(void) {
  A a = {.f = f_lerp};
  nn_tensor *in[3] = {MK(2, 0.1, 2, true, 3, 4), MK(1, 0.1, 2, true, 4), MK(2, 0.05, 0.95, false, 3, 1)};
  gradcheck("lerp(a, b, w)", &a, 3, in, 7);
  release_all(3, in);
  for (int k = 0; k < 2; k++) {
    A s = {.f = f_lerps, .s0 = k ? 0.8 : 0.3};   /* both of PyTorch's two forms */
    nn_tensor *in2[2] = {MK(2, 0.1, 2, true, 3, 4), MK(2, 0.1, 2, true, 3, 4)};
    gradcheck("lerp(a, b, number)", &s, 2, in2, 3);
    release_all(2, in2);
  }
}
static void c_clamp(void) {
  A a = {.f = f_clamp, .s0 = -0.5, .s1 = 0.7};
  double v[12] = {-1.5, -0.7, -0.3, -0.1, 0.2, 0.45, 0.6, 0.9, 1.3, -0.45, 0.05, 2.0};
  nn_tensor *x;
  nn_tensor_from_data(C, NN_F64, 2, SH(3, 4), v, &x);
  gradcheck("clamp(-0.5, 0.7)", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_where(void) {
  A a = {.f = f_where};
  int64_t cv[8] = {1, 0, 0, 1, 1, 1, 0, 0};
  nn_tensor *cond;
  nn_tensor_from_data(C, NN_I64, 2, SH(2, 4), cv, &cond);
  nn_tensor *in[3] = {MK(3, 0.1, 2, true, 3, 1, 4), MK(1, 0.1, 2, true, 4), cond};
  gradcheck("where [2,4] ? [3,1,4] : [4]", &a, 3, in, 3);
  release_all(3, in);
}

/* reductions: all dims (with and without keepdim), dims 0, 1, -1 with and without keepdim */
static void reduce_cases(const char *name, A base, double lo, double hi, bool sgn) {
  static const int dims[] = {-1000 /* NN_ALL */, 0, 1, -1};
  char label[128];
  for (int k = 0; k < 4; k++)
    for (int keep = 0; keep < 2; keep++) {
      A a = base;
      a.d0 = dims[k]; a.keep = keep;
      nn_tensor *x = MK(3, lo, hi, sgn, 2, 3, 4);
      snprintf(label, sizeof label, "%s [2,3,4] dim %d keepdim %d", name, dims[k], keep);
      gradcheck(label, &a, 1, &x, 1);
      nn_tensor_release(x);
    }
}
static void c_sum(void) {
  reduce_cases("sum", (A){.f = f_red, .red = nn_sum}, 0.1, 2, true);
  A a = {.f = f_red_t, .red = nn_sum, .d0 = 1};
  nn_tensor *x = MK(2, 0.1, 2, true, 4, 3);
  gradcheck("sum of a transposed [3,4] dim 1", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_mean(void) {
  reduce_cases("mean", (A){.f = f_red, .red = nn_mean}, 0.1, 2, true);
  A a = {.f = f_red_t, .red = nn_mean, .d0 = 0, .keep = true};
  nn_tensor *x = MK(2, 0.1, 2, true, 4, 3);
  gradcheck("mean of a transposed [3,4] dim 0", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_prod(void) {
  reduce_cases("prod", (A){.f = f_red, .red = nn_prod}, 0.5, 1.5, true);
  /* zeros: row 0 has one zero, row 1 two, row 2 none */
  double v[12] = {1.5, 0, -0.7, 1.2, 0, 0.8, 0, 1.1, 0.9, -1.3, 0.6, 1.4};
  nn_tensor *x;
  nn_tensor_from_data(C, NN_F64, 2, SH(3, 4), v, &x);
  A a = {.f = f_red, .red = nn_prod, .d0 = 1};
  gradcheck("prod with zeros dim 1", &a, 1, &x, 1);
  a.d0 = -1000;
  gradcheck("prod with zeros all", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_var(void) {
  reduce_cases("var", (A){.f = f_var, .d1 = 1}, 0.1, 2, true);
  reduce_cases("var correction 0", (A){.f = f_var, .d1 = 0}, 0.1, 2, true);
}
static void c_std(void) {
  reduce_cases("std", (A){.f = f_std, .d1 = 1}, 0.1, 2, true);
  reduce_cases("std correction 0", (A){.f = f_std, .d1 = 0}, 0.1, 2, true);
}
static void c_max(void) { reduce_cases("max", (A){.f = f_max}, 0.1, 2, true); }
static void c_min(void) { reduce_cases("min", (A){.f = f_min}, 0.1, 2, true); }

static void c_index_select(void) {
  A a = {.f = f_index_select, .d0 = 0};
  nn_tensor *in[2] = {MK(2, 0.1, 2, true, 4, 3), mki(4, SH(2, 0, 2, 3))};
  gradcheck("index_select dim 0 repeated", &a, 2, in, 1);
  nn_tensor_release(in[1]);
  in[1] = mki(2, SH(2, 1));
  a.d0 = 1;
  gradcheck("index_select dim 1", &a, 2, in, 1);
  release_all(2, in);
  nn_tensor *in2[2] = {MK(3, 0.1, 2, true, 2, 3, 4), mki(3, SH(3, 3, 0))};
  a.d0 = -1;
  gradcheck("index_select [2,3,4] dim -1", &a, 2, in2, 1);
  release_all(2, in2);
}
static void c_cat(void) {
  A a = {.f = f_cat, .n = 2, .d0 = 0};
  nn_tensor *in[2] = {MK(2, 0.1, 2, true, 2, 3), MK(2, 0.1, 2, true, 1, 3)};
  gradcheck("cat 2 dim 0", &a, 2, in, 3);
  release_all(2, in);
  nn_tensor *in2[2] = {MK(2, 0.1, 2, true, 2, 3), MK(2, 0.1, 2, true, 2, 1)};
  a.d0 = 1;
  gradcheck("cat 2 dim 1", &a, 2, in2, 3);
  release_all(2, in2);
  nn_tensor *in5[5] = {MK(3, 0.1, 2, true, 2, 1, 3), MK(3, 0.1, 2, true, 2, 2, 3), MK(3, 0.1, 2, true, 2, 1, 3),
                       MK(3, 0.1, 2, true, 2, 3, 3), MK(3, 0.1, 2, true, 2, 1, 3)};
  a.n = 5; a.d0 = -2;
  gradcheck("cat 5 dim -2", &a, 5, in5, 31);
  gradcheck("cat 5 dim -2 (inputs 0, 3 only)", &a, 5, in5, 9);
  gradcheck("cat 5 dim -2 (input 4 only)", &a, 5, in5, 16);
  release_all(5, in5);
  /* a 1-D empty input is skipped whatever the dim (one node, its window of dy is empty) */
  nn_tensor *in3[4] = {MK(2, 0.1, 2, true, 2, 3), MK(1, 0.1, 2, true, 0), MK(2, 0.1, 2, true, 2, 2),
                       MK(2, 0.1, 2, true, 2, 1)};
  a.n = 4; a.d0 = 1;
  gradcheck("cat 4 dim 1 with a skipped empty", &a, 4, in3, 15);
  release_all(4, in3);
}
static void c_stack(void) {
  A a = {.f = f_stack, .n = 2, .d0 = 0};
  nn_tensor *in[6];
  for (int i = 0; i < 6; i++) in[i] = MK(2, 0.1, 2, true, 2, 3);
  gradcheck("stack 2 dim 0", &a, 2, in, 3);
  a.d0 = -1;
  gradcheck("stack 2 dim -1", &a, 2, in, 3);
  a.n = 6; a.d0 = 1;
  gradcheck("stack 6 dim 1", &a, 6, in, 63);
  gradcheck("stack 6 dim 1 (inputs 1, 5)", &a, 6, in, 34);
  release_all(6, in);
}

static void c_matmul(void) {
  A a = {.f = f_bin, .bin = nn_matmul};
  static const struct { int na, nb; int64_t sa[3], sb[3]; const char *label; } m[] = {
    {1, 1, {4}, {4}, "matmul 1-D x 1-D"},
    {2, 1, {3, 4}, {4}, "matmul 2-D x 1-D"},
    {1, 2, {4}, {4, 2}, "matmul 1-D x 2-D"},
    {2, 2, {3, 4}, {4, 2}, "matmul 2-D x 2-D"},
    {3, 3, {2, 3, 4}, {2, 4, 2}, "matmul 3-D x 3-D"},
    {3, 2, {2, 3, 4}, {4, 2}, "matmul 3-D x 2-D"},
    {2, 3, {3, 4}, {2, 4, 2}, "matmul 2-D x 3-D"},
  };
  for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
    nn_tensor *in[2] = {mk(m[k].na, m[k].sa, 0.1, 2, true), mk(m[k].nb, m[k].sb, 0.1, 2, true)};
    gradcheck(m[k].label, &a, 2, in, 3);
    release_all(2, in);
  }
  nn_tensor *in[2] = {MK(1, 0.1, 2, true, 5), MK(1, 0.1, 2, true, 5)};
  A d = {.f = f_bin, .bin = nn_dot};
  gradcheck("dot", &d, 2, in, 3);
  release_all(2, in);
}
/* A layer's cases: with and without bias, the weight alone, a 1-D input, a transposed input.
   x [6,5], w [4,5]: pre-activations of both signs, for linear_relu's mask. */
static void layer_cases(const char *name, layerfn layer) {
  char label[64];
  A a = {.f = f_layer, .layer = layer, .n = 3};
  nn_tensor *in[3] = {MK(2, 0.1, 2, true, 6, 5), MK(2, 0.1, 2, true, 4, 5), MK(1, 0.1, 2, true, 4)};
  snprintf(label, sizeof label, "%s with bias", name);
  gradcheck(label, &a, 3, in, 7);
  snprintf(label, sizeof label, "%s with bias (weight only)", name);
  gradcheck(label, &a, 3, in, 2);
  a.n = 2;
  snprintf(label, sizeof label, "%s without bias", name);
  gradcheck(label, &a, 2, in, 3);
  release_all(3, in);
  nn_tensor *in1[3] = {MK(1, 0.1, 2, true, 5), MK(2, 0.1, 2, true, 4, 5), MK(1, 0.1, 2, true, 4)};
  a.n = 3;
  snprintf(label, sizeof label, "%s 1-D input", name);
  gradcheck(label, &a, 3, in1, 7);
  release_all(3, in1);
  nn_tensor *int_[3] = {MK(2, 0.1, 2, true, 5, 6), MK(2, 0.1, 2, true, 4, 5), MK(1, 0.1, 2, true, 4)};
  A t = {.f = f_layer_t, .layer = layer, .n = 3};
  snprintf(label, sizeof label, "%s of a transposed input", name);
  gradcheck(label, &t, 3, int_, 7);
  release_all(3, int_);
}
static void c_linear(void) { layer_cases("linear", nn_linear); }
/* linear_relu: relu(linear), the same values as the two ops it fuses, with both signs among
   the pre-activations (checked) so the mask is exercised */
static void c_linear_relu(void) {
  nn_tensor *x = MK(2, 0.1, 2, true, 6, 5), *w = MK(2, 0.1, 2, true, 4, 5), *b = MK(1, 0.1, 2, true, 4);
  nn_tensor *y = NULL, *z = NULL, *r = NULL;
  CHECK(nn_linear_relu(C, x, w, b, &y) == NN_OK);
  CHECK(nn_linear(C, x, w, b, &z) == NN_OK && nn_relu(C, z, &r) == NN_OK);
  int pos = 0, zero = 0;
  for (int64_t j = 0; y && r && j < nn_tensor_numel(y); j++) {
    double v = ((double *)nn_tensor_data(y))[j];
    pos += v > 0; zero += v == 0;
    CHECKF(v == ((double *)nn_tensor_data(r))[j], "linear_relu element %lld: %g, relu(linear) %g",
           (long long)j, v, ((double *)nn_tensor_data(r))[j]);
  }
  CHECKF(pos > 3 && zero > 3, "linear_relu case has %d positive and %d clipped outputs", pos, zero);
  nn_tensor *all[6] = {y, z, r, x, w, b};
  release_all(6, all);
  layer_cases("linear_relu", nn_linear_relu);
}
static void c_addmm(void) {
  A a = {.f = f_addmm, .n = 3};
  /* x [4,3], w [3,2] and a bias of each shape that broadcasts to [4,2] */
  static const struct { int nd; int64_t sh[2]; const char *label; } bias[] = {
    {1, {2}, "addmm, bias [M]"}, {2, {1, 2}, "addmm, bias [1,M]"}, {2, {4, 1}, "addmm, bias [N,1]"},
    {2, {4, 2}, "addmm, bias [N,M]"}, {0, {0}, "addmm, 0-d bias"},
  };
  for (size_t k = 0; k < sizeof bias / sizeof bias[0]; k++) {
    nn_tensor *in[3] = {MK(2, 0.1, 2, true, 4, 3), MK(2, 0.1, 2, true, 3, 2),
                        mk(bias[k].nd, bias[k].sh, 0.1, 2, true)};
    gradcheck(bias[k].label, &a, 3, in, 7);
    release_all(3, in);
  }
  nn_tensor *in[3] = {MK(2, 0.1, 2, true, 4, 3), MK(2, 0.1, 2, true, 3, 2), MK(1, 0.1, 2, true, 2)};
  gradcheck("addmm (weight only)", &a, 3, in, 2);
  a.n = 2;
  gradcheck("addmm without bias", &a, 2, in, 3);
  release_all(3, in);
  nn_tensor *int_[3] = {MK(2, 0.1, 2, true, 4, 3), MK(2, 0.1, 2, true, 2, 3), MK(1, 0.1, 2, true, 2)};
  A t = {.f = f_addmm_t, .n = 3};
  gradcheck("addmm of a transposed weight", &t, 3, int_, 7);
  release_all(3, int_);
}
/* ---- convolution and max pooling: the options of the case running (a->d0: 1 or 2 dims, a->d1:
   transposed, a->n: inputs; a->keep: x given transposed in its last two dims) */
static nn_conv_opts conv_o;
static nn_pool_opts pool_o;
static nn_status f_conv(nn_tensor **in, const A *a, nn_tensor **out) {
  nn_tensor *x = in[0], *xt = NULL;
  nn_status s = a->keep ? nn_transpose(C, in[0], -1, -2, &xt) : NN_OK;
  if (a->keep) x = xt;
  if (!s) s = (a->d0 == 1 ? nn_conv1d : a->d1 ? nn_conv_transpose2d : nn_conv2d)(
      C, x, in[1], a->n > 2 ? in[2] : NULL, &conv_o, out);
  nn_tensor_release(xt);
  return s;
}
static nn_status f_pool(nn_tensor **in, const A *a, nn_tensor **out) {
  return (a->d0 == 1 ? nn_max_pool1d : nn_max_pool2d)(C, in[0], &pool_o, out, NULL);
}
/* x, w and b shapes, options, inputs checked (bits) */
typedef struct {
  const char *label;
  int dims, nd;
  int64_t x[4], w[4], b;
  nn_conv_opts o;
  bool transposed, xt;
} conv_case;
static void conv_cases(bool transposed) {
  static const conv_case cc[] = {
    {"conv2d groups 2, stride (2,1), padding (1,0), dilation (1,2)", 2, 4, {2, 4, 5, 6}, {6, 2, 3, 2}, 6,
     {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2}, false, false},
    {"conv2d \"same\", even kernel (extra padding after)", 2, 4, {2, 3, 4, 5}, {2, 3, 2, 2}, 2,
     {.padding_extra = {1, 1}}, false, false},
    {"conv2d 1x1 (the image is its own columns), no bias", 2, 4, {2, 4, 3, 3}, {3, 4, 1, 1}, 0,
     {.groups = 1}, false, false},
    {"conv2d of a transposed input", 2, 4, {2, 2, 4, 5}, {3, 2, 3, 3}, 3, {.padding = {1, 1}}, false, true},
    {"conv2d in lanes (batch 4)", 2, 4, {4, 2, 9, 9}, {3, 2, 3, 3}, 3, {.padding = {1, 1}}, false, false},
    {"conv1d stride 2, padding 1, groups 3", 1, 3, {2, 3, 7}, {6, 1, 3}, 6,
     {.stride = {2}, .padding = {1}, .groups = 3}, false, false},
    {"conv_transpose2d stride 2, padding 1, output_padding 1", 2, 4, {2, 3, 3, 4}, {3, 2, 3, 3}, 2,
     {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}}, true, false},
    {"conv_transpose2d groups 2, dilation 2, stride (1,2)", 2, 4, {2, 4, 3, 3}, {4, 1, 2, 3}, 2,
     {.stride = {1, 2}, .dilation = {2, 2}, .groups = 2}, true, false},
    {"conv_transpose2d in lanes (batch 4), no bias", 2, 4, {4, 2, 6, 6}, {2, 3, 3, 3}, 0,
     {.stride = {2, 2}}, true, false},
  };
  for (size_t k = 0; k < sizeof cc / sizeof cc[0]; k++) {
    const conv_case *c = &cc[k];
    if (c->transposed != transposed) continue;
    conv_o = c->o;
    int64_t xs[4];
    memcpy(xs, c->x, sizeof xs);
    if (c->xt) { int64_t t = xs[2]; xs[2] = xs[3]; xs[3] = t; }
    nn_tensor *in[3] = {mk(c->nd, xs, 0.1, 2, true), mk(c->nd, c->w, 0.1, 2, true),
                        MK(1, 0.1, 2, true, c->b ? c->b : 1)};
    A a = {.f = f_conv, .d0 = c->dims, .d1 = c->transposed, .n = c->b ? 3 : 2, .keep = c->xt};
    gradcheck(c->label, &a, a.n, in, c->b ? 7 : 3);
    if (k == 0) gradcheck("conv2d (weight only)", &a, 3, in, 2);
    release_all(3, in);
  }
}
static void c_conv2d(void) { conv_cases(false); }
static void c_conv_transpose2d(void) { conv_cases(true); }
/* random inputs: no two elements of a window tie, so the max is differentiable there */
static void c_max_pool2d(void) {
  A a = {.f = f_pool, .d0 = 2};
  nn_tensor *x = MK(4, 0.1, 2, true, 2, 3, 5, 6);
  pool_o = (nn_pool_opts){.kernel = {2, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
  gradcheck("max_pool2d kernel (2,3), stride 2, padding 1, ceil_mode", &a, 1, &x, 1);
  pool_o = (nn_pool_opts){.kernel = {2, 2}, .dilation = {2, 1}};
  gradcheck("max_pool2d kernel 2, dilation (2,1)", &a, 1, &x, 1);
  nn_tensor_release(x);
  nn_tensor *x3 = MK(3, 0.1, 2, true, 3, 5, 5);
  pool_o = (nn_pool_opts){.kernel = {3, 3}, .stride = {1, 1}};
  gradcheck("max_pool2d of a 3-D input, overlapping windows", &a, 1, &x3, 1);
  nn_tensor_release(x3);
  nn_tensor *x1 = MK(3, 0.1, 2, true, 2, 3, 9);
  a.d0 = 1;
  pool_o = (nn_pool_opts){.kernel = {3}, .stride = {2}, .dilation = {2}, .padding = {1}};
  gradcheck("max_pool1d kernel 3, stride 2, dilation 2, padding 1", &a, 1, &x1, 1);
  nn_tensor_release(x1);
}
static void softmax_cases(const char *name, int logsm) {
  char label[128];
  static const int dims[] = {0, -1, 1};
  for (int k = 0; k < 3; k++) {
    A a = {.f = f_dim, .d0 = dims[k], .d1 = logsm};
    nn_tensor *x = k < 2 ? MK(2, 0.1, 2, true, 3, 4) : MK(3, 0.1, 2, true, 2, 3, 4);
    snprintf(label, sizeof label, "%s dim %d (%d-d)", name, dims[k], k < 2 ? 2 : 3);
    gradcheck(label, &a, 1, &x, 1);
    nn_tensor_release(x);
  }
}
static void c_softmax(void) { softmax_cases("softmax", 0); }
static void c_log_softmax(void) { softmax_cases("log_softmax", 1); }
static void c_dropout(void) {
  nn_rng *r;
  nn_rng_new(C, 1, &r);
  A a = {.f = f_dropout, .rng = r, .s0 = 0.0};
  nn_tensor *x = MK(2, 0.1, 2, true, 8, 8);
  gradcheck("dropout p=0", &a, 1, &x, 1);
  a.s0 = 0.5;
  gradcheck("dropout p=0.5 (fixed generator)", &a, 1, &x, 1);
  /* the gradient is exactly the kept mask / (1 - p), read off the output */
  nn_tensor_set_requires_grad(C, x, true);
  nn_tensor *y, *L;
  f_dropout(&x, &a, &y);
  nn_sum(C, y, -1000, false, &L);
  nn_backward(C, L, NULL);
  nn_tensor *g = nn_tensor_grad(x);
  int bad = 0, kept = 0;
  for (int64_t j = 0; g && j < 64; j++) {
    double want = at(y, j) != 0 ? 2.0 : 0.0;
    kept += at(y, j) != 0;
    if (at(g, j) != want || (at(y, j) != 0 && at(y, j) != 2.0 * at(x, j))) bad++;
  }
  CHECKF(g && bad == 0, "dropout p=0.5: gradient is not mask / (1 - p) (%d bad)", bad);
  CHECKF(kept > 16 && kept < 48, "dropout p=0.5 kept %d of 64", kept);
  nn_tensor_release(y); nn_tensor_release(L);
  nn_tensor_release(x);
  nn_rng_free(C, r);
}

static const char *red_name(nn_reduction r) { return r == NN_REDUCE_MEAN ? "mean" : r == NN_REDUCE_SUM ? "sum" : "none"; }
static void loss_cases(const char *name, lossfn f, nn_tensor *a0, nn_tensor *b0, unsigned diff) {
  char label[128];
  for (int r = 0; r < 3; r++) {
    A a = {.f = f_loss, .loss = f, .rd = (nn_reduction)r};
    nn_tensor *in[2] = {a0, b0};
    snprintf(label, sizeof label, "%s reduction %s", name, red_name((nn_reduction)r));
    gradcheck(label, &a, 2, in, diff);
  }
  nn_tensor_release(a0); nn_tensor_release(b0);
}
/* probability rows (non-negative, summing to 1) */
static nn_tensor *probs(int64_t n, int64_t c) {
  nn_tensor *t = MK(2, 0.1, 1, false, n, c);
  double *p = nn_tensor_data(t);
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < c; j++) s += p[i * c + j];
    for (int64_t j = 0; j < c; j++) p[i * c + j] /= s;
  }
  return t;
}
static void c_cross_entropy(void) {
  loss_cases("cross_entropy class ids", nn_cross_entropy, MK(2, 0.1, 2, true, 4, 3), mki(4, SH(0, 2, 1, 2)), 1);
  loss_cases("cross_entropy probabilities", nn_cross_entropy, MK(2, 0.1, 2, true, 4, 3), probs(4, 3), 1);
  nn_tensor *t0;
  nn_tensor_from_data(C, NN_I64, 0, NULL, SH(2), &t0);
  loss_cases("cross_entropy 1-D logits", nn_cross_entropy, MK(1, 0.1, 2, true, 5), t0, 1);
}
static void c_nll_loss(void) {
  loss_cases("nll_loss", nn_nll_loss, MK(2, 0.1, 2, true, 5, 3), mki(5, SH(1, 0, 2, 2, 1)), 1);
}
static void c_mse(void) {
  loss_cases("mse_loss", nn_mse_loss, MK(2, 0.1, 2, true, 3, 4), MK(2, 0.1, 2, true, 3, 4), 3);
}
static void c_l1(void) {
  /* a - b kept away from 0: b = a + (±(0.2..1)) */
  nn_tensor *a = MK(2, 0.1, 2, true, 3, 4), *b = MK(2, 0.2, 1, true, 3, 4);
  for (int64_t j = 0; j < 12; j++) ((double *)nn_tensor_data(b))[j] += ((double *)nn_tensor_data(a))[j];
  loss_cases("l1_loss", nn_l1_loss, a, b, 3);
}
static void c_bce(void) {
  loss_cases("binary_cross_entropy", nn_binary_cross_entropy, MK(2, 0.1, 0.9, false, 3, 4),
             MK(2, 0, 1, false, 3, 4), 3);
}
static void c_bce_logits(void) {
  loss_cases("bce_with_logits", nn_bce_with_logits, MK(2, 0.1, 3, true, 3, 4), MK(2, 0, 1, false, 3, 4), 3);
}

static void c_view(void) {
  A a = {.f = f_view, .nd = 2, .shape = {6, 4}};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 3, 4);
  gradcheck("view [2,3,4] -> [6,4]", &a, 1, &x, 1);
  a.shape[0] = -1; a.shape[1] = 2;
  gradcheck("view [2,3,4] -> [-1,2]", &a, 1, &x, 1);
  A u = {.f = f_unsqueeze, .d0 = 1};
  gradcheck("unsqueeze 1", &u, 1, &x, 1);
  u.d0 = -1;
  gradcheck("unsqueeze -1", &u, 1, &x, 1);
  A f = {.f = f_flatten, .d0 = 1, .d1 = -1};
  gradcheck("flatten 1..-1", &f, 1, &x, 1);
  f.d0 = 0; f.d1 = 1;
  gradcheck("flatten 0..1", &f, 1, &x, 1);
  nn_tensor_release(x);
  nn_tensor *y = MK(4, 0.1, 2, true, 2, 1, 3, 1);
  A s = {.f = f_squeeze, .d0 = -1000};
  gradcheck("squeeze all", &s, 1, &y, 1);
  s.d0 = 1;
  gradcheck("squeeze 1", &s, 1, &y, 1);
  nn_tensor_release(y);
  nn_tensor *z = MK(2, 0.1, 2, true, 3, 4);
  A r = {.f = f_reshape_t, .nd = 1, .shape = {12}};
  gradcheck("reshape of a transposed [4,3] (a copy)", &r, 1, &z, 1);
  nn_tensor_release(z);
}
static void c_transpose(void) {
  A a = {.f = f_transpose, .d0 = 0, .d1 = 2};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 3, 4);
  gradcheck("transpose 0 2", &a, 1, &x, 1);
  a.d0 = -1; a.d1 = 1;
  gradcheck("transpose -1 1", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_permute(void) {
  A a = {.f = f_permute, .dims = {2, 0, 1}};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 3, 4);
  gradcheck("permute 2 0 1", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_narrow(void) {
  A a = {.f = f_narrow, .d0 = 1, .d1 = 1, .n = 2};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 4, 3);
  gradcheck("narrow dim 1 [1, 3)", &a, 1, &x, 1);
  a.d0 = -1; a.d1 = 0; a.n = 1;
  gradcheck("narrow dim -1 [0, 1)", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_select(void) {
  A a = {.f = f_select, .d0 = 1, .d1 = -1};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 4, 3);
  gradcheck("select dim 1 index -1", &a, 1, &x, 1);
  a.d0 = 0; a.d1 = 1;
  gradcheck("select dim 0 index 1", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_expand(void) {
  A a = {.f = f_expand, .nd = 4, .shape = {3, 2, 3, 4}};
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 1, 4);
  gradcheck("expand [2,1,4] -> [3,2,3,4]", &a, 1, &x, 1);
  a.nd = 3; a.shape[0] = -1; a.shape[1] = 5; a.shape[2] = -1;
  gradcheck("expand [2,1,4] -> [-1,5,-1]", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_clone(void) {
  A a = {.f = f_clone};
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4);
  gradcheck("clone", &a, 1, &x, 1);
  A c = {.f = f_reshape_t, .d0 = 1};
  gradcheck("contiguous of a transposed", &c, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_to(void) {
  A a = {.f = f_to, .d0 = NN_F64};
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4);
  gradcheck("to float64", &a, 1, &x, 1);
  /* float64 -> float32: the gradient comes back as float64, equal to the float32 weights */
  nn_tensor_set_requires_grad(C, x, true);
  nn_tensor *y, *w, *yw, *L;
  nn_to(C, x, NN_F32, &y);
  nn_full(C, NN_F32, 2, SH(3, 4), 0.25, &w);
  nn_mul(C, y, w, &yw);
  nn_sum(C, yw, -1000, false, &L);
  nn_backward(C, L, NULL);
  nn_tensor *g = nn_tensor_grad(x);
  CHECKF(g && nn_tensor_dtype(g) == NN_F64 && at(g, 5) == 0.25, "to float32: gradient dtype/value");
  nn_tensor_release(y); nn_tensor_release(w); nn_tensor_release(yw); nn_tensor_release(L);
  nn_tensor_release(x);
}

/* ---- gather/scatter and masks (ops_gather.c) ---- */
static nn_tensor *mki2(int64_t r, int64_t c, const int64_t *v) {
  nn_tensor *t;
  nn_tensor_from_data(C, NN_I64, 2, SH(r, c), v, &t);
  return t;
}
static nn_status f_gather(nn_tensor **in, const A *a, nn_tensor **out) { return nn_gather(C, in[0], a->d0, in[1], out); }
static nn_status f_scatter(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_scatter(C, in[0], a->d0, in[1], in[2], (nn_scatter_reduce)a->n, out);
}
static nn_status f_index_add(nn_tensor **in, const A *a, nn_tensor **out) { return nn_index_add(C, in[0], a->d0, in[1], in[2], a->s0, out); }
static nn_status f_index_copy(nn_tensor **in, const A *a, nn_tensor **out) { return nn_index_copy(C, in[0], a->d0, in[1], in[2], out); }
static nn_status f_index_fill(nn_tensor **in, const A *a, nn_tensor **out) { return nn_index_fill(C, in[0], a->d0, in[1], a->s0, out); }
static nn_status f_take(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_take(C, in[0], in[1], out); }
static nn_status f_masked_select(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_masked_select(C, in[0], in[1], out); }
static nn_status f_masked_scatter(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_masked_scatter(C, in[0], in[1], in[2], out); }
static nn_status f_masked_fill(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_masked_fill(C, in[0], in[1], in[2], out); }
static void c_gather(void) {
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4);
  nn_tensor *in[2] = {x, mki2(2, 4, SH(0, 2, 1, 2, 2, 2, 0, 1))};
  A a = {.f = f_gather, .d0 = 0};
  gradcheck("gather dim 0 (repeated rows)", &a, 2, in, 1);
  nn_tensor_release(in[1]);
  in[1] = mki2(3, 2, SH(3, 3, 0, 1, 2, 0));
  a.d0 = -1;
  gradcheck("gather dim -1 [3,2] (repeated)", &a, 2, in, 1);
  nn_tensor *t[2] = {x, in[1]};
  A k = {.f = f_take};
  gradcheck("take (a gather of the flattened tensor)", &k, 2, t, 1);
  release_all(2, in);
}
static void c_scatter(void) {
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4), *src = MK(2, 0.1, 2, true, 3, 5);
  nn_tensor *in[3] = {x, mki2(2, 4, SH(0, 2, 1, 2, 2, 1, 0, 0)), src};
  A a = {.f = f_scatter, .d0 = 0, .n = NN_SCATTER_NONE};
  gradcheck("scatter dim 0 (distinct targets)", &a, 3, in, 5);
  a.n = NN_SCATTER_ADD;
  nn_tensor_release(in[1]);
  in[1] = mki2(3, 2, SH(3, 3, 0, 1, 2, 0));
  a.d0 = 1;
  gradcheck("scatter_add dim 1 (repeated targets)", &a, 3, in, 5);
  nn_tensor_release(in[1]);
  /* index_add/copy/fill are scatters through an expanded index */
  nn_tensor *s2 = MK(2, 0.1, 2, true, 3, 2), *ix[3] = {x, mki(2, SH(3, 1)), s2};
  A b = {.f = f_index_add, .d0 = 1, .s0 = -0.5};
  gradcheck("index_add dim 1 alpha -0.5", &b, 3, ix, 5);
  b.f = f_index_copy;
  gradcheck("index_copy dim 1", &b, 3, ix, 5);
  b.f = f_index_fill; b.s0 = 2.5;
  gradcheck("index_fill dim 1", &b, 2, ix, 1);
  release_all(3, ix);
  nn_tensor_release(src);
}
static void c_masked_select(void) {
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4);
  nn_tensor *in[2] = {x, mki(4, SH(1, 0, 1, 1))};
  A a = {.f = f_masked_select};
  gradcheck("masked_select, mask [4] broadcast", &a, 2, in, 1);
  nn_tensor *r = MK(2, 0.1, 2, true, 3, 1);                 /* x broadcast too: [3,1] with [4] */
  nn_tensor *in2[2] = {r, in[1]};
  gradcheck("masked_select, x [3,1] broadcast with mask [4]", &a, 2, in2, 1);
  /* masked_fill with a 0-d value: gradients to x (false positions) and to the value */
  nn_tensor *v = MK(0, 0.5, 1, false, 1), *m = mki2(3, 4, SH(1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1));
  nn_tensor *f[3] = {x, m, v};
  A b = {.f = f_masked_fill};
  gradcheck("masked_fill with a 0-d tensor value", &b, 3, f, 5);
  release_all(2, in); nn_tensor_release(r); nn_tensor_release(v); nn_tensor_release(m);
}
static void c_masked_scatter(void) {
  nn_tensor *x = MK(2, 0.1, 2, true, 3, 4), *src = MK(2, 0.1, 2, true, 2, 4);
  nn_tensor *in[3] = {x, mki2(3, 4, SH(1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1)), src};
  A a = {.f = f_masked_scatter};
  gradcheck("masked_scatter (5 of 8 source elements used)", &a, 3, in, 5);
  release_all(3, in);
}
/* ---- scans and selections (ops_scan.c, ops_sort.c) ---- */
static nn_status f_scan(nn_tensor **in, const A *a, nn_tensor **out) {
  return (a->n ? nn_cumprod : nn_cumsum)(C, in[0], a->d0, out);
}
static nn_status f_logsumexp(nn_tensor **in, const A *a, nn_tensor **out) { return nn_logsumexp(C, in[0], a->d0, a->keep, out); }
static nn_status f_norm(nn_tensor **in, const A *a, nn_tensor **out) { return nn_norm(C, in[0], a->s0, a->d0, a->keep, out); }
static nn_status f_sortv(nn_tensor **in, const A *a, nn_tensor **out) {
  switch (a->n) {
    case 0: return nn_sort(C, in[0], a->d0, a->keep, out, NULL);
    case 1: return nn_topk(C, in[0], 2, a->d0, a->keep, out, NULL);
    case 2: return nn_kthvalue(C, in[0], 2, a->d0, a->keep, out, NULL);
    case 3: return nn_median(C, in[0], a->d0, a->keep, out, NULL);
    default: return nn_cummax(C, in[0], a->d0, out, NULL);
  }
}
static void c_cumsum(void) {
  nn_tensor *x = MK(3, 0.1, 2, true, 2, 3, 4);
  A a = {.f = f_scan, .d0 = 1};
  gradcheck("cumsum dim 1", &a, 1, &x, 1);
  a.d0 = -1;
  gradcheck("cumsum dim -1", &a, 1, &x, 1);
  /* reductions composed of other ops, checked here too */
  A l = {.f = f_logsumexp, .d0 = 1};
  gradcheck("logsumexp dim 1", &l, 1, &x, 1);
  l.d0 = NN_ALL; l.keep = true;
  gradcheck("logsumexp all, keepdim", &l, 1, &x, 1);
  const double ps[] = {2, 1, 3, 0.5, INFINITY, -INFINITY};
  for (int i = 0; i < 6; i++) {
    char label[64];
    A nm = {.f = f_norm, .s0 = ps[i], .d0 = i % 2 ? -1 : NN_ALL};
    snprintf(label, sizeof label, "norm p=%g dim %d", ps[i], nm.d0);
    gradcheck(label, &nm, 1, &x, 1);
  }
  const char *names[] = {"sort values", "topk values", "kthvalue values", "median values", "cummax values"};
  for (int i = 0; i < 5; i++) {
    A sv = {.f = f_sortv, .n = i, .d0 = -1, .keep = i == 1};
    gradcheck(names[i], &sv, 1, &x, 1);
  }
  nn_tensor_release(x);
}
static void c_cumprod(void) {
  nn_tensor *x = MK(2, 0.5, 1.5, true, 3, 5);
  A a = {.f = f_scan, .n = 1, .d0 = 1};
  gradcheck("cumprod dim 1", &a, 1, &x, 1);
  a.d0 = 0;
  gradcheck("cumprod dim 0", &a, 1, &x, 1);
  /* zeros: one in row 0, two in row 1 (the gradient is exact there, as PyTorch's) */
  double *p = nn_tensor_data(x);
  p[2] = 0; p[6] = 0; p[8] = 0;
  a.d0 = 1;
  gradcheck("cumprod dim 1 with zeros", &a, 1, &x, 1);
  nn_tensor_release(x);
}
/* ---- end of B's cases ---- */

/* ---- sequence models (ops_rnn.c) ---- */
static nn_status f_embedding(nn_tensor **in, const A *a, nn_tensor **out) { return nn_embedding(C, in[0], in[1], a->d0, out); }
static void c_embedding(void) {
  nn_tensor *in[2] = {mki2(2, 3, SH(1, 4, 1, 0, 2, 1)), MK(2, 0.1, 2, true, 5, 3)};
  A a = {.f = f_embedding, .d0 = -1};
  gradcheck("embedding (repeated ids)", &a, 2, in, 2);
  a.d0 = 3;   /* (the padding row's own gradient is zero by design: rnn_spec checks it) */
  gradcheck("embedding with padding_idx 3 (no id uses it)", &a, 2, in, 2);
  release_all(2, in);
}
/* in: gx, w_hh, b_hh, h0, c0; a->n: bit i set when optional input 2 + i is given */
static nn_status f_rnn_seq(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_rnn_seq(C, (nn_rnn_mode)a->d0, in[0], in[1], a->n & 1 ? in[2] : NULL,
                    a->n & 2 ? in[3] : NULL, a->n & 4 ? in[4] : NULL, a->d1, out);
}
static void c_rnn_seq(void) {
  static const struct { nn_rnn_mode mode; int gates, opt, reverse; const char *label; } rows[] = {
    {NN_RNN_LSTM, 4, 7, 0, "rnn_seq lstm with b_hh, h0, c0"},
    {NN_RNN_LSTM, 4, 0, 1, "rnn_seq lstm reverse, no b_hh or states"},
    {NN_RNN_GRU, 3, 3, 1, "rnn_seq gru reverse with b_hh, h0"},
    {NN_RNN_GRU, 3, 0, 0, "rnn_seq gru, no b_hh or h0"},
    {NN_RNN_TANH, 1, 3, 0, "rnn_seq rnn_tanh with b_hh, h0"},
    {NN_RNN_RELU, 1, 2, 1, "rnn_seq rnn_relu reverse with h0"},
    {NN_RNN_LSTM, 4, 7, 1, "rnn_seq lstm reverse with b_hh, h0, c0"},
    {NN_RNN_LSTM, 4, 2, 0, "rnn_seq lstm with h0 only (c0 zeros)"},
    {NN_RNN_LSTM, 4, 5, 1, "rnn_seq lstm reverse with b_hh, c0 only (h0 zeros)"},
    {NN_RNN_GRU, 3, 2, 0, "rnn_seq gru with h0, no b_hh"},
    {NN_RNN_TANH, 1, 0, 1, "rnn_seq rnn_tanh reverse, no b_hh or h0"},
    {NN_RNN_RELU, 1, 1, 0, "rnn_seq rnn_relu with b_hh, no h0"},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    int64_t G = rows[r].gates;
    nn_tensor *in[5] = {MK(3, 0.1, 1, true, 3, 2, G * 2), MK(2, 0.1, 0.8, true, G * 2, 2),
                        MK(1, 0.1, 0.5, true, G * 2), MK(2, 0.1, 1, true, 2, 2),
                        MK(2, 0.1, 1, true, 2, 2)};
    A a = {.f = f_rnn_seq, .d0 = rows[r].mode, .d1 = rows[r].reverse, .n = rows[r].opt};
    gradcheck(rows[r].label, &a, 5, in, 3u | (unsigned)rows[r].opt << 2);
    release_all(5, in);
  }
}

#include "grad_linalg.h"   /* inv, det, solve, cholesky, bmm..., einsum, norms (issue 13) */
#include "grad_norm.h"     /* normalization, average/adaptive pooling, interpolation (issue 14) */

/* ---- shape vocabulary (ops_layout.c; diagonal is an op of its own, the others compose ops) ---- */
static nn_status f_diagonal(nn_tensor **in, const A *a, nn_tensor **out) { return nn_diagonal(C, in[0], a->n, a->d0, a->d1, out); }
static nn_status f_split2(nn_tensor **in, const A *a, nn_tensor **out) {   /* the second of two pieces */
  nn_tensor *p[2];
  int64_t sizes[2] = {a->n, nn_tensor_shape(in[0])[a->d0 < 0 ? nn_tensor_ndim(in[0]) + a->d0 : a->d0] - a->n};
  nn_status s = nn_split(C, in[0], a->d0, 2, sizes, p);
  if (s) return s;
  nn_tensor_release(p[0]);
  *out = p[1];
  return NN_OK;
}
static nn_status f_flip(nn_tensor **in, const A *a, nn_tensor **out) { return nn_flip(C, in[0], a->nd, a->dims, out); }
static nn_status f_roll(nn_tensor **in, const A *a, nn_tensor **out) { return nn_roll(C, in[0], a->nd, a->shape, a->keep ? NULL : a->dims, out); }
static nn_status f_tile(nn_tensor **in, const A *a, nn_tensor **out) { return nn_tile(C, in[0], a->nd, a->shape, out); }
static nn_status f_repint(nn_tensor **in, const A *a, nn_tensor **out) { return nn_repeat_interleave(C, in[0], a->n, a->keep ? in[1] : NULL, a->d0, out); }
static nn_status f_tri(nn_tensor **in, const A *a, nn_tensor **out) { return (a->keep ? nn_triu : nn_tril)(C, in[0], a->n, out); }
static nn_status f_diag(nn_tensor **in, const A *a, nn_tensor **out) { return nn_diag(C, in[0], a->n, out); }
static nn_status f_trace(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_trace(C, in[0], out); }
static nn_status f_movedim(nn_tensor **in, const A *a, nn_tensor **out) { return nn_movedim(C, in[0], a->nd, a->dims, a->dims + 4, out); }
static nn_status f_meshgrid(nn_tensor **in, const A *a, nn_tensor **out) {   /* grid 1 * grid 2 */
  nn_tensor *g[2];
  nn_status s = nn_meshgrid(C, 2, in, a->keep, g);
  if (s) return s;
  s = nn_mul(C, g[0], g[1], out);
  nn_tensor_release(g[0]); nn_tensor_release(g[1]);
  return s;
}
static nn_status f_pad(nn_tensor **in, const A *a, nn_tensor **out) { return nn_pad(C, in[0], a->nd, a->shape, (nn_pad_mode)a->d0, a->s0, out); }
static void c_diagonal(void) {
  nn_tensor *x = MK(3, 0.1, 2, true, 3, 4, 2), *m = MK(2, 0.1, 2, true, 4, 3), *v = MK(1, 0.1, 2, true, 3);
  A a = {.f = f_diagonal, .n = 1, .d0 = 0, .d1 = 1};
  gradcheck("diagonal offset 1 dims 0,1", &a, 1, &x, 1);
  a.n = -1; a.d0 = -1; a.d1 = 0;
  gradcheck("diagonal offset -1 dims -1,0", &a, 1, &x, 1);
  a = (A){.f = f_split2, .d0 = 1, .n = 1};
  gradcheck("split [3,4,2] dim 1 into 1, 3", &a, 1, &x, 1);
  a = (A){.f = f_flip, .nd = 2, .dims = {0, -1}};
  gradcheck("flip dims 0, -1", &a, 1, &x, 1);
  a = (A){.f = f_roll, .nd = 2, .shape = {1, -3}, .dims = {1, 0}};
  gradcheck("roll shifts 1, -3 dims 1, 0", &a, 1, &x, 1);
  a = (A){.f = f_roll, .nd = 1, .shape = {5}, .keep = true};
  gradcheck("roll flattened by 5", &a, 1, &x, 1);
  a = (A){.f = f_tile, .nd = 4, .shape = {2, 1, 2, 3}};
  gradcheck("tile [3,4,2] by 2,1,2,3", &a, 1, &x, 1);
  a = (A){.f = f_repint, .n = 2, .d0 = 1};
  gradcheck("repeat_interleave 2 dim 1", &a, 1, &x, 1);
  nn_tensor *in[2] = {m, mki(3, (const int64_t[]){2, 0, 3})};
  a = (A){.f = f_repint, .d0 = -1, .keep = true};
  gradcheck("repeat_interleave {2, 0, 3} dim -1", &a, 2, in, 1);
  a = (A){.f = f_tri, .n = -1};
  gradcheck("tril -1", &a, 1, &x, 1);
  a = (A){.f = f_tri, .n = 1, .keep = true};
  gradcheck("triu 1", &a, 1, &m, 1);
  a = (A){.f = f_diag, .n = 0};
  gradcheck("diag of a matrix", &a, 1, &m, 1);
  a.n = -2;
  gradcheck("diag of a vector, offset -2", &a, 1, &v, 1);
  a.n = 1;
  gradcheck("diag of a vector, offset 1", &a, 1, &v, 1);
  a = (A){.f = f_trace};
  gradcheck("trace", &a, 1, &m, 1);
  a = (A){.f = f_movedim, .nd = 2, .dims = {0, 2, 0, 0, 2, 0}};
  gradcheck("movedim {0, 2} -> {2, 0}", &a, 1, &x, 1);
  nn_tensor *g[2] = {v, MK(1, 0.1, 2, true, 2)};
  a = (A){.f = f_meshgrid};
  gradcheck("meshgrid ij", &a, 2, g, 3);
  a.keep = true;
  gradcheck("meshgrid xy", &a, 2, g, 3);
  static const int modes[] = {NN_PAD_CONSTANT, NN_PAD_REFLECT, NN_PAD_REPLICATE, NN_PAD_CIRCULAR};
  for (int k = 0; k < 4; k++) {
    char label[64];
    a = (A){.f = f_pad, .nd = 4, .shape = {1, 1, 2, -1}, .d0 = modes[k], .s0 = 0.5};
    snprintf(label, sizeof label, "pad mode %d {1, 1, 2, -1}", k);
    gradcheck(label, &a, 1, &x, 1);
  }
  nn_tensor_release(x); nn_tensor_release(m); nn_tensor_release(v);
  nn_tensor_release(in[1]); nn_tensor_release(g[1]);
}

static const struct { const char *op; void (*run)(void); } cases[] = {
  {"diagonal", c_diagonal},
  {"inv", c_inv}, {"det", c_det}, {"solve", c_solve}, {"cholesky", c_cholesky}, {"svdvals", c_svdvals},
  {"linalg_composites", linalg_composites},
  {"embedding", c_embedding}, {"rnn_seq", c_rnn_seq},
  {"adds", c_adds}, {"muls", c_muls}, {"rsubs", c_rsubs}, {"rdivs", c_rdivs}, {"pows", c_pows},
  {"leaky_relu", c_leaky_relu}, {"clamp", c_clamp}, {"where", c_where},
  {"hardtanh", c_hardtanh}, {"softplus", c_softplus}, {"nan_to_num", c_nan_to_num},
  {"lerp", c_lerp},
  {"sum", c_sum}, {"mean", c_mean}, {"prod", c_prod}, {"var", c_var}, {"std", c_std},
  {"max", c_max}, {"min", c_min},
  {"index_select", c_index_select}, {"cat", c_cat}, {"stack", c_stack},
  {"matmul", c_matmul}, {"linear", c_linear}, {"linear_relu", c_linear_relu}, {"addmm", c_addmm},
  {"conv2d", c_conv2d}, {"conv_transpose2d", c_conv_transpose2d}, {"max_pool2d", c_max_pool2d},
  {"batch_norm", c_batch_norm}, {"layer_norm", c_layer_norm}, {"group_norm", c_group_norm},
  {"avg_pool", c_avg_pool}, {"adaptive_avg_pool", c_adaptive_avg_pool},
  {"adaptive_max_pool", c_adaptive_max_pool}, {"interpolate", c_interpolate},
  {"softmax", c_softmax}, {"log_softmax", c_log_softmax}, {"dropout", c_dropout},
  {"cross_entropy", c_cross_entropy}, {"nll_loss", c_nll_loss},
  {"binary_cross_entropy", c_bce}, {"bce_with_logits", c_bce_logits},
  {"mse_loss", c_mse}, {"l1_loss", c_l1},
  {"view", c_view}, {"transpose", c_transpose}, {"permute", c_permute}, {"narrow", c_narrow},
  {"select", c_select}, {"expand", c_expand}, {"clone", c_clone}, {"to", c_to},
  {"gather", c_gather}, {"scatter", c_scatter}, {"masked_select", c_masked_select},
  {"masked_scatter", c_masked_scatter}, {"cumsum", c_cumsum}, {"cumprod", c_cumprod},
  /* (B's cases end) */
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

int main(int argc, char **argv) {
  (void)argc; (void)argv;
  C = nn_ctx_new(check_alloc, &heap);
  if (!C) { printf("no context\n"); return 1; }
  /* every op in the list has a case */
  int nops = nn_op_count();
  CHECKF(nops > 40, "only %d ops listed", nops);
  CHECKF(nn_op_name(-1) == NULL && nn_op_name(nops) == NULL, "op_name out of range is not NULL");
  for (int i = 0; i < nops; i++) {
    const char *name = nn_op_name(i);
    bool found = false;
    for (int k = 0; k < NCASES && !found; k++) found = strcmp(cases[k].op, name) == 0;
    for (int k = 0; k < NUNARY && !found; k++) found = strcmp(unary_rows[k].op, name) == 0;
    for (int k = 0; k < NBINARY && !found; k++) found = strcmp(binary_rows[k].op, name) == 0;
    CHECKF(found, "op '%s' has no gradient case", name);
  }
  const char *only = getenv("GRAD_ONLY");
  for (int k = 0; k < NCASES; k++)
    if (!only || strcmp(only, cases[k].op) == 0) cases[k].run();
  for (int k = 0; k < NBINARY; k++)
    if (!only || strcmp(only, binary_rows[k].op) == 0) binary_case(k);
  for (int k = 0; k < NUNARY; k++)
    if (!only || strcmp(only, unary_rows[k].op) == 0) unary_case(k);
  check_sin_cos();
  nn_ctx_free(C);
  CHECKF(heap.live == 0, "%ld allocations leaked", heap.live);
  return check_report("test_grad");
}
