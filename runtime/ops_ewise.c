/* ops_ewise.c — element-wise ops: binary with broadcasting, with a number, unary,
   comparisons, where, and the in-place forms. Each op: forward, then its backward. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "nn_impl.h"
#include "ops_unary.def"
#include "ops_binary.def"

/* ---- type-generic math ------------------------------------------------------------------
   The rows of ops_unary.def and ops_binary.def write their math once for both float types
   through these names. */
#define NN_SQRT1_2 0.70710678118654752440       /* 1/√2 */
#define NN_INV_SQRT_2PI 0.39894228040143267794  /* 1/√(2π) */
#define NN_2_SQRTPI 1.12837916709551257390      /* 2/√π */
#define NN_LN2 0.69314718055994530942
#define NN_LN10 2.30258509299404568402
#define MATH1(f32, f64, u) _Generic((u), float: f32, default: f64)(u)
#define EXP(u) _Generic((u), float: nn_expf, default: exp)(u)   /* (vectorizes: nn_impl.h) */
#define LOG(u) MATH1(logf, log, u)
#define SQRT(u) MATH1(sqrtf, sqrt, u)
#define FABS(u) MATH1(fabsf, fabs, u)
#define TANH(u) MATH1(tanhf, tanh, u)
#define ERF(u) MATH1(erff, erf, u)
#define SIN(u) MATH1(nn_sinf, sin, u)   /* (float: vectorizes, below) */
#define COS(u) MATH1(nn_cosf, cos, u)
#define TAN(u) MATH1(tanf, tan, u)
#define ASIN(u) MATH1(asinf, asin, u)
#define ACOS(u) MATH1(acosf, acos, u)
#define ATAN(u) MATH1(atanf, atan, u)
#define SINH(u) MATH1(sinhf, sinh, u)
#define COSH(u) MATH1(coshf, cosh, u)
#define ASINH(u) MATH1(asinhf, asinh, u)
#define ACOSH(u) MATH1(acoshf, acosh, u)
#define ATANH(u) MATH1(atanhf, atanh, u)
#define FLOOR(u) MATH1(floorf, floor, u)
#define CEIL(u) MATH1(ceilf, ceil, u)
#define RINT(u) MATH1(rintf, rint, u)   /* the default rounding mode: half to even */
#define TRUNC(u) MATH1(truncf, trunc, u)
#define LOG1P(u) MATH1(log1pf, log1p, u)
#define EXPM1(u) MATH1(expm1f, expm1, u)
#define LOG2(u) MATH1(log2f, log2, u)
#define LOG10(u) MATH1(log10f, log10, u)
#define EXP2(u) MATH1(exp2f, exp2, u)
#define ERFC(u) MATH1(erfcf, erfc, u)
#define ATAN2(u, v) _Generic((u), float: atan2f, default: atan2)(u, v)
#define FMOD(u, v) _Generic((u), float: fmodf, default: fmod)(u, v)
/* PyTorch's float remainder: fmod moved to the divisor's sign */
#define PYREM(u, v) \
  ((FMOD(u, v) != 0 && ((v) < 0) != (FMOD(u, v) < 0)) ? FMOD(u, v) + (v) : FMOD(u, v))
#define ISFINITE(u) ((u) == (u) && FABS(u) != INFINITY)
#define SOFTPLUS20(u) ((u) > 20 ? (u) : LOG1P(EXP(u)))   /* PyTorch's threshold, beta 1 */
#define SIGMOID_OF(u) (1 / (1 + EXP(-(u))))
#define SILU_GRAD(u) (SIGMOID_OF(u) * (1 + (u) * (1 - SIGMOID_OF(u))))
/* d/dx x tanh(softplus x) = tanh(sp) + x σ(x) (1 - tanh²(sp)) */
#define MISH_GRAD(u) \
  (TANH(SOFTPLUS20(u)) + (u) * SIGMOID_OF(u) * (1 - TANH(SOFTPLUS20(u)) * TANH(SOFTPLUS20(u))))
#define SIGN(u) (((u) > 0) - ((u) < 0))
#define POW(u, v) _Generic((u), float: powf, default: pow)(u, v)

/* sin and cos of a float in double precision, branch-free so that the loops vectorize: q =
   round(x/π), r = x - qπ in two fused multiply-adds (π as a double plus its remainder: the
   first is exact when r is small, so r keeps its relative precision near multiples of π), sin r
   by its Taylor series to r^13 (|r| <= π/2: error < 7e-10, so the float result is within an ulp),
   the sign from q's parity (the low bit of t). fma() is spelled out: ISO C mode contracts no
   a * b + c by itself. Past |x| > TRIG_FAST_MAX q loses bits: trig_big redoes those elements with
   libm. */
#define TRIG_FAST_MAX 1e7f
#define PI_HI 0x1.921fb54442d18p+1              /* π rounded to double */
#define PI_LO 0x1.1a62633145c07p-53             /* π - PI_HI */
#define NN_MAGIC52 0x1.8p52                     /* 1.5·2^52: adding it rounds to an integer */
NN_ALWAYS_INLINE double nn_sin_reduced(double r) {
  double s = r * r;
  double p = fma(fma(fma(fma(fma(1.0 / 6227020800, s, -1.0 / 39916800), s, 1.0 / 362880), s,
                         -1.0 / 5040), s, 1.0 / 120), s, -1.0 / 6);
  return fma(r * s, p, r);
}
NN_ALWAYS_INLINE float nn_trig_f(float xf, double shift, uint64_t flip) {
  double x = xf, t = fma(x, 0.31830988618379067154, -shift) + NN_MAGIC52;
  double q = t - NN_MAGIC52 + shift;              /* cos: x = qπ + r with q = n + 1/2 */
  double r = fma(-q, PI_LO, fma(-q, PI_HI, x));
  double y = nn_sin_reduced(r);
  uint64_t tb, yb;
  memcpy(&tb, &t, sizeof tb);
  memcpy(&yb, &y, sizeof yb);
  yb ^= ((tb & 1) ^ flip) << 63;
  memcpy(&y, &yb, sizeof y);
  return (float)y;
}
/* sin x = (-1)^q sin r;  cos x = (-1)^(q+1) sin r with x = (q + 1/2)π + r */
NN_ALWAYS_INLINE float nn_sinf(float x) {
  float y = nn_trig_f(x, 0, 0);
  return x == 0 ? x : y;   /* sin(-0) = -0, which the reduction's -0 - -0 = +0 loses */
}
NN_ALWAYS_INLINE float nn_cosf(float x) { return nn_trig_f(x, 0.5, 1); }

/* ---- binary: the rows of ops_binary.def ---------------------------------------------------
   Each row gives an op code, a forward case (float, double and, unless FLOAT, int64), a
   backward (SCALED partials accumulate dy scaled, ELEM ones run one element-wise pass), a
   descriptor and its public function. The comparisons add forward cases only; B_AXPY is
   axpy_'s a + alpha b, in place only. */
#define BIN_CODE(name, ...) B_##name,
typedef enum {
  NN_BINARY_OPS(BIN_CODE) NN_COMPARE_OPS(BIN_CODE) NN_LOGICAL_OPS(BIN_CODE)
  NN_BITWISE_OPS(BIN_CODE) B_AXPY
} binop;
typedef struct { binop op; nn_dtype dt; double alpha; } bin_arg;  /* alpha: B_AXPY's scale */

/* the int64 column's meaning: whether int64 stays int64, whether a negative b is refused */
#define KEEPS_INT_INT 1
#define KEEPS_INT_INT_NONNEG 1
#define KEEPS_INT_FLOAT 0
#define KEEPS_INT_INT_NONZERO 1
typedef enum { B_ANY, B_NONNEG, B_NONZERO } bcheck;   /* what an int64 b must be */
#define CHECK_INT B_ANY
#define CHECK_INT_NONNEG B_NONNEG
#define CHECK_INT_NONZERO B_NONZERO
#define CHECK_FLOAT B_ANY
#define BIN_KEEPS_INT(name, fwd, ints, ...) [B_##name] = KEEPS_INT_##ints,
#define BIN_CHECK(name, fwd, ints, ...) [B_##name] = CHECK_##ints,
static const bool bin_keeps_int[B_AXPY + 1] = {NN_BINARY_OPS(BIN_KEEPS_INT)};
static const bcheck bin_check[B_AXPY + 1] = {NN_BINARY_OPS(BIN_CHECK)};

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
#define FWD_BCASE(name, fwd, ...) case B_##name: ROW(T, fwd); break;
#define CMP_BCASE(name, test) case B_##name: ROW(T, (T)(test)); break;
#define INT_BCASE_INT(name, ifwd) case B_##name: ROW(T, ifwd); break;
#define INT_BCASE_INT_NONNEG(name, ifwd) INT_BCASE_INT(name, ifwd)
#define INT_BCASE_INT_NONZERO(name, ifwd) INT_BCASE_INT(name, ifwd)
#define INT_BCASE_FLOAT(name, ifwd)
#define INT_BCASE(name, fwd, ints, ifwd, ...) INT_BCASE_##ints(name, ifwd)

/* int64's arithmetic wraps, as PyTorch's does, without C's undefined signed overflow */
static inline int64_t i64_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t i64_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t i64_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
/* C's % truncates as fmod does; b = 0 (refused before) and INT64_MIN % -1 give 0, not a trap */
static inline int64_t i64_fmod(int64_t a, int64_t b) { return (b == 0 || b == -1) ? 0 : a % b; }
static inline int64_t i64_rem(int64_t a, int64_t b) {
  int64_t r = i64_fmod(a, b);
  return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
}
#define F_ADD(u, v) ((u) + (v))
#define F_SUB(u, v) ((u) - (v))
#define F_MUL(u, v) ((u) * (v))

/* u^v for v >= 0 (the ops refuse negative integer powers first, as PyTorch), wrapping */
static int64_t ipow(int64_t u, int64_t v) {
  uint64_t r = 1, b = (uint64_t)u;
  for (; v > 0; v >>= 1) { if (v & 1) r *= b; b *= b; }
  return (int64_t)r;
}

/* the body of a float row function in element type TYPE: every row's forward case */
#define BIN_FLOAT_BODY(TYPE)                                             \
  typedef TYPE T;                                                        \
  switch (c->op) {                                                       \
    NN_BINARY_OPS(FWD_BCASE) NN_COMPARE_OPS(CMP_BCASE)                   \
    NN_LOGICAL_OPS(CMP_BCASE)                                            \
    case B_AXPY: { T al = (T)c->alpha; ROW(T, u + al * v); } break;      \
    default: break;   /* (bitwise rows never compute in float) */        \
  }
static void bin_f32(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                    const bin_arg *c) {
  BIN_FLOAT_BODY(float)
}
static void bin_f64(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                    const bin_arg *c) {
  BIN_FLOAT_BODY(double)
}
static void bin_i64(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                    const bin_arg *c) {
  typedef int64_t T;
  switch (c->op) {
    NN_BINARY_OPS(INT_BCASE) NN_COMPARE_OPS(CMP_BCASE) NN_LOGICAL_OPS(CMP_BCASE)
    NN_BITWISE_OPS(CMP_BCASE)
    case B_AXPY: { T al = (T)c->alpha; ROW(T, i64_add(u, i64_mul(al, v))); } break;
    default: break;   /* (FLOAT rows never compute in int64) */
  }
}

static void bin_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                    void *arg) {
  const bin_arg *c = arg;
  switch (c->dt) {
    case NN_F32: bin_f32(n, o, so, a, sa, b, sb, c); break;
    case NN_F64: bin_f64(n, o, so, a, sa, b, sb, c); break;
    case NN_I64: bin_i64(n, o, so, a, sa, b, sb, c); break;
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

/* The first value of an int64 tensor that check refuses (negative, or zero), if any */
static bool has_refused(const nn_tensor *t, bcheck check, double *v) {
  if (check == B_ANY) return false;
  for (int64_t i = 0; i < t->numel; i++) {
    *v = nn_get_flat(t, i);
    if (check == B_NONNEG ? *v < 0 : *v == 0) return true;
  }
  return false;
}

/* Forward of every binary op: broadcast, promote, compute; the caller records. cdt is the
   dtype to compute in, odt the result's (they differ only for comparisons). */
static nn_status binary(nn_ctx *ctx, const char *name, binop op, nn_tensor *a, nn_tensor *b,
                        nn_dtype cdt, nn_tensor **out) {
  NN_ARG(ctx, name, out);
  *out = NULL;
  NN_ARG_AS(ctx, name, a && b, "tensor");
  double bad;
  if (cdt == NN_I64 && has_refused(b, bin_check[op], &bad))
    return bin_check[op] == B_NONNEG
      ? nn_fail(ctx, NN_ERR_ARG, "%s: integers to negative integer powers are not allowed "
                "(exponent %.0f; use a float tensor: a:double() ^ b)", name, bad)
      : nn_fail(ctx, NN_ERR_ARG, "%s: integer division by zero (a zero in the int64 divisor; "
                "a float tensor gives NaN: a:double())", name);
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
  if (!(s = nn_as_dtype(ctx, a, cdt, &ca)) && !(s = nn_as_dtype(ctx, b, cdt, &cb)) &&
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
  return (dt == NN_I64 && !bin_keeps_int[op]) ? NN_F32 : dt;
}

/* Records a binary op on *out (both operands are inputs, no payload) */
static nn_status record_binary(nn_ctx *ctx, const nn_op *op, nn_tensor **out, nn_tensor *a, nn_tensor *b) {
  nn_tensor *in[2] = {a, b};
  return nn_record(ctx, op, out, 2, in, NULL, NULL);
}

/* ---- binary backward ---------------------------------------------------------------------
   An ELEM partial in one pass over dy's shape: d starts as a copy of dy and each element
   becomes e(g, a, b, y), with a and b read through their broadcast strides (the loops take
   three operands, so g travels in d); the accumulation sums over the broadcast dims. */
#define ELEM_EXPR_SCALED(c) g * (T)(c)
#define ELEM_EXPR_ELEM(e) e
#define ELEM_EXPR_NEG(e) e
#define PROW(T, FWD, EXPR)                                                              \
  do {                                                                                  \
    T *d_ = (T *)o; const T *a_ = (const T *)pa, *b_ = (const T *)pb;                   \
    for (int64_t i = 0; i < n; i++) {                                                   \
      T g = d_[i * so], a = a_[i * sa], b = b_[i * sb], u = a, v = b, y = (FWD);        \
      (void)y; d_[i * so] = (EXPR);                                                     \
    }                                                                                   \
  } while (0)
#define BACK_BCASE(name, fwd, ints, ifwd, da, db, reads)                                \
  case B_##name:                                                                        \
    if (c->which == 0) PROW(T, fwd, ELEM_EXPR_##da); else PROW(T, fwd, ELEM_EXPR_##db); \
    break;
typedef struct { binop op; int which; } partial_arg;   /* which: 0 for a's partial, 1 for b's */
static void partial_f32(int64_t n, char *o, int64_t so, char *pa, int64_t sa, char *pb,
                        int64_t sb, const partial_arg *c) {
  typedef float T;
  switch (c->op) { NN_BINARY_OPS(BACK_BCASE) default: break; }
}
static void partial_f64(int64_t n, char *o, int64_t so, char *pa, int64_t sa, char *pb,
                        int64_t sb, const partial_arg *c) {
  typedef double T;
  switch (c->op) { NN_BINARY_OPS(BACK_BCASE) default: break; }
}
typedef struct { partial_arg c; nn_dtype dt; } partial_job;
static void partial_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                        void *arg) {
  const partial_job *j = arg;
  if (j->dt == NN_F32) partial_f32(n, o, so, a, sa, b, sb, &j->c);
  else partial_f64(n, o, so, a, sa, b, sb, &j->c);
}

/* input i's gradient: dy scaled by c (scaled), or the row's element-wise partial scaled by c */
static nn_status partial(nn_ctx *ctx, nn_node *n, int i, binop op, bool scaled, double c) {
  if (scaled) return nn_grad_accum_scaled(ctx, n, i, n->gout, c);
  if (!nn_input_needs_grad(n, i)) return NN_OK;
  nn_tensor *g = n->gout, *ca = NULL, *cb = NULL, *d = NULL;
  nn_status s;
  if (!(s = nn_as_dtype(ctx, n->in[0], g->dtype, &ca)) &&
      !(s = nn_as_dtype(ctx, n->in[1], g->dtype, &cb)) &&
      !(s = nn_new(ctx, g->dtype, g->ndim, g->shape, false, &d))) {
    nn_copy_raw(d, g);
    int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
    nn_broadcast_strides(ca, d->ndim, d->shape, sa);
    nn_broadcast_strides(cb, d->ndim, d->shape, sb);
    partial_job j = {{op, i}, g->dtype};
    char *base[3] = {nn_ptr(d), nn_ptr(ca), nn_ptr(cb)};
    const int64_t *st[3] = {d->stride, sa, sb};
    size_t es = nn_dtype_size(g->dtype), e[3] = {es, es, es};
    nn_loop_lanes(ctx, 3, d->ndim, d->shape, base, st, e, partial_row, &j);
    s = nn_grad_accum_scaled(ctx, n, i, d, c);
  }
  nn_tensor_release(ca); nn_tensor_release(cb); nn_tensor_release(d);
  return s;
}

/* a row's descriptor, backward and public function (forward, then recording) */
#define PARTIAL_SCALED(c) true, c
#define PARTIAL_ELEM(e) false, 1
#define PARTIAL_NEG(e) false, -1
#define BIN_SAVES_IN 3u
#define BIN_SAVES_NONE 0u
#define BIN_OP(op_, fwd, ints, ifwd, da, db, reads)                                       \
  static nn_status op_##_backward(nn_ctx *ctx, nn_node *n) {                              \
    nn_status s = partial(ctx, n, 0, B_##op_, PARTIAL_##da);                              \
    return s ? s : partial(ctx, n, 1, B_##op_, PARTIAL_##db);                             \
  }                                                                                       \
  const nn_op nn_op_##op_ = {.name = #op_, .backward = op_##_backward,                    \
                              .saves = BIN_SAVES_##reads};                                \
  nn_status nn_##op_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {          \
    nn_status s = binary(ctx, #op_, B_##op_, a, b, arith_dtype(B_##op_, a, b), out);      \
    return s ? s : record_binary(ctx, &nn_op_##op_, out, a, b);                           \
  }
NN_BINARY_OPS(BIN_OP)

/* ---- comparisons: 0/1 in the promoted dtype, no gradient -------------------------------- */
nn_status nn_compare(nn_ctx *ctx, nn_cmp op, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
#define CMP_CODE(name, test) B_##name,
#define CMP_NAME(name, test) #name,
  static const binop map[] = {NN_COMPARE_OPS(CMP_CODE)};
  static const char *names[] = {NN_COMPARE_OPS(CMP_NAME)};
  NN_ARG(ctx, "compare", out);
  *out = NULL;
  if ((unsigned)op > NN_GE) return nn_fail(ctx, NN_ERR_ARG, "compare: unknown comparison %d", (int)op);
  NN_ARG_AS(ctx, names[op], a && b, "tensor");
  return binary(ctx, names[op], map[op], a, b, nn_promote(a->dtype, b->dtype), out);
}

/* ---- logical (any dtype, 0/1 in the promoted one) and bitwise (int64) ops, no gradient ---- */
static nn_status nograd_binary(nn_ctx *ctx, const char *name, binop op, bool ints, nn_tensor *a,
                               nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, name, out);
  if (!a || !b) return binary(ctx, name, op, a, b, NN_F32, out);   /* (reports the NULL) */
  if (ints && (a->dtype != NN_I64 || b->dtype != NN_I64)) {
    *out = NULL;
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: bitwise ops need int64 tensors, got %s and %s (use "
                   "t:long())", name, nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  }
  return binary(ctx, name, op, a, b, nn_promote(a->dtype, b->dtype), out);
}
#define LOGICAL_PUBLIC(op_, ...)                                                           \
  nn_status nn_##op_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {           \
    return nograd_binary(ctx, #op_, B_##op_, false, a, b, out);                            \
  }
#define BITWISE_PUBLIC(op_, ...)                                                           \
  nn_status nn_##op_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out) {           \
    return nograd_binary(ctx, #op_, B_##op_, true, a, b, out);                             \
  }
NN_LOGICAL_OPS(LOGICAL_PUBLIC)
NN_BITWISE_OPS(BITWISE_PUBLIC)

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
  nn_status s = nn_as_dtype(ctx, a, dt, &ca);
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

/* the scalar ops' payload: the number */
typedef struct { double s; } scalar_args;
static double scalar_of(const nn_node *n) { return ((const scalar_args *)n->args)->s; }
static nn_status scalar_rec(nn_ctx *ctx, const char *name, const nn_op *op, scalop code,
                            nn_tensor *a, double v, nn_tensor **out) {
  nn_status s = scalar_op(ctx, name, code, a, v, NULL, out);
  scalar_args args = {v};
  return s ? s : nn_record(ctx, op, out, 1, &a, NULL, &args);
}

/* y = a + s: da += dy */
static nn_status adds_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum(ctx, n, 0, n->gout); }
const nn_op nn_op_adds = {.name = "adds", .backward = adds_backward, .saves = 0, .args_size = sizeof(scalar_args)};
nn_status nn_adds(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  return scalar_rec(ctx, "add", &nn_op_adds, S_ADD, a, s, out);
}
/* y = a s: da += s dy */
static nn_status muls_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum_scaled(ctx, n, 0, n->gout, scalar_of(n)); }
const nn_op nn_op_muls = {.name = "muls", .backward = muls_backward, .saves = 0, .args_size = sizeof(scalar_args)};
nn_status nn_muls(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  return scalar_rec(ctx, "mul", &nn_op_muls, S_MUL, a, s, out);
}
/* y = s - a: da -= dy */
static nn_status rsubs_backward(nn_ctx *ctx, nn_node *n) { return nn_grad_accum_scaled(ctx, n, 0, n->gout, -1.0); }
const nn_op nn_op_rsubs = {.name = "rsubs", .backward = rsubs_backward, .saves = 0, .args_size = sizeof(scalar_args)};
nn_status nn_rsubs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  return scalar_rec(ctx, "sub", &nn_op_rsubs, S_RSUB, a, s, out);
}
/* y = s / a: da -= dy s / a² = dy (-y / a) */
static nn_status rdivs_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  nn_status s = nn_pows(ctx, n->in[0], -2.0, &t);
  if (!s && !(s = nn_muls(ctx, t, -scalar_of(n), &u))) s = nn_grad_accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_rdivs = {.name = "rdivs", .backward = rdivs_backward, .saves = 1, .args_size = sizeof(scalar_args)};
nn_status nn_rdivs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out) {
  return scalar_rec(ctx, "div", &nn_op_rdivs, S_RDIV, a, s, out);
}
/* y = a^p: da += dy p a^(p-1) */
static nn_status pows_backward(nn_ctx *ctx, nn_node *n) {
  nn_tensor *t = NULL, *u = NULL;
  double p = scalar_of(n);
  nn_status s = p == 2.0 ? nn_muls(ctx, n->in[0], 2.0, &u)
                         : nn_pows(ctx, n->in[0], p - 1.0, &t);
  if (!s && p != 2.0) s = nn_muls(ctx, t, p, &u);
  if (!s) s = nn_grad_accum_mul(ctx, n, 0, n->gout, u);
  nn_tensor_release(t); nn_tensor_release(u);
  return s;
}
const nn_op nn_op_pows = {.name = "pows", .backward = pows_backward, .saves = 1, .args_size = sizeof(scalar_args)};
nn_status nn_pows(nn_ctx *ctx, nn_tensor *a, double p, nn_tensor **out) {
  return scalar_rec(ctx, "pow", &nn_op_pows, S_POW, a, p, out);
}

/* ---- unary: the rows of ops_unary.def ------------------------------------------------------
   Each row gives an op code, a forward case (float, double and, for keeps_int rows, int64), a
   backward case (dx = f(g, x, y) in one pass), a descriptor and, for NN_UNARY_OPS, its public
   function. Math goes through the type-generic names at the top of the file. */

#define UNARY_CODE(name, ...) U_##name,
typedef enum {
  NN_UNARY_OPS(UNARY_CODE) NN_UNARY_PARAM_OPS(UNARY_CODE) NN_UNARY_MASK_OPS(UNARY_CODE)
} unop;
/* the node's payload: which row, and its parameters */
typedef struct { unop op; double p, q, r; } unary_args;

/* a row's loop, contiguous and strided (the contiguous one vectorizes) */
#define UROW(T, EXPR)                                                             \
  do {                                                                            \
    T *y_ = (T *)o; const T *x_ = (const T *)a;                                   \
    if (so == 1 && sa == 1)                                                       \
      for (int64_t i = 0; i < n; i++) { T v = x_[i]; (void)v; y_[i] = (EXPR); }   \
    else for (int64_t i = 0; i < n; i++) { T v = x_[i * sa]; (void)v; y_[i * so] = (EXPR); } \
  } while (0)
#define FWD_CASE(name, fwd, ...) case U_##name: UROW(T, fwd); break;
#define INT_CASE_1(name, ifwd) case U_##name: UROW(int64_t, ifwd); break;
#define INT_CASE_0(name, ifwd)
#define INT_CASE(name, fwd, bwd, reads, keeps_int, ifwd) INT_CASE_##keeps_int(name, ifwd)
#define MASK_INT_CASE(name, fwd, ifwd) INT_CASE_1(name, ifwd)
#define KEEPS_INT(name, fwd, bwd, reads, keeps_int, ifwd) [U_##name] = keeps_int,
#define MASK_KEEPS_INT(name, ...) [U_##name] = 1,
static const bool keeps_int[] = {NN_UNARY_OPS(KEEPS_INT) NN_UNARY_PARAM_OPS(KEEPS_INT)
                                 NN_UNARY_MASK_OPS(MASK_KEEPS_INT)};

/* the body of a row function in element type TYPE: every row's CASE (forward or backward),
   and MORE (the mask rows' forward cases, or nothing) */
#define UNARY_BODY(TYPE, CASE, MORE)                              \
  typedef TYPE T;                                                 \
  const T p = (T)c->p, q = (T)c->q, r = (T)c->r;                  \
  (void)p; (void)q; (void)r;                                      \
  switch (c->op) { NN_UNARY_OPS(CASE) NN_UNARY_PARAM_OPS(CASE) MORE default: break; }

/* sin and cos of floats past TRIG_FAST_MAX (and ±inf), again with libm: forward (g NULL) y =
   f(x), backward y = g f'(x) */
static void trig_big(unop op, int64_t n, float *y, int64_t sy, const float *g, int64_t sg,
                     const float *x, int64_t sx) {
  for (int64_t i = 0; i < n; i++) {
    float v = x[i * sx];
    if (!(fabsf(v) > TRIG_FAST_MAX)) continue;
    bool sin_of = (op == U_sin) == (g == NULL);   /* sin's forward, cos's backward */
    float f = sin_of ? sinf(v) : cosf(v);
    y[i * sy] = g ? g[i * sg] * (op == U_cos ? -f : f) : f;
  }
}
/* sin or cos of a contiguous row; the elements past TRIG_FAST_MAX are found in the same pass
   (an OR that vectorizes), so the libm pass runs only for a row that has some */
static void trig_row(unop op, int64_t n, float *restrict y, const float *restrict x) {
  int big = 0;
  if (op == U_sin)
    for (int64_t i = 0; i < n; i++) { y[i] = nn_sinf(x[i]); big |= !(fabsf(x[i]) <= TRIG_FAST_MAX); }
  else
    for (int64_t i = 0; i < n; i++) { y[i] = nn_cosf(x[i]); big |= !(fabsf(x[i]) <= TRIG_FAST_MAX); }
  if (big) trig_big(op, n, y, 1, NULL, 0, x, 1);
}
/* sin or cos of any row: a contiguous one at once, others (strided, or in place, where the
   libm pass would read results instead of inputs) through a block of copied inputs */
static void trig_f32(unop op, int64_t n, float *y, int64_t sy, const float *x, int64_t sx) {
  float in[256], out[256];
  uintptr_t yp = (uintptr_t)y, xp = (uintptr_t)x, len = (uintptr_t)n * sizeof *x;
  if (sy == 1 && sx == 1 && (yp + len <= xp || xp + len <= yp)) { trig_row(op, n, y, x); return; }
  for (int64_t b = 0; b < n; b += 256) {
    int64_t m = n - b < 256 ? n - b : 256;
    for (int64_t i = 0; i < m; i++) in[i] = x[(b + i) * sx];
    trig_row(op, m, out, in);
    for (int64_t i = 0; i < m; i++) y[(b + i) * sy] = out[i];
  }
}
static void unary_f32(int64_t n, char *o, int64_t so, char *a, int64_t sa, const unary_args *c) {
  if (c->op == U_sin || c->op == U_cos) { trig_f32(c->op, n, (float *)o, so, (const float *)a, sa); return; }
  UNARY_BODY(float, FWD_CASE, NN_UNARY_MASK_OPS(FWD_CASE))
}
static void unary_f64(int64_t n, char *o, int64_t so, char *a, int64_t sa, const unary_args *c) {
  UNARY_BODY(double, FWD_CASE, NN_UNARY_MASK_OPS(FWD_CASE))
}

static void unary_i64(int64_t n, char *o, int64_t so, char *a, int64_t sa, const unary_args *c) {
  /* clamp's bounds, rounded inwards and saturated to int64's range (±inf are no bound; other
     rows' parameters, NaN included, are unused) */
  const int64_t p = !(c->p > -0x1p63) ? INT64_MIN : c->p >= 0x1p63 ? INT64_MAX : (int64_t)ceil(c->p);
  const int64_t q = !(c->q < 0x1p63) ? INT64_MAX : c->q <= -0x1p63 ? INT64_MIN : (int64_t)floor(c->q);
  (void)p; (void)q;
  switch (c->op) {
    NN_UNARY_OPS(INT_CASE) NN_UNARY_PARAM_OPS(INT_CASE) NN_UNARY_MASK_OPS(MASK_INT_CASE)
    default: break;
  }
}

typedef struct { unary_args c; nn_dtype dt; } unary_job;
static void unary_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *u0, int64_t u1,
                      void *arg) {
  (void)u0; (void)u1;
  const unary_job *j = arg;
  switch (j->dt) {
    case NN_F32: unary_f32(n, o, so, a, sa, &j->c); break;
    case NN_F64: unary_f64(n, o, so, a, sa, &j->c); break;
    case NN_I64: unary_i64(n, o, so, a, sa, &j->c); break;
  }
}

/* The forward of every unary op into a new tensor (*out) or into dst (in place): int64 stays
   int64 for keeps_int rows, the others compute in float32. No autograd. */
static nn_status unary_apply(nn_ctx *ctx, const char *name, const unary_args *c, nn_tensor *a,
                             nn_tensor *dst, nn_tensor **out) {
  if (!dst) NN_ARG(ctx, name, out);   /* (in place, dst is the result) */
  if (out) *out = NULL;
  NN_ARG_AS(ctx, name, a, "tensor");
  nn_dtype dt = (a->dtype == NN_I64 && !keeps_int[c->op]) ? NN_F32 : a->dtype;
  nn_tensor *ca = NULL, *r = dst;
  nn_status s = nn_as_dtype(ctx, a, dt, &ca);
  if (!s && !r) s = nn_new(ctx, dt, a->ndim, a->shape, false, &r);
  if (!s) {
    unary_job j = {*c, dt};
    char *base[2] = {nn_ptr(r), nn_ptr(ca)};
    const int64_t *st[2] = {r->stride, ca->stride};
    size_t es = nn_dtype_size(dt), e[2] = {es, es};
    nn_loop_lanes(ctx, 2, r->ndim, r->shape, base, st, e, unary_row, &j);
  }
  nn_tensor_release(ca);
  if (!s && out) *out = r;
  return s;
}

/* backward: dx = f(g, x, y) with x and y both naming the element of what the row reads */
#define BROW(T, EXPR)                                                                      \
  do {                                                                                     \
    T *d_ = (T *)o; const T *g_ = (const T *)a, *s_ = (const T *)b;                        \
    if (so == 1 && sa == 1 && sb == 1)                                                     \
      for (int64_t i = 0; i < n; i++) {                                                    \
        T g = g_[i], x = s_[i], y = x; (void)g; (void)x; (void)y; d_[i] = (EXPR);          \
      }                                                                                    \
    else                                                                                   \
      for (int64_t i = 0; i < n; i++) {                                                    \
        T g = g_[i * sa], x = s_[i * sb], y = x; (void)g; (void)x; (void)y; d_[i * so] = (EXPR); \
      }                                                                                    \
  } while (0)
#define BWD_CASE(name, fwd, bwd, ...) case U_##name: BROW(T, bwd); break;
static void unary_back_f32(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                           const unary_args *c) {
  UNARY_BODY(float, BWD_CASE, )
  if (c->op == U_sin || c->op == U_cos)
    trig_big(c->op, n, (float *)o, so, (float *)a, sa, (float *)b, sb);
}
static void unary_back_f64(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b, int64_t sb,
                           const unary_args *c) {
  UNARY_BODY(double, BWD_CASE, )
}
static void unary_back_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *b,
                           int64_t sb, void *arg) {
  const unary_job *j = arg;
  if (j->dt == NN_F32) unary_back_f32(n, o, so, a, sa, b, sb, &j->c);
  else unary_back_f64(n, o, so, a, sa, b, sb, &j->c);
}

static nn_status unary_backward(nn_ctx *ctx, nn_node *n) {
  const unary_args *c = n->args;
  nn_tensor *g = n->gout, *src = NULL, *dx = NULL;
  /* what the row reads: the saved result, else the input (also for NONE: its values unused) */
  nn_status s = nn_as_dtype(ctx, n->op->saves_output ? n->saved : n->in[0], g->dtype, &src);
  if (!s) s = nn_new(ctx, g->dtype, g->ndim, g->shape, false, &dx);
  if (!s) {
    unary_job j = {*c, g->dtype};
    char *base[3] = {nn_ptr(dx), nn_ptr(g), nn_ptr(src)};
    const int64_t *st[3] = {dx->stride, g->stride, src->stride};
    size_t es = nn_dtype_size(g->dtype), e[3] = {es, es, es};
    nn_loop_lanes(ctx, 3, dx->ndim, dx->shape, base, st, e, unary_back_row, &j);
    s = nn_grad_accum(ctx, n, 0, dx);
  }
  nn_tensor_release(src); nn_tensor_release(dx);
  return s;
}

#define READS_BIT_IN 1u
#define READS_BIT_OUT 0u
#define READS_BIT_NONE 0u
#define SAVES_OUT_IN false
#define SAVES_OUT_OUT true
#define SAVES_OUT_NONE false
#define UNARY_DESCRIPTOR(op_, fwd, bwd, reads, ...)                                           \
  const nn_op nn_op_##op_ = {.name = #op_, .backward = unary_backward,                        \
                              .saves = READS_BIT_##reads, .saves_output = SAVES_OUT_##reads,  \
                              .args_size = sizeof(unary_args)};
NN_UNARY_OPS(UNARY_DESCRIPTOR)
NN_UNARY_PARAM_OPS(UNARY_DESCRIPTOR)

/* Forward and recording of a unary op with parameters p, q */
static nn_status unary_op(nn_ctx *ctx, const nn_op *op, unary_args c, nn_tensor *a,
                          nn_tensor **out) {
  nn_status s = unary_apply(ctx, op->name, &c, a, NULL, out);
  return s ? s : nn_record(ctx, op, out, 1, &a, NULL, &c);
}
#define UNARY_PUBLIC(name, ...)                                              \
  nn_status nn_##name(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {          \
    return unary_op(ctx, &nn_op_##name, (unary_args){U_##name, 0, 0, 0}, a, out); \
  }
NN_UNARY_OPS(UNARY_PUBLIC)

/* the mask rows and bitwise_not: forward only, nothing recorded */
#define MASK_PUBLIC(name, ...)                                               \
  nn_status nn_##name(nn_ctx *ctx, nn_tensor *a, nn_tensor **out) {          \
    if (U_##name == U_bitwise_not && a && a->dtype != NN_I64 && ctx && out) { \
      *out = NULL;                                                           \
      return nn_fail(ctx, NN_ERR_DTYPE, "bitwise_not: bitwise ops need an int64 tensor, got %s " \
                     "(use t:long(), or logical_not for a 0/1 mask)", nn_dtype_name(a->dtype)); \
    }                                                                        \
    return unary_apply(ctx, #name, &(unary_args){U_##name, 0, 0, 0}, a, NULL, out); \
  }
NN_UNARY_MASK_OPS(MASK_PUBLIC)

nn_status nn_leaky_relu(nn_ctx *ctx, nn_tensor *a, double slope, nn_tensor **out) {
  NN_ARG(ctx, "leaky_relu", out);
  *out = NULL;
  if (!isfinite(slope))
    return nn_fail(ctx, NN_ERR_ARG, "leaky_relu: negative slope must be finite, got %g", slope);
  return unary_op(ctx, &nn_op_leaky_relu, (unary_args){U_leaky_relu, slope, 0, 0}, a, out);
}

static nn_status check_clamp(nn_ctx *ctx, const char *name, double lo, double hi) {
  if (isnan(lo) || isnan(hi) || lo > hi)
    return nn_fail(ctx, NN_ERR_ARG, "%s: expects lo <= hi, got lo = %g, hi = %g", name, lo, hi);
  return NN_OK;
}
nn_status nn_clamp(nn_ctx *ctx, nn_tensor *a, double lo, double hi, nn_tensor **out) {
  NN_ARG(ctx, "clamp", out);
  *out = NULL;
  nn_status s = check_clamp(ctx, "clamp", lo, hi);
  return s ? s : unary_op(ctx, &nn_op_clamp, (unary_args){U_clamp, lo, hi, 0}, a, out);
}
nn_status nn_hardtanh(nn_ctx *ctx, nn_tensor *a, double lo, double hi, nn_tensor **out) {
  NN_ARG(ctx, "hardtanh", out);
  *out = NULL;
  nn_status s = check_clamp(ctx, "hardtanh", lo, hi);
  return s ? s : unary_op(ctx, &nn_op_hardtanh, (unary_args){U_hardtanh, lo, hi, 0}, a, out);
}
nn_status nn_softplus(nn_ctx *ctx, nn_tensor *a, double beta, double threshold, nn_tensor **out) {
  NN_ARG(ctx, "softplus", out);
  *out = NULL;
  if (!isfinite(beta) || beta == 0 || isnan(threshold))
    return nn_fail(ctx, NN_ERR_ARG, "softplus: beta must be finite and nonzero and threshold a "
                   "number, got beta = %g, threshold = %g", beta, threshold);
  return unary_op(ctx, &nn_op_softplus, (unary_args){U_softplus, beta, threshold, 0}, a, out);
}
/* a replacement as the tensor's element type holds it: past float32's range it is ±inf, as
   PyTorch's conversion gives (a C conversion of such a double to float is undefined) */
static double as_elem(const nn_tensor *a, double v) {
  if (!a || a->dtype != NN_F32 || !(fabs(v) > FLT_MAX)) return v;
  return v > 0 ? INFINITY : -INFINITY;
}
nn_status nn_nan_to_num(nn_ctx *ctx, nn_tensor *a, double nan, double posinf, double neginf,
                        nn_tensor **out) {
  NN_ARG(ctx, "nan_to_num", out);
  *out = NULL;
  unary_args c = {U_nan_to_num, as_elem(a, nan), as_elem(a, posinf), as_elem(a, neginf)};
  return unary_op(ctx, &nn_op_nan_to_num, c, a, out);
}

/* lerp: a + w (b - a) for w < 1/2, else b - (b - a)(1 - w), PyTorch's two forms (exact at w =
   0 and w = 1), made of recorded ops, so its gradient is theirs */
static nn_status lerp_check(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor *w, nn_tensor **out) {
  NN_ARG(ctx, "lerp", out);
  *out = NULL;
  NN_ARG_AS(ctx, "lerp", a && b, "tensor");
  int nd;
  int64_t sh[NN_MAX_DIMS];
  nn_status s = nn_broadcast_shape(ctx, "lerp", a, b, &nd, sh);
  if (!s && w) {
    nn_tensor ab = {0};
    ab.ndim = nd;
    memcpy(ab.shape, sh, sizeof sh);
    s = nn_broadcast_shape(ctx, "lerp", &ab, w, &nd, sh);
  }
  if (s) return s;
  nn_dtype dt = w ? w->dtype : a->dtype;
  if (a->dtype == NN_I64 || b->dtype == NN_I64 || dt == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "lerp: needs float tensors, got %s, %s%s%s (use t:double())",
                   nn_dtype_name(a->dtype), nn_dtype_name(b->dtype), w ? " and weight " : "",
                   w ? nn_dtype_name(w->dtype) : "");
  return NN_OK;
}
nn_status nn_lerps(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, double w, nn_tensor **out) {
  nn_status s = lerp_check(ctx, a, b, NULL, out);
  if (s) return s;
  if (nn_promote(a->dtype, b->dtype) == NN_F32) w = (float)w;   /* the weight as the data's type */
  double lo = w < 0.5 ? w : (nn_promote(a->dtype, b->dtype) == NN_F32 ? (double)(1.0f - (float)w) : 1 - w);
  nn_tensor *d = NULL, *t = NULL;
  if (!(s = nn_sub(ctx, b, a, &d)) && !(s = nn_muls(ctx, d, lo, &t)))
    s = w < 0.5 ? nn_add(ctx, a, t, out) : nn_sub(ctx, b, t, out);
  nn_tensor_release(d); nn_tensor_release(t);
  return s;
}
nn_status nn_lerp(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor *w, nn_tensor **out) {
  NN_ARG(ctx, "lerp", out);
  *out = NULL;
  NN_ARG_AS(ctx, "lerp", w, "weight");
  nn_status s = lerp_check(ctx, a, b, w, out);
  if (s) return s;
  nn_tensor *d = NULL, *wd = NULL, *lo = NULL, *hi = NULL, *half = NULL, *cond = NULL, *t = NULL;
  int64_t one = 1;
  /* lo = a + w d, hi = b - (d - w d) = b - d (1 - w), cond = w < 1/2 */
  if (!(s = nn_sub(ctx, b, a, &d)) && !(s = nn_mul(ctx, w, d, &wd)) &&
      !(s = nn_add(ctx, a, wd, &lo)) && !(s = nn_sub(ctx, d, wd, &hi)) &&
      !(s = nn_full(ctx, w->dtype, 0, &one, 0.5, &half)) &&
      !(s = nn_compare(ctx, NN_LT, w, half, &cond))) {
    if (!(s = nn_sub(ctx, b, hi, &t))) s = nn_where(ctx, cond, lo, t, out);
  }
  nn_tensor_release(d); nn_tensor_release(wd); nn_tensor_release(lo); nn_tensor_release(hi);
  nn_tensor_release(half); nn_tensor_release(cond); nn_tensor_release(t);
  return s;
}

/* ---- where: y = cond ? a : b;  da += dy [cond],  db += dy [!cond] --------------------------
   Branch-free selects in element types: with a random mask a branch per element mispredicts
   half the time, while a compare and a blend vectorize. */
typedef struct { nn_dtype dt, ct; } where_arg;
/* the element loop: y[i] = c[i] != 0 ? x[i] : z[i], contiguous when every stride is 1 */
#define WHERE_LOOP(T, CT)                                                                     \
  do {                                                                                        \
    T *y_ = (T *)o;                                                                           \
    const CT *c_ = (const CT *)c;                                                             \
    const T *x_ = (const T *)x, *z_ = (const T *)z;                                           \
    if (so == 1 && sc == 1 && sx == 1 && sz == 1)                                             \
      for (int64_t i = 0; i < n; i++) y_[i] = c_[i] != 0 ? x_[i] : z_[i];                     \
    else                                                                                      \
      for (int64_t i = 0; i < n; i++) y_[i * so] = c_[i * sc] != 0 ? x_[i * sx] : z_[i * sz]; \
  } while (0)
#define WHERE_CT(T)                                                                         \
  switch (w->ct) {                                                                          \
    case NN_F32: WHERE_LOOP(T, float); break;                                               \
    case NN_F64: WHERE_LOOP(T, double); break;                                              \
    case NN_I64: WHERE_LOOP(T, int64_t); break;                                             \
  }
static void where_elems(const where_arg *w, int64_t n, char *o, int64_t so, const char *c, int64_t sc,
                        const char *x, int64_t sx, const char *z, int64_t sz) {
  switch (w->dt) {
    case NN_F32: WHERE_CT(float); break;
    case NN_F64: WHERE_CT(double); break;
    case NN_I64: WHERE_CT(int64_t); break;
  }
}
static void where_row(int64_t n, char *o, int64_t so, char *c, int64_t sc, char *x, int64_t sx,
                      void *arg) {
  /* the row walks (out, cond, a); b was copied into out first: out = cond ? a : out */
  where_elems(arg, n, o, so, c, sc, x, sx, o, so);
}
/* the common case, cond, a and b contiguous in the result's shape, a and b of its dtype: one
   pass in lanes over the result's rows */
typedef struct { where_arg w; char *o, *c, *a, *b; int64_t row; } flat_where;
static void flat_where_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const flat_where *f = arg;
  (void)part;
  size_t es = nn_dtype_size(f->w.dt), cs = nn_dtype_size(f->w.ct);
  int64_t at = lo * f->row;
  where_elems(&f->w, (hi - lo) * f->row, f->o + (size_t)at * es, 1, f->c + (size_t)at * cs, 1,
              f->a + (size_t)at * es, 1, f->b + (size_t)at * es, 1);
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
  if ((s = nn_new(ctx, dt, nd, sh, false, &r))) return s;
  where_arg w = {dt, cond->dtype};
  if (a->dtype == dt && b->dtype == dt && nn_is_contig(a) && nn_is_contig(b) && nn_is_contig(cond) &&
      a->numel == r->numel && b->numel == r->numel && cond->numel == r->numel) {
    int64_t rows = nd > 0 && r->numel > 0 ? sh[0] : 1;
    flat_where f = {w, nn_ptr(r), nn_ptr(cond), nn_ptr(a), nn_ptr(b), r->numel / rows};
    nn_lanes(ctx, rows, r->numel, flat_where_rows, &f);
    *out = r;
    return NN_OK;
  }
  if ((s = nn_as_dtype(ctx, a, dt, &ca))) {
    nn_tensor_release(r);
    return s;
  }
  nn_copy_raw(r, b);
  int64_t sc[NN_MAX_DIMS], sa[NN_MAX_DIMS];
  nn_broadcast_strides(cond, nd, sh, sc);
  nn_broadcast_strides(ca, nd, sh, sa);
  char *base[3] = {nn_ptr(r), nn_ptr(cond), nn_ptr(ca)};
  const int64_t *st[3] = {r->stride, sc, sa};
  size_t e[3] = {nn_dtype_size(dt), nn_dtype_size(cond->dtype), nn_dtype_size(dt)};
  nn_loop_lanes(ctx, 3, nd, sh, base, st, e, where_row, &w);
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
const nn_op nn_op_where = {.name = "where", .backward = where_backward, .saves = 1};
nn_status nn_where(nn_ctx *ctx, nn_tensor *cond, nn_tensor *a, nn_tensor *b, nn_tensor **out) {
  NN_ARG(ctx, "where", out);
  *out = NULL;
  NN_ARG_AS(ctx, "where", cond && a && b, "tensor");
  nn_status s = where_raw(ctx, cond, a, b, out);
  if (s) return s;
  nn_tensor *in[3] = {cond, a, b};
  return nn_record(ctx, &nn_op_where, out, 3, in, NULL, NULL);
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
  if ((s = nn_as_dtype(ctx, b, a->dtype, &cb))) return s;
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
nn_status nn_add_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "add_", B_add, 0, a, b); }
nn_status nn_sub_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "sub_", B_sub, 0, a, b); }
nn_status nn_mul_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b) { return binary_inplace(ctx, "mul_", B_mul, 0, a, b); }
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
  return binary_inplace(ctx, "div_", B_div, 0, a, b);
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
/* a unary row in place; (dtype-changing rows refused on int64 tensors) */
static nn_status unary_inplace(nn_ctx *ctx, const char *name, unary_args c, nn_tensor *a) {
  nn_status s = check_inplace(ctx, name, a);
  if (!s && a->dtype == NN_I64 && !keeps_int[c.op])
    s = nn_fail(ctx, NN_ERR_DTYPE, "%s: its float result cannot be stored in an int64 tensor "
                "(use the op without _ for a new tensor)", name);
  if (!s) s = unary_apply(ctx, name, &c, a, a, NULL);
  if (!s) a->st->version++;
  return s;
}
nn_status nn_clamp_(nn_ctx *ctx, nn_tensor *a, double lo, double hi) {
  nn_status s = check_clamp(ctx, "clamp_", lo, hi);
  return s ? s : unary_inplace(ctx, "clamp_", (unary_args){U_clamp, lo, hi, 0}, a);
}
/* op_ in place for any row of NN_UNARY_OPS, by name ("sin" for sin_) */
nn_status nn_unary_(nn_ctx *ctx, const char *op, nn_tensor *a) {
#define UNARY_STR(name, ...) #name,
  static const char *const names[] = {NN_UNARY_OPS(UNARY_STR)};
  NN_ARG(ctx, "unary_", op);
  int k = 0, n = (int)(sizeof names / sizeof names[0]);
  while (k < n && strcmp(names[k], op) != 0) k++;
  if (k == n) return nn_fail(ctx, NN_ERR_ARG, "unary_: no element-wise op named '%.40s'", op);
  char name[48];
  snprintf(name, sizeof name, "%s_", op);
  return unary_inplace(ctx, name, (unary_args){(unop)k, 0, 0, 0}, a);
}

/* this file's ops, for the op list (oplist.c): a new op here is listed here */
#define EWISE_LISTED(op_, ...) &nn_op_##op_,
const nn_op *const nn_ops_ewise[] = {NN_UNARY_OPS(EWISE_LISTED) NN_UNARY_PARAM_OPS(EWISE_LISTED)
  NN_BINARY_OPS(EWISE_LISTED) &nn_op_adds, &nn_op_muls, &nn_op_rsubs, &nn_op_rdivs, &nn_op_pows,
  &nn_op_where, NULL};
