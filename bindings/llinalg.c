/* llinalg.c — issue 13's linear algebra: bmm, baddbmm, mv, addmv, outer, cross (tensor methods
   and lunet.* functions), lunet.einsum (its parsed equations kept by string), and the LAPACK
   functions behind lunet.linalg (lunet._linalg, which bindings/lua/lunet/linalg.lua wraps with
   linalg.norm). Registered by ltensor.c's opener through lunet_open_linalg. */
#include <math.h>
#include <string.h>
#include "lunet_impl.h"

#define LUNET_EINSUM_PLAN "lunet.EinsumPlan"
#define PLAN_CACHE_MAX 64    /* equations kept; past that the cache starts over */

static nn_tensor *checkt(lua_State *L, int idx) { return lunet_checktensor(L, idx); }

typedef nn_status (*bin_fn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor **);

static int binary(lua_State *L, bin_fn f) {
  nn_tensor *a = checkt(L, 1), *b = checkt(L, 2);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, f(nn_tensor_ctx(a), a, b, &r->t));
  return 1;
}
static int l_bmm(lua_State *L) { return binary(L, nn_bmm); }
static int l_mv(lua_State *L) { return binary(L, nn_mv); }
static int l_outer(lua_State *L) { return binary(L, nn_outer); }

/* opts.beta and opts.alpha of baddbmm/addmv (1 when absent) */
static double coef(lua_State *L, int opts, const char *key, const char *fname) {
  if (lua_isnoneornil(L, opts)) return 1.0;
  luaL_checktype(L, opts, LUA_TTABLE);
  int ty = lua_getfield(L, opts, key);
  if (ty != LUA_TNIL && ty != LUA_TNUMBER)
    luaL_error(L, "%s: option %s must be a number, got %s", fname, key, luaL_typename(L, -1));
  double v = ty == LUA_TNIL ? 1.0 : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

typedef nn_status (*addprod_fn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, double, double, nn_tensor **);

static int addprod(lua_State *L, addprod_fn f, const char *fname) {
  nn_tensor *in = checkt(L, 1), *a = checkt(L, 2), *b = checkt(L, 3);
  double beta = coef(L, 4, "beta", fname), alpha = coef(L, 4, "alpha", fname);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, f(nn_tensor_ctx(a), in, a, b, beta, alpha, &r->t));
  return 1;
}
static int l_baddbmm(lua_State *L) { return addprod(L, nn_baddbmm, "baddbmm"); }
static int l_addmv(lua_State *L) { return addprod(L, nn_addmv, "addmv"); }

/* cross(a, b [, dim]): dim absent is the first dim of size 3 */
static int l_cross(lua_State *L) {
  nn_tensor *a = checkt(L, 1), *b = checkt(L, 2);
  int d = lua_isnoneornil(L, 3) ? NN_ALL : lunet_checkdim(L, 3, "cross");
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_cross(nn_tensor_ctx(a), a, b, d, &r->t));
  return 1;
}

/* ---- einsum ------------------------------------------------------------------------------ */

typedef struct { nn_einsum_plan *p; } LPlan;

static int plan_gc(lua_State *L) {
  LPlan *b = luaL_checkudata(L, 1, LUNET_EINSUM_PLAN);
  nn_einsum_plan_free(lunet_ctx(L), b->p);
  b->p = NULL;
  return 0;
}

/* The plan of eq: from the cache (upvalue 1, a table by string; upvalue 2 its count), or parsed
   now and kept */
static const nn_einsum_plan *plan_of(lua_State *L, const char *eq) {
  if (lua_getfield(L, lua_upvalueindex(1), eq) == LUA_TUSERDATA) {
    const nn_einsum_plan *p = ((LPlan *)lua_touserdata(L, -1))->p;
    lua_pop(L, 1);
    return p;
  }
  lua_pop(L, 1);
  LPlan *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  luaL_setmetatable(L, LUNET_EINSUM_PLAN);
  lunet_check(L, nn_einsum_plan_new(lunet_ctx(L), eq, &b->p));
  lua_Integer n = lua_tointeger(L, lua_upvalueindex(2));
  if (n >= PLAN_CACHE_MAX) {           /* a program making equations on the fly: start over */
    lua_newtable(L);
    lua_replace(L, lua_upvalueindex(1));
    n = 0;
  }
  lua_pushinteger(L, n + 1);
  lua_replace(L, lua_upvalueindex(2));
  lua_setfield(L, lua_upvalueindex(1), eq);     /* (the cache anchors the plan) */
  return b->p;
}

/* lunet.einsum(eq, a [, b]) or lunet.einsum(eq, {a [, b]}) */
static int l_einsum(lua_State *L) {
  const char *eq = luaL_checkstring(L, 1);
  nn_tensor *ops[2];
  int n = 0;
  if (lua_istable(L, 2) && !luaL_testudata(L, 2, LUNET_TENSOR)) {
    n = (int)luaL_len(L, 2);
    if (n < 1 || n > 2) return luaL_error(L, "einsum: takes one or two tensors, got a list of %d", n);
    for (int i = 0; i < n; i++) {
      lua_geti(L, 2, i + 1);
      if (!luaL_testudata(L, -1, LUNET_TENSOR))
        return luaL_error(L, "einsum: operand %d is a %s, not a tensor", i + 1, luaL_typename(L, -1));
      ops[i] = lunet_checktensor(L, -1);
      lua_pop(L, 1);    /* (the list keeps it alive) */
    }
  } else {
    n = lua_gettop(L) - 1;
    if (n < 1 || n > 2) return luaL_error(L, "einsum: takes one or two tensors, got %d", n < 0 ? 0 : n);
    for (int i = 0; i < n; i++) ops[i] = checkt(L, i + 2);
  }
  const nn_einsum_plan *p = plan_of(L, eq);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_einsum_run(lunet_ctx(L), p, n, ops, &r->t));
  return 1;
}

/* ---- lunet._linalg (lunet.linalg wraps it) ----------------------------------------------- */

typedef nn_status (*un_fn)(nn_ctx *, nn_tensor *, nn_tensor **);

static int unary(lua_State *L, un_fn f) {
  nn_tensor *a = checkt(L, 1);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, f(nn_tensor_ctx(a), a, &r->t));
  return 1;
}
static int l_inv(lua_State *L) { return unary(L, nn_linalg_inv); }
static int l_det(lua_State *L) { return unary(L, nn_linalg_det); }
static int l_cholesky(lua_State *L) { return unary(L, nn_linalg_cholesky); }
static int l_svdvals(lua_State *L) { return unary(L, nn_linalg_svdvals); }
static int l_solve(lua_State *L) { return binary(L, nn_linalg_solve); }

/* dims at arg: nil (all), one dim, or a list of dims; returns their count */
static int dims_arg(lua_State *L, int arg, int *dims, const char *fname) {
  if (lua_isnoneornil(L, arg)) return 0;
  if (!lua_istable(L, arg)) { dims[0] = lunet_checkdim(L, arg, fname); return 1; }
  int n = (int)luaL_len(L, arg);
  if (n < 1 || n > NN_MAX_DIMS) luaL_error(L, "%s: expected 1 to %d dims, got %d", fname, NN_MAX_DIMS, n);
  for (int i = 0; i < n; i++) {
    lua_geti(L, arg, i + 1);
    dims[i] = lunet_checkdim(L, -1, fname);
    lua_pop(L, 1);
  }
  return n;
}

/* _linalg.vector_norm(t [, ord = 2 [, dim [, keepdim]]]) */
static int l_vector_norm(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  double ord = luaL_optnumber(L, 2, 2.0);
  int dims[NN_MAX_DIMS], n = dims_arg(L, 3, dims, "vector_norm");
  bool keep = lua_toboolean(L, 4);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_linalg_vector_norm(nn_tensor_ctx(t), t, ord, n, dims, keep, &r->t));
  return 1;
}

/* _linalg.matrix_norm(t [, ord = "fro" [, {d0, d1} [, keepdim]]]) */
static int l_matrix_norm(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  const char *ord = luaL_optstring(L, 2, "fro");
  int dims[NN_MAX_DIMS] = {-2, -1}, n = dims_arg(L, 3, dims, "matrix_norm");
  if (n != 0 && n != 2) return luaL_error(L, "matrix_norm: dim must list two dims, got %d", n);
  bool keep = lua_toboolean(L, 4);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_linalg_matrix_norm(nn_tensor_ctx(t), t, ord, dims[0], dims[1], keep, &r->t));
  return 1;
}

static const luaL_Reg linalg_methods[] = {    /* methods and lunet.* functions */
  {"bmm", l_bmm}, {"baddbmm", l_baddbmm}, {"mv", l_mv}, {"addmv", l_addmv}, {"outer", l_outer},
  {"cross", l_cross}, {"inverse", l_inv}, {"det", l_det}, {"cholesky", l_cholesky}, {NULL, NULL}
};

static const luaL_Reg lapack_funcs[] = {      /* lunet._linalg */
  {"inv", l_inv}, {"det", l_det}, {"solve", l_solve}, {"cholesky", l_cholesky},
  {"svdvals", l_svdvals}, {"vector_norm", l_vector_norm}, {"matrix_norm", l_matrix_norm}, {NULL, NULL}
};

void lunet_open_linalg(lua_State *L, int mod, int methods) {
  mod = lua_absindex(L, mod);
  methods = lua_absindex(L, methods);
  for (const luaL_Reg *r = linalg_methods; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_pushvalue(L, -1);
    lua_setfield(L, methods, r->name);
    lua_setfield(L, mod, r->name);
  }
  if (luaL_newmetatable(L, LUNET_EINSUM_PLAN)) {
    lua_pushcfunction(L, plan_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_newtable(L);                    /* einsum's plans by equation, and their count */
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, l_einsum, 2);
  lua_setfield(L, mod, "einsum");
  luaL_newlib(L, lapack_funcs);
  lua_setfield(L, mod, "_linalg");
}
