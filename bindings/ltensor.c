/*
** ltensor.c — the tensor userdata (metatable "lunet.Tensor") and the module's tensor
** functions: creation, inspection, indexing, views, arithmetic, reductions, autograd,
** lifetime and printing. Indices and dims are 1-based here and 0-based in the core: tensor
** indices and dims are converted here (indexarg_end, lunet_checkdim, dimarg_n), class ids in
** lmodule.c.
**
** Every function registered here carries the tensor metatable as upvalue 1, so checking an
** argument and boxing a result need no registry lookup (a + b is on every hot path).
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lunet_impl.h"
#include "../runtime/ops_unary.def"
#include "../runtime/ops_binary.def"

#define MT lua_upvalueindex(1)  /* the tensor metatable */
#define BOX lua_upvalueindex(2) /* the state's context box (for lunet_gcstep_box) */

/* ---- boxes ------------------------------------------------------------------------------ */

LTensor *lunet_newbox(lua_State *L) {
  LTensor *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL;
  luaL_setmetatable(L, LUNET_TENSOR);
  lunet_gcstep(L);
  return b;
}

/* The same for functions of this file: the metatable is upvalue 1. */
static LTensor *newbox(lua_State *L) {
  LTensor *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL;
  lua_pushvalue(L, MT);
  lua_setmetatable(L, -2);
  lunet_gcstep_box(L, lua_touserdata(L, BOX));
  return b;
}

void lunet_pushtensor(lua_State *L, nn_tensor *t) {
  LTensor *b = lunet_newbox(L);
  b->t = t;
}

nn_tensor *lunet_totensor(lua_State *L, int idx) {
  LTensor *b = luaL_testudata(L, idx, LUNET_TENSOR);
  return b ? b->t : NULL;
}

nn_tensor *lunet_checktensor(lua_State *L, int idx) {
  LTensor *b = luaL_testudata(L, idx, LUNET_TENSOR);
  if (b == NULL) lunet_typeerror(L, idx, LUNET_TENSOR);
  if (b->t == NULL) luaL_error(L, "closed tensor");
  return b->t;
}

/* The box at idx if it is a tensor userdata (open or closed), else NULL. Upvalue version. */
static LTensor *tobox(lua_State *L, int idx) {
  LTensor *b = lua_touserdata(L, idx);
  if (b == NULL || !lua_getmetatable(L, idx)) return NULL;
  if (!lua_rawequal(L, -1, MT)) b = NULL;
  lua_pop(L, 1);
  return b;
}

/* An open tensor at idx, or NULL when idx holds something else; closed raises. */
static nn_tensor *testt(lua_State *L, int idx) {
  LTensor *b = tobox(L, idx);
  if (b == NULL) return NULL;
  if (b->t == NULL) luaL_error(L, "closed tensor");
  return b->t;
}

static nn_tensor *checkt(lua_State *L, int idx) {
  nn_tensor *t = testt(L, idx);
  if (t == NULL) lunet_typeerror(L, idx, LUNET_TENSOR);
  return t;
}

/* A number becomes a 0-d tensor of like's dtype (float32 when like is NULL, and float32 too
   when like is int64 but the number is not integral, as PyTorch promotes). The new tensor
   replaces the number on the stack, which anchors it. */
static nn_tensor *scalar_at(lua_State *L, int idx, nn_tensor *like) {
  lua_Number v = lua_tonumber(L, idx);
  nn_dtype dt = like ? nn_tensor_dtype(like) : NN_F32;
  LTensor *b;
  idx = lua_absindex(L, idx);
  b = newbox(L);
  if (dt == NN_I64 && lua_isinteger(L, idx)) {   /* exact, also past 2^53 */
    int64_t k = (int64_t)lua_tointeger(L, idx);
    lunet_check(L, nn_tensor_from_data(lunet_ctx(L), NN_I64, 0, NULL, &k, &b->t));
  } else {
    /* a number int64 cannot hold (fraction, inf, NaN, past 2^63) promotes to float32 */
    if (dt == NN_I64 && !(v >= -0x1p63 && v < 0x1p63 && v == floor(v))) dt = NN_F32;
    lunet_check(L, nn_full(lunet_ctx(L), dt, 0, NULL, v, &b->t));
  }
  lua_replace(L, idx);
  return b->t;
}

nn_tensor *lunet_totensor_or_number(lua_State *L, int idx, nn_tensor *like) {
  if (lua_type(L, idx) != LUA_TNUMBER) return lunet_checktensor(L, idx);
  return scalar_at(L, idx, like);
}

/* A tensor or a number at idx as a tensor (see scalar_at). */
static nn_tensor *tensor_or_number(lua_State *L, int idx, nn_tensor *like) {
  if (lua_type(L, idx) == LUA_TNUMBER) return scalar_at(L, idx, like);
  nn_tensor *t = testt(L, idx);
  if (t == NULL) lunet_typeerror(L, idx, "lunet.Tensor or number");
  return t;
}

void lunet_wrap(lua_State *L, nn_dtype dt, int ndim, const int64_t *shape, void *data,
                void (*release)(void *ud, void *data), void *ud) {
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_tensor_wrap(lunet_ctx(L), dt, ndim, shape, NULL, data, release, ud, &b->t));
}

/* Pushes a new reference the caller made (t may be the input itself, retained). */
static void pusht(lua_State *L, nn_tensor *t) {
  LTensor *b = newbox(L);
  b->t = t;
}

static const char *shapestr(const nn_tensor *t, char *buf, size_t n) {
  return nn_shape_str(t, buf, n);
}

/* ---- arguments: dims, indices, shapes, options ---------------------------------------- */

/* A Lua dim (1-based, or negative from the end) to the core's 0-based dim. The core checks
   the range; dim 0 is caught here, since it would silently mean the last dim. */
int lunet_checkdim(lua_State *L, int arg, const char *fname) {
  lua_Integer d = luaL_checkinteger(L, arg);
  if (d == 0)
    return luaL_error(L, "%s: dimension 0 is invalid: dims are 1-based (1 is the first, "
                      "-1 the last)", fname);
  if (d > NN_MAX_DIMS + 1 || d < -(NN_MAX_DIMS + 1))
    return luaL_error(L, "%s: dimension %I out of range", fname, d);
  return d > 0 ? (int)(d - 1) : (int)d;
}

/* A Lua dim of t normalized to 0..n-1, n = t's ndim plus extra (1 for unsqueeze). */
static int dimarg_n(lua_State *L, int arg, const nn_tensor *t, int extra, const char *fname) {
  lua_Integer d = luaL_checkinteger(L, arg);
  int n = nn_tensor_ndim(t) + extra;
  char s[96];
  if (d >= 1 && d <= n) return (int)(d - 1);
  if (d < 0 && d >= -n) return (int)(n + d);
  if (d == 0)
    return luaL_error(L, "%s: dimension 0 is invalid: dims are 1-based (1 is the first, "
                      "-1 the last)", fname);
  return luaL_error(L, "%s: dimension %I out of range for a %d-d tensor of shape %s", fname, d,
                    nn_tensor_ndim(t), nn_shape_str(t, s, sizeof s));
}

/* A Lua index (1-based, negative from the end) into a dim of the given size, to 0-based;
   end_ok also admits size + 1 (one past the end, as narrow's start may be). The one place
   that converts indices; written so that no int64 (math.mininteger included) overflows. */
static int64_t indexarg_end(lua_State *L, lua_Integer i, int64_t size, bool end_ok,
                            const char *fname, int dim) {
  int64_t k = i > 0 ? (int64_t)i - 1 : size + (int64_t)i;   /* size >= 0: i < 0 cannot overflow */
  if (i != 0 && k >= 0 && (k < size || (end_ok && k == size))) return k;
  if (i == 0)
    return (int64_t)luaL_error(L, "%s: index 0 is invalid: indices are 1-based (1 is the first, "
                               "-1 the last)", fname);
  return (int64_t)luaL_error(L, "%s: index %I out of range for dimension %d of size %I", fname,
                             i, dim + 1, (lua_Integer)size);
}
static int64_t indexarg(lua_State *L, lua_Integer i, int64_t size, const char *fname, int dim) {
  return indexarg_end(L, i, size, false, fname, dim);
}

static int64_t shape_entry(lua_State *L, int tidx, int i, const char *fname) {
  int isint;
  lua_Integer v;
  lua_geti(L, tidx, i);
  v = lua_tointegerx(L, -1, &isint);
  if (!isint || lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "%s: size %d of the shape must be an integer, got %s", fname, i,
               lua_type(L, -1) == LUA_TNUMBER ? "a non-integral number" : luaL_typename(L, -1));
  lua_pop(L, 1);
  return (int64_t)v;
}

/* A shape given as a table at first, or as integers from first up to the first non-number.
   Returns the number of dims; *next is the first argument after the shape. */
static int shapeargs(lua_State *L, int first, int64_t *shape, int *next, const char *fname) {
  int n = 0, top = lua_gettop(L), i;
  if (lua_type(L, first) == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, first);
    if (len > NN_MAX_DIMS)
      luaL_error(L, "%s: %I dimensions (at most %d are supported)", fname, len, NN_MAX_DIMS);
    for (i = 1; i <= len; i++) shape[n++] = shape_entry(L, first, i, fname);
    *next = first + 1;
    return n;
  }
  for (i = first; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
    if (n == NN_MAX_DIMS)
      luaL_error(L, "%s: more than %d dimensions are not supported", fname, NN_MAX_DIMS);
    shape[n++] = (int64_t)luaL_checkinteger(L, i);
  }
  *next = i;
  return n;
}

static void nonneg(lua_State *L, int n, const int64_t *shape, const char *fname) {
  int i;
  for (i = 0; i < n; i++)
    if (shape[i] < 0)
      luaL_error(L, "%s: negative size %I in dimension %d", fname, (lua_Integer)shape[i], i + 1);
}

/* Creation options: {dtype = "float64", requires_grad = true, generator = g}. A string is
   accepted as a dtype alone. Unknown option names are errors (a typo would be silent). */
typedef struct {
  nn_dtype dt;
  bool dt_given;
  bool requires_grad;
  nn_rng *rng;
} Opts;

static void readopts(lua_State *L, int idx, Opts *o, const char *fname) {
  o->dt_given = false;
  o->requires_grad = false;
  o->rng = NULL;
  if (lua_isnoneornil(L, idx)) return;
  if (lua_type(L, idx) == LUA_TSTRING) {
    o->dt = lunet_checkdtype(L, idx, o->dt);
    o->dt_given = true;
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE) {
    lunet_typeerror(L, idx, "options table");
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k && strcmp(k, "dtype") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: option dtype must be a string (float32, float64 or int64), got %s",
                   fname, luaL_typename(L, -1));
      o->dt = lunet_checkdtype(L, -1, o->dt);
      o->dt_given = true;
    } else if (k && strcmp(k, "requires_grad") == 0) {
      if (lua_type(L, -1) != LUA_TBOOLEAN)
        luaL_error(L, "%s: option requires_grad must be a boolean, got %s", fname,
                   luaL_typename(L, -1));
      o->requires_grad = lua_toboolean(L, -1);
    } else if (k && strcmp(k, "generator") == 0) {
      if (!luaL_testudata(L, -1, LUNET_GENERATOR))
        luaL_error(L, "%s: option generator must be a lunet.Generator, got %s", fname,
                   luaL_typename(L, -1));
      o->rng = lunet_optrng(L, lua_gettop(L));
    } else {
      luaL_error(L, "%s: unknown option '%s' (expected dtype, requires_grad or generator)",
                 fname, k ? k : luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
}

/* Arguments after the shape: at most one options table. */
static void tailopts(lua_State *L, int at, Opts *o, const char *fname) {
  int top = lua_gettop(L);
  if (at <= top && lua_type(L, at) != LUA_TTABLE && !lua_isnil(L, at))
    lunet_typeerror(L, at, "integer or options table");
  if (at < top) luaL_error(L, "%s: too many arguments", fname);
  readopts(L, at, o, fname);
}

/* The new tensor on top gets opts.requires_grad. */
static int finish(lua_State *L, const Opts *o) {
  if (o->requires_grad) {
    LTensor *b = lua_touserdata(L, -1);
    lunet_check(L, nn_tensor_set_requires_grad(lunet_ctx(L), b->t, true));
  }
  return 1;
}

/* ---- creation ----------------------------------------------------------------------------- */

enum { C_FULL = -1, C_ZEROS, C_ONES, C_EMPTY, C_RAND, C_RANDN };

/* One creation function by kind, filling box b (v: full's value). */
static void make(lua_State *L, nn_ctx *ctx, int kind, const Opts *o, int n, const int64_t *shape,
                 lua_Number v, LTensor *b) {
  nn_status s = NN_OK;
  switch (kind) {
  case C_FULL: s = nn_full(ctx, o->dt, n, shape, v, &b->t); break;
  case C_ZEROS: s = nn_zeros(ctx, o->dt, n, shape, &b->t); break;
  case C_ONES: s = nn_ones(ctx, o->dt, n, shape, &b->t); break;
  case C_EMPTY: s = nn_tensor_new(ctx, o->dt, n, shape, &b->t); break;
  case C_RAND: s = nn_rand(ctx, o->rng, o->dt, n, shape, &b->t); break;
  case C_RANDN: s = nn_randn(ctx, o->rng, o->dt, n, shape, &b->t); break;
  }
  lunet_check(L, s);
}

static int create(lua_State *L, int kind, const char *fname) {
  int64_t shape[NN_MAX_DIMS];
  int next, n = shapeargs(L, 1, shape, &next, fname);
  Opts o;
  nn_ctx *ctx = lunet_ctx(L);
  LTensor *b;
  o.dt = NN_F32;
  tailopts(L, next, &o, fname);
  nonneg(L, n, shape, fname);
  b = newbox(L);
  make(L, ctx, kind, &o, n, shape, 0, b);
  return finish(L, &o);
}

static int m_zeros(lua_State *L) { return create(L, C_ZEROS, "zeros"); }
static int m_ones(lua_State *L) { return create(L, C_ONES, "ones"); }
static int m_empty(lua_State *L) { return create(L, C_EMPTY, "empty"); }
static int m_rand(lua_State *L) { return create(L, C_RAND, "rand"); }
static int m_randn(lua_State *L) { return create(L, C_RANDN, "randn"); }

/* A shape as one table or one integer (full, randint). */
static int oneshape(lua_State *L, int arg, int64_t *shape, const char *fname) {
  int n = 0;
  lua_Integer i, len;
  if (lua_type(L, arg) == LUA_TTABLE) {
    len = luaL_len(L, arg);
    if (len > NN_MAX_DIMS)
      luaL_error(L, "%s: %I dimensions (at most %d are supported)", fname, len, NN_MAX_DIMS);
    for (i = 1; i <= len; i++) shape[n++] = shape_entry(L, arg, (int)i, fname);
  } else {
    if (lua_type(L, arg) != LUA_TNUMBER) lunet_typeerror(L, arg, "shape table or integer");
    shape[n++] = (int64_t)luaL_checkinteger(L, arg);
  }
  nonneg(L, n, shape, fname);
  return n;
}

/* full(shape, v [, opts]) */
static int m_full(lua_State *L) {
  int64_t shape[NN_MAX_DIMS];
  int n = oneshape(L, 1, shape, "full");
  lua_Number v = luaL_checknumber(L, 2);
  Opts o;
  LTensor *b;
  o.dt = NN_F32;
  tailopts(L, 3, &o, "full");
  b = newbox(L);
  lunet_check(L, nn_full(lunet_ctx(L), o.dt, n, shape, v, &b->t));
  return finish(L, &o);
}

/* eye(n [, m] [, opts]) */
static int m_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), m = n;
  int at = 2;
  Opts o;
  LTensor *b;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    m = luaL_checkinteger(L, 2);
    at = 3;
  }
  o.dt = NN_F32;
  tailopts(L, at, &o, "eye");
  b = newbox(L);
  lunet_check(L, nn_eye(lunet_ctx(L), o.dt, (int64_t)n, (int64_t)m, &b->t));
  return finish(L, &o);
}

/* arange(end), arange(start, end [, step]) [, opts]: end exclusive. As PyTorch, the dtype is
   int64 when every bound is a Lua integer and float32 otherwise; opts.dtype overrides. */
static int m_arange(lua_State *L) {
  lua_Number a[3];
  int n = 0, i, top = lua_gettop(L);
  bool allint = true;
  Opts o;
  LTensor *b;
  for (i = 1; i <= top && i <= 3 && lua_type(L, i) == LUA_TNUMBER; i++) {
    a[n++] = lua_tonumber(L, i);
    if (!lua_isinteger(L, i)) allint = false;
  }
  if (n == 0) luaL_checknumber(L, 1);
  o.dt = allint ? NN_I64 : NN_F32;
  tailopts(L, n + 1, &o, "arange");
  b = newbox(L);
  if (allint && o.dt == NN_I64) {   /* exact: bounds past 2^53 do not survive a double */
    lua_Integer lo = n == 1 ? 0 : lua_tointeger(L, 1), hi = lua_tointeger(L, n == 1 ? 1 : 2);
    lua_Integer step = n == 3 ? lua_tointeger(L, 3) : 1;
    lunet_check(L, nn_arange_i64(lunet_ctx(L), (int64_t)lo, (int64_t)hi, (int64_t)step, &b->t));
  } else if (n == 1) lunet_check(L, nn_arange(lunet_ctx(L), o.dt, 0, a[0], 1, &b->t));
  else lunet_check(L, nn_arange(lunet_ctx(L), o.dt, a[0], a[1], n == 3 ? a[2] : 1, &b->t));
  return finish(L, &o);
}

/* linspace(a, b, n [, opts]) */
static int m_linspace(lua_State *L) {
  lua_Number a = luaL_checknumber(L, 1), z = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  Opts o;
  LTensor *b;
  o.dt = NN_F32;
  tailopts(L, 4, &o, "linspace");
  b = newbox(L);
  lunet_check(L, nn_linspace(lunet_ctx(L), o.dt, a, z, (int64_t)n, &b->t));
  return finish(L, &o);
}

/* randint(lo, hi, shape [, opts]) or randint(hi, shape [, opts]): int64 in [lo, hi) */
static int m_randint(lua_State *L) {
  lua_Integer lo = 0, hi;
  int at = 2, n;
  int64_t shape[NN_MAX_DIMS];
  Opts o;
  LTensor *b;
  nn_ctx *ctx = lunet_ctx(L);
  if (lua_type(L, 2) == LUA_TNUMBER && lua_gettop(L) >= 3) {
    lo = luaL_checkinteger(L, 1);
    hi = luaL_checkinteger(L, 2);
    at = 3;
  } else {
    hi = luaL_checkinteger(L, 1);
  }
  n = oneshape(L, at, shape, "randint");
  o.dt = NN_I64;
  tailopts(L, at + 1, &o, "randint");
  b = newbox(L);
  lunet_check(L, nn_randint(ctx, o.rng, (int64_t)lo, (int64_t)hi, n, shape, &b->t));
  if (o.dt != NN_I64) {
    nn_tensor *i64 = b->t;
    nn_status s = nn_to(ctx, i64, o.dt, &b->t);
    nn_tensor_release(i64);
    lunet_check(L, s);
  }
  return finish(L, &o);
}

/* randperm(n [, opts]): a permutation of 1..n (1-based, as every index in Lua) */
static int m_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  Opts o;
  LTensor *b;
  nn_ctx *ctx = lunet_ctx(L);
  o.dt = NN_I64;
  tailopts(L, 2, &o, "randperm");
  b = newbox(L);
  lunet_check(L, nn_randperm(ctx, o.rng, (int64_t)n, &b->t));
  lunet_check(L, nn_adds_(ctx, b->t, 1));
  if (o.dt != NN_I64) {
    nn_tensor *i64 = b->t;
    nn_status s = nn_to(ctx, i64, o.dt, &b->t);
    nn_tensor_release(i64);
    lunet_check(L, s);
  }
  return finish(L, &o);
}

/* zeros_like(t [, opts]) and friends: t's shape and (unless opts say) dtype */
static int like(lua_State *L, int kind, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  nn_ctx *ctx = nn_tensor_ctx(t);
  int n = nn_tensor_ndim(t);
  const int64_t *shape = nn_tensor_shape(t);
  Opts o;
  LTensor *b;
  lua_Number v = 0;
  int at = 2;
  if (kind == C_FULL) { /* full_like(t, v [, opts]) */
    v = luaL_checknumber(L, 2);
    at = 3;
  }
  o.dt = nn_tensor_dtype(t);
  tailopts(L, at, &o, fname);
  b = newbox(L);
  make(L, ctx, kind, &o, n, shape, v, b);
  return finish(L, &o);
}

static int m_zeros_like(lua_State *L) { return like(L, C_ZEROS, "zeros_like"); }
static int m_ones_like(lua_State *L) { return like(L, C_ONES, "ones_like"); }
static int m_empty_like(lua_State *L) { return like(L, C_EMPTY, "empty_like"); }
static int m_rand_like(lua_State *L) { return like(L, C_RAND, "rand_like"); }
static int m_randn_like(lua_State *L) { return like(L, C_RANDN, "randn_like"); }
static int m_full_like(lua_State *L) { return like(L, C_FULL, "full_like"); }

/* ---- lunet.tensor(v [, opts]) --------------------------------------------------------- */

/* "[2][1]" for the error messages: the 1-based position inside the nested tables */
static const char *posstr(lua_State *L, int depth, const int64_t *pos) {
  luaL_Buffer b;
  int i;
  luaL_buffinit(L, &b);
  for (i = 0; i < depth; i++) {
    char s[32];
    snprintf(s, sizeof s, "[%lld]", (long long)pos[i] + 1);
    luaL_addstring(&b, s);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

typedef struct {
  int ndim;
  int64_t shape[NN_MAX_DIMS];
  int64_t pos[NN_MAX_DIMS];
  nn_dtype dt;
  char *p;       /* next element to write */
  size_t esize;
} Fill;

/* Writes the numbers of the nested table on top of the stack, checking that every level has
   the length the first path promised (ragged tables name the position). */
static void fill_table(lua_State *L, Fill *f, int depth) {
  int64_t n = (int64_t)lua_rawlen(L, -1), i;
  if (n != f->shape[depth])
    luaL_error(L, "tensor: ragged nested table: %s has %I elements, expected %I",
               depth ? posstr(L, depth, f->pos) : "the outer table", (lua_Integer)n,
               (lua_Integer)f->shape[depth]);
  for (i = 0; i < n; i++) {
    int ty = lua_rawgeti(L, -1, (lua_Integer)i + 1);
    f->pos[depth] = i;
    if (depth + 1 < f->ndim) {
      if (ty != LUA_TTABLE)
        luaL_error(L, "tensor: ragged nested table: expected a table at %s, got %s",
                   posstr(L, depth + 1, f->pos), lua_typename(L, ty));
      fill_table(L, f, depth + 1);
    } else {
      lua_Number v;
      if (ty != LUA_TNUMBER)
        luaL_error(L, "tensor: expected a number at %s, got %s", posstr(L, depth + 1, f->pos),
                   ty == LUA_TTABLE ? "a table (ragged nesting)" : lua_typename(L, ty));
      v = lua_tonumber(L, -1);
      switch (f->dt) {
      case NN_F32: *(float *)f->p = (float)v; break;
      case NN_F64: *(double *)f->p = v; break;
      case NN_I64: {
        int isint;
        lua_Integer iv = lua_tointegerx(L, -1, &isint);
        if (!isint)
          luaL_error(L, "tensor: value %f at %s is not an integer (dtype int64)", v,
                     posstr(L, depth + 1, f->pos));
        *(int64_t *)f->p = (int64_t)iv;
        break;
      }
      }
      f->p += f->esize;
    }
    lua_pop(L, 1);
  }
}

/* lunet.tensor(v [, opts]): v a number (a 0-d tensor), nested tables of numbers, or a tensor
   (copied, detached). The dtype is float32 unless opts.dtype says otherwise (Lua cannot tell
   1 typed as an integer from 1 meant as a float, so no int64 inference). */
static int m_tensor(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  Opts o;
  LTensor *b;
  nn_tensor *src;
  o.dt = NN_F32;
  readopts(L, 2, &o, "tensor");
  if (lua_gettop(L) > 2) luaL_error(L, "tensor: too many arguments");
  lua_settop(L, 2);
  switch (lua_type(L, 1)) {
  case LUA_TNUMBER: {
    int64_t one = 1;
    lua_Number v = lua_tonumber(L, 1);
    if (o.dt == NN_I64 && !lua_isinteger(L, 1) && v != floor(v))
      luaL_error(L, "tensor: value %f is not an integer (dtype int64)", v);
    b = newbox(L);
    lunet_check(L, nn_full(ctx, o.dt, 0, &one, v, &b->t));
    return finish(L, &o);
  }
  case LUA_TTABLE: {
    Fill f;
    f.ndim = 0;
    f.dt = o.dt;
    lua_pushvalue(L, 1);
    while (lua_type(L, -1) == LUA_TTABLE) { /* the shape along the first elements */
      int64_t n = (int64_t)lua_rawlen(L, -1);
      if (f.ndim == NN_MAX_DIMS)
        luaL_error(L, "tensor: nested deeper than %d levels", NN_MAX_DIMS);
      f.shape[f.ndim++] = n;
      if (n == 0) break;
      lua_rawgeti(L, -1, 1);
      lua_remove(L, -2);
    }
    lua_pop(L, 1);
    b = newbox(L);
    lunet_check(L, nn_tensor_new(ctx, o.dt, f.ndim, f.shape, &b->t));
    f.p = nn_tensor_data(b->t);
    f.esize = nn_dtype_size(o.dt);
    lua_pushvalue(L, 1);
    fill_table(L, &f, 0);
    lua_pop(L, 1);
    return finish(L, &o);
  }
  default:
    src = testt(L, 1);
    if (src == NULL) return lunet_typeerror(L, 1, "number, table or lunet.Tensor");
    {
      nn_tensor *d;
      nn_status s;
      if (!o.dt_given) o.dt = nn_tensor_dtype(src);
      b = newbox(L);
      lunet_check(L, nn_detach(ctx, src, &d));
      s = o.dt == nn_tensor_dtype(d) ? nn_clone(ctx, d, &b->t) : nn_to(ctx, d, o.dt, &b->t);
      nn_tensor_release(d);
      lunet_check(L, s);
      return finish(L, &o);
    }
  }
}

static int m_is_tensor(lua_State *L) {
  lua_pushboolean(L, tobox(L, 1) != NULL);
  return 1;
}

/* ---- element access -------------------------------------------------------------------- */

static lua_Number rd(const nn_tensor *t, int64_t off) {
  const char *p = nn_tensor_data(t);
  switch (nn_tensor_dtype(t)) {
  case NN_F32: return ((const float *)p)[off];
  case NN_F64: return ((const double *)p)[off];
  default: return (lua_Number)((const int64_t *)p)[off];
  }
}

static void pushelem(lua_State *L, const nn_tensor *t, int64_t off) {
  if (nn_tensor_dtype(t) == NN_I64)
    lua_pushinteger(L, (lua_Integer)((const int64_t *)nn_tensor_data(t))[off]);
  else
    lua_pushnumber(L, rd(t, off));
}

/* ---- inspection ------------------------------------------------------------------------- */

static int t_shape(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int n = nn_tensor_ndim(t), i;
  const int64_t *s = nn_tensor_shape(t);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)s[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* size(d): the size of dim d; size(): the shape table, as PyTorch's size() */
static int t_size(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  if (lua_isnoneornil(L, 2)) return t_shape(L);
  lua_pushinteger(L, (lua_Integer)nn_tensor_shape(t)[dimarg_n(L, 2, t, 0, "size")]);
  return 1;
}

static int t_stride(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int n = nn_tensor_ndim(t), i;
  const int64_t *s = nn_tensor_strides(t);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, (lua_Integer)s[dimarg_n(L, 2, t, 0, "stride")]);
    return 1;
  }
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)s[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, nn_tensor_ndim(checkt(L, 1)));
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)nn_tensor_numel(checkt(L, 1)));
  return 1;
}

static int t_dtype(lua_State *L) {
  lua_pushstring(L, nn_dtype_name(nn_tensor_dtype(checkt(L, 1))));
  return 1;
}

static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, nn_tensor_is_contiguous(checkt(L, 1)));
  return 1;
}

static int t_len(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  if (nn_tensor_ndim(t) == 0) return luaL_error(L, "len: a 0-d tensor has no length");
  lua_pushinteger(L, (lua_Integer)nn_tensor_shape(t)[0]);
  return 1;
}

static int t_item(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  nn_ctx *ctx = nn_tensor_ctx(t);
  if (nn_tensor_dtype(t) == NN_I64) {
    int64_t v;
    lunet_check(L, nn_item_i64(ctx, t, &v));
    lua_pushinteger(L, (lua_Integer)v);
  } else {
    double v;
    lunet_check(L, nn_item(ctx, t, &v));
    lua_pushnumber(L, v);
  }
  return 1;
}

static void totable(lua_State *L, const nn_tensor *t, int d, int64_t off) {
  int64_t n = nn_tensor_shape(t)[d], st = nn_tensor_strides(t)[d], i;
  bool last = d == nn_tensor_ndim(t) - 1;
  lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
  for (i = 0; i < n; i++) {
    if (last) pushelem(L, t, off + i * st);
    else totable(L, t, d + 1, off + i * st);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* totable(): nested Lua tables (a number for a 0-d tensor), integers for int64 */
static int t_totable(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int64_t tables = 1, d;
  luaL_checkstack(L, NN_MAX_DIMS + 4, "totable");
  /* an empty tensor can still have huge leading dims: [2^40, 0] is 2^40 empty tables */
  for (d = 0; d + 1 < nn_tensor_ndim(t) && tables > 0 && tables <= ((int64_t)1 << 31); d++)
    if (__builtin_mul_overflow(tables, nn_tensor_shape(t)[d], &tables)) tables = INT64_MAX;
  if (tables > ((int64_t)1 << 31))
    return luaL_error(L, "totable: a tensor of shape %s would make more than 2^31 tables",
                      shapestr(t, (char[96]){0}, 96));
  if (nn_tensor_ndim(t) == 0) pushelem(L, t, 0);
  else totable(L, t, 0, 0);
  return 1;
}

/* ---- indexing: t[i], t[i] = v, t.grad, methods ------------------------------------------ */

static lua_Integer keyindex(lua_State *L, int idx) {
  int isint;
  lua_Integer i = lua_tointegerx(L, idx, &isint);
  if (!isint) luaL_error(L, "tensor index must be an integer, got %f", lua_tonumber(L, idx));
  return i;
}

static int pushgrad(lua_State *L, nn_tensor *t) {
  nn_tensor *g = nn_tensor_grad(t);
  if (g == NULL) {
    lua_pushnil(L);
  } else {
    nn_tensor_retain(g);
    pusht(L, g);
  }
  return 1;
}

/* ---- slicing: t[{2, {1, 3}, {}}] (Torch7), t[mask], t[idx] ------------------------------------
   A table key walks t's dims from the first: an integer selects (the dim goes), {a, b} keeps
   the closed range a..b (negatives count from the end; {a} is {a, a}, a dim of size 1), {} keeps
   the whole dim; dims past the table's entries stay whole. The result is a view (select and
   narrow), so assigning to it writes into t and gradients flow back through it. */

/* A range end (1-based, negative from the end) to 0-based, or -1 when outside 1..size. */
static int64_t range_end(lua_State *L, int tidx, int k, int64_t size, int dim, bool *given) {
  int isint;
  lua_Integer i;
  *given = lua_geti(L, tidx, k) != LUA_TNIL;
  i = lua_tointegerx(L, -1, &isint);
  if (*given && !isint)
    luaL_error(L, "index: range bound %d for dimension %d must be an integer, got %s", k, dim + 1,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  if (!*given) return -1;
  if (i == 0)
    luaL_error(L, "index: index 0 in a range for dimension %d is invalid: indices are 1-based "
               "(1 is the first, -1 the last)", dim + 1);
  if (i > 0) return i <= size ? (int64_t)i - 1 : -1;
  return i >= -size ? size + (int64_t)i : -1;
}

/* One entry of the key (at the top of the stack) applied to b->t at its dim *d. */
static void slice_entry(lua_State *L, LTensor *b, int *d, int dim) {
  nn_tensor *t = b->t, *next;
  nn_ctx *ctx = nn_tensor_ctx(t);
  int64_t size = nn_tensor_shape(t)[*d];
  int top = lua_gettop(L);
  if (lua_type(L, top) == LUA_TNUMBER) {
    int64_t k = indexarg(L, keyindex(L, top), size, "index", dim);
    lunet_check(L, nn_select(ctx, t, *d, k, &next));
  } else if (lua_type(L, top) == LUA_TTABLE) {
    bool g1, g2;
    int64_t lo = range_end(L, top, 1, size, dim, &g1), hi = g1 ? range_end(L, top, 2, size, dim, &g2) : 0;
    if (!g1) { (*d)++; return; }   /* {}: the whole dim */
    if (!g2) hi = lo;
    if (lo < 0 || hi < 0 || hi < lo) {
      lua_geti(L, top, 1);
      lua_geti(L, top, 2);
      luaL_error(L, "index: range {%s%s%s} does not fit dimension %d of size %I (indices are 1..%I "
                 "or -%I..-1, first <= last)", lua_tostring(L, -2), g2 ? ", " : "",
                 g2 ? lua_tostring(L, -1) : "", dim + 1, (lua_Integer)size, (lua_Integer)size,
                 (lua_Integer)size);
    }
    lunet_check(L, nn_narrow(ctx, t, *d, lo, hi - lo + 1, &next));
    (*d)++;
  } else {
    luaL_error(L, "index: entry %d of the index table must be an integer or a range table, got %s",
               dim + 1, luaL_typename(L, top));
    return;
  }
  nn_tensor_release(b->t);
  b->t = next;
}

/* The view t[key] for a table key at idx, in a new box on the stack. */
static LTensor *slice(lua_State *L, nn_tensor *t, int idx) {
  lua_Integer n = luaL_len(L, idx), k;
  int d = 0;
  char s[96];
  LTensor *b = newbox(L);
  nn_tensor_retain(t);
  b->t = t;   /* anchored: an error below releases whatever the box holds */
  if (n > nn_tensor_ndim(t))
    luaL_error(L, "index: %I entries for a %d-d tensor of shape %s", n, nn_tensor_ndim(t),
               shapestr(t, s, sizeof s));
  for (k = 1; k <= n; k++) {
    lua_geti(L, idx, k);
    slice_entry(L, b, &d, (int)k - 1);
    lua_pop(L, 1);
  }
  return b;
}

/* A tensor key of t's shape is a mask (Torch7's ByteTensor mask); an int64 1-D tensor of another
   shape selects rows (1-based), as index_select(1, idx). */
static bool is_mask(lua_State *L, nn_tensor *t, nn_tensor *key) {
  char s1[96], s2[96];
  int n = nn_tensor_ndim(t);
  if (n == nn_tensor_ndim(key) &&
      memcmp(nn_tensor_shape(t), nn_tensor_shape(key), sizeof(int64_t) * (size_t)n) == 0)
    return true;
  if (nn_tensor_dtype(key) == NN_I64 && nn_tensor_ndim(key) == 1) return false;
  return luaL_error(L, "index: a mask must have the tensor's shape %s, got %s (to pick rows, use an "
                    "int64 1-D tensor of indices)", shapestr(t, s1, sizeof s1), shapestr(key, s2, sizeof s2));
}

static int t_index_select(lua_State *L);

/* __index: methods (upvalue 3), t[i], t[{...}], t[mask], t[idx], t.grad */
static int t_index(lua_State *L) {
  switch (lua_type(L, 2)) {
  case LUA_TSTRING:
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL) return 1;
    if (strcmp(lua_tostring(L, 2), "grad") == 0) return pushgrad(L, checkt(L, 1));
    return 1; /* nil */
  case LUA_TNUMBER: {
    nn_tensor *t = checkt(L, 1);
    lua_Integer i = keyindex(L, 2);
    int64_t k;
    LTensor *b;
    if (nn_tensor_ndim(t) == 0) return luaL_error(L, "index: a 0-d tensor cannot be indexed");
    k = indexarg(L, i, nn_tensor_shape(t)[0], "index", 0);
    if (nn_tensor_ndim(t) == 1) {
      pushelem(L, t, k * nn_tensor_strides(t)[0]);
      return 1;
    }
    b = newbox(L);
    lunet_check(L, nn_select(nn_tensor_ctx(t), t, 0, k, &b->t));
    return 1;
  }
  case LUA_TTABLE: {
    LTensor *b = slice(L, checkt(L, 1), 2);
    if (nn_tensor_ndim(b->t) == 0) pushelem(L, b->t, 0);   /* every dim selected: the number */
    return 1;
  }
  case LUA_TUSERDATA: {
    nn_tensor *t = checkt(L, 1), *key = testt(L, 2);
    LTensor *b;
    if (key == NULL) break;
    if (!is_mask(L, t, key)) {
      lua_settop(L, 2);
      lua_pushinteger(L, 1);
      lua_insert(L, 2);   /* t, 1, idx */
      return t_index_select(L);
    }
    b = newbox(L);
    lunet_check(L, nn_masked_select(nn_tensor_ctx(t), t, key, &b->t));
    return 1;
  }
  default:
    break;
  }
  return luaL_error(L, "tensor index must be an integer, a table of ranges, a mask tensor or a method "
                    "name, got %s", luaL_typename(L, 2));
}

/* The value at 3 written into the view v (a number fills, a tensor broadcasts). */
static int assign(lua_State *L, nn_ctx *ctx, nn_tensor *v) {
  nn_tensor *src = NULL;
  if (lua_type(L, 3) != LUA_TNUMBER && (src = testt(L, 3)) == NULL)
    return lunet_typeerror(L, 3, "number or lunet.Tensor");
  return lunet_check(L, src ? nn_copy_(ctx, v, src) : nn_fill_(ctx, v, lua_tonumber(L, 3)));
}

/* __newindex: t[i] = v, t[{...}] = v, t[mask] = v (number or tensor); t.grad = tensor or nil */
static int t_newindex(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  nn_ctx *ctx = nn_tensor_ctx(t);
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, 2), "grad") == 0) {
      nn_tensor *g = lua_isnil(L, 3) ? NULL : checkt(L, 3);
      lunet_check(L, nn_tensor_set_grad(ctx, t, g));
      return 0;
    }
    return luaL_error(L, "cannot set field '%s' of a tensor", lua_tostring(L, 2));
  }
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer i = keyindex(L, 2);
    int64_t k;
    nn_tensor *row, *v = NULL;
    nn_status s;
    if (nn_tensor_ndim(t) == 0) return luaL_error(L, "index: a 0-d tensor cannot be indexed");
    k = indexarg(L, i, nn_tensor_shape(t)[0], "index", 0);
    if (lua_type(L, 3) == LUA_TNUMBER) {
      if (nn_tensor_ndim(t) == 1)
        return lunet_check(L, nn_tensor_set(ctx, t, &k, lua_tonumber(L, 3)));
    } else {
      v = testt(L, 3);
      if (v == NULL) return lunet_typeerror(L, 3, "number or lunet.Tensor");
    }
    lunet_check(L, nn_select(ctx, t, 0, k, &row));
    s = v ? nn_copy_(ctx, row, v) : nn_fill_(ctx, row, lua_tonumber(L, 3));
    nn_tensor_release(row); /* the error text stays in the context */
    return lunet_check(L, s);
  }
  if (lua_type(L, 2) == LUA_TTABLE) return assign(L, ctx, slice(L, t, 2)->t);
  if (testt(L, 2) != NULL) {
    nn_tensor *mask = testt(L, 2), *src = NULL;
    if (!is_mask(L, t, mask))
      return luaL_error(L, "index: assigning through an index tensor is not supported (use index_copy_ "
                        "or index_fill_)");
    if (lua_type(L, 3) != LUA_TNUMBER && (src = testt(L, 3)) == NULL)
      return lunet_typeerror(L, 3, "number or lunet.Tensor");
    return lunet_check(L, src ? nn_masked_scatter_(ctx, t, mask, src)
                              : nn_masked_fill_(ctx, t, mask, lua_tonumber(L, 3)));
  }
  return luaL_error(L, "tensor index must be an integer, a table of ranges or a mask tensor, got %s",
                    luaL_typename(L, 2));
}

/* ---- views and copies ----------------------------------------------------------------- */

/* view(...) / reshape(...) / expand(...): sizes as varargs or one table; -1 allowed */
typedef nn_status (*shape_fn)(nn_ctx *, nn_tensor *, int, const int64_t *, nn_tensor **);

static int shaped(lua_State *L, shape_fn f, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  int64_t shape[NN_MAX_DIMS];
  int next, n = shapeargs(L, 2, shape, &next, fname), i;
  LTensor *b;
  if (next <= lua_gettop(L)) lunet_typeerror(L, next, "integer");
  for (i = 0; i < n; i++)
    if (shape[i] < -1)
      luaL_error(L, "%s: invalid size %I in dimension %d", fname, (lua_Integer)shape[i], i + 1);
  b = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(t), t, n, shape, &b->t));
  return 1;
}

static int t_view(lua_State *L) { return shaped(L, nn_view, "view"); }
static int t_reshape(lua_State *L) { return shaped(L, nn_reshape, "reshape"); }
static int t_expand(lua_State *L) { return shaped(L, nn_expand, "expand"); }

static int t_transpose(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d0 = lunet_checkdim(L, 2, "transpose"), d1 = lunet_checkdim(L, 3, "transpose");
  LTensor *b = newbox(L);
  lunet_check(L, nn_transpose(nn_tensor_ctx(t), t, d0, d1, &b->t));
  return 1;
}

/* t(): the transpose of a 2-D tensor; 0-D and 1-D come back as they are (PyTorch) */
static int t_t(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int n = nn_tensor_ndim(t);
  LTensor *b;
  char s[96];
  if (n > 2)
    return luaL_error(L, "t: expects a tensor with at most 2 dimensions, got shape %s",
                      shapestr(t, s, sizeof s));
  b = newbox(L);
  if (n < 2) {
    nn_tensor_retain(t);
    b->t = t;
    return 1;
  }
  lunet_check(L, nn_transpose(nn_tensor_ctx(t), t, 0, 1, &b->t));
  return 1;
}

static int t_permute(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int n = nn_tensor_ndim(t), dims[NN_MAX_DIMS], k = 0, i, j;
  bool seen[NN_MAX_DIMS] = {false};
  LTensor *b;
  char s[96];
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, 2);
    if (len != n) goto count;
    for (i = 1; i <= len; i++) {
      lua_geti(L, 2, i);
      dims[k++] = dimarg_n(L, -1, t, 0, "permute");
      lua_pop(L, 1);
    }
  } else {
    if (lua_gettop(L) - 1 != n) goto count;
    for (i = 2; i <= n + 1; i++) dims[k++] = dimarg_n(L, i, t, 0, "permute");
  }
  for (j = 0; j < n; j++) {
    if (seen[dims[j]])
      return luaL_error(L, "permute: dimension %d repeated (dims must be a permutation of 1..%d)",
                        dims[j] + 1, n);
    seen[dims[j]] = true;
  }
  b = newbox(L);
  lunet_check(L, nn_permute(nn_tensor_ctx(t), t, dims, &b->t));
  return 1;
count:
  return luaL_error(L, "permute: expected %d dims for a tensor of shape %s", n,
                    shapestr(t, s, sizeof s));
}

/* narrow(dim, start, len): start 1-based (negative from the end) */
static int t_narrow(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = dimarg_n(L, 2, t, 0, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  int64_t size = nn_tensor_shape(t)[d], s0 = indexarg_end(L, start, size, true, "narrow", d);
  LTensor *b;
  if (len < 0 || len > size - s0)
    return luaL_error(L, "narrow: start %I and length %I exceed size %I of dimension %d",
                      start, len, (lua_Integer)size, d + 1);
  b = newbox(L);
  lunet_check(L, nn_narrow(nn_tensor_ctx(t), t, d, s0, (int64_t)len, &b->t));
  return 1;
}

/* select(dim, i): i 1-based (negative from the end); the dim goes away */
static int t_select(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = dimarg_n(L, 2, t, 0, "select");
  int64_t i = indexarg(L, luaL_checkinteger(L, 3), nn_tensor_shape(t)[d], "select", d);
  LTensor *b = newbox(L);
  lunet_check(L, nn_select(nn_tensor_ctx(t), t, d, i, &b->t));
  return 1;
}

static int t_unsqueeze(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = dimarg_n(L, 2, t, 1, "unsqueeze");
  LTensor *b = newbox(L);
  lunet_check(L, nn_unsqueeze(nn_tensor_ctx(t), t, d, &b->t));
  return 1;
}

static int t_squeeze(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = lua_isnoneornil(L, 2) ? NN_ALL : lunet_checkdim(L, 2, "squeeze");
  LTensor *b = newbox(L);
  lunet_check(L, nn_squeeze(nn_tensor_ctx(t), t, d, &b->t));
  return 1;
}

/* flatten([start [, end]]): dims start..end (inclusive, default 1..-1) into one */
static int t_flatten(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int n = nn_tensor_ndim(t);
  int d0 = lua_isnoneornil(L, 2) ? 0 : lunet_checkdim(L, 2, "flatten");
  int d1 = lua_isnoneornil(L, 3) ? -1 : lunet_checkdim(L, 3, "flatten");
  LTensor *b = newbox(L);
  if (n == 0) {
    int64_t one = 1;
    lunet_check(L, nn_reshape(nn_tensor_ctx(t), t, 1, &one, &b->t));
    return 1;
  }
  lunet_check(L, nn_flatten(nn_tensor_ctx(t), t, d0, d1, &b->t));
  return 1;
}

typedef nn_status (*unary_fn)(nn_ctx *, nn_tensor *, nn_tensor **);

static int unary(lua_State *L, unary_fn f) {
  nn_tensor *t = checkt(L, 1);
  LTensor *b = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(t), t, &b->t));
  return 1;
}

static int t_clone(lua_State *L) { return unary(L, nn_clone); }
static int t_contiguous(lua_State *L) { return unary(L, nn_contiguous); }
static int t_detach(lua_State *L) { return unary(L, nn_detach); }

static int convert(lua_State *L, nn_dtype dt) {
  nn_tensor *t = checkt(L, 1);
  LTensor *b = newbox(L);
  lunet_check(L, nn_to(nn_tensor_ctx(t), t, dt, &b->t));
  return 1;
}

/* to(dtype) or to{dtype = ...} */
static int t_to(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  if (lua_isnoneornil(L, 2)) lunet_typeerror(L, 2, "dtype name");
  return convert(L, lunet_checkdtype(L, 2, nn_tensor_dtype(t)));
}
static int t_float(lua_State *L) { return convert(L, NN_F32); }
static int t_double(lua_State *L) { return convert(L, NN_F64); }
static int t_long(lua_State *L) { return convert(L, NN_I64); }

/* index_select(dim, idx): idx 1-based, an int64 tensor (1-D) or a Lua array of integers; an
   index 0 names the fix */
#define ONE_BASED " (indices are 1-based: 1 is the first; for 0-based idx pass idx + 1)"
static int t_index_select(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *idx, *zb;
  int d = dimarg_n(L, 2, t, 0, "index_select");
  int64_t size = nn_tensor_shape(t)[d], n, i, st;
  nn_ctx *ctx = nn_tensor_ctx(t);
  LTensor *ib, *b;
  const int64_t *p;
  ib = newbox(L); /* the 0-based indices */
  if (lua_type(L, 3) == LUA_TTABLE) {
    int64_t len = (int64_t)luaL_len(L, 3);
    int64_t *q;
    lunet_check(L, nn_tensor_new(ctx, NN_I64, 1, &len, &ib->t));
    q = nn_tensor_data(ib->t);
    for (i = 0; i < len; i++) {
      int isint;
      lua_Integer v;
      lua_geti(L, 3, (lua_Integer)i + 1);
      v = lua_tointegerx(L, -1, &isint);
      if (!isint || lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "index_select: index %I of the list is not an integer",
                          (lua_Integer)i + 1);
      if (v < 1 || v > size)
        return luaL_error(L, "index_select: index %I out of range for dimension %d of size %I%s",
                          v, d + 1, (lua_Integer)size, v == 0 ? ONE_BASED : "");
      q[i] = (int64_t)v - 1;
      lua_pop(L, 1);
    }
  } else {
    idx = testt(L, 3);
    if (idx == NULL) return lunet_typeerror(L, 3, "lunet.Tensor or table of indices");
    if (nn_tensor_dtype(idx) != NN_I64)
      return luaL_error(L, "index_select: indices must be an int64 tensor, got %s",
                        nn_dtype_name(nn_tensor_dtype(idx)));
    if (nn_tensor_ndim(idx) != 1) {
      char s[96];
      return luaL_error(L, "index_select: indices must be 1-D, got shape %s",
                        shapestr(idx, s, sizeof s));
    }
    n = nn_tensor_shape(idx)[0];
    st = nn_tensor_strides(idx)[0];
    p = nn_tensor_data(idx);
    for (i = 0; i < n; i++)
      if (p[i * st] < 1 || p[i * st] > size)
        return luaL_error(L, "index_select: index %I out of range for dimension %d of size %I%s",
                          (lua_Integer)p[i * st], d + 1, (lua_Integer)size,
                          p[i * st] == 0 ? ONE_BASED : "");
    lunet_check(L, nn_adds(ctx, idx, -1, &ib->t));
  }
  zb = ib->t;
  b = newbox(L);
  lunet_check(L, nn_index_select(ctx, t, d, zb, &b->t));
  return 1;
}

/* copy_(src): src (a tensor that broadcasts, or a number) into t; returns t */
static int t_copy_(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) lunet_check(L, nn_fill_(nn_tensor_ctx(t), t, lua_tonumber(L, 2)));
  else lunet_check(L, nn_copy_(nn_tensor_ctx(t), t, checkt(L, 2)));
  lua_settop(L, 1);
  return 1;
}

/* ---- shape vocabulary: chunk, split, unbind, flip, roll, tile, ... (runtime/ops_layout.c) ---- */

/* Integers given as one table at arg or as the integers from arg on, at most max; the count. */
static int intlist(lua_State *L, int arg, int64_t *v, int max, const char *fname) {
  int n = 0, i, top = lua_gettop(L);
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, arg);
    if (len > max) luaL_error(L, "%s: %I entries given (at most %d)", fname, len, max);
    for (i = 1; i <= len; i++) {
      int isint;
      lua_geti(L, arg, i);
      v[n++] = (int64_t)lua_tointegerx(L, -1, &isint);
      if (!isint) luaL_error(L, "%s: entry %d of the list must be an integer, got %s", fname, i, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    return n;
  }
  for (i = arg; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
    if (n == max) luaL_error(L, "%s: more than %d entries given", fname, max);
    v[n++] = (int64_t)luaL_checkinteger(L, i);
  }
  if (i <= top && !lua_isnil(L, i)) lunet_typeerror(L, i, "integer or table of integers");
  return n;
}

/* Lua dims (1-based, negative from the end) from arg as core dims; the count. */
static int dimlist(lua_State *L, int arg, int *dims, const char *fname) {
  int64_t v[NN_MAX_DIMS];
  int n = intlist(L, arg, v, NN_MAX_DIMS, fname), i;
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)v[i]);
    dims[i] = lunet_checkdim(L, -1, fname);
    lua_pop(L, 1);
  }
  return n;
}

/* A Lua array of n empty boxes (filled by the caller: a failure leaves nothing to leak). */
static int boxes(lua_State *L, int64_t n, const char *fname) {
  int64_t i;
  if (n > 0x7fffffff) luaL_error(L, "%s: %I pieces are too many", fname, (lua_Integer)n);
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    newbox(L);
    lua_rawseti(L, -2, (lua_Integer)i);
  }
  return lua_gettop(L);
}
static LTensor *box_at(lua_State *L, int list, int64_t i) {
  LTensor *b;
  lua_rawgeti(L, list, (lua_Integer)i + 1);
  b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return b;
}

/* n views of the given sizes along d, as a Lua array */
static int pushsplit(lua_State *L, nn_tensor *t, int d, int64_t n, const int64_t *sizes, const char *fname) {
  int list = boxes(L, n, fname);
  nn_tensor **outs = lua_newuserdatauv(L, sizeof *outs * (size_t)(n ? n : 1), 0);
  int64_t i;
  lunet_check(L, nn_split(nn_tensor_ctx(t), t, d, n, sizes, outs));
  for (i = 0; i < n; i++) box_at(L, list, i)->t = outs[i];
  lua_settop(L, list);
  return 1;
}

/* pieces of size cs (the last one smaller), at least one piece */
static int even_split(lua_State *L, nn_tensor *t, int d, int64_t cs, const char *fname) {
  int64_t size = nn_tensor_shape(t)[d], n = cs ? size / cs + (size % cs != 0) : 1, i, *sizes;
  if (n == 0) n = 1;
  sizes = lua_newuserdatauv(L, sizeof *sizes * (size_t)n, 0);
  for (i = 0; i < n; i++) sizes[i] = i < n - 1 ? cs : size - cs * (n - 1);
  return pushsplit(L, t, d, n, sizes, fname);
}

static int optdim(lua_State *L, int arg, nn_tensor *t, const char *fname) {
  char s[96];
  if (nn_tensor_ndim(t) == 0)
    luaL_error(L, "%s: a 0-d tensor has no dimension to split (shape %s)", fname, shapestr(t, s, sizeof s));
  return lua_isnoneornil(L, arg) ? 0 : dimarg_n(L, arg, t, 0, fname);
}

/* chunk(n [, dim]): n pieces of ceil(size / n) (fewer when the size runs out), a Lua array */
static int t_chunk(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  int d = optdim(L, 3, t, "chunk");
  int64_t size = nn_tensor_shape(t)[d];
  if (n < 1) return luaL_error(L, "chunk: the number of chunks must be at least 1, got %I", n);
  return even_split(L, t, d, size / n + (size % n != 0), "chunk");
}

/* split(size [, dim]) or split({sizes} [, dim]): views, a Lua array */
static int t_split(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = optdim(L, 3, t, "split");
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, 2), i;
    int64_t *sizes;
    if (n < 0 || n > nn_tensor_shape(t)[d] + 1)
      return luaL_error(L, "split: %I sizes for dimension %d of size %I", n, d + 1,
                        (lua_Integer)nn_tensor_shape(t)[d]);
    sizes = lua_newuserdatauv(L, sizeof *sizes * (size_t)(n ? n : 1), 0);
    for (i = 1; i <= n; i++) {
      int isint;
      lua_geti(L, 2, i);
      sizes[i - 1] = (int64_t)lua_tointegerx(L, -1, &isint);
      if (!isint) return luaL_error(L, "split: size %I must be an integer, got %s", i, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    return pushsplit(L, t, d, n, sizes, "split");
  }
  lua_Integer cs = luaL_checkinteger(L, 2);
  if (cs < 1 && !(cs == 0 && nn_tensor_shape(t)[d] == 0))
    return luaL_error(L, "split: the piece size must be at least 1, got %I", cs);
  return even_split(L, t, d, cs, "split");
}

/* unbind([dim]): the selects along dim, a Lua array */
static int t_unbind(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = optdim(L, 2, t, "unbind");
  int64_t n = nn_tensor_shape(t)[d], i;
  int list = boxes(L, n, "unbind");
  for (i = 0; i < n; i++) lunet_check(L, nn_select(nn_tensor_ctx(t), t, d, i, &box_at(L, list, i)->t));
  return 1;
}

/* flip(dims): dims as integers or one table */
static int t_flip(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int dims[NN_MAX_DIMS], n = dimlist(L, 2, dims, "flip");
  LTensor *b = newbox(L);
  lunet_check(L, nn_flip(nn_tensor_ctx(t), t, n, dims, &b->t));
  return 1;
}

/* roll(shifts [, dims]): numbers or tables of the same length; no dims rolls the flattened tensor */
static int t_roll(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int64_t shifts[NN_MAX_DIMS];
  int dims[NN_MAX_DIMS], ns, nd = 0;
  LTensor *b;
  if (lua_type(L, 2) == LUA_TNUMBER) shifts[0] = (int64_t)luaL_checkinteger(L, 2), ns = 1;
  else if (lua_type(L, 2) == LUA_TTABLE) ns = intlist(L, 2, shifts, NN_MAX_DIMS, "roll");
  else return lunet_typeerror(L, 2, "integer or table of integers");
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) == LUA_TNUMBER) dims[0] = lunet_checkdim(L, 3, "roll"), nd = 1;
    else nd = dimlist(L, 3, dims, "roll");
    if (nd != ns) return luaL_error(L, "roll: %d shifts but %d dims", ns, nd);
  }
  b = newbox(L);
  lunet_check(L, nn_roll(nn_tensor_ctx(t), t, ns, shifts, nd ? dims : NULL, &b->t));
  return 1;
}

/* tile(reps) / repeat(reps): counts as integers or one table */
static int t_tile(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int64_t reps[NN_MAX_DIMS];
  int n = intlist(L, 2, reps, NN_MAX_DIMS, "tile");
  LTensor *b = newbox(L);
  lunet_check(L, nn_tile(nn_tensor_ctx(t), t, n, reps, &b->t));
  return 1;
}

/* repeat_interleave(repeats [, dim]): repeats an integer or an int64 tensor; no dim: flattened */
static int t_repeat_interleave(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *reps = NULL;
  lua_Integer r = 0;
  int d = lua_isnoneornil(L, 3) ? NN_ALL : lunet_checkdim(L, 3, "repeat_interleave");
  LTensor *b;
  if (lua_type(L, 2) == LUA_TNUMBER) r = luaL_checkinteger(L, 2);
  else if ((reps = testt(L, 2)) == NULL) return lunet_typeerror(L, 2, "integer or int64 lunet.Tensor");
  b = newbox(L);
  lunet_check(L, nn_repeat_interleave(nn_tensor_ctx(t), t, (int64_t)r, reps, d, &b->t));
  return 1;
}

typedef nn_status (*offset_fn)(nn_ctx *, nn_tensor *, int64_t, nn_tensor **);
static int with_offset(lua_State *L, offset_fn f) {
  nn_tensor *t = checkt(L, 1);
  lua_Integer k = luaL_optinteger(L, 2, 0);
  LTensor *b = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(t), t, (int64_t)k, &b->t));
  return 1;
}
static int t_tril(lua_State *L) { return with_offset(L, nn_tril); }
static int t_triu(lua_State *L) { return with_offset(L, nn_triu); }
static int t_diag(lua_State *L) { return with_offset(L, nn_diag); }
static int t_trace(lua_State *L) { return unary(L, nn_trace); }

/* diagonal([offset [, dim1 [, dim2]]]): a view, the diagonal as the last dim */
static int t_diagonal(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Integer k = luaL_optinteger(L, 2, 0);
  int d1 = lua_isnoneornil(L, 3) ? 0 : lunet_checkdim(L, 3, "diagonal");
  int d2 = lua_isnoneornil(L, 4) ? 1 : lunet_checkdim(L, 4, "diagonal");
  LTensor *b = newbox(L);
  lunet_check(L, nn_diagonal(nn_tensor_ctx(t), t, (int64_t)k, d1, d2, &b->t));
  return 1;
}

/* movedim(src, dst): dims as numbers or tables of the same length; a view */
static int t_movedim(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int src[NN_MAX_DIMS], dst[NN_MAX_DIMS], ns, nd;
  LTensor *b;
  if (lua_type(L, 2) == LUA_TTABLE) ns = dimlist(L, 2, src, "movedim");
  else src[0] = lunet_checkdim(L, 2, "movedim"), ns = 1;
  if (lua_type(L, 3) == LUA_TTABLE) nd = dimlist(L, 3, dst, "movedim");
  else dst[0] = lunet_checkdim(L, 3, "movedim"), nd = 1;
  if (ns != nd) return luaL_error(L, "movedim: %d source dims but %d destinations", ns, nd);
  b = newbox(L);
  lunet_check(L, nn_movedim(nn_tensor_ctx(t), t, ns, src, dst, &b->t));
  return 1;
}

/* meshgrid(t1, t2, ... [, {indexing = "ij" | "xy"}]) or meshgrid({t1, t2, ...} [, opts]):
   expanded views, a Lua array */
static int m_meshgrid(lua_State *L) {
  nn_tensor *ts[NN_MAX_DIMS];
  int n = 0, top = lua_gettop(L), i, list;
  bool xy = false;
  const char *ix;
  /* options: a last table that is not a list of tensors */
  if (top >= 1 && lua_type(L, top) == LUA_TTABLE && lua_rawgeti(L, top, 1) == LUA_TNIL) {
    lua_getfield(L, top, "indexing");
    ix = luaL_optstring(L, -1, "ij");
    if (strcmp(ix, "xy") == 0) xy = true;
    else if (strcmp(ix, "ij") != 0)
      return luaL_error(L, "meshgrid: indexing must be \"ij\" or \"xy\", got \"%s\"", ix);
    lua_settop(L, --top);
  }
  lua_settop(L, top);
  if (top == 1 && lua_type(L, 1) == LUA_TTABLE) {   /* one list of tensors */
    lua_Integer len = luaL_len(L, 1);
    if (len < 1 || len > NN_MAX_DIMS) return luaL_error(L, "meshgrid: %I tensors given (1 to %d)", len, NN_MAX_DIMS);
    for (i = 1; i <= len; i++) {
      lua_geti(L, 1, i);
      if ((ts[n++] = testt(L, -1)) == NULL) return luaL_error(L, "meshgrid: entry %d is not a tensor", i);
    }
  } else {
    if (top < 1 || top > NN_MAX_DIMS) return luaL_error(L, "meshgrid: %d tensors given (1 to %d)", top, NN_MAX_DIMS);
    for (i = 1; i <= top; i++) ts[n++] = checkt(L, i);
  }
  list = boxes(L, n, "meshgrid");
  {
    nn_tensor *outs[NN_MAX_DIMS];
    lunet_check(L, nn_meshgrid(lunet_ctx(L), n, ts, xy, outs));
    for (i = 0; i < n; i++) box_at(L, list, i)->t = outs[i];
  }
  lua_settop(L, list);
  return 1;
}

/* pad(t, pads [, {mode = "constant" | "reflect" | "replicate" | "circular", value = 0}]) or
   pad(t, pads, mode [, value]) as F.pad: pads last dim first */
static int t_pad(lua_State *L) {
  static const char *const modes[] = {"constant", "reflect", "replicate", "circular", NULL};
  nn_tensor *t = checkt(L, 1);
  int64_t pads[2 * NN_MAX_DIMS];
  int n, mode = 0;
  lua_Number value = 0;
  LTensor *b;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = intlist(L, 2, pads, 2 * NN_MAX_DIMS, "pad");
  if (lua_type(L, 3) == LUA_TTABLE) {   /* the options table's fields in place of 3 and 4 */
    lua_settop(L, 3);
    lua_getfield(L, 3, "mode");
    lua_getfield(L, 3, "value");
    lua_remove(L, 3);
  }
  if (!lua_isnoneornil(L, 3)) {
    const char *m = luaL_checkstring(L, 3);
    while (modes[mode] && strcmp(modes[mode], m) != 0) mode++;
    if (!modes[mode])
      return luaL_error(L, "pad: mode must be \"constant\", \"reflect\", \"replicate\" or \"circular\", "
                        "got \"%s\"", m);
  }
  if (!lua_isnoneornil(L, 4)) {
    if (lua_type(L, 4) != LUA_TNUMBER) return luaL_error(L, "pad: value must be a number, got %s", luaL_typename(L, 4));
    value = lua_tonumber(L, 4);
  }
  b = newbox(L);
  lunet_check(L, nn_pad(nn_tensor_ctx(t), t, n, pads, (nn_pad_mode)mode, value, &b->t));
  return 1;
}

/* ---- arithmetic ---------------------------------------------------------------------------- */

/* the binary ops (the rows of runtime/ops_binary.def): a code per row and its function */
#define BINARY_CODE(op_, ...) OP_##op_,
#define BINARY_FN(op_, ...) nn_##op_,
enum { NN_BINARY_OPS(BINARY_CODE) };
typedef nn_status (*binary_fn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor **);
static const binary_fn binfns[] = {NN_BINARY_OPS(BINARY_FN)};

/* s is a power of two, so x * (1/s) == x / s exactly */
static bool pow2(lua_Number s) {
  int e;
  return s != 0 && isfinite(s) && fabs(frexp(s, &e)) == 0.5;
}

/* Whether the number at idx may meet t through the scalar kernels, which take a double: not
   an int64 tensor with an integer past 2^53, which only a 0-d int64 tensor keeps exactly. */
static bool scalar_exact(lua_State *L, int idx, const nn_tensor *t) {
  lua_Integer k;
  if (nn_tensor_dtype(t) != NN_I64 || !lua_isinteger(L, idx)) return true;
  k = lua_tointeger(L, idx);
  return k >= -((lua_Integer)1 << 53) && k <= ((lua_Integer)1 << 53);
}

/* a op b for tensors and numbers on either side (metamethods and methods alike). A number
   meets a tensor through the scalar kernels (nn_adds, nn_muls, ...) without a temporary
   tensor when that gives the same result; otherwise it becomes a 0-d tensor. */
static int arith(lua_State *L, int op) {
  nn_tensor *a = testt(L, 1), *b = testt(L, 2);
  nn_ctx *ctx;
  LTensor *r;
  nn_status s;
  if (a && b) {
    r = newbox(L);
    lunet_check(L, binfns[op](nn_tensor_ctx(a), a, b, &r->t));
    return 1;
  }
  if (a && lua_type(L, 2) == LUA_TNUMBER && scalar_exact(L, 2, a)) {
    lua_Number x = lua_tonumber(L, 2);
    ctx = nn_tensor_ctx(a);
    switch (op) {
    case OP_add: r = newbox(L); s = nn_adds(ctx, a, x, &r->t); return lunet_check(L, s), 1;
    case OP_sub: r = newbox(L); s = nn_adds(ctx, a, -x, &r->t); return lunet_check(L, s), 1;
    case OP_mul: r = newbox(L); s = nn_muls(ctx, a, x, &r->t); return lunet_check(L, s), 1;
    case OP_pow: r = newbox(L); s = nn_pows(ctx, a, x, &r->t); return lunet_check(L, s), 1;
    case OP_div:
      if (nn_tensor_dtype(a) != NN_I64 && pow2(x)) {
        r = newbox(L);
        s = nn_muls(ctx, a, 1 / x, &r->t);
        return lunet_check(L, s), 1;
      }
      break;
    }
  } else if (b && lua_type(L, 1) == LUA_TNUMBER && scalar_exact(L, 1, b)) {
    lua_Number x = lua_tonumber(L, 1);
    ctx = nn_tensor_ctx(b);
    switch (op) {
    case OP_add: r = newbox(L); s = nn_adds(ctx, b, x, &r->t); return lunet_check(L, s), 1;
    case OP_sub: r = newbox(L); s = nn_rsubs(ctx, b, x, &r->t); return lunet_check(L, s), 1;
    case OP_mul: r = newbox(L); s = nn_muls(ctx, b, x, &r->t); return lunet_check(L, s), 1;
    case OP_div: r = newbox(L); s = nn_rdivs(ctx, b, x, &r->t); return lunet_check(L, s), 1;
    }
  }
  if (a == NULL && b == NULL) {
    if (lua_type(L, 1) != LUA_TNUMBER) lunet_typeerror(L, 1, "lunet.Tensor or number");
    lunet_typeerror(L, 2, "lunet.Tensor");
  }
  a = tensor_or_number(L, 1, b);
  b = tensor_or_number(L, 2, a);
  r = newbox(L);
  lunet_check(L, binfns[op](lunet_ctx(L), a, b, &r->t));
  return 1;
}

/* a:add(b, alpha), a:sub(b, alpha): a ± alpha·b (PyTorch's alpha=), recorded as two ops */
static int arith_alpha(lua_State *L, int op) {
  lua_Number alpha = luaL_checknumber(L, 3);
  lua_settop(L, 2);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_pushnumber(L, lua_tonumber(L, 2) * alpha);
  } else {
    nn_tensor *b = checkt(L, 2);
    LTensor *r = newbox(L);
    lunet_check(L, nn_muls(nn_tensor_ctx(b), b, alpha, &r->t));
  }
  lua_replace(L, 2);
  return arith(L, op);
}

static int t_add(lua_State *L) { return lua_isnoneornil(L, 3) ? arith(L, OP_add) : arith_alpha(L, OP_add); }
static int t_sub(lua_State *L) { return lua_isnoneornil(L, 3) ? arith(L, OP_sub) : arith_alpha(L, OP_sub); }
static int t_mul(lua_State *L) { return arith(L, OP_mul); }
static int t_div(lua_State *L) { return arith(L, OP_div); }
static int t_pow(lua_State *L) { return arith(L, OP_pow); }
static int t_maximum(lua_State *L) { return arith(L, OP_maximum); }
static int t_minimum(lua_State *L) { return arith(L, OP_minimum); }

/* the element-wise unary ops: one method (and lunet.<name> function) per row of the table */
#define UNARY_METHOD(op_, ...) static int t_##op_(lua_State *L) { return unary(L, nn_##op_); }
NN_UNARY_OPS(UNARY_METHOD)
#define UNARY_REG(op_, ...) {#op_, t_##op_},
#define UNARY_NAME(op_, ...) #op_,

/* ---- issue 13's element-wise vocabulary: masks, in-place rows, parameterised, binary ---- */
NN_UNARY_MASK_OPS(UNARY_METHOD)
#define UNARY_INPLACE(op_, ...)                                        \
  static int t_##op_##_(lua_State *L) {                                \
    nn_tensor *t = checkt(L, 1);                                       \
    lunet_check(L, nn_unary_(nn_tensor_ctx(t), #op_, t));              \
    lua_settop(L, 1);                                                  \
    return 1;                                                          \
  }
NN_UNARY_OPS(UNARY_INPLACE)
#define UNARY_INPLACE_REG(op_, ...) {#op_ "_", t_##op_##_},
static int t_atan2(lua_State *L) { return arith(L, OP_atan2); }
static int t_fmod(lua_State *L) { return arith(L, OP_fmod); }
static int t_remainder(lua_State *L) { return arith(L, OP_remainder); }
/* a op b without gradient, b a tensor or a number */
static int nograd_binary(lua_State *L, binary_fn f) {
  nn_tensor *a = checkt(L, 1), *b = tensor_or_number(L, 2, a);
  LTensor *r = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(a), a, b, &r->t));
  return 1;
}
static int t_logical_and(lua_State *L) { return nograd_binary(L, nn_logical_and); }
static int t_logical_or(lua_State *L) { return nograd_binary(L, nn_logical_or); }
static int t_logical_xor(lua_State *L) { return nograd_binary(L, nn_logical_xor); }
static int t_bitwise_and(lua_State *L) { return nograd_binary(L, nn_bitwise_and); }
static int t_bitwise_or(lua_State *L) { return nograd_binary(L, nn_bitwise_or); }
static int t_bitwise_xor(lua_State *L) { return nograd_binary(L, nn_bitwise_xor); }
/* a & b, a | b, a ~ b, ~a: bitwise on int64 tensors; on float ones (Lunet's 0/1 masks) the
   logical op, as PyTorch's & on bool masks */
static int bitop(lua_State *L, binary_fn on_int, binary_fn on_float) {
  nn_tensor *a = testt(L, 1), *b = testt(L, 2);
  if (!a) { lua_insert(L, 1); a = b; }   /* 3 & t: t & 3 (the ops commute) */
  if (!a) return lunet_typeerror(L, 1, "lunet.Tensor");
  b = tensor_or_number(L, 2, a);
  bool ints = nn_tensor_dtype(a) == NN_I64 && nn_tensor_dtype(b) == NN_I64;
  return nograd_binary(L, ints ? on_int : on_float);
}
static int t_band(lua_State *L) { return bitop(L, nn_bitwise_and, nn_logical_and); }
static int t_bor(lua_State *L) { return bitop(L, nn_bitwise_or, nn_logical_or); }
static int t_bxor(lua_State *L) { return bitop(L, nn_bitwise_xor, nn_logical_xor); }
static int t_bnot(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  return unary(L, nn_tensor_dtype(t) == NN_I64 ? nn_bitwise_not : nn_logical_not);
}
/* hardtanh([min = -1, max = 1]) */
static int t_hardtanh(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Number lo = luaL_optnumber(L, 2, -1), hi = luaL_optnumber(L, 3, 1);
  LTensor *b = newbox(L);
  lunet_check(L, nn_hardtanh(nn_tensor_ctx(t), t, lo, hi, &b->t));
  return 1;
}
/* softplus([beta = 1, threshold = 20]) */
static int t_softplus(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Number beta = luaL_optnumber(L, 2, 1), th = luaL_optnumber(L, 3, 20);
  LTensor *b = newbox(L);
  lunet_check(L, nn_softplus(nn_tensor_ctx(t), t, beta, th, &b->t));
  return 1;
}
/* nan_to_num([nan = 0, posinf, neginf]): ±inf default to the dtype's extreme finite values */
static int t_nan_to_num(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  double big = nn_tensor_dtype(t) == NN_F32 ? FLT_MAX : DBL_MAX;
  lua_Number nan = luaL_optnumber(L, 2, 0), pinf = luaL_optnumber(L, 3, big),
             ninf = luaL_optnumber(L, 4, -big);
  LTensor *b = newbox(L);
  lunet_check(L, nn_nan_to_num(nn_tensor_ctx(t), t, nan, pinf, ninf, &b->t));
  return 1;
}
/* lerp(a, b, w): a + w (b - a), w a number or a tensor */
static int t_lerp(lua_State *L) {
  nn_tensor *a = checkt(L, 1), *b = checkt(L, 2), *w = NULL;
  if (lua_type(L, 3) != LUA_TNUMBER && (w = testt(L, 3)) == NULL)
    return lunet_typeerror(L, 3, "number or lunet.Tensor (the weight)");
  LTensor *r = newbox(L);
  if (w) lunet_check(L, nn_lerp(nn_tensor_ctx(a), a, b, w, &r->t));
  else lunet_check(L, nn_lerps(nn_tensor_ctx(a), a, b, lua_tonumber(L, 3), &r->t));
  return 1;
}
#define EWISE_METHODS                                                                       \
  NN_UNARY_MASK_OPS(UNARY_REG) NN_UNARY_OPS(UNARY_INPLACE_REG)                              \
  {"atan2", t_atan2}, {"fmod", t_fmod}, {"remainder", t_remainder},                         \
  {"logical_and", t_logical_and}, {"logical_or", t_logical_or},                             \
  {"logical_xor", t_logical_xor}, {"bitwise_and", t_bitwise_and},                           \
  {"bitwise_or", t_bitwise_or}, {"bitwise_xor", t_bitwise_xor}, {"band", t_bitwise_and},    \
  {"bor", t_bitwise_or}, {"bxor", t_bitwise_xor}, {"hardtanh", t_hardtanh},                 \
  {"softplus", t_softplus}, {"nan_to_num", t_nan_to_num}, {"lerp", t_lerp},
#define EWISE_EXPORTED                                                                      \
  NN_UNARY_MASK_OPS(UNARY_NAME) "atan2", "fmod", "remainder", "logical_and", "logical_or",  \
  "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "band", "bor", "bxor",         \
  "hardtanh", "softplus", "nan_to_num", "lerp",

static int t_leaky_relu(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Number slope = luaL_optnumber(L, 2, 0.01);
  LTensor *b = newbox(L);
  lunet_check(L, nn_leaky_relu(nn_tensor_ctx(t), t, slope, &b->t));
  return 1;
}

typedef nn_status (*dim_fn)(nn_ctx *, nn_tensor *, int, nn_tensor **);
static int withdim(lua_State *L, dim_fn f, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  int d = lunet_checkdim(L, 2, fname);
  LTensor *b = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(t), t, d, &b->t));
  return 1;
}
static int t_softmax(lua_State *L) { return withdim(L, nn_softmax, "softmax"); }
static int t_log_softmax(lua_State *L) { return withdim(L, nn_log_softmax, "log_softmax"); }

/* clamp(lo, hi): either may be nil (no bound on that side), not both */
static void bounds(lua_State *L, lua_Number *lo, lua_Number *hi, const char *fname) {
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
    luaL_error(L, "%s: at least one of lo and hi must be given", fname);
  *lo = lua_isnoneornil(L, 2) ? -HUGE_VAL : luaL_checknumber(L, 2);
  *hi = lua_isnoneornil(L, 3) ? HUGE_VAL : luaL_checknumber(L, 3);
}

static int t_clamp(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Number lo, hi;
  LTensor *b;
  bounds(L, &lo, &hi, "clamp");
  b = newbox(L);
  lunet_check(L, nn_clamp(nn_tensor_ctx(t), t, lo, hi, &b->t));
  return 1;
}

/* lunet.where(cond, a, b): a where cond is nonzero, else b; a, b tensors or numbers */
static int m_where(lua_State *L) {
  nn_tensor *c = checkt(L, 1), *a, *b;
  LTensor *r;
  a = testt(L, 2);
  b = testt(L, 3);
  if (a == NULL) a = tensor_or_number(L, 2, b);
  if (b == NULL) b = tensor_or_number(L, 3, a);
  r = newbox(L);
  lunet_check(L, nn_where(nn_tensor_ctx(c), c, a, b, &r->t));
  return 1;
}

/* x:where(cond, y), as PyTorch's Tensor.where: lunet.where(cond, x, y) */
static int t_where(lua_State *L) {
  checkt(L, 1);
  lua_settop(L, 3);
  lua_insert(L, 2); /* x, cond, y -> cond at 1 */
  lua_insert(L, 1);
  return m_where(L);
}

/* ---- in place: each returns t ----------------------------------------------------------- */

typedef nn_status (*inplace_fn)(nn_ctx *, nn_tensor *, nn_tensor *);

/* a:add_(b, alpha), a:sub_(b, alpha): a ±= alpha·b in one pass */
static int inplace_alpha(lua_State *L, int op) {
  nn_tensor *t = checkt(L, 1), *u;
  nn_ctx *ctx = nn_tensor_ctx(t);
  lua_Number alpha = luaL_checknumber(L, 3) * (op == OP_sub ? -1 : 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lunet_check(L, nn_adds_(ctx, t, lua_tonumber(L, 2) * alpha));
  } else {
    u = checkt(L, 2);
    lunet_check(L, nn_axpy_(ctx, t, u, alpha));
  }
  lua_settop(L, 1);
  return 1;
}

static int inplace(lua_State *L, int op) {
  static const inplace_fn fns[] = {nn_add_, nn_sub_, nn_mul_, nn_div_};
  nn_tensor *t = checkt(L, 1), *u;
  nn_ctx *ctx = nn_tensor_ctx(t);
  if ((op == OP_add || op == OP_sub) && !lua_isnoneornil(L, 3)) return inplace_alpha(L, op);
  if (lua_type(L, 2) == LUA_TNUMBER && scalar_exact(L, 2, t)) {
    lua_Number x = lua_tonumber(L, 2);
    nn_status s = NN_OK;
    bool done = true;
    switch (op) {
    case OP_add: s = nn_adds_(ctx, t, x); break;
    case OP_sub: s = nn_adds_(ctx, t, -x); break;
    case OP_mul: s = nn_muls_(ctx, t, x); break;
    default:
      if (nn_tensor_dtype(t) != NN_I64 && pow2(x)) s = nn_muls_(ctx, t, 1 / x);
      else done = false;
    }
    if (done) {
      lunet_check(L, s);
      lua_settop(L, 1);
      return 1;
    }
  }
  u = tensor_or_number(L, 2, t);
  lunet_check(L, fns[op](ctx, t, u));
  lua_settop(L, 1);
  return 1;
}

static int t_add_(lua_State *L) { return inplace(L, OP_add); }
static int t_sub_(lua_State *L) { return inplace(L, OP_sub); }
static int t_mul_(lua_State *L) { return inplace(L, OP_mul); }
static int t_div_(lua_State *L) { return inplace(L, OP_div); }

static int t_fill_(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lunet_check(L, nn_fill_(nn_tensor_ctx(t), t, luaL_checknumber(L, 2)));
  lua_settop(L, 1);
  return 1;
}

static int t_zero_(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lunet_check(L, nn_fill_(nn_tensor_ctx(t), t, 0));
  lua_settop(L, 1);
  return 1;
}

static int t_clamp_(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_Number lo, hi;
  bounds(L, &lo, &hi, "clamp_");
  lunet_check(L, nn_clamp_(nn_tensor_ctx(t), t, lo, hi));
  lua_settop(L, 1);
  return 1;
}

/* uniform_([lo, hi [, generator]]) and normal_([mean, std [, generator]]): both default to
   (0, 1) */
typedef nn_status (*fill_fn)(nn_ctx *, nn_rng *, nn_tensor *, double, double);
static int random_(lua_State *L, fill_fn f) {
  nn_tensor *t = checkt(L, 1);
  lua_Number a = luaL_optnumber(L, 2, 0), b = luaL_optnumber(L, 3, 1);
  lunet_check(L, f(nn_tensor_ctx(t), lunet_optrng(L, 4), t, a, b));
  lua_settop(L, 1);
  return 1;
}
static int t_uniform_(lua_State *L) { return random_(L, nn_uniform_); }
static int t_normal_(lua_State *L) { return random_(L, nn_normal_); }

/* ---- comparisons: 0/1 tensors ------------------------------------------------------------- */

static int compare(lua_State *L, nn_cmp op) {
  nn_tensor *a = checkt(L, 1), *b = tensor_or_number(L, 2, a);
  LTensor *r = newbox(L);
  lunet_check(L, nn_compare(nn_tensor_ctx(a), op, a, b, &r->t));
  return 1;
}
static int t_eq(lua_State *L) { return compare(L, NN_EQ); }
static int t_ne(lua_State *L) { return compare(L, NN_NE); }
static int t_lt(lua_State *L) { return compare(L, NN_LT); }
static int t_le(lua_State *L) { return compare(L, NN_LE); }
static int t_gt(lua_State *L) { return compare(L, NN_GT); }
static int t_ge(lua_State *L) { return compare(L, NN_GE); }

/* ---- reductions: (dim [, keepdim]), dims 1-based ------------------------------------------ */

static bool keeparg(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return false;
  luaL_checktype(L, arg, LUA_TBOOLEAN);
  return lua_toboolean(L, arg);
}

typedef nn_status (*reduce_fn)(nn_ctx *, nn_tensor *, int, bool, nn_tensor **);

static int reduce(lua_State *L, reduce_fn f, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  int d = lua_isnoneornil(L, 2) ? NN_ALL : lunet_checkdim(L, 2, fname);
  bool keep = keeparg(L, 3);
  LTensor *b = newbox(L);
  lunet_check(L, f(nn_tensor_ctx(t), t, d, keep, &b->t));
  return 1;
}
static int t_sum(lua_State *L) { return reduce(L, nn_sum, "sum"); }
static int t_mean(lua_State *L) { return reduce(L, nn_mean, "mean"); }
static int t_prod(lua_State *L) { return reduce(L, nn_prod, "prod"); }

/* var([dim [, keepdim]] [, {correction = 1}]): unbiased by default, as PyTorch */
static int variance(lua_State *L, bool sd) {
  const char *fname = sd ? "std" : "var";
  nn_tensor *t = checkt(L, 1);
  int d = NN_ALL, at = 2, correction = 1;
  bool keep = false;
  LTensor *b;
  nn_status s;
  if (lua_type(L, 2) != LUA_TTABLE) {
    if (!lua_isnoneornil(L, 2)) d = lunet_checkdim(L, 2, fname);
    keep = keeparg(L, 3);
    at = 4;
  }
  if (lua_type(L, at) == LUA_TTABLE) {
    lua_getfield(L, at, "correction");
    if (!lua_isnil(L, -1)) {
      int isint;
      lua_Integer c = lua_tointegerx(L, -1, &isint);
      if (!isint || c < 0 || c > 1000000)
        luaL_error(L, "%s: correction must be a non-negative integer", fname);
      correction = (int)c;
    }
    lua_getfield(L, at, "unbiased");
    if (!lua_isnil(L, -1)) correction = lua_toboolean(L, -1) ? 1 : 0;
    lua_pop(L, 2);
  } else if (!lua_isnoneornil(L, at)) {
    lunet_typeerror(L, at, "options table");
  }
  b = newbox(L);
  s = sd ? nn_std(nn_tensor_ctx(t), t, d, keep, correction, &b->t)
         : nn_var(nn_tensor_ctx(t), t, d, keep, correction, &b->t);
  lunet_check(L, s);
  return 1;
}
static int t_var(lua_State *L) { return variance(L, false); }
static int t_std(lua_State *L) { return variance(L, true); }

/* 0-based indices to 1-based. Not in place: the autograd node of max/min saves them. */
static void plus1(lua_State *L, LTensor *i) {
  nn_tensor *z = i->t;
  nn_status s = nn_adds(nn_tensor_ctx(z), z, 1, &i->t);
  if (s != NN_OK) i->t = z; /* still owned by the box */
  else nn_tensor_release(z);
  lunet_check(L, s);
}

typedef nn_status (*extreme_fn)(nn_ctx *, nn_tensor *, int, bool, nn_tensor **, nn_tensor **);

/* max(): a 0-d tensor; max(dim [, keepdim]): values and 1-based int64 indices;
   max(other tensor): the element-wise maximum (as PyTorch's torch.max(a, b)) */
static int extreme(lua_State *L, bool ismax) {
  const char *fname = ismax ? "max" : "min";
  extreme_fn f = ismax ? nn_max : nn_min;
  nn_tensor *t = checkt(L, 1);
  nn_ctx *ctx = nn_tensor_ctx(t);
  LTensor *v, *i;
  int d;
  bool keep;
  if (lua_isnoneornil(L, 2)) {
    v = newbox(L);
    lunet_check(L, f(ctx, t, NN_ALL, false, &v->t, NULL));
    return 1;
  }
  if (lua_type(L, 2) == LUA_TUSERDATA) return arith(L, ismax ? OP_maximum : OP_minimum);
  d = lunet_checkdim(L, 2, fname);
  keep = keeparg(L, 3);
  v = newbox(L);
  i = newbox(L);
  lunet_check(L, f(ctx, t, d, keep, &v->t, &i->t));
  plus1(L, i);
  return 2;
}
static int t_max(lua_State *L) { return extreme(L, true); }
static int t_min(lua_State *L) { return extreme(L, false); }

/* argmax([dim [, keepdim]]): 1-based int64 indices (into the flattened tensor with no dim) */
static int argext(lua_State *L, bool ismax) {
  const char *fname = ismax ? "argmax" : "argmin";
  nn_tensor *t = checkt(L, 1);
  nn_ctx *ctx = nn_tensor_ctx(t);
  int d = lua_isnoneornil(L, 2) ? NN_ALL : lunet_checkdim(L, 2, fname);
  bool keep = keeparg(L, 3);
  LTensor *i = newbox(L);
  lunet_check(L, (ismax ? nn_max : nn_min)(ctx, t, d, keep, NULL, &i->t));
  plus1(L, i);
  return 1;
}
static int t_argmax(lua_State *L) { return argext(L, true); }
static int t_argmin(lua_State *L) { return argext(L, false); }

/* ---- linear algebra, joining ------------------------------------------------------------ */

static int t_matmul(lua_State *L) {
  nn_tensor *a = checkt(L, 1), *b = checkt(L, 2);
  LTensor *r = newbox(L);
  lunet_check(L, nn_matmul(nn_tensor_ctx(a), a, b, &r->t));
  return 1;
}

/* lunet.addmm(bias, x, w) / bias:addmm(x, w): bias + x w, bias broadcast (nil: none) */
static int t_addmm(lua_State *L) {
  nn_tensor *bias = lua_isnil(L, 1) ? NULL : checkt(L, 1);
  nn_tensor *x = checkt(L, 2), *w = checkt(L, 3);
  LTensor *r = newbox(L);
  lunet_check(L, nn_addmm(nn_tensor_ctx(x), bias, x, w, &r->t));
  return 1;
}

static int t_dot(lua_State *L) {
  nn_tensor *a = checkt(L, 1), *b = checkt(L, 2);
  LTensor *r = newbox(L);
  lunet_check(L, nn_dot(nn_tensor_ctx(a), a, b, &r->t));
  return 1;
}

typedef nn_status (*join_fn)(nn_ctx *, int, nn_tensor *const *, int, nn_tensor **);

/* cat(list, dim) / stack(list, dim): dim defaults to 1 */
static int join(lua_State *L, join_fn f, const char *fname) {
  lua_Integer n, i;
  nn_tensor **ts;
  int d;
  LTensor *r;
  luaL_checktype(L, 1, LUA_TTABLE);
  d = lua_isnoneornil(L, 2) ? 0 : lunet_checkdim(L, 2, fname);
  n = luaL_len(L, 1);
  if (n < 1) return luaL_error(L, "%s: expects a non-empty list of tensors", fname);
  if (n > 1 << 24) return luaL_error(L, "%s: too many tensors (%I)", fname, n);
  ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0); /* scratch, freed by the collector */
  for (i = 1; i <= n; i++) {
    LTensor *b;
    lua_geti(L, 1, i);
    b = tobox(L, -1);
    if (b == NULL)
      return luaL_error(L, "%s: element %I of the list is not a tensor (got %s)", fname, i,
                        luaL_typename(L, -1));
    if (b->t == NULL) return luaL_error(L, "closed tensor");
    ts[i - 1] = b->t;
    lua_pop(L, 1); /* the list keeps it alive */
  }
  r = newbox(L);
  lunet_check(L, f(lunet_ctx(L), (int)n, ts, d, &r->t));
  return 1;
}
static int m_cat(lua_State *L) { return join(L, nn_cat, "cat"); }
static int m_stack(lua_State *L) { return join(L, nn_stack, "stack"); }

/* ---- autograd --------------------------------------------------------------------------------- */

static int t_requires_grad(lua_State *L) {
  lua_pushboolean(L, nn_tensor_requires_grad(checkt(L, 1)));
  return 1;
}

/* set_requires_grad([b = true]) -> t */
static int t_set_requires_grad(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  bool on = true;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    on = lua_toboolean(L, 2);
  }
  lunet_check(L, nn_tensor_set_requires_grad(nn_tensor_ctx(t), t, on));
  lua_settop(L, 1);
  return 1;
}

static int t_is_leaf(lua_State *L) {
  lua_pushboolean(L, nn_tensor_is_leaf(checkt(L, 1)));
  return 1;
}

static int t_grad_fn(lua_State *L) {
  const char *name = nn_tensor_grad_fn(checkt(L, 1));
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  return 1;
}

/* backward([grad]): grad defaults to 1 for a one-element tensor */
static int t_backward(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  nn_tensor *g = lua_isnoneornil(L, 2) ? NULL : checkt(L, 2);
  lunet_check(L, nn_backward(nn_tensor_ctx(t), t, g));
  return 0;
}

/* zero_grad(): fills the grad with zeros when there is one; returns t */
static int t_zero_grad(lua_State *L) {
  nn_tensor_zero_grad(checkt(L, 1));
  lua_settop(L, 1);
  return 1;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

/* __gc, __close and close(): idempotent; a closed tensor raises "closed tensor" when used */
static int t_close(lua_State *L) {
  LTensor *b = tobox(L, 1);
  if (b == NULL) return lunet_typeerror(L, 1, LUNET_TENSOR);
  nn_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

/* ---- printing ------------------------------------------------------------------------------- */

/* tostring follows PyTorch's torch/_tensor_str.py with its default print options
   (precision 4, threshold 1000, edgeitems 3, linewidth 80):
     tensor([[ 1.0000, -2.5000],
             [ 3.0000,  4.0000]])
   - floats: all-integer values print as "1." ("int mode"); otherwise "%.4f"; scientific
     "%.4e" when the nonzero finite magnitudes span more than 1000x, exceed 1e8 or (not in int
     mode) go below 1e-4. int64 prints as integers. One width per tensor, right-aligned.
   - more than 1000 elements: the first and last 3 entries of each dim around "...".
   - suffixes: ", dtype=lunet.float64" when the dtype is float64 (int64 and float32 are
     implied by the digits, as in PyTorch), ", requires_grad=True" on a leaf that requires
     grad, ", grad_fn=<AddBackward>" on a result that records one. Deviation from PyTorch:
     a summarized tensor always shows ", size=[a, b], dtype=lunet.<dtype>" so that the shape
     and dtype of a large tensor are visible.
   - an empty tensor prints "tensor([])", with size= when it is not 1-D.
   - 0-d: tensor(3.5000). */

#define EDGE 3
#define THRESHOLD 1000
#define LINEWIDTH 80
#define PREFIX "tensor("

typedef struct {
  const nn_tensor *t;
  bool floating, int_mode, sci, summarize;
  int width;
  /* formatter scan */
  bool any;
  double amin, amax;
} Fmt;

/* Visits the summarized element set (or every element) in row-major order. */
static void visit(Fmt *f, int d, int64_t off, void (*fn)(Fmt *, int64_t)) {
  const nn_tensor *t = f->t;
  int64_t n, st, i;
  if (d == nn_tensor_ndim(t)) {
    fn(f, off);
    return;
  }
  n = nn_tensor_shape(t)[d];
  st = nn_tensor_strides(t)[d];
  for (i = 0; i < n; i++) {
    if (f->summarize && n > 2 * EDGE && i == EDGE) i = n - EDGE;
    visit(f, d + 1, off + i * st, fn);
  }
}

static void scan_range(Fmt *f, int64_t off) {
  double v = rd(f->t, off), a = fabs(v);
  if (!isfinite(v) || v == 0) return;
  if (!f->any || a < f->amin) f->amin = a;
  if (!f->any || a > f->amax) f->amax = a;
  f->any = true;
  if (v != ceil(v)) f->int_mode = false;
}

/* The value's text without padding. */
static int fmtval(const Fmt *f, int64_t off, char *buf, size_t n) {
  double v;
  if (!f->floating)
    return snprintf(buf, n, "%lld", (long long)((const int64_t *)nn_tensor_data(f->t))[off]);
  v = rd(f->t, off);
  if (isnan(v)) return snprintf(buf, n, "nan");
  if (isinf(v)) return snprintf(buf, n, v > 0 ? "inf" : "-inf");
  if (f->sci) return snprintf(buf, n, "%.4e", v);
  if (f->int_mode) return snprintf(buf, n, "%.0f.", v);
  return snprintf(buf, n, "%.4f", v);
}

static void scan_width(Fmt *f, int64_t off) {
  char buf[400];
  double v;
  int w;
  if (f->floating) { /* only nonzero finite values set the width, as PyTorch */
    v = rd(f->t, off);
    if (!isfinite(v) || v == 0) return;
  }
  w = fmtval(f, off, buf, sizeof buf);
  if (w > f->width) f->width = w;
}

static void setup(Fmt *f, const nn_tensor *t, bool summarize) {
  f->t = t;
  f->floating = nn_tensor_dtype(t) != NN_I64;
  f->int_mode = true;
  f->sci = false;
  f->summarize = summarize;
  f->width = 1;
  f->any = false;
  f->amin = f->amax = 0;
  if (f->floating) {
    visit(f, 0, 0, scan_range);
    if (!f->any) return;
    if (f->int_mode) f->sci = f->amax / f->amin > 1000.0 || f->amax > 1.0e8;
    else f->sci = f->amax / f->amin > 1000.0 || f->amax > 1.0e8 || f->amin < 1.0e-4;
  }
  visit(f, 0, 0, scan_width);
}

static void addpadded(luaL_Buffer *b, const Fmt *f, int64_t off) {
  char buf[400];
  int w = fmtval(f, off, buf, sizeof buf);
  for (; w < f->width; w++) luaL_addchar(b, ' ');
  luaL_addstring(b, buf);
}

static void addspaces(luaL_Buffer *b, int n) {
  for (; n > 0; n--) luaL_addchar(b, ' ');
}

/* PyTorch's _vector_str: elements joined by ", ", wrapped to the line width. */
static void vector_str(luaL_Buffer *b, const Fmt *f, int64_t off, int indent) {
  const nn_tensor *t = f->t;
  int d = nn_tensor_ndim(t) - 1;
  int64_t n = nn_tensor_shape(t)[d], st = nn_tensor_strides(t)[d], i, k = 0;
  int per_line = (LINEWIDTH - indent) / (f->width + 2);
  bool cut = f->summarize && n > 2 * EDGE;
  if (per_line < 1) per_line = 1;
  luaL_addchar(b, '[');
  for (i = 0; i < n; i++, k++) {
    if (k > 0) {
      if (k % per_line == 0) {
        luaL_addstring(b, ",\n");
        addspaces(b, indent + 1);
      } else {
        luaL_addstring(b, ", ");
      }
    }
    if (cut && i == EDGE) {
      luaL_addstring(b, " ...");
      i = n - EDGE - 1;
      continue;
    }
    addpadded(b, f, off + i * st);
  }
  luaL_addchar(b, ']');
}

/* PyTorch's _tensor_str_with_formatter: slices joined by "," and one newline per remaining
   dim, each indented one more than its parent. */
static void tensor_str(luaL_Buffer *b, const Fmt *f, int d, int64_t off, int indent) {
  const nn_tensor *t = f->t;
  int nd = nn_tensor_ndim(t), rem = nd - d, j;
  int64_t n, st, i;
  bool cut;
  if (rem == 1) {
    vector_str(b, f, off, indent);
    return;
  }
  n = nn_tensor_shape(t)[d];
  st = nn_tensor_strides(t)[d];
  cut = f->summarize && n > 2 * EDGE;
  luaL_addchar(b, '[');
  for (i = 0; i < n; i++) {
    if (i > 0) {
      luaL_addchar(b, ',');
      for (j = 0; j < rem - 1; j++) luaL_addchar(b, '\n');
      addspaces(b, indent + 1);
    }
    if (cut && i == EDGE) {
      luaL_addstring(b, "...");
      i = n - EDGE - 1;
      continue;
    }
    tensor_str(b, f, d + 1, off + i * st, indent + 1);
  }
  luaL_addchar(b, ']');
}

/* "log_softmax" -> "LogSoftmaxBackward" */
static void gradfn_name(const char *op, char *buf, size_t n) {
  size_t k = 0;
  bool up = true;
  for (; *op && k + 9 < n; op++) {
    if (*op == '_') {
      up = true;
      continue;
    }
    buf[k++] = up && *op >= 'a' && *op <= 'z' ? (char)(*op - 'a' + 'A') : *op;
    up = false;
  }
  snprintf(buf + k, n - k, "Backward");
}

static int t_tostring(lua_State *L) {
  LTensor *box = tobox(L, 1);
  const nn_tensor *t;
  luaL_Buffer b;
  Fmt f;
  bool summarize;
  char suffix[4][128];
  int ns = 0, i;
  const char *body, *nl;
  size_t len, last;
  char shp[96];
  if (box == NULL) return lunet_typeerror(L, 1, LUNET_TENSOR);
  if (box->t == NULL) {
    lua_pushliteral(L, "tensor(closed)");
    return 1;
  }
  t = box->t;
  summarize = nn_tensor_numel(t) > THRESHOLD;
  luaL_checkstack(L, 8, "tostring");
  luaL_buffinit(L, &b);
  luaL_addstring(&b, PREFIX);
  shapestr(t, shp, sizeof shp);
  if (nn_tensor_numel(t) == 0) {
    luaL_addstring(&b, "[]");
    if (nn_tensor_ndim(t) != 1) snprintf(suffix[ns++], sizeof suffix[0], "size=%s", shp);
    if (nn_tensor_dtype(t) != NN_F32)
      snprintf(suffix[ns++], sizeof suffix[0], "dtype=lunet.%s",
               nn_dtype_name(nn_tensor_dtype(t)));
  } else {
    setup(&f, t, summarize);
    if (nn_tensor_ndim(t) == 0) addpadded(&b, &f, 0);
    else tensor_str(&b, &f, 0, 0, (int)strlen(PREFIX));
    if (summarize) {
      snprintf(suffix[ns++], sizeof suffix[0], "size=%s", shp);
      snprintf(suffix[ns++], sizeof suffix[0], "dtype=lunet.%s",
               nn_dtype_name(nn_tensor_dtype(t)));
    } else if (nn_tensor_dtype(t) == NN_F64) {
      snprintf(suffix[ns++], sizeof suffix[0], "dtype=lunet.float64");
    }
  }
  if (nn_tensor_grad_fn(t)) {
    char name[96];
    gradfn_name(nn_tensor_grad_fn(t), name, sizeof name);
    snprintf(suffix[ns++], sizeof suffix[0], "grad_fn=<%s>", name);
  } else if (nn_tensor_requires_grad(t)) {
    snprintf(suffix[ns++], sizeof suffix[0], "requires_grad=True");
  }
  luaL_pushresult(&b);
  /* PyTorch's _add_suffixes: a suffix that would pass the line width goes on a new line */
  body = lua_tolstring(L, -1, &len);
  nl = strrchr(body, '\n');
  last = nl ? len - (size_t)(nl - body) + 1 : len + 2;
  luaL_buffinit(L, &b);
  lua_pushvalue(L, -2);
  luaL_addvalue(&b); /* the body */
  for (i = 0; i < ns; i++) {
    size_t sl = strlen(suffix[i]);
    if (last + sl + 2 > LINEWIDTH) {
      luaL_addstring(&b, ",\n");
      addspaces(&b, (int)strlen(PREFIX));
      last = strlen(PREFIX) + sl;
    } else {
      luaL_addstring(&b, ", ");
      last += sl + 2;
    }
    luaL_addstring(&b, suffix[i]);
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* ---- registration ------------------------------------------------------------------------ */

static const luaL_Reg methods_list[] = {
  /* inspection */
  {"shape", t_shape}, {"size", t_size}, {"stride", t_stride}, {"dim", t_dim},
  {"ndim", t_dim}, {"numel", t_numel}, {"nelement", t_numel}, {"dtype", t_dtype},
  {"item", t_item}, {"totable", t_totable}, {"tolist", t_totable},
  {"is_contiguous", t_is_contiguous},
  /* views and copies */
  {"view", t_view}, {"reshape", t_reshape}, {"expand", t_expand}, {"transpose", t_transpose},
  {"t", t_t}, {"permute", t_permute}, {"narrow", t_narrow}, {"select", t_select},
  {"unsqueeze", t_unsqueeze}, {"squeeze", t_squeeze}, {"flatten", t_flatten},
  {"clone", t_clone}, {"contiguous", t_contiguous}, {"to", t_to}, {"float", t_float},
  {"double", t_double}, {"long", t_long}, {"index_select", t_index_select},
  {"copy_", t_copy_},
  /* shape vocabulary */
  {"chunk", t_chunk}, {"split", t_split}, {"unbind", t_unbind}, {"flip", t_flip}, {"roll", t_roll},
  {"tile", t_tile}, {"repeat", t_tile}, {"repeat_interleave", t_repeat_interleave},
  {"tril", t_tril}, {"triu", t_triu}, {"diag", t_diag}, {"diagonal", t_diagonal}, {"trace", t_trace},
  {"movedim", t_movedim}, {"moveaxis", t_movedim}, {"swapaxes", t_transpose}, {"swapdims", t_transpose},
  {"broadcast_to", t_expand}, {"pad", t_pad}, {"meshgrid", m_meshgrid},
  /* arithmetic */
  {"add", t_add}, {"sub", t_sub}, {"mul", t_mul}, {"div", t_div}, {"pow", t_pow},
  NN_UNARY_OPS(UNARY_REG)
  EWISE_METHODS
  {"leaky_relu", t_leaky_relu}, {"softmax", t_softmax},
  {"log_softmax", t_log_softmax}, {"clamp", t_clamp}, {"maximum", t_maximum},
  {"minimum", t_minimum}, {"where", t_where},
  /* in place */
  {"add_", t_add_}, {"sub_", t_sub_}, {"mul_", t_mul_}, {"div_", t_div_},
  {"zero_", t_zero_}, {"fill_", t_fill_}, {"clamp_", t_clamp_}, {"uniform_", t_uniform_},
  {"normal_", t_normal_},
  /* comparisons */
  {"eq", t_eq}, {"ne", t_ne}, {"lt", t_lt}, {"le", t_le}, {"gt", t_gt}, {"ge", t_ge},
  /* reductions */
  {"sum", t_sum}, {"mean", t_mean}, {"prod", t_prod}, {"var", t_var}, {"std", t_std},
  {"max", t_max}, {"min", t_min}, {"argmax", t_argmax}, {"argmin", t_argmin},
  /* linear algebra */
  {"matmul", t_matmul}, {"mm", t_matmul}, {"dot", t_dot}, {"addmm", t_addmm},
  /* autograd */
  {"requires_grad", t_requires_grad}, {"set_requires_grad", t_set_requires_grad},
  {"requires_grad_", t_set_requires_grad}, {"is_leaf", t_is_leaf}, {"grad_fn", t_grad_fn},
  {"backward", t_backward}, {"detach", t_detach}, {"zero_grad", t_zero_grad},
  /* lifetime */
  {"close", t_close},
  {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
  {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul}, {"__div", t_div}, {"__pow", t_pow},
  {"__unm", t_neg}, {"__band", t_band}, {"__bor", t_bor}, {"__bxor", t_bxor},
  {"__bnot", t_bnot}, {"__len", t_len}, {"__newindex", t_newindex}, {"__tostring", t_tostring},
  {"__gc", t_close}, {"__close", t_close},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"tensor", m_tensor}, {"zeros", m_zeros}, {"ones", m_ones}, {"full", m_full},
  {"empty", m_empty}, {"eye", m_eye}, {"arange", m_arange}, {"linspace", m_linspace},
  {"rand", m_rand}, {"randn", m_randn}, {"randint", m_randint}, {"randperm", m_randperm},
  {"zeros_like", m_zeros_like}, {"ones_like", m_ones_like}, {"full_like", m_full_like},
  {"empty_like", m_empty_like}, {"rand_like", m_rand_like}, {"randn_like", m_randn_like},
  {"matmul", t_matmul}, {"addmm", t_addmm}, {"cat", m_cat}, {"stack", m_stack}, {"where", m_where},
  {"is_tensor", m_is_tensor}, {"meshgrid", m_meshgrid},
  {NULL, NULL}
};

/* methods that are also module functions taking the tensor first (torch.exp(t) style) */
static const char *const exported[] = {
  NN_UNARY_OPS(UNARY_NAME)
  EWISE_EXPORTED
  "add", "sub", "mul", "div", "pow", "leaky_relu", "softmax", "log_softmax", "clamp", "maximum",
  "minimum", "eq", "ne", "lt", "le", "gt", "ge", "sum", "mean", "prod", "var", "std", "max",
  "min", "argmax", "argmin", "dot", "transpose", "reshape", "flatten", "squeeze", "unsqueeze",
  "narrow", "select", "index_select", "clone", "detach", "numel",
  "chunk", "split", "unbind", "flip", "roll", "tile", "repeat_interleave", "tril", "triu", "diag",
  "diagonal", "trace", "movedim", "moveaxis", "swapaxes", "swapdims", "broadcast_to", "pad", NULL
};

void lunet_open_tensor(lua_State *L) {
  int i, mod = lua_gettop(L);
  /* every function gets upvalues (metatable, context box); __index also the methods */
  luaL_newmetatable(L, LUNET_TENSOR);           /* mod mt */
  lunet_pushctxbox(L);                          /* mod mt box */
  lua_insert(L, -2);                            /* mod box mt */
  int box = mod + 1, mt = mod + 2;
  lua_pushvalue(L, mt);
  lua_pushvalue(L, box);
  luaL_setfuncs(L, metamethods, 2);
  lua_newtable(L);                              /* mod box mt methods */
  int methods = mod + 3;
  lua_pushvalue(L, mt);
  lua_pushvalue(L, box);
  luaL_setfuncs(L, methods_list, 2);
  lunet_open_vocab(L, mod, methods);            /* lvocab.c: gather, scatter, sort, masks... */
  lunet_open_linalg(L, mod, methods);           /* llinalg.c: bmm, einsum, lunet._linalg... */
  lua_pushvalue(L, mt);
  lua_pushvalue(L, box);
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, t_index, 3);
  lua_setfield(L, mt, "__index");
  for (i = 0; exported[i]; i++) {
    lua_getfield(L, methods, exported[i]);
    lua_setfield(L, mod, exported[i]);
  }
  lua_settop(L, mt);                            /* mod box mt */
  lua_insert(L, -2);                            /* mod mt box */
  luaL_setfuncs(L, functions, 2);               /* into mod; pops mt and box */
}
