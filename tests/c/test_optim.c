/*
** test_optim.c — the optimizers against hand-written update formulas in float64 over several
** steps (every option), a few hand-derived numbers, parameter groups, state access and
** set_state round trips, zero allocations per step once state exists, every error path with
** its message, and out-of-memory at every allocation.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn.h"
#include "nn_internal.h"

enum { N = 6 };

static nn_tensor *param(nn_ctx *ctx, nn_dtype dt, int n, const double *v) {
  int64_t shape[1] = {n};
  nn_tensor *t = NULL;
  OK(nn_zeros(ctx, dt, 1, shape, &t));
  for (int i = 0; i < n; i++) {
    if (dt == NN_F32) ((float *)nn_tensor_data(t))[i] = (float)v[i];
    else ((double *)nn_tensor_data(t))[i] = v[i];
  }
  OK(nn_tensor_set_requires_grad(ctx, t, true));
  return t;
}

/* gives t a zero grad buffer and returns its data */
static double *grad_buffer(nn_ctx *ctx, nn_tensor *t) {
  nn_tensor *g = NULL;
  OK(nn_zeros(ctx, NN_F64, nn_tensor_ndim(t), nn_tensor_shape(t), &g));
  OK(nn_tensor_set_grad(ctx, t, g));
  nn_tensor_release(g);
  return nn_tensor_data(nn_tensor_grad(t));
}

/* the gradient fed at step t: depends on the current parameter, changes sign across steps */
static double gradient(int t, int i, double p) { return sin(1.3 * i + 0.7 * t) + 0.5 * p; }

/* ---- reference rules, written from PyTorch's documented algorithms -------------------- */

typedef struct { double a[N], b[N], c[N]; } refstate; /* the per-kind state */

static void ref_step(nn_optim_kind k, const nn_optim_opts *o, int t, double *p, const double *grad,
                     refstate *s) {
  for (int i = 0; i < N; i++) {
    double g = o->maximize ? -grad[i] : grad[i];
    switch (k) {
    case NN_SGD: {
      if (o->weight_decay != 0) g = g + o->weight_decay * p[i];
      if (o->momentum != 0) {
        double *b = &s->a[i];
        if (t > 1) *b = o->momentum * *b + (1 - o->dampening) * g;
        else *b = g;
        if (o->nesterov) g = g + o->momentum * *b;
        else g = *b;
      }
      p[i] = p[i] - o->lr * g;
      break;
    }
    case NN_ADAM:
    case NN_ADAMW: {
      if (k == NN_ADAMW) p[i] = p[i] - o->lr * o->weight_decay * p[i];
      else if (o->weight_decay != 0) g = g + o->weight_decay * p[i];
      double *m = &s->a[i], *v = &s->b[i], *vmax = &s->c[i];
      *m = o->beta1 * *m + (1 - o->beta1) * g;
      *v = o->beta2 * *v + (1 - o->beta2) * g * g;
      double vv = *v;
      if (o->amsgrad) {
        *vmax = *vmax > *v ? *vmax : *v;
        vv = *vmax;
      }
      double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
      if (o->eps_inside) { /* sklearn: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) */
        double lr_t = o->lr * sqrt(bc2) / bc1;
        p[i] = p[i] - lr_t * *m / (sqrt(vv) + o->eps);
      } else {
        double mhat = *m / bc1, vhat = vv / bc2;
        p[i] = p[i] - o->lr * mhat / (sqrt(vhat) + o->eps);
      }
      break;
    }
    case NN_RMSPROP: {
      if (o->weight_decay != 0) g = g + o->weight_decay * p[i];
      double *v = &s->a[i], *b = &s->b[i], *gave = &s->c[i];
      *v = o->alpha * *v + (1 - o->alpha) * g * g;
      double vt = *v;
      if (o->centered) {
        *gave = *gave * o->alpha + (1 - o->alpha) * g;
        vt = vt - *gave * *gave;
      }
      if (o->momentum > 0) {
        *b = o->momentum * *b + g / (sqrt(vt) + o->eps);
        p[i] = p[i] - o->lr * *b;
      } else {
        p[i] = p[i] - o->lr * g / (sqrt(vt) + o->eps);
      }
      break;
    }
    case NN_ADAGRAD: {
      if (t == 1) s->a[i] = o->initial_accumulator_value;
      if (o->weight_decay != 0) g = g + o->weight_decay * p[i];
      double clr = o->lr / (1 + (t - 1) * o->lr_decay);
      s->a[i] = s->a[i] + g * g;
      p[i] = p[i] - clr * g / (sqrt(s->a[i]) + o->eps);
      break;
    }
    }
  }
}

/* Runs `steps` steps of the optimizer and of the reference on the same float64 parameter
   and returns the largest relative difference seen. */
static double compare(nn_optim_kind k, const nn_optim_opts *o, int steps) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  double ref[N] = {0.5, -1.25, 2.0, 0.0, -0.3, 1.7}, grad[N];
  nn_tensor *p = param(ctx, NN_F64, N, ref);
  double *pd = nn_tensor_data(p), *gd = grad_buffer(ctx, p);
  nn_optim *opt = NULL;
  OK(nn_optim_new(ctx, nn_optim_kind_name(k), &opt));
  OK(nn_optim_add_group_opts(ctx, opt, 1, &p, o));
  refstate s;
  memset(&s, 0, sizeof s);
  double worst = 0;
  for (int t = 1; t <= steps; t++) {
    for (int i = 0; i < N; i++) grad[i] = gd[i] = gradient(t, i, pd[i]);
    ref_step(k, o, t, ref, grad, &s);
    OK(nn_optim_step(ctx, opt));
    CHECK(nn_optim_param_step(opt, 0) == t);
    for (int i = 0; i < N; i++) {
      double d = fabs(pd[i] - ref[i]) / (1 + fabs(ref[i]));
      if (!(d <= worst)) worst = d; /* NaN sticks */
    }
  }
  nn_optim_free(opt);
  nn_tensor_release(p);
  nn_ctx_free(ctx);
  return worst;
}

static nn_optim_opts defaults(nn_optim_kind k) {
  nn_optim_opts o;
  nn_optim_defaults(k, &o);
  return o;
}

static void test_rules(void) {
  struct { const char *what; nn_optim_kind k; nn_optim_opts o; } cases[32];
  int n = 0;
#define CASE(name, kind, ...) do { cases[n].what = name; cases[n].k = kind; \
    cases[n].o = defaults(kind); { nn_optim_opts *o = &cases[n].o; __VA_ARGS__; } n++; } while (0)
  CASE("sgd", NN_SGD, o->lr = 0.1);
  CASE("sgd momentum", NN_SGD, o->lr = 0.1; o->momentum = 0.9);
  CASE("sgd momentum dampening wd", NN_SGD, o->lr = 0.05; o->momentum = 0.8; o->dampening = 0.3;
       o->weight_decay = 0.01);
  CASE("sgd nesterov", NN_SGD, o->lr = 0.1; o->momentum = 0.9; o->nesterov = true);
  CASE("sgd nesterov wd maximize", NN_SGD, o->lr = 0.1; o->momentum = 0.5; o->nesterov = true;
       o->weight_decay = 0.1; o->maximize = true);
  CASE("adam", NN_ADAM, o->lr = 0.01);
  CASE("adam wd amsgrad", NN_ADAM, o->lr = 0.02; o->weight_decay = 0.05; o->amsgrad = true;
       o->beta1 = 0.8; o->beta2 = 0.9);
  CASE("adam maximize", NN_ADAM, o->lr = 0.01; o->maximize = true);
  CASE("adam eps_inside", NN_ADAM, o->lr = 0.01; o->eps_inside = true; o->eps = 1e-3);
  CASE("adam eps_inside amsgrad", NN_ADAM, o->lr = 0.01; o->eps_inside = true; o->amsgrad = true);
  CASE("adamw", NN_ADAMW, o->lr = 0.01);
  CASE("adamw wd amsgrad", NN_ADAMW, o->lr = 0.05; o->weight_decay = 0.3; o->amsgrad = true);
  CASE("adamw eps_inside", NN_ADAMW, o->lr = 0.05; o->weight_decay = 0.1; o->eps_inside = true);
  CASE("rmsprop", NN_RMSPROP, o->lr = 0.01);
  CASE("rmsprop centered", NN_RMSPROP, o->lr = 0.01; o->centered = true; o->alpha = 0.9);
  CASE("rmsprop momentum wd", NN_RMSPROP, o->lr = 0.01; o->momentum = 0.9; o->weight_decay = 0.1);
  CASE("rmsprop all", NN_RMSPROP, o->lr = 0.003; o->momentum = 0.5; o->centered = true;
       o->weight_decay = 0.2; o->maximize = true; o->eps = 1e-4);
  CASE("adagrad", NN_ADAGRAD, o->lr = 0.1);
  CASE("adagrad decay wd init", NN_ADAGRAD, o->lr = 0.1; o->lr_decay = 0.5; o->weight_decay = 0.1;
       o->initial_accumulator_value = 0.25);
  CASE("adagrad maximize", NN_ADAGRAD, o->lr = 0.1; o->maximize = true; o->eps = 1e-3);
#undef CASE
  for (int i = 0; i < n; i++) {
    double d = compare(cases[i].k, &cases[i].o, 7);
    check_total++;
    if (!(d < 1e-13)) {
      check_failures++;
      fprintf(stderr, "rule '%s': relative difference %g from the reference\n", cases[i].what, d);
    }
  }
}

/* ---- hand-derived numbers ------------------------------------------------------------ */

/* One parameter [p0] with a constant gradient g, `steps` steps; returns p. */
static double scalar_run(nn_optim_kind k, const nn_optim_opts *o, double p0, double g, int steps,
                         nn_dtype dt) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  nn_tensor *p = param(ctx, dt, 1, &p0);
  nn_tensor *gt = NULL;
  int64_t one = 1;
  OK(nn_full(ctx, dt, 1, &one, g, &gt));
  OK(nn_tensor_set_grad(ctx, p, gt));
  nn_tensor_release(gt);
  nn_optim *opt = NULL;
  OK(nn_optim_new(ctx, nn_optim_kind_name(k), &opt));
  OK(nn_optim_add_group_opts(ctx, opt, 1, &p, o));
  for (int t = 0; t < steps; t++) OK(nn_optim_step(ctx, opt));
  double v = 0;
  int64_t idx[1] = {0};
  OK(nn_tensor_get(ctx, p, idx, &v));
  nn_optim_free(opt);
  nn_tensor_release(p);
  nn_ctx_free(ctx);
  return v;
}

static void test_hand(void) {
  nn_optim_opts o = defaults(NN_SGD);
  o.lr = 0.1;
  CHECK_REL(scalar_run(NN_SGD, &o, 1, 0.5, 1, NN_F64), 0.95, 1e-15);
  o.momentum = 0.9; /* b1 = 1, p = 0.9; b2 = 1.9, p = 0.71 */
  CHECK_REL(scalar_run(NN_SGD, &o, 1, 1, 2, NN_F64), 0.71, 1e-15);
  o.nesterov = true; /* d1 = 1 + 0.9 = 1.9, p = 0.81; b2 = 1.9, d2 = 1 + 1.71, p = 0.539 */
  CHECK_REL(scalar_run(NN_SGD, &o, 1, 1, 2, NN_F64), 0.539, 1e-15);
  o = defaults(NN_ADAM); /* m̂ = g, v̂ = g²: each step moves lr·g/(|g| + eps) */
  o.lr = 0.1;
  CHECK_REL(scalar_run(NN_ADAM, &o, 1, 0.5, 2, NN_F64), 1 - 2 * 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  CHECK_REL(scalar_run(NN_ADAM, &o, 1, 0.5, 2, NN_F32), 1 - 2 * 0.1 * 0.5 / (0.5 + 1e-8), 1e-7);
  o = defaults(NN_ADAMW); /* p·(1 - lr·wd) first: 0.99, then - 0.1·0.5/(0.5 + 1e-8) */
  o.lr = 0.1;
  o.weight_decay = 0.1;
  CHECK_REL(scalar_run(NN_ADAMW, &o, 1, 0.5, 1, NN_F64), 0.99 - 0.05 / (0.5 + 1e-8), 1e-15);
  o = defaults(NN_ADAM); /* sklearn: lr·sqrt(1-b2)/(1-b1) · (1-b1)g / (sqrt((1-b2)g²) + eps) */
  o.lr = 0.1;
  o.eps_inside = true;
  CHECK_REL(scalar_run(NN_ADAM, &o, 1, 0.5, 1, NN_F64),
            1 - 0.1 * sqrt(0.001) * 0.5 / (sqrt(0.001) * 0.5 + 1e-8), 1e-15);
  o = defaults(NN_RMSPROP); /* v = 0.01·1, p -= 0.01·1/(0.1 + 1e-8) */
  CHECK_REL(scalar_run(NN_RMSPROP, &o, 1, 1, 1, NN_F64), 1 - 0.01 / (0.1 + 1e-8), 1e-15);
  o = defaults(NN_ADAGRAD); /* sum = 4, p -= 0.01·2/(2 + 1e-10) */
  CHECK_REL(scalar_run(NN_ADAGRAD, &o, 1, 2, 1, NN_F64), 1 - 0.02 / (2 + 1e-10), 1e-15);
}

/* ---- defaults, groups, state ---------------------------------------------------------- */

static void test_defaults(void) {
  nn_optim_opts o = defaults(NN_SGD);
  CHECK(o.lr == 1e-3 && o.momentum == 0 && o.dampening == 0 && !o.nesterov && o.weight_decay == 0);
  o = defaults(NN_ADAM);
  CHECK(o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8 && o.weight_decay == 0
        && !o.amsgrad && !o.eps_inside && !o.maximize);
  o = defaults(NN_ADAMW);
  CHECK(o.lr == 1e-3 && o.weight_decay == 1e-2 && o.eps == 1e-8);
  o = defaults(NN_RMSPROP);
  CHECK(o.lr == 1e-2 && o.alpha == 0.99 && o.eps == 1e-8 && o.momentum == 0 && !o.centered);
  o = defaults(NN_ADAGRAD);
  CHECK(o.lr == 1e-2 && o.eps == 1e-10 && o.lr_decay == 0 && o.initial_accumulator_value == 0);
}

static void test_groups_and_state(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  double v[3] = {1, 2, 3};
  nn_tensor *a = param(ctx, NN_F64, 3, v), *b = param(ctx, NN_F64, 2, v), *c = param(ctx, NN_F32, 1, v);
  double *ga = grad_buffer(ctx, a);
  nn_tensor *gb = NULL;
  int64_t two = 2;
  OK(nn_full(ctx, NN_F64, 1, &two, 1.0, &gb));
  OK(nn_tensor_set_grad(ctx, b, gb));
  nn_tensor_release(gb);
  for (int i = 0; i < 3; i++) ga[i] = 1;
  /* c has no grad: skipped */
  nn_optim *opt = NULL;
  OK(nn_optim_new(ctx, nn_optim_kind_name(NN_ADAM), &opt));
  nn_optim_opts o1 = defaults(NN_ADAM), o2 = defaults(NN_ADAM);
  o1.lr = 0.1;
  o2.lr = 0.01;
  OK(nn_optim_add_group_opts(ctx, opt, 1, &a, &o1));
  nn_tensor *g2[2] = {b, c};
  OK(nn_optim_add_group_opts(ctx, opt, 2, g2, &o2));
  CHECK(nn_optim_num_groups(opt) == 2 && nn_optim_num_params(opt) == 3);
  CHECK(nn_optim_group_size(opt, 0) == 1 && nn_optim_group_size(opt, 1) == 2);
  CHECK(nn_optim_group_size(opt, 2) == 0 && nn_optim_group_opts(opt, -2) == NULL);
  CHECK(nn_optim_group_param(opt, 1, 1) == c && nn_optim_group_param(opt, 1, 2) == NULL);
  CHECK(nn_optim_kind_of(opt) == NN_ADAM);
  const char *const *names;
  CHECK(nn_optim_state_names(opt, &names) == 3);
  CHECK(strcmp(names[0], "exp_avg") == 0 && strcmp(names[1], "exp_avg_sq") == 0 &&
        strcmp(names[2], "max_exp_avg_sq") == 0);
  CHECK(nn_optim_state(opt, 0, "exp_avg") == NULL); /* lazily made */
  OK(nn_optim_step(ctx, opt));
  double *pa = nn_tensor_data(a), *pb = nn_tensor_data(b);
  CHECK_REL(pa[0], 1 - 0.1 / (1 + 1e-8), 1e-15);  /* group 1: lr 0.1 */
  CHECK_REL(pb[0], 1 - 0.01 / (1 + 1e-8), 1e-15); /* group 2: lr 0.01 */
  CHECK(((float *)nn_tensor_data(c))[0] == 1.0f);   /* no grad: untouched */
  CHECK(nn_optim_param_step(opt, 0) == 1 && nn_optim_param_step(opt, 2) == 0);
  CHECK(nn_optim_state(opt, 2, "exp_avg") == NULL);
  CHECK(nn_optim_state(opt, 0, "max_exp_avg_sq") == NULL); /* amsgrad off */
  CHECK(nn_optim_state(opt, 0, "nope") == NULL && nn_optim_state(opt, 7, "exp_avg") == NULL);
  nn_tensor *m = nn_optim_state(opt, 0, "exp_avg");
  CHECK(m && nn_tensor_numel(m) == 3 && nn_tensor_dtype(m) == NN_F64);
  CHECK_REL(((double *)nn_tensor_data(m))[1], 0.1, 1e-15);
  /* a schedule changes a group's lr through the modifiable options */
  nn_optim_group_opts(opt, 0)->lr = 0;
  double before = pa[0];
  OK(nn_optim_step(ctx, opt));
  CHECK(pa[0] == before && nn_optim_param_step(opt, 0) == 2);
  CHECK(nn_tensor_version(a) >= 2);

  /* set_state round trip: a second optimizer given this state steps identically */
  nn_tensor *a2 = NULL;
  OK(nn_clone(ctx, a, &a2));
  nn_tensor *a2d = NULL;
  OK(nn_detach(ctx, a2, &a2d)); /* a leaf copy */
  nn_tensor_release(a2);
  OK(nn_tensor_set_grad(ctx, a2d, nn_tensor_grad(a)));
  nn_optim *opt2 = NULL;
  OK(nn_optim_new(ctx, nn_optim_kind_name(NN_ADAM), &opt2));
  OK(nn_optim_add_group_opts(ctx, opt2, 1, &a2d, &o1));
  OK(nn_optim_set_state(ctx, opt2, 0, "exp_avg", nn_optim_state(opt, 0, "exp_avg")));
  OK(nn_optim_set_state(ctx, opt2, 0, "exp_avg_sq", nn_optim_state(opt, 0, "exp_avg_sq")));
  OK(nn_optim_set_param_step(ctx, opt2, 0, nn_optim_param_step(opt, 0)));
  CHECK(nn_optim_state(opt2, 0, "exp_avg") != nn_optim_state(opt, 0, "exp_avg")); /* copied */
  nn_optim_group_opts(opt, 0)->lr = 0.1;
  OK(nn_optim_step(ctx, opt));
  OK(nn_optim_step(ctx, opt2));
  for (int i = 0; i < 3; i++) CHECK(((double *)nn_tensor_data(a2d))[i] == pa[i]);
  CHECK(nn_optim_param_step(opt2, 0) == 3);
  /* set_state converts dtypes: float32 state for the float64 parameter */
  nn_tensor *f = NULL;
  int64_t three = 3;
  OK(nn_full(ctx, NN_F32, 1, &three, 0.5, &f));
  OK(nn_optim_set_state(ctx, opt2, 0, "exp_avg", f));
  CHECK(nn_tensor_dtype(nn_optim_state(opt2, 0, "exp_avg")) == NN_F64);
  CHECK(((double *)nn_tensor_data(nn_optim_state(opt2, 0, "exp_avg")))[2] == 0.5);
  OK(nn_optim_set_state(ctx, opt2, 0, "exp_avg", NULL)); /* removes */
  CHECK(nn_optim_state(opt2, 0, "exp_avg") == NULL);
  OK(nn_optim_step(ctx, opt2)); /* recreated as zeros */
  CHECK(nn_optim_state(opt2, 0, "exp_avg") != NULL);
  nn_tensor_release(f);

  /* zero_grad keeps the buffers and zeroes them */
  nn_optim_zero_grad(opt);
  CHECK(nn_tensor_grad(a) != NULL && ga[0] == 0 && ga[2] == 0);
  CHECK(nn_tensor_grad(c) == NULL);

  nn_optim_free(opt2);
  nn_optim_free(opt);
  nn_optim_free(NULL);
  nn_tensor_release(a2d);
  nn_tensor_release(a);
  nn_tensor_release(b);
  nn_tensor_release(c);
  nn_ctx_free(ctx);
}

/* Adagrad's "sum" exists from the start, filled with initial_accumulator_value. */
static void test_adagrad_state(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  double v[2] = {1, 2};
  nn_tensor *p = param(ctx, NN_F32, 2, v);
  nn_optim *opt = NULL;
  nn_optim_opts o = defaults(NN_ADAGRAD);
  o.initial_accumulator_value = 0.5;
  OK(nn_optim_new(ctx, nn_optim_kind_name(NN_ADAGRAD), &opt));
  OK(nn_optim_add_group_opts(ctx, opt, 1, &p, &o));
  nn_tensor *s = nn_optim_state(opt, 0, "sum");
  CHECK(s && nn_tensor_dtype(s) == NN_F32 && ((float *)nn_tensor_data(s))[1] == 0.5f);
  CHECK(nn_optim_param_step(opt, 0) == 0);
  nn_optim_free(opt);
  nn_tensor_release(p);
  nn_ctx_free(ctx);
}

/* ---- steady state: no allocator calls, no storage growth ------------------------------ */

static void test_no_alloc(void) {
  static const nn_optim_kind kinds[] = {NN_SGD, NN_ADAM, NN_ADAMW, NN_RMSPROP, NN_ADAGRAD};
  for (int ki = 0; ki < 5; ki++) {
    for (int dt = 0; dt < 2; dt++) {
      nn_ctx *ctx = nn_ctx_new(NULL, NULL);
      int64_t shape[2] = {40, 25};
      nn_tensor *p = NULL, *g = NULL;
      OK(nn_randn(ctx, NULL, (nn_dtype)dt, 2, shape, &p));
      OK(nn_randn(ctx, NULL, (nn_dtype)dt, 2, shape, &g));
      OK(nn_tensor_set_requires_grad(ctx, p, true));
      OK(nn_tensor_set_grad(ctx, p, g));
      nn_tensor_release(g);
      nn_optim_opts o = defaults(kinds[ki]);
      o.momentum = 0.9;
      o.amsgrad = true;
      o.centered = true;
      o.weight_decay = 0.01;
      nn_optim *opt = NULL;
      OK(nn_optim_new(ctx, nn_optim_kind_name(kinds[ki]), &opt));
      OK(nn_optim_add_group_opts(ctx, opt, 1, &p, &o));
      for (int i = 0; i < 3; i++) OK(nn_optim_step(ctx, opt));
      uint64_t calls = nn_ctx_alloc_calls(ctx);
      size_t bytes = nn_ctx_bytes_in_use(ctx);
      for (int i = 0; i < 100; i++) OK(nn_optim_step(ctx, opt));
      nn_optim_zero_grad(opt);
      CHECK(nn_ctx_alloc_calls(ctx) == calls);
      CHECK(nn_ctx_bytes_in_use(ctx) == bytes);
      CHECK(nn_optim_param_step(opt, 0) == 103);
      nn_optim_free(opt);
      nn_tensor_release(p);
      nn_ctx_free(ctx);
    }
  }
}

/* A step after zero_grad_deferred (nothing else holds the grads: the fill waits) is the step
   with gradients of zeros set explicitly, for every kind: the same bits */
static void test_step_after_zero_grad(void) {
  static const nn_optim_kind kinds[] = {NN_SGD, NN_ADAM, NN_ADAMW, NN_RMSPROP, NN_ADAGRAD};
  for (int ki = 0; ki < 5; ki++) {
    nn_ctx *ctx = nn_ctx_new(NULL, NULL);
    int64_t shape[2] = {7, 5};
    nn_tensor *p[2], *g, *z;
    nn_optim *opt[2];
    nn_optim_opts o = defaults(kinds[ki]);
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    OK(nn_randn(ctx, NULL, NN_F32, 2, shape, &p[0]));
    OK(nn_clone(ctx, p[0], &p[1]));
    OK(nn_randn(ctx, NULL, NN_F32, 2, shape, &g));
    OK(nn_zeros(ctx, NN_F32, 2, shape, &z));
    for (int i = 0; i < 2; i++) {
      nn_tensor *gi;
      OK(nn_clone(ctx, g, &gi));
      OK(nn_tensor_set_requires_grad(ctx, p[i], true));
      OK(nn_tensor_set_grad(ctx, p[i], gi));
      nn_tensor_release(gi);
      OK(nn_optim_new(ctx, nn_optim_kind_name(kinds[ki]), &opt[i]));
      OK(nn_optim_add_group_opts(ctx, opt[i], 1, &p[i], &o));
      OK(nn_optim_step(ctx, opt[i]));
    }
    nn_optim_zero_grad_deferred(opt[0]);
    OK(nn_tensor_set_grad(ctx, p[1], z));   /* explicit zeros (z is held here: not lazy) */
    for (int i = 0; i < 2; i++) OK(nn_optim_step(ctx, opt[i]));
    CHECKF(memcmp(nn_tensor_data(p[0]), nn_tensor_data(p[1]), 35 * sizeof(float)) == 0,
           "optimizer kind %d: a step after zero_grad differs from one with zero gradients", ki);
    CHECKF(((float *)nn_tensor_data(nn_tensor_grad(p[0])))[34] == 0, "the grad reads as zeros after");
    for (int i = 0; i < 2; i++) { nn_optim_free(opt[i]); nn_tensor_release(p[i]); }
    nn_tensor_release(g); nn_tensor_release(z);
    nn_ctx_free(ctx);
  }
}

/* ---- errors ---------------------------------------------------------------------------- */

static void expect_group_error(nn_optim_kind k, const nn_optim_opts *o, nn_status want,
                               const char *msg) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  double v[2] = {1, 2};
  nn_tensor *p = param(ctx, NN_F64, 2, v);
  nn_optim *opt = NULL;
  OK(nn_optim_new(ctx, nn_optim_kind_name(k), &opt));
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &p, o) == want);
  CHECK_MSG(ctx, msg);
  CHECK(nn_optim_num_groups(opt) == 0 && nn_optim_num_params(opt) == 0);
  CHECK(nn_optim_check_opts(ctx, k, o) == want);
  nn_optim_free(opt);
  nn_tensor_release(p);
  nn_ctx_free(ctx);
}

static void test_option_errors(void) {
  nn_optim_opts o;
#define BAD(kind, set, msg) do { o = defaults(kind); set; expect_group_error(kind, &o, NN_ERR_ARG, msg); } while (0)
  BAD(NN_SGD, o.lr = -0.1, "SGD: invalid learning rate: -0.1 (must be a finite number >= 0)");
  BAD(NN_ADAM, o.lr = NAN, "Adam: invalid learning rate: nan (must be a finite number >= 0)");
  BAD(NN_ADAM, o.lr = INFINITY, "Adam: invalid learning rate: inf (must be a finite number >= 0)");
  BAD(NN_SGD, o.momentum = -0.5, "SGD: invalid momentum value: -0.5 (must be a finite number >= 0)");
  BAD(NN_RMSPROP, o.momentum = NAN,
      "RMSprop: invalid momentum value: nan (must be a finite number >= 0)");
  BAD(NN_SGD, o.weight_decay = -1,
      "SGD: invalid weight_decay value: -1 (must be a finite number >= 0)");
  BAD(NN_SGD, o.dampening = NAN, "SGD: invalid dampening value: nan (must be finite)");
  BAD(NN_SGD, o.nesterov = true,
      "SGD: Nesterov momentum requires a momentum and zero dampening (momentum 0, dampening 0)");
  BAD(NN_SGD, (o.nesterov = true, o.momentum = 0.9, o.dampening = 0.1),
      "SGD: Nesterov momentum requires a momentum and zero dampening (momentum 0.9, dampening 0.1)");
  BAD(NN_ADAM, o.eps = -1e-8, "Adam: invalid epsilon value: -1e-08 (must be a finite number >= 0)");
  BAD(NN_ADAM, o.beta1 = 1, "Adam: invalid beta parameter at index 0: 1 (must be in [0, 1))");
  BAD(NN_ADAMW, o.beta2 = -0.1, "AdamW: invalid beta parameter at index 1: -0.1 (must be in [0, 1))");
  BAD(NN_ADAMW, o.beta2 = NAN, "AdamW: invalid beta parameter at index 1: nan (must be in [0, 1))");
  BAD(NN_RMSPROP, o.alpha = -0.9, "RMSprop: invalid alpha value: -0.9 (must be a finite number >= 0)");
  BAD(NN_RMSPROP, o.eps = NAN, "RMSprop: invalid epsilon value: nan (must be a finite number >= 0)");
  BAD(NN_ADAGRAD, o.lr_decay = -1,
      "Adagrad: invalid lr_decay value: -1 (must be a finite number >= 0)");
  BAD(NN_ADAGRAD, o.initial_accumulator_value = -2,
      "Adagrad: invalid initial_accumulator_value value: -2 (must be a finite number >= 0)");
  BAD(NN_ADAGRAD, o.eps = -1, "Adagrad: invalid epsilon value: -1 (must be a finite number >= 0)");
#undef BAD
}

static void test_param_errors(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  nn_optim *opt = (nn_optim *)&opt;
  CHECK(nn_optim_kind_name(5) == NULL && nn_optim_kind_name(-1) == NULL);
  CHECK(nn_optim_new(ctx, "Adamax", &opt) == NN_ERR_ARG && opt == NULL);
  CHECK_MSG(ctx, "optimizer: unknown optimizer 'Adamax' (valid: SGD, Adam, AdamW, RMSprop, Adagrad)");
  OK(nn_optim_new(ctx, nn_optim_kind_name(NN_SGD), &opt));
  nn_optim_opts o = defaults(NN_SGD);
  double v[6] = {1, 2, 3, 4, 5, 6};
  nn_tensor *p = param(ctx, NN_F64, 6, v);
  CHECK(nn_optim_add_group_opts(ctx, opt, 0, &p, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: optimizer got an empty parameter list");
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, NULL, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: optimizer got an empty parameter list");
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &p, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: add_group without options");
  nn_tensor *nul = NULL;
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &nul, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: parameter 0 is NULL");
  /* non-leaf */
  nn_tensor *y = NULL;
  OK(nn_muls(ctx, p, 2.0, &y));
  nn_tensor *two[2] = {p, y};
  CHECK(nn_optim_add_group_opts(ctx, opt, 2, two, &o) == NN_ERR_ARG);
  check_total++;
  if (strncmp(nn_ctx_errmsg(ctx), "SGD: can't optimize a non-leaf tensor (parameter 1, made by ", 60)) {
    check_failures++;
    fprintf(stderr, "non-leaf message: %s\n", nn_ctx_errmsg(ctx));
  }
  nn_tensor_release(y);
  /* int64 */
  nn_tensor *li = NULL;
  int64_t three = 3;
  OK(nn_zeros(ctx, NN_I64, 1, &three, &li));
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &li, &o) == NN_ERR_DTYPE);
  CHECK_MSG(ctx, "SGD: parameter 0 has dtype int64; only float32 and float64 can be optimized");
  nn_tensor_release(li);
  /* non-contiguous */
  nn_tensor *m = NULL, *mt = NULL;
  int64_t shape[2] = {2, 3};
  OK(nn_zeros(ctx, NN_F32, 2, shape, &m));
  OK(nn_transpose(ctx, m, 0, 1, &mt));
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &mt, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: parameter 0 (shape [3, 2]) is not contiguous");
  nn_tensor_release(mt);
  nn_tensor_release(m);
  /* duplicates */
  nn_tensor *dup[2] = {p, p};
  CHECK(nn_optim_add_group_opts(ctx, opt, 2, dup, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: parameter 1 appears twice in the group (also at 0)");
  OK(nn_optim_add_group_opts(ctx, opt, 1, &p, &o));
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &p, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: some parameters appear in more than one parameter group (parameter 0)");
  CHECK(nn_optim_num_groups(opt) == 1 && nn_optim_num_params(opt) == 1);
  /* another context's tensor */
  nn_ctx *ctx2 = nn_ctx_new(NULL, NULL);
  nn_tensor *q = param(ctx2, NN_F64, 2, v);
  CHECK(nn_optim_add_group_opts(ctx, opt, 1, &q, &o) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: parameter 0 belongs to another context");
  nn_tensor_release(q);
  nn_ctx_free(ctx2);
  /* options broken after add_group are caught by step, before anything moves */
  double *g = grad_buffer(ctx, p);
  g[0] = 1;
  nn_optim_group_opts(opt, 0)->lr = -1;
  CHECK(nn_optim_step(ctx, opt) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: invalid learning rate: -1 (must be a finite number >= 0)");
  CHECK(((double *)nn_tensor_data(p))[0] == 1 && nn_optim_param_step(opt, 0) == 0);
  nn_optim_group_opts(opt, 0)->lr = 0.5;
  OK(nn_optim_step(ctx, opt));
  CHECK(((double *)nn_tensor_data(p))[0] == 0.5);
  /* set_state and set_param_step */
  nn_tensor *bad = NULL;
  OK(nn_zeros(ctx, NN_F64, 2, shape, &bad));
  CHECK(nn_optim_set_state(ctx, opt, 0, "exp_avg", bad) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD.set_state: unknown state 'exp_avg' (valid: momentum_buffer)");
  CHECK(nn_optim_set_state(ctx, opt, 1, "momentum_buffer", bad) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD.set_state: parameter index 1 out of range [0, 1)");
  CHECK(nn_optim_set_state(ctx, opt, 0, "momentum_buffer", bad) == NN_ERR_SHAPE);
  CHECK_MSG(ctx, "SGD.set_state: state 'momentum_buffer' of parameter 0 has shape [2, 3], expected [6]");
  CHECK(nn_optim_state(opt, 0, "momentum_buffer") == NULL);
  CHECK(nn_optim_set_param_step(ctx, opt, 0, -1) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD.set_param_step: step -1 is negative");
  CHECK(nn_optim_set_param_step(ctx, opt, -1, 0) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD.set_param_step: parameter index -1 out of range [0, 1)");
  nn_tensor_release(bad);
  CHECK(nn_optim_step(ctx, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "step: optimizer is NULL");
  nn_optim_free(opt);
  nn_tensor_release(p);
  nn_ctx_free(ctx);
}

/* ---- out of memory at every allocation ------------------------------------------------- */

static void test_oom(void) {
  bool completed = false;
  for (long k = 2; k < 200 && !completed; k++) {
    check_allocator f = {0, k, 0};
    nn_ctx *ctx = nn_ctx_new(check_alloc, &f);
    if (!ctx) continue;
    nn_tensor *p = NULL, *g = NULL;
    nn_optim *opt = NULL;
    int64_t shape[1] = {16};
    nn_status s = nn_ones(ctx, NN_F32, 1, shape, &p);
    if (s == NN_OK) s = nn_ones(ctx, NN_F32, 1, shape, &g);
    if (s == NN_OK) s = nn_tensor_set_grad(ctx, p, g);
    if (s == NN_OK) s = nn_optim_new(ctx, nn_optim_kind_name(NN_ADAM), &opt);
    nn_optim_opts o = defaults(NN_ADAM);
    o.amsgrad = true;
    if (s == NN_OK) s = nn_optim_add_group_opts(ctx, opt, 1, &p, &o);
    if (s == NN_OK) {
      s = nn_optim_step(ctx, opt);
      if (s != NN_OK) { /* a failed first step leaves the parameter and step count alone */
        CHECK(s == NN_ERR_MEM);
        CHECK(((float *)nn_tensor_data(p))[0] == 1.0f && nn_optim_param_step(opt, 0) == 0);
        f.fail_at = 0;
        s = nn_optim_step(ctx, opt); /* and the next one succeeds */
        CHECK(s == NN_OK && nn_optim_param_step(opt, 0) == 1);
      }
    }
    CHECK(s == NN_OK || s == NN_ERR_MEM);
    if (s == NN_OK && f.fail_at == k) completed = true;
    nn_optim_free(opt);
    nn_tensor_release(g);
    nn_tensor_release(p);
    nn_ctx_free(ctx);
  }
  CHECK(completed);
}

/* Options by name: each optimizer's own list, values checked when set, the defaults (group
   -1) copied by add_group, groups changed one by one, the checks across options. */
static void test_options_by_name(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  nn_optim *opt = NULL;
  double v = -1, pv[2] = {1, 2};
  OK(nn_optim_new(ctx, "SGD", &opt));
  CHECK(strcmp(nn_optim_name(opt), "SGD") == 0 && nn_optim_num_options(opt) == 6);
  bool flag = true;
  CHECK(strcmp(nn_optim_option(opt, 0, &flag), "lr") == 0 && !flag);
  CHECK(strcmp(nn_optim_option(opt, 4, &flag), "nesterov") == 0 && flag);
  CHECK(nn_optim_option(opt, 6, &flag) == NULL && nn_optim_option(opt, -1, NULL) == NULL);
  OK(nn_optim_get(ctx, opt, -1, "lr", &v));
  CHECK(v == 1e-3);
  CHECK(nn_optim_set(ctx, opt, -1, "betas", 0.5) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: unknown option 'betas' (valid: lr, weight_decay, momentum, dampening, "
                 "nesterov, maximize)");
  CHECK(nn_optim_set(ctx, opt, -1, "lr", -0.5) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: invalid learning rate: -0.5 (must be a finite number >= 0)");
  CHECK(nn_optim_set(ctx, opt, -1, "nesterov", 2) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: invalid nesterov flag: 2 (must be 0 or 1)");
  CHECK(nn_optim_set(ctx, opt, 0, "lr", 0.5) == NN_ERR_ARG);   /* no group yet */
  CHECK_MSG(ctx, "SGD.set: group 0 out of range [-1, 0)");
  OK(nn_optim_set(ctx, opt, -1, "lr", 0.25));
  OK(nn_optim_set(ctx, opt, -1, "nesterov", 1));   /* needs a momentum: checked together */
  CHECK(nn_optim_check(ctx, opt, -1) == NN_ERR_ARG);
  CHECK_MSG(ctx, "SGD: Nesterov momentum requires a momentum and zero dampening "
                 "(momentum 0, dampening 0)");
  nn_tensor *a = param(ctx, NN_F64, 2, pv), *b = param(ctx, NN_F64, 2, pv);
  CHECK(nn_optim_add_group(ctx, opt, 1, &a) == NN_ERR_ARG && nn_optim_num_groups(opt) == 0);
  OK(nn_optim_set(ctx, opt, -1, "momentum", 0.9));
  OK(nn_optim_add_group(ctx, opt, 1, &a));
  OK(nn_optim_set(ctx, opt, -1, "lr", 0.125));     /* later groups only */
  OK(nn_optim_add_group(ctx, opt, 1, &b));
  OK(nn_optim_get(ctx, opt, 0, "lr", &v));
  CHECK(v == 0.25);
  OK(nn_optim_get(ctx, opt, 1, "lr", &v));
  CHECK(v == 0.125);
  OK(nn_optim_get(ctx, opt, 1, "nesterov", &v));
  CHECK(v == 1);
  OK(nn_optim_set(ctx, opt, 0, "momentum", 0));    /* a value fine alone, not with nesterov */
  CHECK(nn_optim_step(ctx, opt) == NN_ERR_ARG);
  OK(nn_optim_set(ctx, opt, 0, "nesterov", 0));
  grad_buffer(ctx, a)[0] = 1;
  OK(nn_optim_step(ctx, opt));
  CHECK(((double *)nn_tensor_data(a))[0] == 0.75 && ((double *)nn_tensor_data(a))[1] == 2);
  nn_optim_free(opt);
  OK(nn_optim_new(ctx, "Adam", &opt));
  OK(nn_optim_get(ctx, opt, -1, "beta2", &v));
  CHECK(v == 0.999);
  CHECK(nn_optim_set(ctx, opt, -1, "beta1", 1) == NN_ERR_ARG);
  CHECK_MSG(ctx, "Adam: invalid beta parameter at index 0: 1 (must be in [0, 1))");
  CHECK(nn_optim_get(ctx, opt, -1, "momentum", &v) == NN_ERR_ARG);
  CHECK_MSG(ctx, "Adam: unknown option 'momentum' (valid: lr, weight_decay, eps, beta1, beta2, "
                 "amsgrad, eps_inside, maximize)");
  nn_optim_free(opt);
  nn_tensor_release(a);
  nn_tensor_release(b);
  nn_ctx_free(ctx);
}

int main(void) {
  test_options_by_name();
  test_rules();
  test_hand();
  test_defaults();
  test_groups_and_state();
  test_adagrad_state();
  test_no_alloc();
  test_step_after_zero_grad();
  test_option_errors();
  test_param_errors();
  test_oom();
  return check_report("test_optim");
}
