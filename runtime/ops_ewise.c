/* ops_ewise.c — element-wise ops: binary with broadcasting, with a number, unary,
   comparisons, where, and the in-place forms. Each op: forward, then its backward. */
#include <math.h>
#include "nn_impl.h"

/* Operands whose dtype differs from the result's are converted first (the rare path). */
static nn_status as_dtype(nn_ctx *ctx, nn_tensor *t, nn_dtype dt, nn_tensor **out) {
  if (t->dtype == dt) { nn_tensor_retain(t); *out = t; return NN_OK; }
  nn_status s = nn_new(ctx, dt, t->ndim, t->shape, false, out);
  if (!s) nn_copy_raw(*out, t);
  return s;
}

/* ---- binary kernels ------------------------------------------------------------------- */

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE,
               B_AXPY } binop;
typedef struct { binop op; nn_dtype dt; double alpha; } bin_arg;  /* alpha: B_AXPY's scale */

/* The loop body for one row, contiguous and strided (the contiguous one vectorizes). */
#define ROW(T, EXPR)                                                                   \
  do {                                                                                 \
    T *y = (T *)o; const T *x = (const T *)a, *z = (const T *)b;                       \
    if (so == 1 && sa == 1 && sb == 1)                                                 \
      for (int64_t i = 0; i < n; i++) { T u = x[i], v = z[i]; y[i] = (EXPR); }         \
    else if (so == 1 && sa == 1 && sb == 0) {                                          \
      T v = z[0];                                                                      \
      for (int64_t i = 0; i < n; i++) { T u = x[i]; y[i] = (EXPR); }                   \
    } else                                                                             \
      for (int64_t i = 0; i < n; i++) { T u = x[i * sa], v = z[i * sb]; y[i * so] = (EXPR); } \
  } while (0)

/* ADD, SUB, MUL: the type's arithmetic (int64 wraps, as PyTorch's does, without C's undefined
   signed overflow) */
#define BINARY_CASES(T, POW, ADD, SUB, MUL)                       \
  switch (c->op) {                                                \
    case B_ADD: ROW(T, ADD(u, v)); break;                         \
    case B_SUB: ROW(T, SUB(u, v)); break;                         \
    case B_MUL: ROW(T, MUL(u, v)); break;                         \
    case B_DIV: ROW(T, u / v); break;                             \
    case B_POW: ROW(T, POW); break;                               \
    case B_MAX: ROW(T, (u > v || u != u) ? u : v); break;         \
    case B_MIN: ROW(T, (u < v || u != u) ? u : v); break;         \
    case B_EQ: ROW(T, (T)(u == v)); break;                        \
    case B_NE: ROW(T, (T)(u != v)); break;                        \
    case B_LT: ROW(T, (T)(u < v)); break;                         \
    case B_LE: ROW(T, (T)(u <= v)); break;                        \
    case B_GT: ROW(T, (T)(u > v)); break;                         \
    case B_GE: ROW(T, (T)(u >= v)); break;                        \
    case B_AXPY: { T al = (T)c->alpha; ROW(T, ADD(u, MUL(al, v))); } break; \
  }
#define F_ADD(u, v) ((u) + (v))
#define F_SUB(u, v) ((u) - (v))
#define F_MUL(u, v) ((u) * (v))
static inline int64_t i64_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t i64_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t i64_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* u^v for v >= 0 (the ops refuse negative integer powers first, as PyTorch), wrapping */
static int64_t ipow(int64_t u, int64_t v) {
  uint64_t r = 1, b = (uint64_t)u;
  for (; v > 0; v >>= 1) { if (v & 1) r *= b; b *= b; }
  return (int64_t)r;
}

static void bin_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                    void *arg) {
  const bin_arg *c = arg;
  switch (c->dt) {
    case NN_F32: BINARY_CASES(float, powf(u, v), F_ADD, F_SUB, F_MUL); break;
    case NN_F64: BINARY_CASES(double, pow(u, v), F_ADD, F_SUB, F_MUL); break;
    case NN_I64: BINARY_CASES(int64_t, ipow(u, v), i64_add, i64_sub, i64_mul); break;
  }
}

static void run_binary(binop op, double alpha, nn_tensor *out, nn_tensor *a, nn_tensor *b) {
  int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
  nn_broadcast_strides(a, out->ndim, out->shape, sa);
  nn_broadcast_strides(b, out->ndim, out->shape, sb);
  bin_arg c = {op, out->dtype, alpha};
  char *base[3] = {nn_ptr(out), nn_ptr(a), nn_ptr(b)};
  const int64_t *st[3] = {out->stride, sa, sb};
  size_t es = nn_dtype_size(out->dtype), e[3] = {es, es, es};
  nn_loop(3, out->ndim, out->shape, base, st, e, bin_row, &c);
}

/* The common case's one row, split into lanes by the result's rows */
typedef struct { bin_arg c; char *o, *a, *b; int64_t row; size_t es; bool bscalar; } flat_bin;
static void flat_bin_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const flat_bin *f = arg;
  (void)part;
  size_t off = (size_t)(lo * f->row) * f->es;
  bin_row((hi - lo) * f->row, f->o + off, 1, f->a + off, 1, f->bscalar ? f->b : f->b + off,
          f->bscalar ? 0 : 1, (void *)&f->c);
}

/* The first negative value of an int64 tensor, if any (integer powers refuse them). */
static bool has_negative(const nn_tensor *t, double *v) {
  for (int64_t i = 0; i < t->numel; i++)
    if ((*v = nn_get_flat(t, i)) < 0) return true;
  return false;
}

/* Forward of every binary op: broadcast, promote, compute; the caller records. cdt is the
   dtype to compute in, odt the result's (they differ only for comparisons). */
static nn_status binary(nn_ctx *ctx, const char *name, binop op, nn_tensor *a, nn_tensor *b,
                        nn_dtype cdt, nn_tensor **out) {
  NN_ARG(ctx, name, out);
  *out = NULL;
  NN_ARG_AS(ctx, name, a && b, "tensor");
  double neg;
  if (op == B_POW && cdt == NN_I64 && has_negative(b, &neg))
    return nn_fail(ctx, NN_ERR_ARG, "%s: integers to negative integer powers are not allowed "
                   "(exponent %.0f; use a float tensor: a:double() ^ b)", name, neg);
  int ndim;
  int64_t shape[NN_MAX_DIMS];
  nn_status s = nn_broadcast_shape(ctx, name, a, b, &ndim, shape);
  if (s) return s;
  nn_tensor *ca = NULL, *cb = NULL, *r = NULL;
  if (a->dtype == cdt && b->dtype == cdt && nn_is_contig(a) && nn_is_contig(b) &&
      (b->numel == 1 || nn_same_shape(a, b)) && a->numel == nn_shape_numel(ndim, shape)) {
    /* the common case, one row: no conversion, no stride bookkeeping */
    if ((s = nn_new(ctx, cdt, ndim, shape, false, &r))) return s;
    int64_t rows = ndim > 0 && r->numel > 0 ? shape[0] : 1;
    flat_bin f = {{op, cdt, 0}, nn_ptr(r), nn_ptr(a), nn_ptr(b), r->numel / rows, nn_dtype_size(cdt),
                  b->numel == 1};
    nn_lanes(ctx, rows, r->numel, flat_bin_rows, &f);
    *out = r;
    return NN_OK;
  }
  if (!(s = as_dtype(ctx, a, cdt, &ca)) && !(s = as_dtype(ctx, b, cdt, &cb)) &&
      !(s = nn_new(ctx, cdt, ndim, shape, false, &r)))
    run_binary(op, 0, r, ca, cb);
  nn_tensor_release(ca);
  nn_tensor_release(cb);
  if (!s) *out = r;
  return s;
}

/* The result dtype of arithmetic: promotion, and int64 / int64 divides as float32. */
static nn_dtype arith_dtype(binop op, nn_tensor *a, nn_tensor *b) {
  if (!a || !b) return NN_F32;   /* (binary() reports the NULL) */
  nn_dtype dt = nn_promote(a->dtype, b->dtype);
  return (op == B_DIV && dt == NN_I64) ? NN_F32 : dt;
}

static nn_status record2(nn_ctx *ctx, const nn_op *op, nn_tensor **out, nn_tensor *a, nn_tensor *b) {
  nn_tensor *in[2] = {a, b};
  if (!nn_needs_grad(ctx, 2, in) || (*out)->dtype == NN_I64) return NN_OK;
  if (nn_record(ctx, op, *out, 2, in, NULL)) return NN_OK;
  nn_tensor_release(*out);
  *out = NULL;
  return ctx->status;
}

/* Accumulates g (or -g) into input i. */
static nn_status accum_scaled(nn_ctx *ctx, nn_node *n, int i, nn_tensor *g, double scale) {
  if (!nn_input_needs_grad(n, i)) return NN_OK;
  if (scale == 1.0) return nn_grad_accum(ctx, n, i, g);
  nn_tensor *t;
  nn_status s = nn_muls(ctx, g, scale, &t);
  if (s) return s;
  s = nn_grad_accum(ctx, n, i, t);
  nn_tensor_release(t);
  return s;
}

/* Accumulates x * y (x, y broadcast) into input i. */
static nn_status accum_mul(nn_ctx *ctx, nn_node *n, int i, nn_tensor *x, nn_tensor *y) {
  if (!nn_input_needs_grad(n, i)) return NN_OK;
  nn_tensor *t;
  nn_status s = nn_mul(ctx, x, y, &t);
  if (s) return s;
  s = nn_grad_accum(ctx, n, i, t);
  nn_tensor_release(t);
  return s;
}

/* ---- add, sub: y = a ± b;  da += dy, db += ±dy (summed over broadcast dims) ---------- */
static nn_status add_backward(nn_ctx *ctx, nn_node *n) {
  nn_status s = accum_scaled(ctx, n, 0, n->gout, 1.0);
  return s ? s : accum_scaled(ctx, n, 1, n->gout, 1.0);
}
const nn_op nn_op_add = {"add", add_backward, 0};
nn_status nn_add(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "add", B_ADD, a, b, arith_dtype(B_ADD, a, b), out);
  return s ? s : record2(ctx, &nn_op_add, out, a, b);
}

static nn_status sub_backward(nn_ctx *ctx, nn_node *n) {
  nn_status s = accum_scaled(ctx, n, 0, n->gout, 1.0);
  return s ? s : accum_scaled(ctx, n, 1, n->gout, -1.0);
}
const nn_op nn_op_sub = {"sub", sub_backward, 0};
nn_status nn_sub(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "sub", B_SUB, a, b, arith_dtype(B_SUB, a, b), out);
  return s ? s : record2(ctx, &nn_op_sub, out, a, b);
}

/* ---- mul: y = a b;  da += dy b,  db += dy a ------------------------------------------- */
static nn_status mul_backward(nn_ctx *ctx, nn_node *n) {
  nn_status s = accum_mul(ctx, n, 0, n->gout, n->in[1]);
  return s ? s : accum_mul(ctx, n, 1, n->gout, n->in[0]);
}
const nn_op nn_op_mul = {"mul", mul_backward, 3};
nn_status nn_mul(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "mul", B_MUL, a, b, arith_dtype(B_MUL, a, b), out);
  return s ? s : record2(ctx, &nn_op_mul, out, a, b);
}

/* ---- div: y = a / b;  da += dy / b,  db -= dy a / b² ---------------------------------- */
static nn_status div_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *a = n->in[0], *b = n->in[1], *t = NULL, *u = NULL;
  nn_status s = NN_OK;
  if (nn_input_needs_grad(n, 0)) {
    if ((s = nn_div(ctx, n->gout, b, &t))) return s;
    s = nn_grad_accum(ctx, n, 0, t);
    nn_tensor_release(t); t = NULL;
    if (s) return s;
  }
  if (nn_input_needs_grad(n, 1)) {
    if (!(s = nn_div(ctx, a, b, &t)) && !(s = nn_div(ctx, t, b, &u))) {
      nn_tensor_release(t); t = NULL;
      if (!(s = nn_mul(ctx, n->gout, u, &t))) s = accum_scaled(ctx, n, 1, t, -1.0);
    }
  }
  nn_tensor_release(t);
  nn_tensor_release(u);
  return s;
}
const nn_op nn_op_div = {"div", div_backward, 3};
nn_status nn_div(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "div", B_DIV, a, b, arith_dtype(B_DIV, a, b), out);
  return s ? s : record2(ctx, &nn_op_div, out, a, b);
}

/* ---- pow: y = a^b;  da += dy b a^(b-1),  db += dy y log a ------------------------------- */
static nn_status pow_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *a = n->in[0], *b = n->in[1], *t = NULL, *u = NULL, *v = NULL;
  nn_status s = NN_OK;
  if (nn_input_needs_grad(n, 0)) {
    if (!(s = nn_adds(ctx, b, -1.0, &t)) && !(s = nn_pow(ctx, a, t, &u)) &&
        !(s = nn_mul(ctx, u, b, &v)))
      s = accum_mul(ctx, n, 0, n->gout, v);
    nn_tensor_release(t); nn_tensor_release(u); nn_tensor_release(v);
    t = u = v = NULL;
    if (s) return s;
  }
  if (nn_input_needs_grad(n, 1)) {
    if (!(s = nn_pow(ctx, a, b, &t)) && !(s = nn_log(ctx, a, &u)) && !(s = nn_mul(ctx, t, u, &v)))
      s = accum_mul(ctx, n, 1, n->gout, v);
    nn_tensor_release(t); nn_tensor_release(u); nn_tensor_release(v);
  }
  return s;
}
const nn_op nn_op_pow = {"pow", pow_backward, 3};
nn_status nn_pow(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "pow", B_POW, a, b, arith_dtype(B_POW, a, b), out);
  return s ? s : record2(ctx, &nn_op_pow, out, a, b);
}

/* ---- maximum, minimum: the gradient goes to the larger (smaller) operand, split on ties -- */
static nn_status extremum_backward(nn_ctx *ctx, nn_node *n, binop win) {
  nn_tensor *a = n->in[0], *b = n->in[1], *m = NULL, *e = NULL, *w = NULL;
  nn_status s;
  if ((s = binary(ctx, "maximum", win, a, b, nn_promote(a->dtype, b->dtype), &m)) ||
      (s = binary(ctx, "maximum", B_EQ, a, b, nn_promote(a->dtype, b->dtype), &e)))
    goto done;
  /* w = mask + 0.5 * ties: the share of dy that a gets; b gets 1 - w */
  if ((s = nn_muls(ctx, e, 0.5, &w))) goto done;
  run_binary(B_ADD, 0, w, w, m);
  if ((s = accum_mul(ctx, n, 0, n->gout, w))) goto done;
  nn_tensor_release(m); m = NULL;
  if ((s = nn_rsubs(ctx, w, 1.0, &m))) goto done;
  s = accum_mul(ctx, n, 1, n->gout, m);
done:
  nn_tensor_release(m); nn_tensor_release(e); nn_tensor_release(w);
  return s;
}
static nn_status maximum_backward(nn_ctx *ctx, nn_node *n) { return extremum_backward(ctx, n, B_GT); }
static nn_status minimum_backward(nn_ctx *ctx, nn_node *n) { return extremum_backward(ctx, n, B_LT); }
const nn_op nn_op_maximum = {"maximum", maximum_backward, 3};
const nn_op nn_op_minimum = {"minimum", minimum_backward, 3};
nn_status nn_maximum(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "maximum", B_MAX, a, b, arith_dtype(B_MAX, a, b), out);
  return s ? s : record2(ctx, &nn_op_maximum, out, a, b);
}
nn_status nn_minimum(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  nn_status s = binary(ctx, "minimum", B_MIN, a, b, arith_dtype(B_MIN, a, b), out);
  return s ? s : record2(ctx, &nn_op_minimum, out, a, b);
}

/* ---- comparisons: 0/1 in the promoted dtype, no gradient -------------------------------- */
nn_status nn_compare(nn_ctx *ctx, nn_cmp op, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  static const binop map[] = {B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE};
  static const char *names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  NN_ARG(ctx, "compare", out);
  *out = NULL;
  if ((unsigned)op > NN_GE) return nn_fail(ctx, NN_ERR_ARG, "compare: unknown comparison %d", (int)op);
  NN_ARG_AS(ctx, names[op], a && b, "tensor");
  return binary(ctx, names[op], map[op], a, b, nn_promote(a->dtype, b->dtype), out);
}

/* ---- with a number -------------------------------------------------------------------------
   y = a op s. The number takes a's dtype (as a Python scalar does in PyTorch), except that an
   int64 tensor with a fractional number computes in float32. */
typedef enum { S_ADD, S_MUL, S_POW, S_RSUB, S_RDIV } scalop;
typedef struct { scalop op; nn_dtype dt; double s; } scal_arg;

#define SROW(T, EXPR)                                                          \
  do {                                                                         \
    T *y = (T *)o; const T *x = (const T *)a; const T v = (T)c->s;             \
    (void)v;                                                                   \
    if (so == 1 && sa == 1) for (int64_t i = 0; i < n; i++) { T u = x[i]; y[i] = (EXPR); } \
    else for (int64_t i = 0; i < n; i++) { T u = x[i * sa]; y[i * so] = (EXPR); } \
  } while (0)
#define SCALAR_CASES(T, POW, ADD, SUB, MUL)        \
  switch (c->op) {                                 \
    case S_ADD: SROW(T, ADD(u, v)); break;         \
    case S_MUL: SROW(T, MUL(u, v)); break;         \
    case S_POW: SROW(T, POW); break;               \
    case S_RSUB: SROW(T, SUB(v, u)); break;        \
    case S_RDIV: SROW(T, v / u); break;            \
  }

static void scal_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *u0, int64_t u1,
                     void *arg) {
  (void)u0; (void)u1;
  const scal_arg *c = arg;
  switch (c->dt) {
    case NN_F32:
      if (c->op == S_POW && c->s == 2.0) { SROW(float, u * u); break; }
      SCALAR_CASES(float, powf(u, v), F_ADD, F_SUB, F_MUL); break;
    case NN_F64:
      if (c->op == S_POW && c->s == 2.0) { SROW(double, u * u); break; }
      SCALAR_CASES(double, pow(u, (double)c->s), F_ADD, F_SUB, F_MUL); break;
    case NN_I64: SCALAR_CASES(int64_t, ipow(u, v), i64_add, i64_sub, i64_mul); break;
  }
}

static nn_status scalar_op(nn_ctx *ctx, const char *name, scalop op, nn_tensor *a, double sv,
                           nn_tensor *dst, nn_tensor **out) {
  if (!dst) NN_ARG(ctx, name, out);   /* (in place, dst is the result) */
  if (out) *out = NULL;
  NN_ARG_AS(ctx, name, a, "tensor");
  nn_dtype dt = a->dtype;
  int64_t iv;   /* a number int64 cannot hold (fraction, inf, NaN, past 2^63) computes in float */
  if (dt == NN_I64 && (!nn_f64_to_i64(sv, &iv) || op == S_RDIV || (op == S_POW && sv < 0)))
    dt = NN_F32;
  nn_tensor *ca = NULL, *r = dst;
  nn_status s = as_dtype(ctx, a, dt, &ca);
  if (!s && !r) s = nn_new(ctx, dt, a->ndim, a->shape, false, &r);
  if (!s) {
    scal_arg c = {op, dt, sv};
    char *base[2] = {nn_ptr(r), nn_ptr(ca)};
    const int64_t *st[2] = {r->stride, ca->stride};
    size_t es = nn_dtype_size(dt), e[2] = {es, es};
    nn_loop_lanes(ctx, 2, r->ndim, r->shape, base, st, e, scal_row, &c);
  }
  nn_tensor_release(ca);
  if (!s && out) *out = r;
  return s;
}

static nn_status record1(nn_ctx *ctx, const nn_op *op, nn_tensor **out, nn_tensor *a,
                         nn_tensor *saved, double f0) {
  if (!nn_needs_grad(ctx, 1, &a) || (*out)->dtype == NN_I64) return NN_OK;
  nn_node *n = nn_record(ctx, op, *out, 1, &a, saved);
  if (n) { n->f[0] = f0; return NN_OK; }
  nn_tensor_release(*out);
  *out = NULL;
  return ctx->status;
}

/* y = a + s: da += dy */
static nn_status adds_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum(ctx, n, 0, n->gout); }
const nn_op nn_op_adds = {"adds", adds_backward, 0};
nn_status nn_adds(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  nn_status st = scalar_op(ctx, "add", S_ADD, a, s, NULL, out);
  return st ? st : record1(ctx, &nn_op_adds, out, a, NULL, s);
}
/* y = a s: da += s dy */
static nn_status muls_backward(nn_ctx *ctx, nn_node *n) { return accum_scaled(ctx, n, 0, n->gout, n->f[0]); }
const nn_op nn_op_muls = {"muls", muls_backward, 0};
nn_status nn_muls(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  nn_status st = scalar_op(ctx, "mul", S_MUL, a, s, NULL, out);
  return st ? st : record1(ctx, &nn_op_muls, out, a, NULL, s);
}
/* y = s - a: da -= dy */
static nn_status rsubs_backward(nn_ctx *ctx, nn_node *n) { return accum_scaled(ctx, n, 0, n->gout, -1.0); }
const nn_op nn_op_rsubs = {"rsubs", rsubs_backward, 0};
nn_status nn_rsubs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  nn_status st = scalar_op(ctx, "sub", S_RSUB, a, s, NULL, out);
  return st ? st : record1(ctx, &nn_op_rsubs, out, a, NULL, s);
}
/* y = s / a: da -= dy s / a² = dy (-y / a) */
static nn_status rdivs_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  nn_status s = nn_pows(ctx, n->in[0], -2.0, &t);
  if (!s && !(s = nn_muls(ctx, t, -n->f[0], &u))) s = accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_rdivs = {"rdivs", rdivs_backward, 1};
nn_status nn_rdivs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  nn_status st = scalar_op(ctx, "div", S_RDIV, a, s, NULL, out);
  return st ? st : record1(ctx, &nn_op_rdivs, out, a, NULL, s);
}
/* y = a^p: da += dy p a^(p-1) */
static nn_status pows_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  double p = n->f[0];
  nn_status s = p == 2.0 ? nn_muls(ctx, n->in[0], 2.0, &u)
                         : nn_pows(ctx, n->in[0], p - 1.0, &t);
  if (!s && p != 2.0) s = nn_muls(ctx, t, p, &u);
  if (!s) s = accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_pows = {"pows", pows_backward, 1};
nn_status nn_pows(nn_ctx *ctx, nn_tensor *a, double p, nn_tensor **out) {
  nn_status st = scalar_op(ctx, "pow", S_POW, a, p, NULL, out);
  return st ? st : record1(ctx, &nn_op_pows, out, a, NULL, p);
}

/* ---- unary -------------------------------------------------------------------------------- */

typedef enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_ABS, U_SIGN, U_TANH, U_SIGMOID, U_RELU, U_LEAKY,
               U_GELU, U_CLAMP, U_DRELU, U_DLEAKY, U_DCLAMP, U_DGELU } unop;
typedef struct { unop op; nn_dtype dt; double p, q; } un_arg;

#define UROW(T, EXPR)                                                             \
  do {                                                                            \
    T *y = (T *)o; const T *x = (const T *)a;                                     \
    if (so == 1 && sa == 1) for (int64_t i = 0; i < n; i++) { T v = x[i]; y[i] = (EXPR); } \
    else for (int64_t i = 0; i < n; i++) { T v = x[i * sa]; y[i * so] = (EXPR); } \
  } while (0)
#define UNARY_CASES(T, EXP, LOG, SQRT, FABS, TANH, ERF)                                  \
  switch (c->op) {                                                                      \
    case U_NEG: UROW(T, -v); break;                                                     \
    case U_EXP: UROW(T, EXP(v)); break;                                                 \
    case U_LOG: UROW(T, LOG(v)); break;                                                 \
    case U_SQRT: UROW(T, SQRT(v)); break;                                               \
    case U_ABS: UROW(T, FABS(v)); break;                                                \
    case U_SIGN: UROW(T, (T)((v > 0) - (v < 0))); break;                                \
    case U_TANH: UROW(T, TANH(v)); break;                                               \
    case U_SIGMOID: UROW(T, v >= 0 ? 1 / (1 + EXP(-v)) : EXP(v) / (1 + EXP(v))); break; \
    case U_RELU: UROW(T, v > 0 ? v : 0); break;                                         \
    case U_LEAKY: UROW(T, v > 0 ? v : v * p); break;                                    \
    case U_GELU: UROW(T, (T)0.5 * v * (1 + ERF(v * (T)0.70710678118654752440))); break;  \
    case U_CLAMP: UROW(T, v < p ? p : v > q ? q : v); break;                            \
    case U_DRELU: UROW(T, (T)(v > 0)); break;                                           \
    case U_DLEAKY: UROW(T, v > 0 ? 1 : p); break;                                       \
    case U_DCLAMP: UROW(T, (T)(v >= p && v <= q)); break;                               \
    case U_DGELU:                                                                       \
      UROW(T, (T)0.5 * (1 + ERF(v * (T)0.70710678118654752440)) +                       \
                  v * (T)0.39894228040143267794 * EXP(-(T)0.5 * v * v));               \
      break;                                                                            \
  }

static void un_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *u0, int64_t u1,
                   void *arg) {
  (void)u0; (void)u1;
  const un_arg *c = arg;
  if (c->dt == NN_F32) {
    const float p = (float)c->p, q = (float)c->q;
    (void)p; (void)q;
    UNARY_CASES(float, nn_expf, logf, sqrtf, fabsf, tanhf, erff);
  } else if (c->dt == NN_F64) {
    const double p = c->p, q = c->q;
    (void)p; (void)q;
    UNARY_CASES(double, exp, log, sqrt, fabs, tanh, erf);
  } else {
    /* clamp's bounds, rounded inwards and saturated to int64's range (±inf are no bound) */
    const int64_t p = c->p <= -0x1p63 ? INT64_MIN : c->p >= 0x1p63 ? INT64_MAX : (int64_t)ceil(c->p);
    const int64_t q = c->q <= -0x1p63 ? INT64_MIN : c->q >= 0x1p63 ? INT64_MAX : (int64_t)floor(c->q);
    (void)p; (void)q;
    switch (c->op) {
      case U_NEG: UROW(int64_t, i64_sub(0, v)); break;
      case U_ABS: UROW(int64_t, v < 0 ? i64_sub(0, v) : v); break;
      case U_SIGN: UROW(int64_t, (v > 0) - (v < 0)); break;
      case U_RELU: UROW(int64_t, v > 0 ? v : 0); break;
      case U_CLAMP: UROW(int64_t, v < p ? p : v > q ? q : v); break;
      default: break;
    }
  }
}

/* int64 stays int64 for the ops that keep integers; the others compute in float32. */
static nn_status unary(nn_ctx *ctx, const char *name, unop op, nn_tensor *a, double p, double q,
                       nn_tensor *dst, nn_tensor **out) {
  if (!dst) NN_ARG(ctx, name, out);   /* (in place, dst is the result) */
  if (out) *out = NULL;
  NN_ARG_AS(ctx, name, a, "tensor");
  bool keeps_int = op == U_NEG || op == U_ABS || op == U_SIGN || op == U_RELU || op == U_CLAMP;
  nn_dtype dt = (a->dtype == NN_I64 && !keeps_int) ? NN_F32 : a->dtype;
  nn_tensor *ca = NULL, *r = dst;
  nn_status s = as_dtype(ctx, a, dt, &ca);
  if (!s && !r) s = nn_new(ctx, dt, a->ndim, a->shape, false, &r);
  if (!s) {
    un_arg c = {op, dt, p, q};
    char *base[2] = {nn_ptr(r), nn_ptr(ca)};
    const int64_t *st[2] = {r->stride, ca->stride};
    size_t es = nn_dtype_size(dt), e[2] = {es, es};
    nn_loop_lanes(ctx, 2, r->ndim, r->shape, base, st, e, un_row, &c);
  }
  nn_tensor_release(ca);
  if (!s && out) *out = r;
  return s;
}

/* An output alias (no node) for ops whose backward reads their result. */
static nn_tensor *out_alias(nn_ctx *ctx, nn_tensor *y) {
  nn_tensor *v;
  return nn_alias(ctx, y, y->ndim, y->shape, y->stride, y->offset, &v) ? NULL : v;
}

static nn_status record_unary(nn_ctx *ctx, const nn_op *op, nn_tensor **out, nn_tensor *a,
                              bool save_out, double p, double q) {
  if (!nn_needs_grad(ctx, 1, &a) || (*out)->dtype == NN_I64) return NN_OK;
  nn_tensor *saved = NULL;
  if (save_out && !(saved = out_alias(ctx, *out))) goto fail;
  nn_node *n = nn_record(ctx, op, *out, 1, &a, saved);
  nn_tensor_release(saved);
  if (!n) goto fail;
  n->f[0] = p; n->f[1] = q;
  return NN_OK;
fail:
  nn_tensor_release(*out);
  *out = NULL;
  return ctx->status ? ctx->status : NN_ERR_MEM;
}

/* da += dy * f'(·) where f' is computed by kernel k from x (the input or the saved output) */
static nn_status accum_deriv(nn_ctx *ctx, nn_node *n, unop k, nn_tensor *x) {
  nn_tensor *d;
  nn_status s = unary(ctx, "backward", k, x, n->f[0], n->f[1], NULL, &d);
  if (s) return s;
  s = accum_mul(ctx, n, 0, n->gout, d);
  nn_tensor_release(d);
  return s;
}

/* neg: da -= dy */
static nn_status neg_backward(nn_ctx *ctx, nn_node *n) { return accum_scaled(ctx, n, 0, n->gout, -1.0); }
const nn_op nn_op_neg = {"neg", neg_backward, 0};
nn_status nn_neg(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "neg", U_NEG, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_neg, out, a, false, 0, 0);
}

/* exp: da += dy y */
static nn_status exp_backward(nn_ctx *ctx, nn_node *n) { return accum_mul(ctx, n, 0, n->gout, n->saved); }
const nn_op nn_op_exp = {"exp", exp_backward, 0};
nn_status nn_exp(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "exp", U_EXP, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_exp, out, a, true, 0, 0);
}

/* log: da += dy / a */
static nn_status log_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t;
  nn_status s = nn_div(ctx, n->gout, n->in[0], &t);
  if (s) return s;
  s = nn_grad_accum(ctx, n, 0, t);
  nn_tensor_release(t);
  return s;
}
const nn_op nn_op_log = {"log", log_backward, 1};
nn_status nn_log(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "log", U_LOG, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_log, out, a, false, 0, 0);
}

/* sqrt: da += dy / (2 y) */
static nn_status sqrt_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  nn_status s = nn_muls(ctx, n->saved, 2.0, &t);
  if (!s && !(s = nn_div(ctx, n->gout, t, &u))) s = nn_grad_accum(ctx, n, 0, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_sqrt = {"sqrt", sqrt_backward, 0};
nn_status nn_sqrt(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "sqrt", U_SQRT, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_sqrt, out, a, true, 0, 0);
}

/* abs: da += dy sign(a) */
static nn_status abs_backward(nn_ctx *ctx, nn_node *n) { return accum_deriv(ctx, n, U_SIGN, n->in[0]); }
const nn_op nn_op_abs = {"abs", abs_backward, 1};
nn_status nn_abs(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "abs", U_ABS, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_abs, out, a, false, 0, 0);
}

/* sign: da += 0 (zero almost everywhere; the input still gets a gradient, as in PyTorch) */
static nn_status sign_backward(nn_ctx *ctx, nn_node *n) { return accum_scaled(ctx, n, 0, n->gout, 0.0); }
const nn_op nn_op_sign = {"sign", sign_backward, 0};
nn_status nn_sign(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "sign", U_SIGN, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_sign, out, a, false, 0, 0);
}

/* tanh: da += dy (1 - y²) */
static nn_status tanh_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  nn_status s = nn_mul(ctx, n->saved, n->saved, &t);
  if (!s && !(s = nn_rsubs(ctx, t, 1.0, &u))) s = accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_tanh = {"tanh", tanh_backward, 0};
nn_status nn_tanh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "tanh", U_TANH, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_tanh, out, a, true, 0, 0);
}

/* sigmoid: da += dy y (1 - y) */
static nn_status sigmoid_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  nn_status s = nn_rsubs(ctx, n->saved, 1.0, &t);
  if (!s && !(s = nn_mul(ctx, t, n->saved, &u))) s = accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_sigmoid = {"sigmoid", sigmoid_backward, 0};
nn_status nn_sigmoid(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "sigmoid", U_SIGMOID, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_sigmoid, out, a, true, 0, 0);
}

/* relu: da += dy [y > 0] — the mask comes from the saved output, not the input */
typedef struct { nn_dtype dt; } mask_arg;
static void relu_bw_row(int64_t n, char *o, int64_t so, char *g, int64_t sg, char *y, int64_t sy,
                        void *arg) {
  if (((mask_arg *)arg)->dt == NN_F32) {
    float *d = (float *)o; const float *gg = (const float *)g, *yy = (const float *)y;
    if (so == 1 && sg == 1 && sy == 1) for (int64_t i = 0; i < n; i++) d[i] = yy[i] > 0 ? gg[i] : 0.0f;
    else for (int64_t i = 0; i < n; i++) d[i * so] = yy[i * sy] > 0 ? gg[i * sg] : 0.0f;
  } else {
    double *d = (double *)o; const double *gg = (const double *)g, *yy = (const double *)y;
    for (int64_t i = 0; i < n; i++) d[i * so] = yy[i * sy] > 0 ? gg[i * sg] : 0.0;
  }
}
static nn_status relu_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *y = n->saved, *d;
  nn_status s = nn_new(ctx, y->dtype, y->ndim, y->shape, false, &d);
  if (s) return s;
  mask_arg c = {y->dtype};
  nn_tensor *g = n->gout;
  char *base[3] = {nn_ptr(d), nn_ptr(g), nn_ptr(y)};
  const int64_t *st[3] = {d->stride, g->stride, y->stride};
  size_t es = nn_dtype_size(y->dtype), e[3] = {es, es, es};
  if (g->dtype != y->dtype) { nn_tensor_release(d); return accum_deriv(ctx, n, U_DRELU, y); }
  nn_loop_lanes(ctx, 3, d->ndim, d->shape, base, st, e, relu_bw_row, &c);
  s = nn_grad_accum(ctx, n, 0, d);
  nn_tensor_release(d);
  return s;
}
const nn_op nn_op_relu = {"relu", relu_backward, 0};
nn_status nn_relu(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "relu", U_RELU, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_relu, out, a, true, 0, 0);
}

/* leaky_relu: da += dy (a > 0 ? 1 : slope) */
static nn_status leaky_backward(nn_ctx *ctx, nn_node *n) { return accum_deriv(ctx, n, U_DLEAKY, n->in[0]); }
const nn_op nn_op_leaky_relu = {"leaky_relu", leaky_backward, 1};
nn_status nn_leaky_relu(nn_ctx *ctx, nn_tensor *a, double slope, nn_tensor **out) {
  NN_ARG(ctx, "leaky_relu", out);
  *out = NULL;
  if (!isfinite(slope))
    return nn_fail(ctx, NN_ERR_ARG, "leaky_relu: negative slope must be finite, got %g", slope);
  nn_status s = unary(ctx, "leaky_relu", U_LEAKY, a, slope, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_leaky_relu, out, a, false, slope, 0);
}

/* gelu (exact): y = a Φ(a);  da += dy (Φ(a) + a φ(a)) */
static nn_status gelu_backward(nn_ctx *ctx, nn_node *n) { return accum_deriv(ctx, n, U_DGELU, n->in[0]); }
const nn_op nn_op_gelu = {"gelu", gelu_backward, 1};
nn_status nn_gelu(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {
  nn_status s = unary(ctx, "gelu", U_GELU, a, 0, 0, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_gelu, out, a, false, 0, 0);
}

/* clamp: da += dy [lo <= a <= hi] */
static nn_status clamp_backward(nn_ctx *ctx, nn_node *n) { return accum_deriv(ctx, n, U_DCLAMP, n->in[0]); }
const nn_op nn_op_clamp = {"clamp", clamp_backward, 1};
static nn_status check_clamp(nn_ctx *ctx, const char *name, double lo, double hi) {
  if (isnan(lo) || isnan(hi) || lo > hi)
    return nn_fail(ctx, NN_ERR_ARG, "%s: expects lo <= hi, got lo = %g, hi = %g", name, lo, hi);
  return NN_OK;
}
nn_status nn_clamp(nn_ctx *ctx, nn_tensor *a, double lo, double hi, nn_tensor **out) {
  NN_ARG(ctx, "clamp", out);
  *out = NULL;
  nn_status s = check_clamp(ctx, "clamp", lo, hi);
  if (!s) s = unary(ctx, "clamp", U_CLAMP, a, lo, hi, NULL, out);
  return s ? s : record_unary(ctx, &nn_op_clamp, out, a, false, lo, hi);
}

/* ---- where: y = cond ? a : b;  da += dy [cond],  db += dy [!cond] -------------------------- */
typedef struct { nn_dtype dt, ct; } where_arg;
static void where_row(int64_t n, char *o, int64_t so, char *c, int64_t sc, char *x, int64_t sx,
                      void *arg) {
  /* the row walks (out, cond, a); b was copied into out first, so only "true" lanes move */
  const where_arg *w = arg;
  size_t es = nn_dtype_size(w->dt), cs = nn_dtype_size(w->ct);
  for (int64_t i = 0; i < n; i++) {
    const char *cp = c + i * sc * (int64_t)cs;
    bool t = w->ct == NN_F32 ? *(const float *)cp != 0 : w->ct == NN_F64 ? *(const double *)cp != 0
                                                                         : *(const int64_t *)cp != 0;
    if (t) memcpy(o + i * so * (int64_t)es, x + i * sx * (int64_t)es, es);
  }
}
static nn_status where_raw(nn_ctx *ctx, nn_tensor *cond, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  *out = NULL;
  int nd1, nd;
  int64_t sh1[NN_MAX_DIMS], sh[NN_MAX_DIMS];
  nn_status s = nn_broadcast_shape(ctx, "where", a, b, &nd1, sh1);
  if (s) return s;
  nn_tensor tmp = {0};
  tmp.ndim = nd1;
  memcpy(tmp.shape, sh1, sizeof sh1);
  if ((s = nn_broadcast_shape(ctx, "where", cond, &tmp, &nd, sh))) return s;
  nn_dtype dt = nn_promote(a->dtype, b->dtype);
  nn_tensor *ca = NULL, *r = NULL;
  if ((s = nn_new(ctx, dt, nd, sh, false, &r)) || (s = as_dtype(ctx, a, dt, &ca))) {
    nn_tensor_release(r);
    return s;
  }
  nn_copy_raw(r, b);
  int64_t sc[NN_MAX_DIMS], sa[NN_MAX_DIMS];
  nn_broadcast_strides(cond, nd, sh, sc);
  nn_broadcast_strides(ca, nd, sh, sa);
  where_arg w = {dt, cond->dtype};
  char *base[3] = {nn_ptr(r), nn_ptr(cond), nn_ptr(ca)};
  const int64_t *st[3] = {r->stride, sc, sa};
  size_t e[3] = {nn_dtype_size(dt), nn_dtype_size(cond->dtype), nn_dtype_size(dt)};
  nn_loop(3, nd, sh, base, st, e, where_row, &w);
  nn_tensor_release(ca);
  *out = r;
  return NN_OK;
}
static nn_status where_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *zero = NULL, *t = NULL;
  int64_t one = 1;
  nn_status s = nn_new(ctx, n->gout->dtype, 0, &one, true, &zero);
  if (!s && nn_input_needs_grad(n, 1) && !(s = where_raw(ctx, n->in[0], n->gout, zero, &t))) {
    s = nn_grad_accum(ctx, n, 1, t);
    nn_tensor_release(t); t = NULL;
  }
  if (!s && nn_input_needs_grad(n, 2) && !(s = where_raw(ctx, n->in[0], zero, n->gout, &t)))
    s = nn_grad_accum(ctx, n, 2, t);
  nn_tensor_release(t); nn_tensor_release(zero);
  return s;
}
const nn_op nn_op_where = {"where", where_backward, 1};
nn_status nn_where(nn_ctx *ctx, nn_tensor *cond, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "where", out);
  *out = NULL;
  NN_ARG_AS(ctx, "where", cond && a && b, "tensor");
  nn_status s = where_raw(ctx, cond, a, b, out);
  if (s) return s;
  nn_tensor *in[3] = {cond, a, b};
  if (!nn_needs_grad(ctx, 3, in) || (*out)->dtype == NN_I64) return NN_OK;
  if (nn_record(ctx, &nn_op_where, *out, 3, in, NULL)) return NN_OK;
  nn_tensor_release(*out);
  *out = NULL;
  return ctx->status;
}

/* ---- in place ------------------------------------------------------------------------------
   Not recorded: changing a tensor that requires grad in place (outside no_grad) is refused
   rather than giving a silently wrong gradient. Every change bumps the storage version, which
   backward checks for tensors the graph saved. */
static nn_status check_inplace(nn_ctx *ctx, const char *name, nn_tensor *a) {
  NN_ARG_AS(ctx, name, a, "tensor");
  if (a->requires_grad && ctx->grad_enabled)
    return nn_fail(ctx, NN_ERR_STATE,
                   "%s: a tensor that requires grad cannot be changed in place while grad mode "
                   "is on (use lunet.no_grad, or an out-of-place op)", name);
  return nn_check_overlap(ctx, name, a);
}

static nn_status binary_inplace(nn_ctx *ctx, const char *name, binop op, double alpha,
                                nn_tensor *a, nn_tensor *b) {
  nn_status s = check_inplace(ctx, name, a);
  if (s) return s;
  NN_ARG_AS(ctx, name, b, "tensor");
  int nd;
  int64_t sh[NN_MAX_DIMS];
  if ((s = nn_broadcast_shape(ctx, name, a, b, &nd, sh))) return s;
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  if (nd != a->ndim || nn_shape_numel(nd, sh) != a->numel)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: result shape %s differs from the tensor's %s", name,
                   nn_shape_fmt(nd, sh, b1), nn_shape_fmt(a->ndim, a->shape, b2));
  if (a->dtype == NN_I64 && b->dtype != NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: a %s result cannot be stored in an int64 tensor", name,
                   nn_dtype_name(b->dtype));
  nn_tensor *cb = NULL;
  if ((s = as_dtype(ctx, b, a->dtype, &cb))) return s;
  /* b may share a's storage: copy it first when it overlaps in a different layout */
  if (cb->st == a->st && !(cb->offset == a->offset && nn_same_shape(cb, a) &&
                           !memcmp(cb->stride, a->stride, sizeof(int64_t) * (size_t)a->ndim))) {
    nn_tensor *c2;
    if ((s = nn_new(ctx, cb->dtype, cb->ndim, cb->shape, false, &c2))) { nn_tensor_release(cb); return s; }
    nn_copy_raw(c2, cb);
    nn_tensor_release(cb);
    cb = c2;
  }
  run_binary(op, alpha, a, a, cb);
  nn_tensor_release(cb);
  a->st->version++;
  return NN_OK;
}
nn_status nn_add_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "add_", B_ADD, 0, a, b); }
nn_status nn_sub_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "sub_", B_SUB, 0, a, b); }
nn_status nn_mul_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "mul_", B_MUL, 0, a, b); }
/* a += alpha b in one pass (PyTorch's add_(b, alpha=)): weight decay, L2 gradients */
nn_status nn_axpy_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, double alpha) {
  if (a && a->dtype == NN_I64 && !(alpha == floor(alpha) && fabs(alpha) < 0x1p62))
    return nn_fail(ctx, NN_ERR_ARG, "add_: alpha must be an integer for an int64 tensor, got %g", alpha);
  return binary_inplace(ctx, "add_", B_AXPY, alpha, a, b);
}
nn_status nn_div_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) {
  if (a && a->dtype == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "div_: true division of an int64 tensor in place is not possible "
                   "(its result is float)");
  return binary_inplace(ctx, "div_", B_DIV, 0, a, b);
}

static nn_status scalar_inplace(nn_ctx *ctx, const char *name, scalop op, nn_tensor *a, double v) {
  nn_status s = check_inplace(ctx, name, a);
  if (s) return s;
  if ((s = nn_check_i64(ctx, name, a->dtype, v))) return s;
  if ((s = scalar_op(ctx, name, op, a, v, a, NULL))) return s;
  a->st->version++;
  return NN_OK;
}
nn_status nn_adds_(nn_ctx *ctx, nn_tensor *a, double s) { return scalar_inplace(ctx, "add_", S_ADD, a, s); }
nn_status nn_muls_(nn_ctx *ctx, nn_tensor *a, double s) { return scalar_inplace(ctx, "mul_", S_MUL, a, s); }
nn_status nn_clamp_(nn_ctx *ctx, nn_tensor *a, double lo, double hi) {
  nn_status s = check_inplace(ctx, "clamp_", a);
  if (!s) s = check_clamp(ctx, "clamp_", lo, hi);
  if (!s) s = unary(ctx, "clamp_", U_CLAMP, a, lo, hi, a, NULL);
  if (!s) a->st->version++;
  return s;
}
