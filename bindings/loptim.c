/*
** loptim.c — the optimizer userdata (lunet.Optimizer) and its constructors in lunet._optim.
**
**   local opt = lunet._optim.Adam(model:parameters(), {lr = 1e-3, betas = {0.9, 0.999}})
**   opt:zero_grad(); loss:backward(); opt:step()
**
** Options carry PyTorch's names. Parameter groups are 1-based here, 0-based in the core;
** parameters in a state dict are numbered 1.. over all groups in order, as PyTorch numbers
** them 0.. .
*/
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "lunet_impl.h"

typedef struct { nn_optim *o; } LOptim; /* o == NULL: closed */

/* ---- options: the core's list (nn_optim_option), as Lua spells it ---------------------- */

typedef struct {
  const char *name;
  char type;   /* 'n' number, 'b' boolean, 'B' the betas pair {beta1, beta2} */
  bool alias;  /* accepted on input, not listed in state dicts or repr */
} lkey;

enum { MAXKEYS = 32 };

/* o's options sorted by name (repr and state dicts list them so): the core's, with beta1 and
   beta2 as PyTorch's one "betas" pair and scikit-learn's "sklearn_eps" for eps_inside. */
static int lua_keys(const nn_optim *o, lkey *k) {
  int n = 0;
  bool flag;
  const char *name;
  for (int i = 0; n < MAXKEYS - 1 && (name = nn_optim_option(o, i, &flag)); i++) {
    if (strcmp(name, "beta2") == 0) continue;
    if (strcmp(name, "beta1") == 0) k[n++] = (lkey){.name = "betas", .type = 'B'};
    else k[n++] = (lkey){.name = name, .type = flag ? 'b' : 'n'};
    if (strcmp(name, "eps_inside") == 0) k[n++] = (lkey){.name = "sklearn_eps", .type = 'b', .alias = true};
  }
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(k[j - 1].name, k[j].name) > 0; j--) {
      lkey t = k[j];
      k[j] = k[j - 1];
      k[j - 1] = t;
    }
  return n;
}

static const char *core_key(const lkey *k) { return k->alias ? "eps_inside" : k->name; }

/* Pushes "a, b, c" listing the options valid for o (plus "params" in a group). */
static const char *push_valid(lua_State *L, const lkey *k, int n, bool group) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, k[i].name);
  }
  if (group) luaL_addstring(&b, ", params");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* A number at idx; lenient (state dicts read back from files) also takes numeric strings. */
static bool get_number(lua_State *L, int idx, bool lenient, double *v) {
  if (lua_type(L, idx) == LUA_TNUMBER || (lenient && lua_type(L, idx) == LUA_TSTRING)) {
    int ok;
    *v = (double)lua_tonumberx(L, idx, &ok);
    return ok;
  }
  return false;
}

static bool get_bool(lua_State *L, int idx, bool lenient, bool *v) {
  if (lua_type(L, idx) == LUA_TBOOLEAN) {
    *v = lua_toboolean(L, idx);
    return true;
  }
  if (lenient && lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
      *v = s[0] == 't';
      return true;
    }
  }
  return false;
}

/* Sets option k of o's group g (-1: the defaults) from the value at idx; what names the place
   for type errors ("Adam: option 'lr'" or "load_state_dict: param_groups[1].lr"); the core
   checks the value. */
static void set_opt(lua_State *L, nn_optim *o, int g, const lkey *k, int idx, bool lenient,
                    const char *what) {
  nn_ctx *ctx = lunet_ctx(L);
  idx = lua_absindex(L, idx);
  if (k->type == 'n') {
    double v = 0;
    if (!get_number(L, idx, lenient, &v))
      luaL_error(L, "%s must be a number, got %s", what, luaL_typename(L, idx));
    lunet_check(L, nn_optim_set(ctx, o, g, k->name, v));
  } else if (k->type == 'b') {
    bool v = false;
    if (!get_bool(L, idx, lenient, &v))
      luaL_error(L, "%s must be a boolean, got %s", what, luaL_typename(L, idx));
    lunet_check(L, nn_optim_set(ctx, o, g, core_key(k), v));
  } else { /* betas = {b1, b2} */
    double b[2];
    if (!lua_istable(L, idx) || luaL_len(L, idx) != 2)
      luaL_error(L, "%s must be a table of two numbers {beta1, beta2}", what);
    for (int i = 0; i < 2; i++) {
      lua_geti(L, idx, i + 1);
      if (!get_number(L, -1, lenient, &b[i]))
        luaL_error(L, "%s[%d] must be a number, got %s", what, i + 1, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    lunet_check(L, nn_optim_set(ctx, o, g, "beta1", b[0]));
    lunet_check(L, nn_optim_set(ctx, o, g, "beta2", b[1]));
  }
}

/* Reads the options table at idx (nil/none: nothing) into o's defaults. In a group table,
   "params" is skipped. Unknown names are errors listing the valid ones; of several, the first
   in byte order is named, and values are read in name order, so messages never depend on the
   table's iteration order. */
static void read_opts(lua_State *L, int idx, nn_optim *o, bool group) {
  const char *kn = nn_optim_name(o);
  if (lua_isnoneornil(L, idx)) return;
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: options must be a table, got %s", kn, luaL_typename(L, idx));
  lkey k[MAXKEYS];
  int nk = lua_keys(o, k);
  const char *bad = NULL; /* stays alive in the table */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: option names must be strings, got a %s key", kn, luaL_typename(L, -2));
    const char *name = lua_tostring(L, -2);
    bool known = group && strcmp(name, "params") == 0;
    for (int i = 0; i < nk && !known; i++) known = strcmp(k[i].name, name) == 0;
    if (!known && (!bad || strcmp(name, bad) < 0)) bad = name;
    lua_pop(L, 1);
  }
  if (bad) luaL_error(L, "%s: unknown option '%s' (valid: %s)", kn, bad, push_valid(L, k, nk, group));
  for (int i = 0; i < nk; i++) {
    if (lua_getfield(L, idx, k[i].name) != LUA_TNIL) {
      const char *what = lua_pushfstring(L, "%s: option '%s'", kn, k[i].name);
      set_opt(L, o, -1, &k[i], -2, false, what);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* ---- construction ---------------------------------------------------------- */

static LOptim *checkoptim(lua_State *L, int idx) {
  LOptim *b = luaL_checkudata(L, idx, LUNET_OPTIM);
  if (!b->o) luaL_error(L, "attempt to use a closed optimizer");
  return b;
}

/* Adds the tensors of the array at idx as one group with the optimizer's current defaults. */
static void add_group(lua_State *L, LOptim *b, int idx, int gi) {
  const char *kn = nn_optim_name(b->o);
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: params of group %d must be an array of tensors, got %s", kn, gi,
               luaL_typename(L, idx));
  lua_Integer n = luaL_len(L, idx);
  if (n <= 0) luaL_error(L, "%s: optimizer got an empty parameter list", kn);
  if (n > 1000000) luaL_error(L, "%s: too many parameters (%d)", kn, (int)n);
  /* scratch for the pointer array: a userdata, so an error frees it with the GC */
  nn_tensor **ts = lua_newuserdatauv(L, (size_t)n * sizeof *ts, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    nn_tensor *t = ts[i - 1] = lunet_totensor(L, -1);
    if (!t)
      luaL_error(L, "%s: parameter %d of group %d is a %s, not an open tensor", kn, (int)i, gi,
                 luaL_typename(L, -1));
    lua_pop(L, 1);
    /* the core checks these too, numbering from 0; here the numbers are Lua's */
    char buf[96];
    if (!nn_tensor_is_leaf(t))
      luaL_error(L, "%s: can't optimize a non-leaf tensor (parameter %d of group %d, made by %s)",
                 kn, (int)i, gi, nn_tensor_grad_fn(t) ? nn_tensor_grad_fn(t) : "an op");
    if (nn_tensor_dtype(t) != NN_F32 && nn_tensor_dtype(t) != NN_F64)
      luaL_error(L, "%s: parameter %d of group %d has dtype %s; only float32 and float64 can be "
                 "optimized", kn, (int)i, gi, nn_dtype_name(nn_tensor_dtype(t)));
    if (!nn_tensor_is_contiguous(t))
      luaL_error(L, "%s: parameter %d of group %d (shape %s) is not contiguous", kn, (int)i, gi,
                 nn_shape_str(t, buf, sizeof buf));
    for (lua_Integer j = 1; j < i; j++)
      if (ts[j - 1] == t)
        luaL_error(L, "%s: parameter %d of group %d appears twice in the group (also at %d)", kn,
                   (int)i, gi, (int)j);
    for (int g = 0; g < nn_optim_num_groups(b->o); g++)
      for (int j = 0; j < nn_optim_group_size(b->o, g); j++)
        if (nn_optim_group_param(b->o, g, j) == t)
          luaL_error(L, "%s: parameter %d of group %d is also parameter %d of group %d", kn, (int)i,
                     gi, j + 1, g + 1);
  }
  lunet_check(L, nn_optim_add_group(lunet_ctx(L), b->o, (int)n, ts));
  lua_pop(L, 1);
}

/* Constructor(params, opts): params is an array of tensors or an array of groups
   {params = {...}, lr = ...}; opts gives the defaults of every group. The optimizer's name is
   the closure's upvalue (one constructor per name in the core's list). */
static int o_new(lua_State *L) {
  const char *kn = lua_tostring(L, lua_upvalueindex(1));
  lua_settop(L, 2);
  if (lunet_totensor(L, 1))
    luaL_error(L, "%s: params must be an array of tensors or of parameter groups, got a single "
                  "tensor (wrap it: {t})", kn);
  if (!lua_istable(L, 1))
    luaL_error(L, "%s: params must be an array of tensors or of parameter groups, got %s", kn,
               luaL_typename(L, 1));
  if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
    luaL_error(L, "%s: options must be a table, got %s", kn, luaL_typename(L, 2));
  LOptim *b = lua_newuserdatauv(L, sizeof *b, 0); /* box first */
  b->o = NULL;
  luaL_setmetatable(L, LUNET_OPTIM);
  lunet_check(L, nn_optim_new(lunet_ctx(L), kn, &b->o));
  read_opts(L, 2, b->o, false);
  const nn_optim_opts base = *nn_optim_group_opts(b->o, -1);
  lua_geti(L, 1, 1);
  bool groups = lua_istable(L, -1) && !lunet_totensor(L, -1);
  lua_pop(L, 1);
  if (!groups) {
    add_group(L, b, 1, 1);
  } else {
    lua_Integer ng = luaL_len(L, 1);
    for (lua_Integer g = 1; g <= ng; g++) {
      lua_geti(L, 1, g);
      if (!lua_istable(L, -1) || lunet_totensor(L, -1))
        luaL_error(L, "%s: parameter group %d must be a table {params = {...}, ...}, got %s", kn,
                   (int)g, luaL_typename(L, -1));
      *nn_optim_group_opts(b->o, -1) = base;   /* then this group's own options */
      read_opts(L, -1, b->o, true);
      if (lua_getfield(L, -1, "params") == LUA_TNIL)
        luaL_error(L, "%s: parameter group %d has no 'params' field", kn, (int)g);
      add_group(L, b, -1, (int)g);
      lua_pop(L, 2);
    }
  }
  lunet_gcstep(L);
  return 1;
}

/* ---- methods ------------------------------------------------------------------ */

/* opt:step([closure]): a closure is called first (it re-evaluates the loss, as in PyTorch)
   and its result returned. */
static int o_step(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  int nres = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
    nres = 1;
  }
  if (!b->o) luaL_error(L, "attempt to use a closed optimizer"); /* closed by the closure */
  lunet_check(L, nn_optim_step(lunet_ctx(L), b->o));
  lunet_gcstep(L);
  return nres;
}

/* opt:zero_grad([set_to_none]): fills the grads with 0 (keeping the buffers) by default;
   set_to_none = true drops them, as PyTorch's default does. */
static int o_zero_grad(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  if (lua_toboolean(L, 2)) {
    nn_ctx *ctx = lunet_ctx(L);
    for (int g = 0; g < nn_optim_num_groups(b->o); g++)
      for (int i = 0; i < nn_optim_group_size(b->o, g); i++)
        lunet_check(L, nn_tensor_set_grad(ctx, nn_optim_group_param(b->o, g, i), NULL));
  } else {
    nn_optim_zero_grad_deferred(b->o);   /* (Lua reaches a grad only through p.grad) */
  }
  return 0;
}

/* A 1-based group index at idx (default 1) as 0-based; errors name the method. */
static int checkgroup(lua_State *L, LOptim *b, int idx, const char *method) {
  lua_Integer g = luaL_optinteger(L, idx, 1);
  int ng = nn_optim_num_groups(b->o);
  if (g < 1 || g > ng)
    luaL_error(L, "%s: group %d out of range (the optimizer has %d group%s)", method, (int)g, ng,
               ng == 1 ? "" : "s");
  return (int)g - 1;
}

static int o_get_lr(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  int g = checkgroup(L, b, 2, "get_lr");
  double lr;
  lunet_check(L, nn_optim_get(lunet_ctx(L), b->o, g, "lr", &lr));
  lua_pushnumber(L, lr);
  return 1;
}

/* opt:set_lr(x [, group]): every group when group is absent. */
static int o_set_lr(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  if (lua_type(L, 2) != LUA_TNUMBER)
    luaL_error(L, "set_lr: the learning rate must be a number, got %s", luaL_typename(L, 2));
  double lr = lua_tonumber(L, 2);
  if (isnan(lr)) luaL_error(L, "set_lr: invalid learning rate: nan (must be a finite number >= 0)");
  if (!(lr >= 0 && isfinite(lr)))
    luaL_error(L, "set_lr: invalid learning rate: %f (must be a finite number >= 0)", lr);
  nn_ctx *ctx = lunet_ctx(L);
  if (lua_isnoneornil(L, 3)) {
    for (int g = 0; g < nn_optim_num_groups(b->o); g++)
      lunet_check(L, nn_optim_set(ctx, b->o, g, "lr", lr));
  } else {
    lunet_check(L, nn_optim_set(ctx, b->o, checkgroup(L, b, 3, "set_lr"), "lr", lr));
  }
  return 0;
}

static int o_num_groups(lua_State *L) {
  lua_pushinteger(L, nn_optim_num_groups(checkoptim(L, 1)->o));
  return 1;
}

static int o_kind(lua_State *L) {
  lua_pushstring(L, nn_optim_name(checkoptim(L, 1)->o));
  return 1;
}

/* Pushes option k of o's group g as a Lua value. */
static void push_opt(lua_State *L, const lkey *k, nn_optim *o, int g) {
  nn_ctx *ctx = lunet_ctx(L);
  double v, v2;
  if (k->type == 'B') {
    lunet_check(L, nn_optim_get(ctx, o, g, "beta1", &v));
    lunet_check(L, nn_optim_get(ctx, o, g, "beta2", &v2));
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, v);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, v2);
    lua_rawseti(L, -2, 2);
    return;
  }
  lunet_check(L, nn_optim_get(ctx, o, g, core_key(k), &v));
  if (k->type == 'b') lua_pushboolean(L, v != 0);
  else lua_pushnumber(L, v);
}

/* Pushes a table of group g's options; params as tensors (ids false) or 1-based flat ids. */
static void push_group(lua_State *L, nn_optim *o, int g, bool ids) {
  lkey k[MAXKEYS];
  int nk = lua_keys(o, k);
  lua_newtable(L);
  for (int i = 0; i < nk; i++) {
    if (k[i].alias) continue;
    push_opt(L, &k[i], o, g);
    lua_setfield(L, -2, k[i].name);
  }
  int first = 0;
  for (int j = 0; j < g; j++) first += nn_optim_group_size(o, j);
  int n = nn_optim_group_size(o, g);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    if (ids) {
      lua_pushinteger(L, first + i + 1);
    } else {
      nn_tensor *t = nn_optim_group_param(o, g, i);
      nn_tensor_retain(t);
      lunet_pushtensor(L, t);
    }
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "params");
}

/* opt:param_groups(): a snapshot {{params = {tensors}, lr = ..., ...}, ...}; change the
   learning rate with set_lr. */
static int o_param_groups(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  int ng = nn_optim_num_groups(b->o);
  lua_createtable(L, ng, 0);
  for (int g = 0; g < ng; g++) {
    push_group(L, b->o, g, false);
    lua_rawseti(L, -2, g + 1);
  }
  return 1;
}

/* opt:state_dict(): {state = {[id] = {step = n, exp_avg = t, ...}}, param_groups = {...}}
   as PyTorch's (ids 1-based). The state tensors are shared with the optimizer, as PyTorch's
   are: clone them to keep a snapshot while training goes on. */
static int o_state_dict(lua_State *L) {
  LOptim *b = checkoptim(L, 1);
  nn_optim *o = b->o;
  bool steps = strcmp(nn_optim_name(o), "SGD") != 0;   /* PyTorch's SGD keeps no step */
  const char *const *names;
  int nnames = nn_optim_state_names(o, &names);
  lua_createtable(L, 0, 2);
  lua_newtable(L);
  for (int p = 0; p < nn_optim_num_params(o); p++) {
    int64_t step = nn_optim_param_step(o, p);
    bool any = steps && step > 0;
    for (int s = 0; s < nnames; s++) any = any || nn_optim_state(o, p, names[s]);
    if (!any) continue;
    lua_newtable(L);
    if (steps) {
      lua_pushinteger(L, (lua_Integer)step);
      lua_setfield(L, -2, "step");
    }
    for (int s = 0; s < nnames; s++) {
      nn_tensor *t = nn_optim_state(o, p, names[s]);
      if (!t) continue;
      nn_tensor_retain(t);
      lunet_pushtensor(L, t);
      lua_setfield(L, -2, names[s]);
    }
    lua_rawseti(L, -2, p + 1);
  }
  lua_setfield(L, -2, "state");
  int ng = nn_optim_num_groups(o);
  lua_createtable(L, ng, 0);
  for (int g = 0; g < ng; g++) {
    push_group(L, o, g, true);
    lua_rawseti(L, -2, g + 1);
  }
  lua_setfield(L, -2, "param_groups");
  return 1;
}

/* The field key of the table at idx as a table at top, or an error naming where. */
static void getsub(lua_State *L, int idx, const char *key) {
  if (lua_getfield(L, idx, key) != LUA_TTABLE)
    luaL_error(L, "load_state_dict: '%s' must be a table, got %s", key, luaL_typename(L, -1));
}

/* Reads a step count at idx: a non-negative integer number (or numeric string), or a
   one-element tensor. */
static int64_t get_step(lua_State *L, int idx, lua_Integer id) {
  double v;
  nn_tensor *t = lunet_totensor(L, idx);
  if (t) {
    if (nn_item(lunet_ctx(L), t, &v) != NN_OK)
      luaL_error(L, "load_state_dict: state[%d].step must be a number or a one-element tensor",
                 (int)id);
  } else if (!get_number(L, idx, true, &v)) {
    luaL_error(L, "load_state_dict: state[%d].step must be a number, got %s", (int)id,
               luaL_typename(L, idx));
  }
  if (!(v >= 0 && v <= 9e15 && v == floor(v)))
    luaL_error(L, "load_state_dict: state[%d].step must be a non-negative integer, got %f", (int)id,
               v);
  return (int64_t)v;
}

/* A state key as an id: an integer, or a string of one (keys read back from a file); -1 if
   neither. Never converts the key in place (lua_next needs it intact). */
static lua_Integer state_id(lua_State *L, int idx) {
  if (lua_isinteger(L, idx)) return lua_tointeger(L, idx);
  if (lua_type(L, idx) != LUA_TSTRING) return -1;
  lua_pushvalue(L, idx);
  int ok;
  lua_Integer id = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  return ok ? id : -1;
}

/* load_state_dict's first check: the groups at index 3 match o's (count, sizes, integer ids)
   and their options are valid. Fills the table at index 5 (saved id -> 0-based flat index) and
   leaves on the stack a scratch optimizer of o's kind whose defaults went through each
   group's options in turn: *vals[g * nopt + i] is option i of group g. */
static double *check_groups(lua_State *L, nn_optim *o) {
  nn_ctx *ctx = lunet_ctx(L);
  int ng = nn_optim_num_groups(o), nopt = nn_optim_num_options(o);
  if (luaL_len(L, 3) != ng)
    luaL_error(L, "load_state_dict: loaded state dict has %d parameter groups, the optimizer has %d",
               (int)luaL_len(L, 3), ng);
  double *vals = lua_newuserdatauv(L, (size_t)(ng * nopt + 1) * sizeof *vals, 0);
  LOptim *chk = lua_newuserdatauv(L, sizeof *chk, 0);   /* box first: collected on an error */
  chk->o = NULL;
  luaL_setmetatable(L, LUNET_OPTIM);
  lunet_check(L, nn_optim_new(ctx, nn_optim_name(o), &chk->o));
  lkey k[MAXKEYS];
  int nk = lua_keys(o, k), flat = 0;
  for (int g = 0; g < ng; g++) {
    if (lua_geti(L, 3, g + 1) != LUA_TTABLE)
      luaL_error(L, "load_state_dict: param_groups[%d] must be a table", g + 1);
    int gt = lua_gettop(L);
    if (lua_getfield(L, gt, "params") != LUA_TTABLE)
      luaL_error(L, "load_state_dict: param_groups[%d].params must be a table", g + 1);
    int n = nn_optim_group_size(o, g);
    if (luaL_len(L, -1) != n)
      luaL_error(L, "load_state_dict: param_groups[%d] has %d parameters, the optimizer's group "
                 "has %d", g + 1, (int)luaL_len(L, -1), n);
    for (int i = 0; i < n; i++) {
      lua_geti(L, -1, i + 1);
      if (!lua_isinteger(L, -1))
        luaL_error(L, "load_state_dict: param_groups[%d].params[%d] must be an integer id", g + 1,
                   i + 1);
      lua_pushinteger(L, flat++);
      lua_settable(L, 5);
    }
    lua_pop(L, 1);
    for (int i = 0; i < nopt; i++) {   /* start from the group's current options */
      const char *key = nn_optim_option(o, i, NULL);
      double v;
      lunet_check(L, nn_optim_get(ctx, o, g, key, &v));
      lunet_check(L, nn_optim_set(ctx, chk->o, -1, key, v));
    }
    for (int i = 0; i < nk; i++) { /* unknown keys (PyTorch's foreach, initial_lr) are kept out */
      if (k[i].alias) continue;
      if (lua_getfield(L, gt, k[i].name) != LUA_TNIL) {
        const char *what = lua_pushfstring(L, "load_state_dict: param_groups[%d].%s", g + 1,
                                           k[i].name);
        set_opt(L, chk->o, -1, &k[i], -2, true, what);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lunet_check(L, nn_optim_check(ctx, chk->o, -1));
    for (int i = 0; i < nopt; i++)
      lunet_check(L, nn_optim_get(ctx, chk->o, -1, nn_optim_option(o, i, NULL), &vals[g * nopt + i]));
    lua_pop(L, 1);
  }
  return vals;
}

/* Raises naming the first key (in byte order) of the state table at st that is neither "step"
   nor one of names, if any: messages do not depend on the table's order. */
static void check_state_names(lua_State *L, int st, lua_Integer id, const char *kn,
                              const char *const *names, int nnames) {
  const char *bad = NULL; /* stays alive in the table */
  lua_pushnil(L);
  while (lua_next(L, st)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "load_state_dict: state[%d] has a %s key; state names are strings", (int)id,
                 luaL_typename(L, -2));
    const char *key = lua_tostring(L, -2);
    bool known = strcmp(key, "step") == 0;
    for (int j = 0; j < nnames; j++) known = known || strcmp(names[j], key) == 0;
    if (!known && (!bad || strcmp(key, bad) < 0)) bad = key;
    lua_pop(L, 1);
  }
  if (!bad) return;
  luaL_Buffer vb;
  luaL_buffinit(L, &vb);
  luaL_addstring(&vb, "step");
  for (int j = 0; j < nnames; j++) {
    luaL_addstring(&vb, ", ");
    luaL_addstring(&vb, names[j]);
  }
  luaL_pushresult(&vb);
  luaL_error(L, "load_state_dict: state[%d].%s is not a state of %s (valid: %s)", (int)id, bad, kn,
             lua_tostring(L, -1));
}

/* The parameter with flat index p, across o's groups. */
static nn_tensor *flat_param(nn_optim *o, int p) {
  for (int g = 0, base = 0; g < nn_optim_num_groups(o); base += nn_optim_group_size(o, g), g++)
    if (p < base + nn_optim_group_size(o, g)) return nn_optim_group_param(o, g, p - base);
  return NULL;
}

/* load_state_dict's second check: every entry of the state table at index 4 names a
   parameter (through the table at index 5), holds known names, a valid step and tensors of
   the parameter's shape. */
static void check_state(lua_State *L, nn_optim *o) {
  const char *const *names;
  int nnames = nn_optim_state_names(o, &names);
  lua_pushnil(L);
  while (lua_next(L, 4)) {
    lua_Integer id = state_id(L, -2);
    if (id < 0 || lua_geti(L, 5, id) == LUA_TNIL)
      luaL_error(L, "load_state_dict: state key %s names no parameter of the groups",
                 luaL_tolstring(L, -3, NULL));
    nn_tensor *par = flat_param(o, (int)lua_tointeger(L, -1));
    lua_pop(L, 1);
    if (!lua_istable(L, -1)) luaL_error(L, "load_state_dict: state[%d] must be a table", (int)id);
    int st = lua_gettop(L);
    check_state_names(L, st, id, nn_optim_name(o), names, nnames);
    if (lua_getfield(L, st, "step") != LUA_TNIL) get_step(L, -1, id);
    lua_pop(L, 1);
    for (int j = 0; j < nnames; j++) {   /* then the tensors, in the kind's order */
      if (lua_getfield(L, st, names[j]) != LUA_TNIL) {
        nn_tensor *t = lunet_totensor(L, -1);
        if (!t)
          luaL_error(L, "load_state_dict: state[%d].%s must be a tensor, got %s", (int)id, names[j],
                     luaL_typename(L, -1));
        int nd = nn_tensor_ndim(par);
        if (nn_tensor_ndim(t) != nd ||
            memcmp(nn_tensor_shape(t), nn_tensor_shape(par), (size_t)nd * sizeof(int64_t)) != 0) {
          char a[96], c[96];
          luaL_error(L, "load_state_dict: state[%d].%s has shape %s, the parameter has shape %s",
                     (int)id, names[j], nn_shape_str(t, a, sizeof a),
                     nn_shape_str(par, c, sizeof c));
        }
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* load_state_dict's apply step, after both checks: the options, then the whole state
   (parameters without saved state start afresh). */
static void apply_state(lua_State *L, nn_optim *o, const double *vals) {
  nn_ctx *ctx = lunet_ctx(L);
  int nopt = nn_optim_num_options(o);
  for (int g = 0; g < nn_optim_num_groups(o); g++)
    for (int i = 0; i < nopt; i++)
      lunet_check(L, nn_optim_set(ctx, o, g, nn_optim_option(o, i, NULL), vals[g * nopt + i]));
  const char *const *names;
  int nnames = nn_optim_state_names(o, &names);
  for (int p = 0; p < nn_optim_num_params(o); p++) {
    lunet_check(L, nn_optim_set_param_step(ctx, o, p, 0));
    for (int s = 0; s < nnames; s++) lunet_check(L, nn_optim_set_state(ctx, o, p, names[s], NULL));
  }
  lua_pushnil(L);
  while (lua_next(L, 4)) {
    lua_geti(L, 5, state_id(L, -2));
    int p = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      const char *key = lua_tostring(L, -2);
      if (strcmp(key, "step") == 0)
        lunet_check(L, nn_optim_set_param_step(ctx, o, p, get_step(L, -1, 0)));
      else
        lunet_check(L, nn_optim_set_state(ctx, o, p, key, lunet_totensor(L, -1)));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* opt:load_state_dict(s): checks everything first (group count and sizes, option types and
   values, state names and shapes), then replaces the options and the whole state. */
static int o_load_state_dict(lua_State *L) {
  nn_optim *o = checkoptim(L, 1)->o;
  luaL_checktype(L, 2, LUA_TTABLE);
  getsub(L, 2, "param_groups"); /* 3 */
  getsub(L, 2, "state");        /* 4 */
  lua_newtable(L);              /* 5: saved id -> 0-based flat index */
  const double *vals = check_groups(L, o);
  check_state(L, o);
  apply_state(L, o, vals);
  lunet_gcstep(L);
  return 0;
}

static int o_gc(lua_State *L) {
  LOptim *b = luaL_checkudata(L, 1, LUNET_OPTIM);
  nn_optim_free(b->o);
  b->o = NULL;
  return 0;
}

/* Like PyTorch's repr: the kind, then each group's options in name order. */
static int o_tostring(lua_State *L) {
  LOptim *b = luaL_checkudata(L, 1, LUNET_OPTIM);
  if (!b->o) {
    lua_pushliteral(L, "Optimizer (closed)");
    return 1;
  }
  lkey k[MAXKEYS];
  int nk = lua_keys(b->o, k);
  luaL_Buffer buf;
  luaL_buffinit(L, &buf);
  lua_pushfstring(L, "%s (\n", nn_optim_name(b->o));
  luaL_addvalue(&buf);
  for (int g = 0; g < nn_optim_num_groups(b->o); g++) {
    lua_pushfstring(L, "Parameter Group %d\n", g + 1);
    luaL_addvalue(&buf);
    for (int i = 0; i < nk; i++) {
      if (k[i].alias) continue;
      push_opt(L, &k[i], b->o, g);
      if (k[i].type == 'n') {
        lua_pushfstring(L, "    %s: %f\n", k[i].name, lua_tonumber(L, -1));
      } else if (k[i].type == 'b') {
        lua_pushfstring(L, "    %s: %s\n", k[i].name, lua_toboolean(L, -1) ? "true" : "false");
      } else {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        lua_pushfstring(L, "    %s: (%f, %f)\n", k[i].name, lua_tonumber(L, -2),
                        lua_tonumber(L, -1));
        lua_replace(L, -3);
        lua_pop(L, 1);
      }
      lua_remove(L, -2);
      luaL_addvalue(&buf);
    }
  }
  luaL_addstring(&buf, ")");
  luaL_pushresult(&buf);
  return 1;
}

static const luaL_Reg methods[] = {
  {"step", o_step},
  {"zero_grad", o_zero_grad},
  {"get_lr", o_get_lr},
  {"set_lr", o_set_lr},
  {"num_groups", o_num_groups},
  {"kind", o_kind},
  {"param_groups", o_param_groups},
  {"state_dict", o_state_dict},
  {"load_state_dict", o_load_state_dict},
  {"close", o_gc},
  {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
  {"__gc", o_gc},
  {"__close", o_gc},
  {"__tostring", o_tostring},
  {NULL, NULL},
};

void lunet_open_optim(lua_State *L) {
  if (luaL_newmetatable(L, LUNET_OPTIM)) {
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_newtable(L);   /* _optim: a constructor per optimizer the core lists */
  const char *name;
  for (int i = 0; (name = nn_optim_kind_name(i)) != NULL; i++) {
    lua_pushstring(L, name);
    lua_pushcclosure(L, o_new, 1);
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, -2, "_optim");
}
