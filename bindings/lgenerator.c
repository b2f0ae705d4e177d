/*
** lgenerator.c — lunet.Generator: an explicit random stream (xoshiro256**) that creation
** functions take as opts.generator, plus lunet.manual_seed and lunet.default_generator.
**
**   local g = lunet.Generator(42)
**   local x = lunet.randn(3, {generator = g})
**   local s = g:get_state(); g:random(10); g:set_state(s)   -- replays
*/
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lunet_impl.h"

/* PyTorch's default seed for a new torch.Generator() */
#define DEFAULT_SEED 67280421310721ULL
#define STATE_BYTES 40 /* 5 little-endian 64-bit words */

typedef struct {
  nn_rng *r;
  nn_ctx *ctx;
  uint64_t seed;  /* the last seed set: initial_seed() */
  bool owned;     /* false for default_generator, which the context owns */
} LGen;

static LGen *checkgen(lua_State *L, int idx) {
  LGen *g = luaL_checkudata(L, idx, LUNET_GENERATOR);
  if (g->r == NULL) luaL_error(L, "closed generator");
  return g;
}

nn_rng *lunet_optrng(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  return checkgen(L, idx)->r;
}

/* lunet.Generator([seed]) */
static int g_new(lua_State *L) {
  uint64_t seed = (uint64_t)luaL_optinteger(L, 1, (lua_Integer)DEFAULT_SEED);
  nn_ctx *ctx = lunet_ctx(L);
  LGen *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->r = NULL;
  g->ctx = ctx;
  g->seed = seed;
  g->owned = true;
  luaL_setmetatable(L, LUNET_GENERATOR);
  lunet_check(L, nn_rng_new(ctx, seed, &g->r));
  return 1;
}

static int g_gc(lua_State *L) {
  LGen *g = luaL_checkudata(L, 1, LUNET_GENERATOR);
  if (g->owned) nn_rng_free(g->ctx, g->r);
  g->r = NULL;
  return 0;
}

static int g_manual_seed(lua_State *L) {
  LGen *g = checkgen(L, 1);
  g->seed = (uint64_t)luaL_checkinteger(L, 2);
  nn_rng_seed(g->r, g->seed);
  lua_settop(L, 1);
  return 1;
}

static int g_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkgen(L, 1)->seed);
  return 1;
}

/* A non-deterministic seed (the clock mixed with an address), as PyTorch's seed(). */
static int g_seed(lua_State *L) {
  LGen *g = checkgen(L, 1);
  struct timespec ts;
  uint64_t z;
  clock_gettime(CLOCK_REALTIME, &ts);
  z = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)g;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL; /* splitmix64's finalizer */
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  z &= 0x7fffffffffffffffULL; /* a non-negative Lua integer */
  g->seed = z;
  nn_rng_seed(g->r, z);
  lua_pushinteger(L, (lua_Integer)z);
  return 1;
}

/* The state as a 40-byte string (5 little-endian words): save it, set it back to replay. */
static int g_get_state(lua_State *L) {
  LGen *g = checkgen(L, 1);
  uint64_t st[5];
  unsigned char buf[STATE_BYTES];
  int i, k;
  nn_rng_get_state(g->r, st);
  for (i = 0; i < 5; i++)
    for (k = 0; k < 8; k++) buf[i * 8 + k] = (unsigned char)(st[i] >> (8 * k));
  lua_pushlstring(L, (const char *)buf, sizeof buf);
  return 1;
}

/* set_state(s): s from get_state, or a table of 5 integers (the words). Returns the generator. */
static int g_set_state(lua_State *L) {
  LGen *g = checkgen(L, 1);
  uint64_t st[5] = {0, 0, 0, 0, 0};
  int i, k;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t len;
    const unsigned char *s = (const unsigned char *)lua_tolstring(L, 2, &len);
    if (len != STATE_BYTES)
      return luaL_error(L, "set_state: expected a %d-byte state string, got %d bytes",
                        STATE_BYTES, (int)len);
    for (i = 0; i < 5; i++)
      for (k = 0; k < 8; k++) st[i] |= (uint64_t)s[i * 8 + k] << (8 * k);
  } else if (lua_type(L, 2) == LUA_TTABLE) {
    if (luaL_len(L, 2) != 5)
      return luaL_error(L, "set_state: expected a table of 5 integers, got %I entries",
                        (lua_Integer)luaL_len(L, 2));
    for (i = 0; i < 5; i++) {
      int isint;
      lua_Integer v;
      lua_geti(L, 2, i + 1);
      v = lua_tointegerx(L, -1, &isint);
      if (!isint || lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "set_state: entry %d is not an integer", i + 1);
      st[i] = (uint64_t)v;
      lua_pop(L, 1);
    }
  } else {
    return luaL_typeerror(L, 2, "state string or table");
  }
  lunet_check(L, nn_rng_set_state(g->ctx, g->r, st));
  lua_settop(L, 1);
  return 1;
}

/* random() -> [0, 1); random(m) -> 1..m; random(m, n) -> m..n: as math.random. */
static int g_random(lua_State *L) {
  LGen *g = checkgen(L, 1);
  lua_Integer lo, hi;
  uint64_t span;
  switch (lua_gettop(L)) {
  case 1:
    lua_pushnumber(L, nn_rng_uniform(g->r));
    return 1;
  case 2:
    lo = 1;
    hi = luaL_checkinteger(L, 2);
    break;
  case 3:
    lo = luaL_checkinteger(L, 2);
    hi = luaL_checkinteger(L, 3);
    break;
  default:
    return luaL_error(L, "random: expected at most 2 arguments");
  }
  if (lo > hi) return luaL_error(L, "random: interval [%I, %I] is empty", lo, hi);
  span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the whole 64-bit range */
  lua_pushinteger(L, (lua_Integer)((uint64_t)lo + (span ? nn_rng_below(g->r, span)
                                                        : nn_rng_next(g->r))));
  return 1;
}

/* uniform([a, b]) -> a number in [a, b) (default [0, 1)) */
static int g_uniform(lua_State *L) {
  LGen *g = checkgen(L, 1);
  lua_Number a = luaL_optnumber(L, 2, 0), b = luaL_optnumber(L, 3, 1);
  lua_pushnumber(L, a + (b - a) * nn_rng_uniform(g->r));
  return 1;
}

/* normal([mean, std]) -> a number from N(mean, std^2) */
static int g_normal(lua_State *L) {
  LGen *g = checkgen(L, 1);
  lua_Number m = luaL_optnumber(L, 2, 0), s = luaL_optnumber(L, 3, 1);
  if (s < 0) return luaL_error(L, "normal: std must be >= 0, got %f", s);
  lua_pushnumber(L, m + s * nn_rng_normal(g->r));
  return 1;
}

static int g_tostring(lua_State *L) {
  LGen *g = luaL_checkudata(L, 1, LUNET_GENERATOR);
  if (g->r == NULL) lua_pushliteral(L, "lunet.Generator(closed)");
  else if (!g->owned) lua_pushliteral(L, "lunet.Generator(default)");
  else lua_pushfstring(L, "lunet.Generator(seed=%I)", (lua_Integer)g->seed);
  return 1;
}

/* lunet.manual_seed(n): seeds the default generator; returns it, as PyTorch does. */
static int m_manual_seed(lua_State *L) {
  lua_Integer s = luaL_checkinteger(L, 1);
  LGen *g;
  nn_manual_seed(lunet_ctx(L), (uint64_t)s);
  lua_getfield(L, lua_upvalueindex(1), "default_generator");
  g = luaL_testudata(L, -1, LUNET_GENERATOR);
  if (g) g->seed = (uint64_t)s;
  return 1;
}

static const luaL_Reg methods[] = {
  {"manual_seed", g_manual_seed},
  {"initial_seed", g_initial_seed},
  {"seed", g_seed},
  {"get_state", g_get_state},
  {"set_state", g_set_state},
  {"random", g_random},
  {"uniform", g_uniform},
  {"normal", g_normal},
  {NULL, NULL}
};

void lunet_open_generator(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  LGen *g;
  luaL_newmetatable(L, LUNET_GENERATOR);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, g_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, g_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);

  lua_pushcfunction(L, g_new);
  lua_setfield(L, -2, "Generator");
  /* the context's own generator, seeded by lunet.manual_seed */
  g = lua_newuserdatauv(L, sizeof *g, 0);
  g->r = nn_ctx_rng(ctx);
  g->ctx = ctx;
  g->seed = 0;
  g->owned = false;
  luaL_setmetatable(L, LUNET_GENERATOR);
  lua_setfield(L, -2, "default_generator");
  lua_pushvalue(L, -1); /* the module table, to find default_generator */
  lua_pushcclosure(L, m_manual_seed, 1);
  lua_setfield(L, -2, "manual_seed");
}
