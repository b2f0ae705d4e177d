/*
** optim.c — SGD, Adam, AdamW, RMSprop and Adagrad over parameter groups.
**
** The update rules are PyTorch's (torch/optim/<name>.py, the single-tensor paths), written as one
** flat loop per optimizer over contiguous float32/float64 data. Scalars are computed in double;
** each element is read, updated in double and stored back in the parameter's dtype.
** Per-parameter state (PyTorch's names: "exp_avg", "momentum_buffer", …) is allocated on the
** first step that sees a gradient, except Adagrad's "sum", which PyTorch creates with the
** optimizer; after that a step allocates nothing.
*/
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nn_impl.h"

/* ---- layout ------------------------------------------------------------ */

enum { MAXST = 3 }; /* state tensors per parameter, at most (Adam: m, v, max v) */

typedef struct {
  nn_tensor *p;          /* retained */
  int64_t step;          /* steps taken with a gradient */
  nn_tensor *st[MAXST];  /* retained or NULL; slot meaning by kind (see statenames) */
} oparam;

typedef struct {
  nn_optim_opts opts;
  int first, n; /* params[first .. first+n) */
} ogroup;

struct nn_optim {
  nn_ctx *ctx;
  nn_optim_kind kind;
  nn_optim_opts defaults;  /* group -1: copied into each new group */
  ogroup *groups;
  int ngroups, capgroups;
  oparam *params;
  int nparams, capparams;
};

/* ---- the optimizers: one descriptor each ------------------------------------------------
   An optimizer declares its options (name, field, rule), its state names and its defaults
   here; nn_optim_set/get, the checks, the Lua binding's constructors and its state dicts all
   read these tables. Its update rule is a case of prepare_param and run_update below. */

typedef enum { NONNEG, FINITE, UNIT, FLAG } optrule;   /* >= 0, finite, in [0, 1), 0 or 1 */

typedef struct {
  const char *key;   /* PyTorch's name */
  size_t off;        /* into nn_optim_opts: a double, or a bool for FLAG */
  optrule rule;
  const char *what;  /* for messages: "invalid <what>: <value>" */
} optkey;

#define NUM(k, r, w) {.key = #k, .off = offsetof(nn_optim_opts, k), .rule = r, .what = w}
#define FLAG(k) {.key = #k, .off = offsetof(nn_optim_opts, k), .rule = FLAG, .what = #k " flag"}
#define LR NUM(lr, NONNEG, "learning rate")
#define WD NUM(weight_decay, NONNEG, "weight_decay value")
#define EPS NUM(eps, NONNEG, "epsilon value")
#define MOM NUM(momentum, NONNEG, "momentum value")
#define BETAS NUM(beta1, UNIT, "beta parameter at index 0"), \
              NUM(beta2, UNIT, "beta parameter at index 1")

/* checks in table order: the first bad value is the one reported */
static const optkey sgd_keys[] = {LR, WD, MOM, NUM(dampening, FINITE, "dampening value"),
                                  FLAG(nesterov), FLAG(maximize)};
static const optkey adam_keys[] = {LR, WD, EPS, BETAS, FLAG(amsgrad), FLAG(eps_inside),
                                   FLAG(maximize)};
static const optkey rms_keys[] = {LR, WD, EPS, MOM, NUM(alpha, NONNEG, "alpha value"),
                                  FLAG(centered), FLAG(maximize)};
static const optkey adagrad_keys[] = {
  LR, WD, EPS, NUM(lr_decay, NONNEG, "lr_decay value"),
  NUM(initial_accumulator_value, NONNEG, "initial_accumulator_value value"), FLAG(maximize)};

static const char *const sgd_names[] = {"momentum_buffer"};
static const char *const adam_names[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
static const char *const rms_names[] = {"square_avg", "momentum_buffer", "grad_avg"};
static const char *const adagrad_names[] = {"sum"};

typedef struct {
  const char *name;
  const optkey *keys;
  int nkeys;
  const char *const *states;   /* the names of the state slots st[0..nstates) */
  int nstates;
  nn_optim_opts defaults;      /* PyTorch's */
} optdesc;

#define COUNT(a) ((int)(sizeof (a) / sizeof (a)[0]))
#define TABLES(k, s) .keys = k, .nkeys = COUNT(k), .states = s, .nstates = COUNT(s)
#define COMMON .beta1 = 0.9, .beta2 = 0.999, .alpha = 0.99  /* unused where not an option */

static const optdesc optims[] = {
  [NN_SGD] = {.name = "SGD", TABLES(sgd_keys, sgd_names), .defaults = {COMMON, .lr = 1e-3}},
  [NN_ADAM] = {.name = "Adam", TABLES(adam_keys, adam_names),
               .defaults = {COMMON, .lr = 1e-3, .eps = 1e-8}},
  [NN_ADAMW] = {.name = "AdamW", TABLES(adam_keys, adam_names),
                .defaults = {COMMON, .lr = 1e-3, .eps = 1e-8, .weight_decay = 1e-2}},
  [NN_RMSPROP] = {.name = "RMSprop", TABLES(rms_keys, rms_names),
                  .defaults = {COMMON, .lr = 1e-2, .eps = 1e-8}},
  [NN_ADAGRAD] = {.name = "Adagrad", TABLES(adagrad_keys, adagrad_names),
                  .defaults = {COMMON, .lr = 1e-2, .eps = 1e-10}},
};
#define NOPTIMS COUNT(optims)

static bool known_kind(nn_optim_kind k) { return (int)k >= 0 && (int)k < NOPTIMS; }
static const char *kind_name(nn_optim_kind k) { return known_kind(k) ? optims[k].name : "?"; }

static int statenames(nn_optim_kind k, const char *const **names) {
  *names = known_kind(k) ? optims[k].states : NULL;
  return known_kind(k) ? optims[k].nstates : 0;
}

static int stateslot(nn_optim_kind k, const char *name) {
  const char *const *names;
  int n = statenames(k, &names);
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

const char *nn_optim_kind_name(int i) { return i >= 0 && i < NOPTIMS ? optims[i].name : NULL; }

/* ---- options ------------------------------------------------------------- */

void nn_optim_defaults(nn_optim_kind kind, nn_optim_opts *o) {
  if (!o) return;
  *o = known_kind(kind) ? optims[kind].defaults : optims[NN_SGD].defaults;
}

static double keyget(const optkey *k, const nn_optim_opts *o) {
  const char *base = (const char *)o + k->off;
  return k->rule == FLAG ? (double)*(const bool *)base : *(const double *)base;
}

static void keyset(const optkey *k, nn_optim_opts *o, double v) {
  char *base = (char *)o + k->off;
  if (k->rule == FLAG) *(bool *)base = v != 0;
  else *(double *)base = v;
}

/* NaN prints as "nan" whatever its sign bit (0/0 is -nan on x86) */
static double shown(double x) { return isnan(x) ? NAN : x; }

/* The rule of key k for value v: PyTorch's constructor checks, plus finiteness. */
static nn_status keycheck(nn_ctx *ctx, const char *name, const optkey *k, double v) {
  static const char *const must[] = {
    [NONNEG] = "must be a finite number >= 0", [FINITE] = "must be finite",
    [UNIT] = "must be in [0, 1)", [FLAG] = "must be 0 or 1"};
  bool ok = k->rule == NONNEG ? v >= 0 && isfinite(v)
            : k->rule == FINITE ? isfinite(v)
            : k->rule == UNIT ? v >= 0 && v < 1
            : v == 0 || v == 1;
  if (ok) return NN_OK;
  return nn_fail(ctx, NN_ERR_ARG, "%s: invalid %s: %g (%s)", name, k->what, shown(v),
                 must[k->rule]);
}

/* Every key's rule, then the rules between keys. */
nn_status nn_optim_check_opts(nn_ctx *ctx, nn_optim_kind k, const nn_optim_opts *o) {
  if (!known_kind(k)) return nn_fail(ctx, NN_ERR_ARG, "optimizer: unknown kind %d", (int)k);
  const char *name = kind_name(k);
  NN_ARG_AS(ctx, name, o, "options");
  for (int i = 0; i < optims[k].nkeys; i++) {
    const optkey *key = &optims[k].keys[i];
    nn_status s = keycheck(ctx, name, key, keyget(key, o));
    if (s != NN_OK) return s;
  }
  if (k == NN_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    return nn_fail(ctx, NN_ERR_ARG,
                   "SGD: Nesterov momentum requires a momentum and zero dampening "
                   "(momentum %g, dampening %g)", shown(o->momentum), shown(o->dampening));
  return NN_OK;
}

/* ---- object -------------------------------------------------------------- */

/* "valid: a, b, c" into buf: the names of list[0..n), each at offset off of its element */
static const char *listed(char *buf, size_t size, const void *list, size_t stride, int n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && len < size; i++) {
    const char *name = *(const char *const *)((const char *)list + (size_t)i * stride);
    int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name);
    if (w < 0) break;
    len += (size_t)w;
  }
  return buf;
}

nn_status nn_optim_new(nn_ctx *ctx, const char *name, nn_optim **out) {
  NN_ARG(ctx, "optimizer", out);
  *out = NULL;
  NN_ARG_AS(ctx, "optimizer", name, "name");
  int kind = 0;
  while (kind < NOPTIMS && strcmp(optims[kind].name, name) != 0) kind++;
  char valid[128];
  if (kind == NOPTIMS)
    return nn_fail(ctx, NN_ERR_ARG, "optimizer: unknown optimizer '%s' (valid: %s)", name,
                   listed(valid, sizeof valid, optims, sizeof optims[0], NOPTIMS));
  nn_optim *o = nn_block_get(ctx, sizeof *o);
  if (!o) return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", name);
  memset(o, 0, sizeof *o);
  o->ctx = ctx;
  o->kind = (nn_optim_kind)kind;
  o->defaults = optims[kind].defaults;
  ctx->live++;
  *out = o;
  return NN_OK;
}

void nn_optim_free(nn_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->nparams; i++) {
    nn_tensor_release(o->params[i].p);
    for (int s = 0; s < MAXST; s++) nn_tensor_release(o->params[i].st[s]);
  }
  nn_ctx *ctx = o->ctx;
  nn_block_put(ctx, o->params, (size_t)o->capparams * sizeof *o->params);
  nn_block_put(ctx, o->groups, (size_t)o->capgroups * sizeof *o->groups);
  nn_block_put(ctx, o, sizeof *o);
  nn_ctx_unref(ctx);
}

/* Grows *a (elements of size sz, capacity *cap) to hold need; false when out of memory. */
static bool grow(nn_ctx *ctx, void **a, int *cap, int need, size_t sz) {
  if (need <= *cap) return true;
  int ncap = *cap ? *cap : 4;
  while (ncap < need) ncap *= 2;
  void *b = nn_block_get(ctx, (size_t)ncap * sz);
  if (!b) return false;
  if (*a) memcpy(b, *a, (size_t)*cap * sz);
  nn_block_put(ctx, *a, (size_t)*cap * sz);
  *a = b;
  *cap = ncap;
  return true;
}

nn_status nn_optim_add_group(nn_ctx *ctx, nn_optim *o, int n, nn_tensor *const *params) {
  NN_ARG_AS(ctx, "add_group", o, "optimizer");
  return nn_optim_add_group_opts(ctx, o, n, params, &o->defaults);
}

nn_status nn_optim_add_group_opts(nn_ctx *ctx, nn_optim *o, int n, nn_tensor *const *params,
                                  const nn_optim_opts *opts) {
  NN_ARG_AS(ctx, "add_group", o, "optimizer");
  const char *name = kind_name(o->kind);
  if (n <= 0 || !params)
    return nn_fail(ctx, NN_ERR_ARG, "%s: optimizer got an empty parameter list", name);
  if (!opts) return nn_fail(ctx, NN_ERR_ARG, "%s: add_group without options", name);
  nn_status s = nn_optim_check_opts(ctx, o->kind, opts);
  if (s != NN_OK) return s;
  if (n > INT32_MAX / 2 - o->nparams)
    return nn_fail(ctx, NN_ERR_ARG, "%s: too many parameters (%d)", name, n);
  for (int i = 0; i < n; i++) {
    nn_tensor *p = params[i];
    char buf[96];
    if (!p) return nn_fail(ctx, NN_ERR_ARG, "%s: parameter %d is NULL", name, i);
    if (nn_tensor_ctx(p) != ctx)
      return nn_fail(ctx, NN_ERR_ARG, "%s: parameter %d belongs to another context", name, i);
    if (!nn_tensor_is_leaf(p))
      return nn_fail(ctx, NN_ERR_ARG, "%s: can't optimize a non-leaf tensor (parameter %d, made by %s)",
                     name, i, nn_tensor_grad_fn(p) ? nn_tensor_grad_fn(p) : "an op");
    if (nn_tensor_dtype(p) != NN_F32 && nn_tensor_dtype(p) != NN_F64)
      return nn_fail(ctx, NN_ERR_DTYPE,
                     "%s: parameter %d has dtype %s; only float32 and float64 can be optimized",
                     name, i, nn_dtype_name(nn_tensor_dtype(p)));
    if (!nn_tensor_is_contiguous(p))
      return nn_fail(ctx, NN_ERR_ARG, "%s: parameter %d (shape %s) is not contiguous", name, i,
                     nn_shape_str(p, buf, sizeof buf));
    for (int j = 0; j < i; j++)
      if (params[j] == p)
        return nn_fail(ctx, NN_ERR_ARG, "%s: parameter %d appears twice in the group (also at %d)",
                       name, i, j);
    for (int j = 0; j < o->nparams; j++)
      if (o->params[j].p == p)
        return nn_fail(ctx, NN_ERR_ARG,
                       "%s: some parameters appear in more than one parameter group (parameter %d)",
                       name, i);
  }
  if (!grow(ctx, (void **)&o->params, &o->capparams, o->nparams + n, sizeof *o->params) ||
      !grow(ctx, (void **)&o->groups, &o->capgroups, o->ngroups + 1, sizeof *o->groups))
    return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory adding a group of %d parameters", name, n);
  oparam *ps = o->params + o->nparams;
  memset(ps, 0, (size_t)n * sizeof *ps);
  if (o->kind == NN_ADAGRAD) { /* PyTorch fills "sum" in the constructor */
    for (int i = 0; i < n; i++) {
      s = nn_full(ctx, nn_tensor_dtype(params[i]), nn_tensor_ndim(params[i]),
                  nn_tensor_shape(params[i]), opts->initial_accumulator_value, &ps[i].st[0]);
      if (s != NN_OK) {
        for (int j = 0; j < i; j++) nn_tensor_release(ps[j].st[0]);
        memset(ps, 0, (size_t)n * sizeof *ps);
        return s;
      }
    }
  }
  for (int i = 0; i < n; i++) {
    nn_tensor_retain(params[i]);
    ps[i].p = params[i];
  }
  o->groups[o->ngroups].opts = *opts;
  o->groups[o->ngroups].first = o->nparams;
  o->groups[o->ngroups].n = n;
  o->ngroups++;
  o->nparams += n;
  return NN_OK;
}

/* ---- kernels ------------------------------------------------------------------------
   Each rule is one loop over element i, computed in double. The loop is written once with
   its dtype and its optional buffers as constant flags; the run functions call it with
   literal flags, so every instance is a branch-free loop the compiler vectorizes. Options
   that need no branch (first momentum step, nesterov, AdamW's decay, eps placement) enter
   as coefficients. Buffers are distinct arrays (the caller makes sure of it). The loops that
   take a square root vectorize only under -fno-math-errno (sqrt's errno is a side effect). */

#if defined(__GNUC__)
#define KERNEL static inline __attribute__((always_inline))
#else
#define KERNEL static inline
#endif

KERNEL double ld(const void *a, int64_t i, bool f32) {
  return f32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}
KERNEL void st(void *a, int64_t i, double v, bool f32) {
  if (f32) ((float *)a)[i] = (float)v;
  else ((double *)a)[i] = v;
}

/* SGD (torch/optim/sgd.py): g = ±grad + wd·p; b = first ? g : mom·b + (1-damp)·g;
   g = nesterov ? g + mom·b : b; p -= lr·g.
   As coefficients: b = bm·b + bg·g (first: 0, 1); g = gg·g + gb·b (nesterov: 1, mom; else 0, 1).
   A fresh buffer is zeros, so 0·b is 0. */
typedef struct { double lr, wd, sign, bm, bg, gg, gb; } sgd_k;

KERNEL void sgd_loop(const sgd_k *k, int64_t n, void *p, const void *g, void *b, bool f32,
                     bool mom) {
  for (int64_t i = 0; i < n; i++) {
    double pi = ld(p, i, f32), gi = k->sign * ld(g, i, f32) + k->wd * pi;
    if (mom) {
      double bi = k->bm * ld(b, i, f32) + k->bg * gi;
      st(b, i, bi, f32);
      gi = k->gg * gi + k->gb * bi;
    }
    st(p, i, pi - k->lr * gi, f32);
  }
}

static void sgd_run(const sgd_k *k, bool f32, int64_t n, void *p, const void *g, void *b) {
  if (f32) {
    if (b) sgd_loop(k, n, p, g, b, true, true);
    else sgd_loop(k, n, p, g, b, true, false);
  } else {
    if (b) sgd_loop(k, n, p, g, b, false, true);
    else sgd_loop(k, n, p, g, b, false, false);
  }
}

/* Adam/AdamW (torch/optim/adam.py, adamw.py): g = ±grad; AdamW: p *= 1 - lr·wd, Adam: g += wd·p;
   m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; amsgrad: vmax = max(vmax, v), v̂ = vmax, else v̂ = v;
   p -= (lr/bc1)·m / (sqrt(v̂)/sqrt(bc2) + eps), bc = 1 - b^t.
   eps_inside (scikit-learn's AdamOptimizer): p -= lr·sqrt(bc2)/bc1 · m / (sqrt(v̂) + eps).
   As coefficients: p -= step·m / (dscale·sqrt(v̂) + eps). */
typedef struct { double b1, b2, eps, sign, l2, decay, step, dscale; } adam_k;

KERNEL void adam_loop(const adam_k *k, int64_t n, void *p, const void *g, void *m, void *v,
                      void *vmax, bool f32, bool ams) {
  for (int64_t i = 0; i < n; i++) {
    double pi = k->decay * ld(p, i, f32);
    double gi = k->sign * ld(g, i, f32) + k->l2 * pi;
    double mi = k->b1 * ld(m, i, f32) + (1 - k->b1) * gi;
    double vi = k->b2 * ld(v, i, f32) + (1 - k->b2) * gi * gi;
    st(m, i, mi, f32);
    st(v, i, vi, f32);
    if (ams) {
      double xi = ld(vmax, i, f32);
      vi = vi > xi ? vi : xi;
      st(vmax, i, vi, f32);
    }
    st(p, i, pi - k->step * mi / (k->dscale * sqrt(vi) + k->eps), f32);
  }
}

/* float32 parameters without amsgrad (the common case) compute in float, as PyTorch does:
   twice the lanes of the double loop, and a float sqrt and divide. */
static void adam_f32(const adam_k *k, int64_t n, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict v) {
  const float b1 = (float)k->b1, b2 = (float)k->b2, c1 = (float)(1 - k->b1), c2 = (float)(1 - k->b2);
  const float eps = (float)k->eps, sign = (float)k->sign, l2 = (float)k->l2, decay = (float)k->decay;
  const float step = (float)k->step, dscale = (float)k->dscale;
  for (int64_t i = 0; i < n; i++) {
    float pi = decay * p[i];
    float gi = sign * g[i] + l2 * pi;
    float mi = b1 * m[i] + c1 * gi;
    float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step * mi / (dscale * sqrtf(vi) + eps);
  }
}

static void adam_run(const adam_k *k, bool f32, int64_t n, void *p, const void *g, void *m,
                     void *v, void *vmax) {
  if (f32 && !vmax) { adam_f32(k, n, p, g, m, v); return; }
  if (f32) {
    if (vmax) adam_loop(k, n, p, g, m, v, vmax, true, true);
    else adam_loop(k, n, p, g, m, v, vmax, true, false);
  } else {
    if (vmax) adam_loop(k, n, p, g, m, v, vmax, false, true);
    else adam_loop(k, n, p, g, m, v, vmax, false, false);
  }
}

/* RMSprop (torch/optim/rmsprop.py): g = ±grad + wd·p; sq = a·sq + (1-a)·g²;
   centered: ga = a·ga + (1-a)·g, avg = sqrt(sq - ga²) + eps, else avg = sqrt(sq) + eps;
   momentum: b = mom·b + g/avg, p -= lr·b, else p -= lr·g/avg */
typedef struct { double lr, wd, alpha, eps, mom, sign; } rms_k;

KERNEL void rms_loop(const rms_k *k, int64_t n, void *p, const void *g, void *sq, void *b,
                     void *ga, bool f32, bool mom, bool centered) {
  for (int64_t i = 0; i < n; i++) {
    double pi = ld(p, i, f32), gi = k->sign * ld(g, i, f32) + k->wd * pi;
    double si = k->alpha * ld(sq, i, f32) + (1 - k->alpha) * gi * gi;
    st(sq, i, si, f32);
    if (centered) {
      double ai = k->alpha * ld(ga, i, f32) + (1 - k->alpha) * gi;
      st(ga, i, ai, f32);
      si -= ai * ai;
    }
    double d = gi / (sqrt(si) + k->eps);
    if (mom) {
      d += k->mom * ld(b, i, f32);
      st(b, i, d, f32);
    }
    st(p, i, pi - k->lr * d, f32);
  }
}

static void rms_run(const rms_k *k, bool f32, int64_t n, void *p, const void *g, void *sq,
                    void *b, void *ga) {
  if (f32) {
    if (b && ga) rms_loop(k, n, p, g, sq, b, ga, true, true, true);
    else if (b) rms_loop(k, n, p, g, sq, b, ga, true, true, false);
    else if (ga) rms_loop(k, n, p, g, sq, b, ga, true, false, true);
    else rms_loop(k, n, p, g, sq, b, ga, true, false, false);
  } else {
    if (b && ga) rms_loop(k, n, p, g, sq, b, ga, false, true, true);
    else if (b) rms_loop(k, n, p, g, sq, b, ga, false, true, false);
    else if (ga) rms_loop(k, n, p, g, sq, b, ga, false, false, true);
    else rms_loop(k, n, p, g, sq, b, ga, false, false, false);
  }
}

/* Adagrad (torch/optim/adagrad.py): g = ±grad + wd·p; clr = lr / (1 + (t-1)·lr_decay);
   sum += g²; p -= clr·g / (sqrt(sum) + eps) */
typedef struct { double clr, wd, eps, sign; } adagrad_k;

KERNEL void adagrad_loop(const adagrad_k *k, int64_t n, void *p, const void *g, void *s,
                         bool f32) {
  for (int64_t i = 0; i < n; i++) {
    double pi = ld(p, i, f32), gi = k->sign * ld(g, i, f32) + k->wd * pi;
    double si = ld(s, i, f32) + gi * gi;
    st(s, i, si, f32);
    st(p, i, pi - k->clr * gi / (sqrt(si) + k->eps), f32);
  }
}

static void adagrad_run(const adagrad_k *k, bool f32, int64_t n, void *p, const void *g,
                        void *s) {
  if (f32) adagrad_loop(k, n, p, g, s, true);
  else adagrad_loop(k, n, p, g, s, false);
}

/* ---- step ------------------------------------------------------------------------ */

static void *tdata(nn_tensor *t) { return t ? nn_tensor_data(t) : NULL; }

/* State slot s of q, created as zeros (shape and dtype of the parameter) when missing.
   *fresh tells whether it was just made. */
static nn_status ensure_state(nn_ctx *ctx, oparam *q, int s, bool *fresh) {
  if (fresh) *fresh = false;
  if (q->st[s]) return NN_OK;
  nn_status st = nn_zeros(ctx, nn_tensor_dtype(q->p), nn_tensor_ndim(q->p), nn_tensor_shape(q->p),
                          &q->st[s]);
  if (st == NN_OK && fresh) *fresh = true;
  return st;
}

/* The gradient of q as contiguous data of the parameter's dtype, apart from the parameter's
   memory. Usually the grad itself (borrowed, *tmp NULL); otherwise a copy in *tmp to release. */
static nn_status grad_of(nn_ctx *ctx, const char *name, int index, oparam *q, nn_tensor **g,
                         nn_tensor **tmp) {
  nn_tensor *gr = nn_tensor_grad(q->p);
  *tmp = NULL;
  *g = gr;
  if (!gr) return NN_OK;
  if (nn_tensor_numel(gr) != nn_tensor_numel(q->p)) {
    char a[96], b[96];
    return nn_fail(ctx, NN_ERR_SHAPE, "%s.step: parameter %d has shape %s but its grad has shape %s",
                   name, index, nn_shape_str(q->p, a, sizeof a), nn_shape_str(gr, b, sizeof b));
  }
  bool alias = nn_tensor_same_storage(gr, q->p); /* p.grad = p: the kernels need distinct arrays */
  if (!alias && nn_tensor_dtype(gr) == nn_tensor_dtype(q->p) && nn_tensor_is_contiguous(gr))
    return NN_OK;
  nn_tensor *c = NULL;
  nn_status s = alias ? nn_clone(ctx, gr, &c) : nn_to(ctx, gr, nn_tensor_dtype(q->p), &c);
  if (s == NN_OK && !nn_tensor_is_contiguous(c)) {
    nn_tensor *d = NULL;
    s = nn_contiguous(ctx, c, &d);
    nn_tensor_release(c);
    c = d;
  }
  if (s != NN_OK) return s;
  *tmp = c;
  *g = c;
  return NN_OK;
}

/* One parameter's update, prepared: the rule's coefficients and its arrays. Updates run
   after every parameter is prepared, split across the context's threads by element ranges
   of all the parameters together (nn_lanes): one hand-off per step, and each core keeps
   updating the same elements, step after step. */
typedef struct {
  nn_optim_kind kind;
  bool f32;
  int64_t n;
  void *p, *s0, *s1, *s2;
  const void *g;
  union { sgd_k sgd; adam_k adam; rms_k rms; adagrad_k adagrad; } k;
  oparam *q;                 /* the parameter */
  nn_tensor *gcopy;          /* the gradient's copy g points into, when it needed one */
} oupdate;

static void run_update(const oupdate *u, int64_t lo, int64_t hi) {
  size_t es = u->f32 ? sizeof(float) : sizeof(double);
#define AT(ptr) ((ptr) ? (void *)((char *)(ptr) + (size_t)lo * es) : NULL)
  int64_t n = hi - lo;
  void *g = (void *)((const char *)u->g + (size_t)lo * es);
  switch (u->kind) {
  case NN_SGD: sgd_run(&u->k.sgd, u->f32, n, AT(u->p), g, AT(u->s0)); break;
  case NN_ADAM: case NN_ADAMW: adam_run(&u->k.adam, u->f32, n, AT(u->p), g, AT(u->s0), AT(u->s1), AT(u->s2)); break;
  case NN_RMSPROP: rms_run(&u->k.rms, u->f32, n, AT(u->p), g, AT(u->s0), AT(u->s1), AT(u->s2)); break;
  case NN_ADAGRAD: adagrad_run(&u->k.adagrad, u->f32, n, AT(u->p), g, AT(u->s0)); break;
  }
#undef AT
}

typedef struct { const oupdate *u; int n; } update_job;

static void update_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const update_job *j = arg;
  (void)part;
  int64_t off = 0;
  for (int i = 0; i < j->n && off < hi; off += j->u[i].n, i++) {
    int64_t a = lo > off ? lo - off : 0, b = hi - off < j->u[i].n ? hi - off : j->u[i].n;
    if (a < b) run_update(&j->u[i], a, b);
  }
}

/* Prepares q's update into u: its state made when missing, the step counted, the rule's
   coefficients computed. */
static nn_status prepare_param(nn_ctx *ctx, nn_optim *o, const nn_optim_opts *op, oparam *q,
                               const void *g, oupdate *u) {
  nn_dtype dt = nn_tensor_dtype(q->p);
  double sign = op->maximize ? -1 : 1;
  nn_status s = NN_OK;
  memset(u, 0, sizeof *u);
  u->kind = o->kind;
  u->f32 = dt == NN_F32;
  u->n = nn_tensor_numel(q->p);
  u->p = tdata(q->p);
  u->g = g;
  q->step++;
  switch (o->kind) {
  case NN_SGD: {
    bool fresh = false;
    if (op->momentum != 0 && (s = ensure_state(ctx, q, 0, &fresh)) != NN_OK) break;
    double mom = op->momentum;
    u->k.sgd = (sgd_k){.lr = op->lr, .wd = op->weight_decay, .sign = sign,
                       .bm = fresh ? 0 : mom, .bg = fresh ? 1 : 1 - op->dampening,
                       .gg = op->nesterov ? 1 : 0, .gb = op->nesterov ? mom : 1};
    u->s0 = mom != 0 ? tdata(q->st[0]) : NULL;
    break;
  }
  case NN_ADAM:
  case NN_ADAMW: {
    if ((s = ensure_state(ctx, q, 0, NULL)) != NN_OK || (s = ensure_state(ctx, q, 1, NULL)) != NN_OK ||
        (op->amsgrad && (s = ensure_state(ctx, q, 2, NULL)) != NN_OK))
      break;
    double t = (double)q->step;
    double bc1 = 1 - pow(op->beta1, t), bc2 = 1 - pow(op->beta2, t);
    bool w = o->kind == NN_ADAMW;
    u->k.adam = (adam_k){.b1 = op->beta1, .b2 = op->beta2, .eps = op->eps, .sign = sign,
                         .l2 = w ? 0 : op->weight_decay,
                         .decay = w ? 1 - op->lr * op->weight_decay : 1,
                         .step = op->eps_inside ? op->lr * sqrt(bc2) / bc1 : op->lr / bc1,
                         .dscale = op->eps_inside ? 1 : 1 / sqrt(bc2)};
    u->s0 = tdata(q->st[0]);
    u->s1 = tdata(q->st[1]);
    u->s2 = op->amsgrad ? tdata(q->st[2]) : NULL;
    break;
  }
  case NN_RMSPROP: {
    if ((s = ensure_state(ctx, q, 0, NULL)) != NN_OK ||
        (op->momentum > 0 && (s = ensure_state(ctx, q, 1, NULL)) != NN_OK) ||
        (op->centered && (s = ensure_state(ctx, q, 2, NULL)) != NN_OK))
      break;
    u->k.rms = (rms_k){.lr = op->lr, .wd = op->weight_decay, .alpha = op->alpha, .eps = op->eps,
                       .mom = op->momentum, .sign = sign};
    u->s0 = tdata(q->st[0]);
    u->s1 = op->momentum > 0 ? tdata(q->st[1]) : NULL;
    u->s2 = op->centered ? tdata(q->st[2]) : NULL;
    break;
  }
  case NN_ADAGRAD: {
    if (!q->st[0] && (s = nn_full(ctx, dt, nn_tensor_ndim(q->p), nn_tensor_shape(q->p),
                                  op->initial_accumulator_value, &q->st[0])) != NN_OK)
      break;
    u->k.adagrad = (adagrad_k){.clr = op->lr / (1 + (double)(q->step - 1) * op->lr_decay),
                               .wd = op->weight_decay, .eps = op->eps, .sign = sign};
    u->s0 = tdata(q->st[0]);
    break;
  }
  }
  if (s != NN_OK) q->step--;
  return s;
}

nn_status nn_optim_step(nn_ctx *ctx, nn_optim *o) {
  NN_ARG_AS(ctx, "step", o, "optimizer");
  const char *name = kind_name(o->kind);
  for (int gi = 0; gi < o->ngroups; gi++) { /* options may have been changed since add_group */
    nn_status s = nn_optim_check_opts(ctx, o->kind, &o->groups[gi].opts);
    if (s != NN_OK) return s;
  }
  if (o->nparams == 0) return NN_OK;
  size_t cap = (size_t)o->nparams;
  oupdate *u = nn_block_get(ctx, cap * sizeof *u);
  if (!u) return nn_fail(ctx, NN_ERR_MEM, "%s.step: out of memory", name);
  nn_status s = NN_OK;
  int n = 0;
  int64_t total = 0;
  for (int gi = 0; gi < o->ngroups && s == NN_OK; gi++) {
    const ogroup *gr = &o->groups[gi];
    for (int i = gr->first; i < gr->first + gr->n && s == NN_OK; i++) {
      nn_tensor *g, *tmp;
      s = grad_of(ctx, name, i, &o->params[i], &g, &tmp);
      if (s == NN_OK && g && (s = prepare_param(ctx, o, &gr->opts, &o->params[i], nn_tensor_data(g), &u[n])) == NN_OK) {
        u[n].q = &o->params[i];
        u[n].gcopy = tmp;
        total += u[n++].n;
      } else {
        nn_tensor_release(tmp);               /* no gradient (no update), or a failure */
      }
    }
  }
  if (s != NN_OK) {
    for (int i = 0; i < n; i++) u[i].q->step--;   /* nothing was updated */
  } else if (n > 0) {
    unsigned mode = nn_ftz_begin();    /* moments drift into subnormals late in training */
    update_job j = {u, n};
    nn_lanes(ctx, total, 4 * total, update_rows, &j);
    nn_ftz_end(mode);
    for (int i = 0; i < n; i++) nn_tensor_bump_version(u[i].q->p);
  }
  for (int i = 0; i < n; i++) nn_tensor_release(u[i].gcopy);
  nn_block_put(ctx, u, cap * sizeof *u);
  return s;
}

void nn_optim_zero_grad(nn_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->nparams; i++) nn_tensor_zero_grad(o->params[i].p);
}

void nn_optim_zero_grad_deferred(nn_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->nparams; i++) nn_tensor_zero_grad_deferred(o->params[i].p);
}

/* ---- introspection and state -------------------------------------------------------- */

int nn_optim_num_groups(const nn_optim *o) { return o ? o->ngroups : 0; }
nn_optim_kind nn_optim_kind_of(const nn_optim *o) { return o ? o->kind : NN_SGD; }

nn_optim_opts *nn_optim_group_opts(nn_optim *o, int g) {
  if (o && g == -1) return &o->defaults;
  return o && g >= 0 && g < o->ngroups ? &o->groups[g].opts : NULL;
}

const char *nn_optim_name(const nn_optim *o) { return o ? kind_name(o->kind) : ""; }
int nn_optim_num_options(const nn_optim *o) { return o ? optims[o->kind].nkeys : 0; }

const char *nn_optim_option(const nn_optim *o, int i, bool *is_flag) {
  if (!o || i < 0 || i >= optims[o->kind].nkeys) return NULL;
  if (is_flag) *is_flag = optims[o->kind].keys[i].rule == FLAG;
  return optims[o->kind].keys[i].key;
}

/* The key named key of o's kind and the options of group g (-1: the defaults), or a failure
   naming what is wrong. */
static nn_status find_option(nn_ctx *ctx, const nn_optim *o, int g, const char *key, const char *op,
                             const optkey **k, nn_optim_opts **opts) {
  NN_ARG_AS(ctx, op, o, "optimizer");
  NN_ARG(ctx, op, key);
  const optdesc *d = &optims[o->kind];
  if (g < -1 || g >= o->ngroups)
    return nn_fail(ctx, NN_ERR_ARG, "%s.%s: group %d out of range [-1, %d)", d->name, op, g,
                   o->ngroups);
  *opts = nn_optim_group_opts((nn_optim *)o, g);
  for (int i = 0; i < d->nkeys; i++)
    if (strcmp(d->keys[i].key, key) == 0) {
      *k = &d->keys[i];
      return NN_OK;
    }
  char valid[256];
  return nn_fail(ctx, NN_ERR_ARG, "%s: unknown option '%s' (valid: %s)", d->name, key,
                 listed(valid, sizeof valid, d->keys, sizeof d->keys[0], d->nkeys));
}

nn_status nn_optim_set(nn_ctx *ctx, nn_optim *o, int group, const char *key, double v) {
  const optkey *k;
  nn_optim_opts *opts;
  nn_status s = find_option(ctx, o, group, key, "set", &k, &opts);
  if (s == NN_OK) s = keycheck(ctx, kind_name(o->kind), k, v);
  if (s == NN_OK) keyset(k, opts, v);
  return s;
}

nn_status nn_optim_check(nn_ctx *ctx, nn_optim *o, int group) {
  const optkey *k;
  nn_optim_opts *opts;
  nn_status s = find_option(ctx, o, group, "lr", "check", &k, &opts);
  return s == NN_OK ? nn_optim_check_opts(ctx, o->kind, opts) : s;
}

nn_status nn_optim_get(nn_ctx *ctx, const nn_optim *o, int group, const char *key, double *v) {
  NN_ARG(ctx, "get", v);
  const optkey *k;
  nn_optim_opts *opts;
  nn_status s = find_option(ctx, o, group, key, "get", &k, &opts);
  if (s == NN_OK) *v = keyget(k, opts);
  return s;
}

int nn_optim_group_size(const nn_optim *o, int g) {
  return o && g >= 0 && g < o->ngroups ? o->groups[g].n : 0;
}

nn_tensor *nn_optim_group_param(const nn_optim *o, int g, int i) {
  if (!o || g < 0 || g >= o->ngroups || i < 0 || i >= o->groups[g].n) return NULL;
  return o->params[o->groups[g].first + i].p;
}

int nn_optim_num_params(const nn_optim *o) { return o ? o->nparams : 0; }

int nn_optim_state_names(const nn_optim *o, const char *const **names) {
  if (!o || !names) {
    if (names) *names = NULL;
    return 0;
  }
  return statenames(o->kind, names);
}

nn_tensor *nn_optim_state(const nn_optim *o, int p, const char *name) {
  if (!o || !name || p < 0 || p >= o->nparams) return NULL;
  int s = stateslot(o->kind, name);
  return s < 0 ? NULL : o->params[p].st[s];
}

int64_t nn_optim_param_step(const nn_optim *o, int p) {
  return o && p >= 0 && p < o->nparams ? o->params[p].step : 0;
}

/* dst[i] = src[i] converting dtypes; both contiguous with n elements. */
static void convert(void *dst, nn_dtype ddt, const void *src, nn_dtype sdt, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double v = sdt == NN_F32   ? ((const float *)src)[i]
               : sdt == NN_F64 ? ((const double *)src)[i]
                               : (double)((const int64_t *)src)[i];
    if (ddt == NN_F32) ((float *)dst)[i] = (float)v;
    else ((double *)dst)[i] = v;
  }
}

nn_status nn_optim_set_state(nn_ctx *ctx, nn_optim *o, int p, const char *name, nn_tensor *t) {
  NN_ARG_AS(ctx, "set_state", o, "optimizer");
  NN_ARG(ctx, "set_state", name);
  const char *kn = kind_name(o->kind);
  if (p < 0 || p >= o->nparams)
    return nn_fail(ctx, NN_ERR_ARG, "%s.set_state: parameter index %d out of range [0, %d)", kn, p,
                   o->nparams);
  int s = name ? stateslot(o->kind, name) : -1;
  if (s < 0) {
    const char *const *names;
    int n = statenames(o->kind, &names);
    return nn_fail(ctx, NN_ERR_ARG, "%s.set_state: unknown state '%s' (valid: %s%s%s%s%s)", kn,
                   name ? name : "(null)", names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "",
                   n > 2 ? ", " : "", n > 2 ? names[2] : "");
  }
  oparam *q = &o->params[p];
  if (!t) {
    nn_tensor_release(q->st[s]);
    q->st[s] = NULL;
    return NN_OK;
  }
  char a[96], b[96];
  int nd = nn_tensor_ndim(q->p);
  bool same = nn_tensor_ndim(t) == nd &&
              memcmp(nn_tensor_shape(t), nn_tensor_shape(q->p), (size_t)nd * sizeof(int64_t)) == 0;
  if (!same)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s.set_state: state '%s' of parameter %d has shape %s, expected %s",
                   kn, name, p, nn_shape_str(t, a, sizeof a), nn_shape_str(q->p, b, sizeof b));
  nn_tensor *src = NULL, *dst = NULL;
  nn_status st = nn_contiguous(ctx, t, &src);
  if (st == NN_OK) st = nn_tensor_new(ctx, nn_tensor_dtype(q->p), nd, nn_tensor_shape(q->p), &dst);
  if (st == NN_OK) {
    convert(nn_tensor_data(dst), nn_tensor_dtype(dst), nn_tensor_data(src), nn_tensor_dtype(src),
            nn_tensor_numel(dst));
    nn_tensor_release(q->st[s]);
    q->st[s] = dst;
  }
  nn_tensor_release(src);
  return st;
}

nn_status nn_optim_set_param_step(nn_ctx *ctx, nn_optim *o, int p, int64_t step) {
  NN_ARG_AS(ctx, "set_param_step", o, "optimizer");
  const char *kn = kind_name(o->kind);
  if (p < 0 || p >= o->nparams)
    return nn_fail(ctx, NN_ERR_ARG, "%s.set_param_step: parameter index %d out of range [0, %d)", kn,
                   p, o->nparams);
  if (step < 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s.set_param_step: step %lld is negative", kn, (long long)step);
  o->params[p].step = step;
  return NN_OK;
}
