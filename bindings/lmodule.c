/* lmodule.c — the built-in C layers as Lua userdata (metatable "lunet.Module"), and
   lunet._nn: their constructors, the functional forms, the losses and the in-place
   initializers that bindings/lua/lunet/nn.lua builds on.

   Class ids are 1-based int64 here and 0-based in the core, converted in this file only; a
   layer's dim goes through lunet_checkdim (ltensor.c), as every dim does. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lunet_impl.h"

typedef struct { nn_module *m; } LModule;   /* m == NULL: closed */

/* The module's user value is a table: i -> the userdata of child i of a C Sequential, and
   "generator" -> the Generator a Dropout draws from (kept alive with the module). */

/* ---- boxes ------------------------------------------------------------------------ */

static LModule *newmodbox(lua_State *L) {
  LModule *b = lua_newuserdatauv(L, sizeof *b, 1);
  b->m = NULL;
  luaL_setmetatable(L, LUNET_MODULE);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  return b;
}

static nn_module *tomodule(lua_State *L, int idx) {
  LModule *b = luaL_checkudata(L, idx, LUNET_MODULE);
  if (!b->m) luaL_error(L, "closed module");
  return b->m;
}

/* The tensor userdata of every parameter handed out, keyed by its nn_tensor address in a
   weak-valued registry table: m.weight, m:parameters() and a containing Sequential's
   named_parameters() all give the same Lua object, so dedup by identity works. An entry
   cannot go stale: a live userdata holds its tensor, so the address is not reused. */
static const char paramskey = 'p';

static void pushparam(lua_State *L, int idx, int i) {
  nn_tensor *t = nn_module_param(tomodule(L, idx), i, NULL, 0);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &paramskey) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &paramskey);
  }
  if (lua_rawgetp(L, -1, t) != LUA_TNIL && lunet_totensor(L, -1) == t) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  nn_tensor_retain(t);
  lunet_pushtensor(L, t);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, t);
  lua_remove(L, -2);
}

static int findparam(nn_module *m, const char *name) {
  char buf[256];
  int n = nn_module_num_params(m);
  for (int i = 0; i < n; i++) {
    nn_module_param(m, i, buf, sizeof buf);
    if (strcmp(buf, name) == 0) return i;
  }
  return -1;
}

/* An optional Lua dim at idx (def, a Lua dim, when absent) as the core's 0-based one */
static int checkdim(lua_State *L, int idx, lua_Integer def, const char *op) {
  if (!lua_isnoneornil(L, idx)) return lunet_checkdim(L, idx, op);
  return def > 0 ? (int)def - 1 : (int)def;
}
static lua_Integer luadim(double d) { return d >= 0 ? (lua_Integer)d + 1 : (lua_Integer)d; }

/* Python's repr of a float: shortest round trip, with ".0" on integral values. */
static void addfloat(luaL_Buffer *B, double v) {
  char s[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, v);
    if (strtod(s, NULL) == v) break;
  }
  luaL_addstring(B, s);
  if (isfinite(v) && !strpbrk(s, ".e")) luaL_addstring(B, ".0");
}

/* ---- repr, as PyTorch's (dims shown 1-based) --------------------------------------- */

static void addindent(luaL_Buffer *B, int n) {
  for (int i = 0; i < n; i++) luaL_addchar(B, ' ');
}

static void addrepr(lua_State *L, luaL_Buffer *B, const nn_module *m, int indent) {
  char s[128];
  luaL_addstring(B, nn_module_name(m));
  switch (nn_module_kind_of(m)) {
  case NN_LINEAR:
    snprintf(s, sizeof s, "(in_features=%lld, out_features=%lld, bias=%s)",
             (long long)nn_module_in_features(m), (long long)nn_module_out_features(m),
             nn_module_num_params(m) == 2 ? "True" : "False");
    luaL_addstring(B, s);
    break;
  case NN_LEAKY_RELU:
    luaL_addstring(B, "(negative_slope=");
    addfloat(B, nn_module_arg(m));
    luaL_addchar(B, ')');
    break;
  case NN_GELU: luaL_addstring(B, "(approximate='none')"); break;
  case NN_SOFTMAX: case NN_LOG_SOFTMAX:
    snprintf(s, sizeof s, "(dim=%lld)", (long long)luadim(nn_module_arg(m)));
    luaL_addstring(B, s);
    break;
  case NN_DROPOUT:
    luaL_addstring(B, "(p=");
    addfloat(B, nn_module_arg(m));
    luaL_addchar(B, ')');
    break;
  case NN_FLATTEN:
    snprintf(s, sizeof s, "(start_dim=%lld, end_dim=%lld)", (long long)luadim(nn_module_arg(m)),
             (long long)luadim(nn_module_arg2(m)));
    luaL_addstring(B, s);
    break;
  case NN_SEQUENTIAL: {
    int n = nn_module_num_children(m);
    luaL_addchar(B, '(');
    for (int i = 0; i < n; i++) {
      luaL_addchar(B, '\n');
      addindent(B, indent + 2);
      snprintf(s, sizeof s, "(%d): ", i);
      luaL_addstring(B, s);
      addrepr(L, B, nn_module_child(m, i), indent + 2);
    }
    if (n > 0) { luaL_addchar(B, '\n'); addindent(B, indent); }
    luaL_addchar(B, ')');
    break;
  }
  default: luaL_addstring(B, "()"); break;
  }
}

/* ---- methods ------------------------------------------------------------------------ */

static int md_forward(lua_State *L) {                 /* m(x), m:forward(x) */
  nn_module *m = tomodule(L, 1);
  nn_tensor *x = lunet_checktensor(L, 2);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_module_forward(lunet_ctx(L), m, x, &r->t));
  lunet_gcstep(L);
  return 1;
}

static int md_parameters(lua_State *L) {
  int n = nn_module_num_params(tomodule(L, 1));
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    pushparam(L, 1, i);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* name -> tensor, and as a second result the names in state_dict order */
static int md_named_parameters(lua_State *L) {
  nn_module *m = tomodule(L, 1);
  int n = nn_module_num_params(m);
  char name[256];
  lua_createtable(L, 0, n);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    nn_module_param(m, i, name, sizeof name);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, i + 1);
    pushparam(L, 1, i);
    lua_setfield(L, -3, name);
  }
  return 2;
}

static int md_train(lua_State *L) {
  nn_module *m = tomodule(L, 1);
  nn_module_train(m, lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int md_eval(lua_State *L) {
  nn_module_train(tomodule(L, 1), false);
  lua_settop(L, 1);
  return 1;
}

static int md_zero_grad(lua_State *L) {
  nn_module *m = tomodule(L, 1);
  int n = nn_module_num_params(m);
  for (int i = 0; i < n; i++) nn_tensor_zero_grad_deferred(nn_module_param(m, i, NULL, 0));
  return 0;
}

static int md_num_parameters(lua_State *L) {
  nn_module *m = tomodule(L, 1);
  int n = nn_module_num_params(m);
  lua_Integer total = 0;
  for (int i = 0; i < n; i++) total += nn_tensor_numel(nn_module_param(m, i, NULL, 0));
  lua_pushinteger(L, total);
  return 1;
}

static int md_tostring(lua_State *L) {
  LModule *b = luaL_checkudata(L, 1, LUNET_MODULE);
  if (!b->m) { lua_pushliteral(L, "Module (closed)"); return 1; }
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  addrepr(L, &B, b->m, 0);
  luaL_pushresult(&B);
  return 1;
}

static int md_gc(lua_State *L) {                      /* __gc, __close, m:close() */
  LModule *b = luaL_checkudata(L, 1, LUNET_MODULE);
  nn_module_release(b->m);
  b->m = NULL;
  return 0;
}

/* methods, then fields: training, in_features/out_features, parameters by name (a Lua
   nn.Sequential holds its children itself: no C Sequential reaches Lua) */
static int md_index(lua_State *L) {
  nn_module *m = tomodule(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL) return 1;
    if (strcmp(k, "training") == 0) {
      lua_pushboolean(L, nn_module_is_training(m));
      return 1;
    }
    if (nn_module_kind_of(m) == NN_LINEAR && strcmp(k, "in_features") == 0) {
      lua_pushinteger(L, nn_module_in_features(m));
      return 1;
    }
    if (nn_module_kind_of(m) == NN_LINEAR && strcmp(k, "out_features") == 0) {
      lua_pushinteger(L, nn_module_out_features(m));
      return 1;
    }
    int i = findparam(m, k);
    if (i >= 0) { pushparam(L, 1, i); return 1; }
    lua_pushnil(L);
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

static int md_newindex(lua_State *L) {                /* m.weight = t; m.training = b */
  nn_module *m = tomodule(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "training") == 0) {
    nn_module_train(m, lua_toboolean(L, 3));
    return 0;
  }
  if (findparam(m, k) < 0)
    return luaL_error(L, "%s has no parameter '%s' (a built-in layer cannot hold new fields; "
                      "define an nn.Module to add some)", nn_module_name(m), k);
  nn_tensor *t = lunet_totensor(L, 3);
  if (!t) return luaL_error(L, "%s.%s: expected a tensor, got %s", nn_module_name(m), k,
                            luaL_typename(L, 3));
  lunet_check(L, nn_module_set_param(lunet_ctx(L), m, k, t));
  return 0;
}

static const luaL_Reg module_methods[] = {
  {"forward", md_forward},
  {"parameters", md_parameters},
  {"named_parameters", md_named_parameters},
  {"train", md_train},
  {"eval", md_eval},
  {"zero_grad", md_zero_grad},
  {"num_parameters", md_num_parameters},
  {"close", md_gc},
  {NULL, NULL}
};

static const luaL_Reg module_meta[] = {
  {"__newindex", md_newindex},
  {"__call", md_forward},
  {"__tostring", md_tostring},
  {"__gc", md_gc},
  {"__close", md_gc},
  {NULL, NULL}
};

/* ---- constructors ---------------------------------------------------------------------- */

static int optbool(lua_State *L, int opts, const char *k, int def) {
  if (lua_type(L, opts) != LUA_TTABLE) return def;
  int r = def;
  if (lua_getfield(L, opts, k) != LUA_TNIL) r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

static int m_Linear(lua_State *L) {        /* Linear(in, out [, {bias, dtype, generator}]) */
  lua_Integer in = luaL_checkinteger(L, 1), out = luaL_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  bool bias = optbool(L, 3, "bias", 1);
  nn_dtype dt = NN_F32;
  nn_rng *r = NULL;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "dtype");
    dt = lunet_checkdtype(L, -1, NN_F32);
    lua_getfield(L, 3, "generator");
    r = lunet_optrng(L, -1);
    lua_pop(L, 2);
  }
  LModule *b = newmodbox(L);
  lunet_check(L, nn_linear_new(lunet_ctx(L), r, in, out, bias, dt, &b->m));
  lunet_gcstep(L);
  return 1;
}

static int newlayer(lua_State *L, nn_module_kind kind, double arg) {
  LModule *b = newmodbox(L);
  lunet_check(L, nn_layer_new(lunet_ctx(L), kind, arg, &b->m));
  return 1;
}

static int m_ReLU(lua_State *L) { return newlayer(L, NN_RELU, 0); }
static int m_Sigmoid(lua_State *L) { return newlayer(L, NN_SIGMOID, 0); }
static int m_Tanh(lua_State *L) { return newlayer(L, NN_TANH, 0); }
static int m_GELU(lua_State *L) { return newlayer(L, NN_GELU, 0); }
static int m_Identity(lua_State *L) { return newlayer(L, NN_IDENTITY, 0); }
static int m_LeakyReLU(lua_State *L) {
  return newlayer(L, NN_LEAKY_RELU, luaL_optnumber(L, 1, 0.01));
}
static int m_Softmax(lua_State *L) { return newlayer(L, NN_SOFTMAX, checkdim(L, 1, -1, "Softmax")); }
static int m_LogSoftmax(lua_State *L) {
  return newlayer(L, NN_LOG_SOFTMAX, checkdim(L, 1, -1, "LogSoftmax"));
}

static int m_Dropout(lua_State *L) {       /* Dropout(p = 0.5 [, {generator}]) */
  double p = luaL_optnumber(L, 1, 0.5);
  nn_rng *r = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "generator");
    r = lunet_optrng(L, -1);
  }
  int gen = lua_gettop(L);
  newlayer(L, NN_DROPOUT, p);
  if (r) {
    LModule *b = lua_touserdata(L, -1);
    nn_module_set_rng(b->m, r);
    lua_getiuservalue(L, -1, 1);
    lua_pushvalue(L, gen);
    lua_setfield(L, -2, "generator");
    lua_pop(L, 1);
  }
  return 1;
}

static int m_Flatten(lua_State *L) {       /* Flatten(start = 2, end = -1) */
  int start = checkdim(L, 1, 2, "Flatten"), end = checkdim(L, 2, -1, "Flatten");
  LModule *b = newmodbox(L);
  lunet_check(L, nn_flatten_new(lunet_ctx(L), start, end, &b->m));
  return 1;
}

/* _nn.chain(x, list, n): list[n](...list[1](x)), nn.Sequential's forward when every child is
   a C module (else nothing, and nn.lua runs its general loop). One C call
   (nn_module_chain_forward): the intermediates get no Lua box. A box kept each activation alive
   until the next full collection, so a training step wrote its activations into memory last
   used several steps before, out of the caches; now autograd's references are the only
   ones, dropped by backward, and the next step reuses the same blocks while they are still
   in cache. A Linear and the ReLU after it run as one op. */
static int m_chain(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_checkinteger(L, 3);
  nn_module *few[32], **m = few;
  if (n < 0 || n > INT_MAX / (lua_Integer)sizeof *m) return 0;
  if (n > 32) m = lua_newuserdatauv(L, (size_t)n * sizeof *m, 0);   /* (collected) */
  for (lua_Integer i = 1; i <= n; i++) {
    LModule *b = lua_rawgeti(L, 2, i) == LUA_TUSERDATA ? luaL_testudata(L, -1, LUNET_MODULE) : NULL;
    lua_pop(L, 1);
    if (!b) return 0;
    if (!b->m) luaL_error(L, "closed module");
    m[i - 1] = b->m;
  }
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_module_chain_forward(lunet_ctx(L), m, (int)n, x, &r->t));
  lunet_gcstep(L);
  return 1;
}

static int m_is_module(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LUNET_MODULE) != NULL);
  return 1;
}

/* ---- functional forms ------------------------------------------------------------------ */

static int f_dropout(lua_State *L) {       /* dropout(x, p = 0.5, training = true [, gen]) */
  nn_tensor *x = lunet_checktensor(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  bool train = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  nn_rng *rng = lunet_optrng(L, 4);
  if (!(p >= 0.0 && p <= 1.0))
    return luaL_error(L, "dropout: probability has to be between 0 and 1, but got %s",
                      lua_tostring(L, 2));
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_dropout(lunet_ctx(L), rng, x, p, train, &r->t));
  return 1;
}

static int f_linear(lua_State *L) {        /* linear(x, w [, b]) = x w^T + b */
  nn_tensor *x = lunet_checktensor(L, 1), *w = lunet_checktensor(L, 2);
  nn_tensor *b = lua_isnoneornil(L, 3) ? NULL : lunet_checktensor(L, 3);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_linear(lunet_ctx(L), x, w, b, &r->t));
  return 1;
}

/* ---- losses ------------------------------------------------------------------------------ */

static nn_reduction checkreduction(lua_State *L, int idx, const char *op) {
  const char *s = luaL_optstring(L, idx, "mean");
  if (strcmp(s, "mean") == 0) return NN_REDUCE_MEAN;
  if (strcmp(s, "sum") == 0) return NN_REDUCE_SUM;
  if (strcmp(s, "none") == 0) return NN_REDUCE_NONE;
  luaL_error(L, "%s: reduction must be 'mean', 'sum' or 'none', got '%s'", op, s);
  return NN_REDUCE_MEAN;
}

/* 1-based int64 class ids -> a new 0-based tensor, after checking every id is in 1..C. */
static nn_status shift_ids(lua_State *L, nn_ctx *ctx, const char *op, nn_tensor *input,
                           nn_tensor *target, nn_tensor **out) {
  *out = NULL;
  int nd = nn_tensor_ndim(input);
  const int64_t *ishape = nn_tensor_shape(input);
  int64_t classes = nd == 0 ? 0 : nd == 1 ? ishape[0] : ishape[1];
  nn_tensor *c;
  nn_status s = nn_contiguous(ctx, target, &c);
  if (s != NN_OK) return s;
  const int64_t *ids = nn_tensor_data(c);
  int64_t n = nn_tensor_numel(c);
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 1 || ids[i] > classes) {
      lua_Integer bad = (lua_Integer)ids[i];
      nn_tensor_release(c);
      if (bad == 0)   /* the usual slip: a 0-based label set */
        lunet_error(L, "%s: target class id 0: Lunet's class ids are 1-based: for labels 0..K-1 "
                    "pass y + 1", op);
      lunet_error(L, "%s: target class id %I is out of range for %I classes (ids are 1..%I)",
                  op, bad, (lua_Integer)classes, (lua_Integer)classes);
    }
  }
  nn_tensor_release(c);
  return nn_adds(ctx, target, -1.0, out);
}

static void shapestr(const nn_tensor *t, char *buf, size_t n) { nn_shape_str(t, buf, n); }

typedef nn_status (*class_loss_fn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_reduction,
                                   nn_tensor **);

/* cross_entropy(logits, target [, reduction]) and nll_loss(logp, target [, reduction]):
   target is int64 1-based class ids of shape [N] (or a 0-d id for a [C] input); for
   cross_entropy it may instead be float class probabilities shaped like the input. */
static int class_loss(lua_State *L, const char *op, class_loss_fn f, bool probs_ok) {
  nn_tensor *x = lunet_checktensor(L, 1), *t = lunet_checktensor(L, 2);
  nn_reduction red = checkreduction(L, 3, op);
  nn_ctx *ctx = lunet_ctx(L);
  int nd = nn_tensor_ndim(x);
  if (nd != 1 && nd != 2) {
    char sx[96];
    shapestr(x, sx, sizeof sx);
    return lunet_error(L, "%s: input must be [N, C] (or [C]), got shape %s", op, sx);
  }
  LTensor *r = lunet_newbox(L);
  if (nn_tensor_dtype(t) == NN_I64) {
    if (nn_tensor_ndim(t) != nd - 1 ||
        (nd == 2 && nn_tensor_shape(t)[0] != nn_tensor_shape(x)[0])) {
      char sx[96], st[96];
      shapestr(x, sx, sizeof sx);
      shapestr(t, st, sizeof st);
      char want[40] = "[]";
      if (nd == 2) snprintf(want, sizeof want, "[%lld]", (long long)nn_tensor_shape(x)[0]);
      return lunet_error(L, "%s: class-id target must have shape %s for input %s, got %s",
                        op, want, sx, st);
    }
    nn_tensor *t0;
    lunet_check(L, shift_ids(L, ctx, op, x, t, &t0));
    nn_status s = f(ctx, x, t0, red, &r->t);
    nn_tensor_release(t0);
    lunet_check(L, s);
    return 1;
  }
  char sx[96], st[96];
  shapestr(x, sx, sizeof sx);
  shapestr(t, st, sizeof st);
  if (!probs_ok || (nn_tensor_ndim(t) == nd - 1 && strcmp(sx, st) != 0))   /* ids as floats */
    return lunet_error(L, "%s: class ids must be int64: y:long() (got a %s target of shape %s "
                       "for input %s)", op, nn_dtype_name(nn_tensor_dtype(t)), st, sx);
  if (strcmp(sx, st) != 0)
    return lunet_error(L, "%s: target must be int64 class ids (1-based) or class probabilities "
                      "of shape %s, got %s %s", op, sx, nn_dtype_name(nn_tensor_dtype(t)), st);
  lunet_check(L, f(ctx, x, t, red, &r->t));
  return 1;
}

static int l_cross_entropy(lua_State *L) {
  return class_loss(L, "cross_entropy", nn_cross_entropy, true);
}
static int l_nll_loss(lua_State *L) { return class_loss(L, "nll_loss", nn_nll_loss, false); }

static int pair_loss(lua_State *L, const char *op, class_loss_fn f) {
  nn_tensor *a = lunet_checktensor(L, 1), *b = lunet_checktensor(L, 2);
  nn_reduction red = checkreduction(L, 3, op);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, f(lunet_ctx(L), a, b, red, &r->t));
  return 1;
}
static int l_mse_loss(lua_State *L) { return pair_loss(L, "mse_loss", nn_mse_loss); }
static int l_l1_loss(lua_State *L) { return pair_loss(L, "l1_loss", nn_l1_loss); }
static int l_bce(lua_State *L) {
  return pair_loss(L, "binary_cross_entropy", nn_binary_cross_entropy);
}
static int l_bce_logits(lua_State *L) {
  return pair_loss(L, "binary_cross_entropy_with_logits", nn_bce_with_logits);
}

static const luaL_Reg nn_funcs[] = {
  {"Linear", m_Linear},
  {"ReLU", m_ReLU},
  {"LeakyReLU", m_LeakyReLU},
  {"Sigmoid", m_Sigmoid},
  {"Tanh", m_Tanh},
  {"GELU", m_GELU},
  {"Softmax", m_Softmax},
  {"LogSoftmax", m_LogSoftmax},
  {"Identity", m_Identity},
  {"Dropout", m_Dropout},
  {"Flatten", m_Flatten},
  {"chain", m_chain},
  {"is_module", m_is_module},
  {"dropout", f_dropout},
  {"linear", f_linear},
  {"cross_entropy", l_cross_entropy},
  {"nll_loss", l_nll_loss},
  {"mse_loss", l_mse_loss},
  {"l1_loss", l_l1_loss},
  {"binary_cross_entropy", l_bce},
  {"binary_cross_entropy_with_logits", l_bce_logits},
  {NULL, NULL}
};

/* Module table on top: adds lunet._nn. _nn.methods is the C layers' method table, which
   nn.lua extends with the methods shared with Lua modules (state_dict, …). */
void lunet_open_module(lua_State *L) {
  luaL_newmetatable(L, LUNET_MODULE);
  luaL_setfuncs(L, module_meta, 0);
  luaL_newlib(L, module_methods);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, md_index, 1);
  lua_setfield(L, -3, "__index");            /* metatable.__index = md_index(methods) */
  luaL_newlib(L, nn_funcs);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "methods");
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "metatable");
  lua_setfield(L, -4, "_nn");
  lua_pop(L, 2);
}
