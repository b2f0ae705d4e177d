/*
** lrandomstate.c — lunet.data.RandomState: NumPy's legacy generator (numpy.random.RandomState),
** MT19937 seeded and drawn as NumPy 1.24 does, so that a scikit-learn random_state gives the same
** numbers here: random_sample (53-bit doubles), uniform, randint and random_interval (masked
** rejection), permutation and shuffle (its Fisher-Yates order). Lunet's own generator
** (lunet.Generator, xoshiro256**) stays the one for tensors; this one is for the scikit-learn
** surface (lunet.data, the estimators).
**
**   local rs = lunet._RandomState(42)      -- exposed as lunet.data.RandomState
**   rs:random_sample()  rs:uniform(-1, 1, {3, 4})  rs:randint(0, 10)  rs:permutation(5)
**
** References: numpy/random/src/mt19937/mt19937.c (seeding, the state refill),
** numpy/random/src/legacy/legacy-distributions.c and distributions.c (random_interval,
** random_bounded_uint64), numpy/random/mtrand.pyx (shuffle, permutation, uniform, randint).
** Lua integers index from 1: permutation(n) holds NumPy's values plus one.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lunet_impl.h"

#define RS_MT "lunet.RandomState"
#define MT_N 624
#define MT_M 397

typedef struct {
  uint32_t key[MT_N];
  int pos;
} RS;

/* NumPy's mt19937_seed: Knuth's linear initialisation of the 624 words. */
static void mt_seed(RS *s, uint32_t seed) {
  for (int i = 0; i < MT_N; i++) {
    s->key[i] = seed;
    seed = 1812433253U * (seed ^ (seed >> 30)) + (uint32_t)i + 1U;
  }
  s->pos = MT_N;
}

static void mt_refill(RS *s) {
  static const uint32_t mag[2] = {0, 0x9908b0dfU};
  uint32_t *k = s->key, y;
  int i;
  for (i = 0; i < MT_N - MT_M; i++) {
    y = (k[i] & 0x80000000U) | (k[i + 1] & 0x7fffffffU);
    k[i] = k[i + MT_M] ^ (y >> 1) ^ mag[y & 1];
  }
  for (; i < MT_N - 1; i++) {
    y = (k[i] & 0x80000000U) | (k[i + 1] & 0x7fffffffU);
    k[i] = k[i + (MT_M - MT_N)] ^ (y >> 1) ^ mag[y & 1];
  }
  y = (k[MT_N - 1] & 0x80000000U) | (k[0] & 0x7fffffffU);
  k[MT_N - 1] = k[MT_M - 1] ^ (y >> 1) ^ mag[y & 1];
  s->pos = 0;
}

static uint32_t next32(RS *s) {
  uint32_t y;
  if (s->pos == MT_N) mt_refill(s);
  y = s->key[s->pos++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

/* mt19937_next64: the first word is the high half */
static uint64_t next64(RS *s) {
  uint64_t hi = next32(s);
  return hi << 32 | next32(s);
}

static double next_double(RS *s) {
  int32_t a = (int32_t)(next32(s) >> 5), b = (int32_t)(next32(s) >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* random_interval: uniform in [0, max] by rejection on the smallest covering bit mask. */
static uint64_t interval(RS *s, uint64_t max) {
  uint64_t mask = max, v;
  if (max == 0) return 0;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  if (max <= 0xffffffffU) {
    while ((v = (next32(s) & mask)) > max) {}
  } else {
    while ((v = (next64(s) & mask)) > max) {}
  }
  return v;
}

static RS *checkrs(lua_State *L) { return luaL_checkudata(L, 1, RS_MT); }

static uint32_t checkseed(lua_State *L, int idx) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok || v < 0 || v > (lua_Integer)0xffffffffU) {
    if (lua_type(L, idx) == LUA_TNUMBER)
      luaL_error(L, "RandomState: seed must be between 0 and 2^32 - 1, got %s",
                 luaL_tolstring(L, idx, NULL));
    luaL_error(L, "RandomState: seed must be an integer, got %s", luaL_typename(L, idx));
  }
  return (uint32_t)v;
}

/* lunet._RandomState(seed) */
static int rs_new(lua_State *L) {
  uint32_t seed = checkseed(L, 1);
  RS *s = lua_newuserdatauv(L, sizeof *s, 0);
  mt_seed(s, seed);
  luaL_setmetatable(L, RS_MT);
  return 1;
}

/* rs:seed(seed): restarts the stream as RandomState(seed) would */
static int rs_seed(lua_State *L) {
  RS *s = checkrs(L);
  mt_seed(s, checkseed(L, 2));
  lua_settop(L, 1);
  return 1;
}

/* The size argument at idx: nil (a scalar), an integer n or a table of dims. Returns ndim
   (-1 for a scalar). */
static int checksize(lua_State *L, int idx, const char *fname, int64_t shape[8]) {
  int ndim;
  if (lua_isnoneornil(L, idx)) return -1;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 0) luaL_error(L, "%s: size must be >= 0, got %I", fname, n);
    shape[0] = n;
    return 1;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: size must be an integer or a table of dims, got %s", fname,
               luaL_typename(L, idx));
  ndim = (int)lua_rawlen(L, idx);
  if (ndim < 1 || ndim > 8) luaL_error(L, "%s: size must have 1 to 8 dims, got %d", fname, ndim);
  for (int i = 0; i < ndim; i++) {
    int ok;
    lua_Integer d;
    lua_rawgeti(L, idx, i + 1);
    d = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok || d < 0) luaL_error(L, "%s: size[%d] must be an integer >= 0", fname, i + 1);
    shape[i] = d;
  }
  return ndim;
}

/* low + (high - low) * u for each element of a new float64 tensor, in C order (NumPy's fill) */
static int push_uniform(lua_State *L, RS *s, double low, double range, int ndim,
                        const int64_t *shape) {
  LTensor *b = lunet_newbox(L);
  double *p;
  int64_t n;
  lunet_check(L, nn_tensor_new(lunet_ctx(L), NN_F64, ndim, shape, &b->t));
  p = nn_tensor_data(b->t);
  n = nn_tensor_numel(b->t);
  for (int64_t i = 0; i < n; i++) p[i] = low + range * next_double(s);
  return 1;
}

/* rs:random_sample([size]) -> a number in [0, 1), or a float64 tensor of that size */
static int rs_random_sample(lua_State *L) {
  RS *s = checkrs(L);
  int64_t shape[8];
  int ndim = checksize(L, 2, "random_sample", shape);
  if (ndim < 0) {
    lua_pushnumber(L, next_double(s));
    return 1;
  }
  return push_uniform(L, s, 0.0, 1.0, ndim, shape);
}

/* rs:uniform([low = 0, high = 1 [, size]]) -> low + (high - low)·u, or a float64 tensor */
static int rs_uniform(lua_State *L) {
  RS *s = checkrs(L);
  double low = luaL_optnumber(L, 2, 0.0), high = luaL_optnumber(L, 3, 1.0);
  double range = high - low;
  int64_t shape[8];
  int ndim = checksize(L, 4, "uniform", shape);
  if (!isfinite(range)) return luaL_error(L, "uniform: range [%f, %f) exceeds valid bounds", low, high);
  if (ndim < 0) {
    lua_pushnumber(L, low + range * next_double(s));
    return 1;
  }
  return push_uniform(L, s, low, range, ndim, shape);
}

/* rs:randint(low [, high [, n]]) -> an integer in [low, high) ([0, low) without high), or a Lua
   array of n of them */
static int rs_randint(lua_State *L) {
  RS *s = checkrs(L);
  lua_Integer low = luaL_checkinteger(L, 2), high, n = -1;
  uint64_t rng;
  if (lua_isnoneornil(L, 3)) {
    high = low;
    low = 0;
  } else {
    high = luaL_checkinteger(L, 3);
  }
  if (!lua_isnoneornil(L, 4)) {
    n = luaL_checkinteger(L, 4);
    if (n < 0) return luaL_error(L, "randint: size must be >= 0, got %I", n);
  }
  if (low >= high) return luaL_error(L, "randint: low >= high (%I >= %I)", low, high);
  rng = (uint64_t)high - (uint64_t)low - 1;
  if (n < 0) {
    lua_pushinteger(L, (lua_Integer)((uint64_t)low + interval(s, rng)));
    return 1;
  }
  lua_createtable(L, (int)(n > 0x7fffffff ? 0 : n), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_pushinteger(L, (lua_Integer)((uint64_t)low + interval(s, rng)));
    lua_rawseti(L, -2, i);
  }
  return 1;
}

/* rs:random_interval(max) -> an integer in [0, max] (legacy random_interval) */
static int rs_random_interval(lua_State *L) {
  RS *s = checkrs(L);
  lua_Integer max = luaL_checkinteger(L, 2);
  if (max < 0) return luaL_error(L, "random_interval: max must be >= 0, got %I", max);
  lua_pushinteger(L, (lua_Integer)interval(s, (uint64_t)max));
  return 1;
}

/* NumPy's legacy shuffle: for i = n-1 down to 1, swap x[i] and x[random_interval(i)]
   (0-based), on a Lua array t[1..n] */
static void shuffle_table(lua_State *L, RS *s, int t, lua_Integer n) {
  for (lua_Integer i = n - 1; i >= 1; i--) {
    lua_Integer j = (lua_Integer)interval(s, (uint64_t)i);
    lua_rawgeti(L, t, i + 1);
    lua_rawgeti(L, t, j + 1);
    lua_rawseti(L, t, i + 1);
    lua_rawseti(L, t, j + 1);
  }
}

/* rs:shuffle(x): x a Lua array or a contiguous 1-D tensor, shuffled in place; returns x */
static int rs_shuffle(lua_State *L) {
  RS *s = checkrs(L);
  nn_tensor *t = lunet_totensor(L, 2);
  lua_settop(L, 2);
  if (t) {
    size_t es = nn_dtype_size(nn_tensor_dtype(t));
    unsigned char *p = nn_tensor_data(t), tmp[8];
    int64_t n;
    if (nn_tensor_ndim(t) != 1 || !nn_tensor_is_contiguous(t))
      return luaL_error(L, "shuffle: the tensor must be 1-D and contiguous (got %d dims)",
                        nn_tensor_ndim(t));
    n = nn_tensor_numel(t);
    if (es == sizeof(int64_t)) { /* int64 and float64: a typed swap, the estimators' hot path */
      int64_t *q = (int64_t *)(void *)p, x;
      for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)interval(s, (uint64_t)i);
        x = q[i];
        q[i] = q[j];
        q[j] = x;
      }
    } else {
      for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)interval(s, (uint64_t)i);
        memcpy(tmp, p + i * es, es);
        memcpy(p + i * es, p + j * es, es);
        memcpy(p + j * es, tmp, es);
      }
    }
    nn_tensor_bump_version(t);
    return 1;
  }
  if (!lua_istable(L, 2))
    return luaL_error(L, "shuffle: x must be a Lua array or a 1-D tensor, got %s",
                      luaL_typename(L, 2));
  shuffle_table(L, s, 2, (lua_Integer)lua_rawlen(L, 2));
  return 1;
}

/* rs:permutation(n) -> a Lua array of 1..n in NumPy's order (its permutation(n) plus one);
   rs:permutation(n, "int64") -> the same as an int64 tensor (index_select's form);
   rs:permutation(t) -> a shuffled copy of the Lua array t */
static int rs_permutation(lua_State *L) {
  RS *s = checkrs(L);
  lua_Integer n;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    n = luaL_checkinteger(L, 2);
    if (n < 0) return luaL_error(L, "permutation: n must be >= 0, got %I", n);
    if (!lua_isnoneornil(L, 3)) {
      const char *as = luaL_checkstring(L, 3);
      LTensor *b;
      int64_t *q, shape[1] = {n};
      if (strcmp(as, "int64") != 0)
        return luaL_error(L, "permutation: the second argument must be \"int64\", got \"%s\"", as);
      lua_settop(L, 3);
      b = lunet_newbox(L);
      lunet_check(L, nn_tensor_new(lunet_ctx(L), NN_I64, 1, shape, &b->t));
      q = nn_tensor_data(b->t);
      for (int64_t i = 0; i < n; i++) q[i] = i + 1;
      for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)interval(s, (uint64_t)i), x = q[i];
        q[i] = q[j];
        q[j] = x;
      }
      return 1;
    }
    if (n > 0x7fffffff) return luaL_error(L, "permutation: n = %I is too large", n);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_pushinteger(L, i);
      lua_rawseti(L, -2, i);
    }
  } else if (lua_istable(L, 2)) {
    n = (lua_Integer)lua_rawlen(L, 2);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, 2, i);
      lua_rawseti(L, -2, i);
    }
  } else {
    return luaL_error(L, "permutation: x must be an integer or a Lua array, got %s",
                      luaL_typename(L, 2));
  }
  shuffle_table(L, s, lua_gettop(L), n);
  return 1;
}

static int rs_tostring(lua_State *L) {
  RS *s = checkrs(L);
  lua_pushfstring(L, "RandomState(MT19937) (%p)", (void *)s);
  return 1;
}

static const luaL_Reg methods[] = {
  {"seed", rs_seed},
  {"random_sample", rs_random_sample},
  {"uniform", rs_uniform},
  {"randint", rs_randint},
  {"random_interval", rs_random_interval},
  {"shuffle", rs_shuffle},
  {"permutation", rs_permutation},
  {NULL, NULL}
};

void lunet_open_randomstate(lua_State *L) {
  luaL_newmetatable(L, RS_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, rs_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_pushcfunction(L, rs_new);
  lua_setfield(L, -2, "_RandomState");
}
