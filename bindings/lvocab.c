/* lvocab.c — the tensor vocabulary of PyTorch that takes indices or returns them: gather,
   scatter, index_add/copy/fill, take, masks; sort, topk, unique, nonzero; scans and the
   reductions that return indices (issue 13). Each is a tensor method and a lunet.* function
   (the tensor first), registered by ltensor.c's opener through lunet_open_vocab.

   Indices cross here: a Lua index (1-based; an int64 tensor or a list of integers) is checked
   against its dim's size and becomes the core's 0-based index (idx_arg); indices the core returns
   become 1-based (plus1). */
#include <math.h>
#include <string.h>
#include "lunet_impl.h"

static nn_tensor *checkt(lua_State *L, int idx) { return lunet_checktensor(L, idx); }
static nn_tensor *testt(lua_State *L, int idx) {
  return luaL_testudata(L, idx, LUNET_TENSOR) ? lunet_checktensor(L, idx) : NULL;
}

/* dim at arg (1-based, negative from the end) as a 0-based dim of t; def when absent (nil) */
static int dim_opt(lua_State *L, int arg, int def, const char *fname) {
  return lua_isnoneornil(L, arg) ? def : lunet_checkdim(L, arg, fname);
}

/* A 0-based dim in [0, ndim) (0-d tensors: 0), for sizes read here */
static int wrapdim(lua_State *L, const nn_tensor *t, int d, const char *fname) {
  int n = nn_tensor_ndim(t), k = d < 0 ? d + n : d;
  if (n == 0 && (d == 0 || d == -1)) return 0;
  if (k < 0 || k >= n)
    luaL_error(L, "%s: dimension %d out of range for a %d-d tensor", fname, d < 0 ? d : d + 1, n);
  return k;
}

/* opts[field] as a boolean (def when absent) */
static bool opt_bool(lua_State *L, int opts, const char *field, bool def, const char *fname) {
  if (lua_type(L, opts) != LUA_TTABLE) return def;
  int ty = lua_getfield(L, opts, field);
  bool v = def;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL) luaL_error(L, "%s: option %s must be a boolean, got %s", fname, field, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}
static void check_opts(lua_State *L, int opts, const char *fname) {
  if (!lua_isnoneornil(L, opts) && lua_type(L, opts) != LUA_TTABLE)
    luaL_error(L, "%s: options must be a table, got %s", fname, luaL_typename(L, opts));
}

/* Pushes the 0-based int64 form of the Lua indices at arg (an int64 tensor of any shape or a
   list of integers), each checked in 1..size (negatives count from the end) */
static nn_tensor *idx_arg(lua_State *L, int arg, int64_t size, int dim, const char *fname) {
  nn_ctx *ctx = lunet_ctx(L);
  nn_tensor *src = testt(L, arg);
  LTensor *b = lunet_newbox(L);
  int64_t n, *q;
  if (src) {
    if (nn_tensor_dtype(src) != NN_I64)
      luaL_error(L, "%s: indices must be an int64 tensor (1-based), got %s (use :long())", fname,
                 nn_dtype_name(nn_tensor_dtype(src)));
    lunet_check(L, nn_clone(ctx, src, &b->t));      /* contiguous, ours to convert in place */
    n = nn_tensor_numel(b->t);
  } else if (lua_type(L, arg) == LUA_TTABLE) {
    n = (int64_t)luaL_len(L, arg);
    if (n < 0 || n > ((int64_t)1 << 40)) luaL_error(L, "%s: bad index list length", fname);
    lunet_check(L, nn_tensor_new(ctx, NN_I64, 1, &n, &b->t));
  } else {
    lunet_typeerror(L, arg, "int64 tensor or list of indices");
    return NULL;
  }
  q = nn_tensor_data(b->t);
  for (int64_t i = 0; i < n; i++) {
    lua_Integer v;
    if (!src) {
      int isint;
      lua_geti(L, arg, (lua_Integer)i + 1);
      v = lua_tointegerx(L, -1, &isint);
      if (!isint || lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "%s: index %I of the list is not an integer", fname, (lua_Integer)i + 1);
      lua_pop(L, 1);
    } else {
      v = q[i];
    }
    int64_t k = v > 0 ? (int64_t)v - 1 : size + (int64_t)v;
    if (v == 0)
      luaL_error(L, "%s: index 0 is invalid: indices are 1-based (1 is the first, -1 the last)", fname);
    if (k < 0 || k >= size)
      luaL_error(L, "%s: index %I out of range for dimension %d of size %I", fname, v, dim + 1, (lua_Integer)size);
    q[i] = k;
  }
  return b->t;
}

/* the number at arg, or the value of a 0-d tensor there */
static double value_arg(lua_State *L, int arg, const char *fname) {
  nn_tensor *vt = testt(L, arg);
  double v;
  if (lua_type(L, arg) == LUA_TNUMBER) return lua_tonumber(L, arg);
  if (!vt || nn_tensor_ndim(vt) != 0)
    luaL_error(L, "%s: value must be a number or a 0-d tensor, got %s", fname, vt ? "a tensor" : luaL_typename(L, arg));
  lunet_check(L, nn_item(lunet_ctx(L), vt, &v));
  return v;
}

/* the size of dim d of t (a 0-d tensor: 1) */
static int64_t size_at(const nn_tensor *t, int d) { return nn_tensor_ndim(t) ? nn_tensor_shape(t)[d] : 1; }

/* 0-based indices in the box at top to 1-based (a new tensor, since a node may save them) */
static void plus1(lua_State *L, int at) {
  LTensor *b = lua_touserdata(L, at);
  nn_tensor *z = b->t;
  nn_status s = nn_adds(nn_tensor_ctx(z), z, 1, &b->t);
  if (s != NN_OK) b->t = z;
  else nn_tensor_release(z);
  lunet_check(L, s);
}

/* ---- gather / scatter ------------------------------------------------------------------------ */

/* gather(dim, idx) */
static int v_gather(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_settop(L, 3);              /* (the converted indices are pushed above the arguments) */
  int d = wrapdim(L, t, lunet_checkdim(L, 2, "gather"), "gather");
  nn_tensor *idx = idx_arg(L, 3, size_at(t, d), d, "gather");
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_gather(lunet_ctx(L), t, d, idx, &b->t));
  return 1;
}

static nn_scatter_reduce reduce_opt(lua_State *L, int opts, const char *fname) {
  nn_scatter_reduce r = NN_SCATTER_NONE;
  check_opts(L, opts, fname);
  if (lua_type(L, opts) != LUA_TTABLE) return r;
  if (lua_getfield(L, opts, "reduce") != LUA_TNIL) {
    const char *s = lua_tostring(L, -1);
    if (s && (!strcmp(s, "add") || !strcmp(s, "sum"))) r = NN_SCATTER_ADD;
    else if (s && (!strcmp(s, "multiply") || !strcmp(s, "prod"))) r = NN_SCATTER_MUL;
    else luaL_error(L, "%s: reduce must be \"add\" or \"multiply\", got %s", fname, s ? s : luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return r;
}

/* src at arg: a tensor, or a number made a tensor of t's dtype expanded to like's shape */
static nn_tensor *src_arg(lua_State *L, int arg, nn_tensor *t, const nn_tensor *like, const char *fname) {
  if (lua_type(L, arg) != LUA_TNUMBER) return checkt(L, arg);
  nn_ctx *ctx = lunet_ctx(L);
  LTensor *v = lunet_newbox(L), *e = lunet_newbox(L);
  double x = lua_tonumber(L, arg);
  if (nn_tensor_dtype(t) == NN_I64 && lua_isinteger(L, arg)) {
    int64_t k = (int64_t)lua_tointeger(L, arg);
    lunet_check(L, nn_tensor_from_data(ctx, NN_I64, 0, NULL, &k, &v->t));
  } else {
    lunet_check(L, nn_full(ctx, nn_tensor_dtype(t), 0, NULL, x, &v->t));
  }
  (void)fname;
  lunet_check(L, nn_expand(ctx, v->t, nn_tensor_ndim(like), nn_tensor_shape(like), &e->t));
  return e->t;
}

/* scatter(dim, idx, src|v [, {reduce}]), scatter_add(dim, idx, src) and the in-place forms */
static int scatter(lua_State *L, const char *fname, bool add, bool inplace) {
  nn_tensor *t = checkt(L, 1);
  lua_settop(L, 5);
  int d = wrapdim(L, t, lunet_checkdim(L, 2, fname), fname);
  nn_scatter_reduce r = add ? NN_SCATTER_ADD : reduce_opt(L, 5, fname);
  nn_tensor *idx = idx_arg(L, 3, size_at(t, d), d, fname);
  nn_tensor *src = src_arg(L, 4, t, idx, fname);
  if (inplace) {
    lunet_check(L, nn_scatter_(lunet_ctx(L), t, d, idx, src, r));
    lua_settop(L, 1);
    return 1;
  }
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_scatter(lunet_ctx(L), t, d, idx, src, r, &b->t));
  return 1;
}
static int v_scatter(lua_State *L) { return scatter(L, "scatter", false, false); }
static int v_scatter_(lua_State *L) { return scatter(L, "scatter_", false, true); }
static int v_scatter_add(lua_State *L) { return scatter(L, "scatter_add", true, false); }
static int v_scatter_add_(lua_State *L) { return scatter(L, "scatter_add_", true, true); }

/* index_add(dim, idx, src [, {alpha}]), index_copy(dim, idx, src), index_fill(dim, idx, v) */
typedef enum { IX_ADD, IX_COPY, IX_FILL } ix_kind;
static int index_op(lua_State *L, ix_kind k, bool inplace, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  lua_settop(L, 5);
  nn_ctx *ctx = lunet_ctx(L);
  int d = wrapdim(L, t, lunet_checkdim(L, 2, fname), fname);
  nn_tensor *idx = idx_arg(L, 3, size_at(t, d), d, fname);
  nn_tensor *src = NULL;
  double v = 0, alpha = 1;
  nn_status s;
  if (k == IX_FILL) v = value_arg(L, 4, fname);
  else src = checkt(L, 4);
  if (k == IX_ADD && lua_type(L, 5) == LUA_TTABLE) {
    if (lua_getfield(L, 5, "alpha") != LUA_TNIL) alpha = luaL_checknumber(L, -1);
    lua_pop(L, 1);
  } else {
    check_opts(L, 5, fname);
  }
  LTensor *b = inplace ? NULL : lunet_newbox(L);
  nn_tensor **o = b ? &b->t : NULL;
  switch (k) {
    case IX_ADD: s = inplace ? nn_index_add_(ctx, t, d, idx, src, alpha) : nn_index_add(ctx, t, d, idx, src, alpha, o); break;
    case IX_COPY: s = inplace ? nn_index_copy_(ctx, t, d, idx, src) : nn_index_copy(ctx, t, d, idx, src, o); break;
    default: s = inplace ? nn_index_fill_(ctx, t, d, idx, v) : nn_index_fill(ctx, t, d, idx, v, o); break;
  }
  lunet_check(L, s);
  if (inplace) lua_settop(L, 1);
  return 1;
}
static int v_index_add(lua_State *L) { return index_op(L, IX_ADD, false, "index_add"); }
static int v_index_add_(lua_State *L) { return index_op(L, IX_ADD, true, "index_add_"); }
static int v_index_copy(lua_State *L) { return index_op(L, IX_COPY, false, "index_copy"); }
static int v_index_copy_(lua_State *L) { return index_op(L, IX_COPY, true, "index_copy_"); }
static int v_index_fill(lua_State *L) { return index_op(L, IX_FILL, false, "index_fill"); }
static int v_index_fill_(lua_State *L) { return index_op(L, IX_FILL, true, "index_fill_"); }

/* take(idx): indices into the flattened tensor */
static int v_take(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  lua_settop(L, 2);
  nn_tensor *idx = idx_arg(L, 2, nn_tensor_numel(t), 0, "take");
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_take(lunet_ctx(L), t, idx, &b->t));
  return 1;
}

/* ---- masks ------------------------------------------------------------------------------------ */

/* masked_fill(mask, v): v a number or a 0-d tensor */
static int v_masked_fill(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *m = checkt(L, 2);
  LTensor *b;
  if (lua_type(L, 3) == LUA_TNUMBER) {
    double v = lua_tonumber(L, 3);
    b = lunet_newbox(L);
    lunet_check(L, nn_masked_fills(lunet_ctx(L), t, m, v, &b->t));
  } else {
    nn_tensor *v = testt(L, 3);
    if (!v) return luaL_error(L, "masked_fill: value must be a number or a 0-d tensor, got %s", luaL_typename(L, 3));
    b = lunet_newbox(L);
    lunet_check(L, nn_masked_fill(lunet_ctx(L), t, m, v, &b->t));
  }
  return 1;
}
static int v_masked_fill_(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *m = checkt(L, 2);
  double v = value_arg(L, 3, "masked_fill_");
  lunet_check(L, nn_masked_fill_(lunet_ctx(L), t, m, v));
  lua_settop(L, 1);
  return 1;
}
static int v_masked_select(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *m = checkt(L, 2);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_masked_select(lunet_ctx(L), t, m, &b->t));
  return 1;
}
static int v_masked_scatter(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *m = checkt(L, 2), *src = checkt(L, 3);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_masked_scatter(lunet_ctx(L), t, m, src, &b->t));
  return 1;
}
static int v_masked_scatter_(lua_State *L) {
  nn_tensor *t = checkt(L, 1), *m = checkt(L, 2), *src = checkt(L, 3);
  lunet_check(L, nn_masked_scatter_(lunet_ctx(L), t, m, src));
  lua_settop(L, 1);
  return 1;
}

/* ---- sorting and selection --------------------------------------------------------------- */

typedef nn_status (*vi_fn)(nn_ctx *, nn_tensor *, int, bool, nn_tensor **, nn_tensor **);

/* pushes values and 1-based indices */
static int push_vi(lua_State *L, nn_status (*run)(lua_State *, void *, nn_tensor **, nn_tensor **), void *arg) {
  LTensor *v = lunet_newbox(L);
  int at = lua_gettop(L) + 1;
  LTensor *i = lunet_newbox(L);
  lunet_check(L, run(L, arg, &v->t, &i->t));
  plus1(L, at);
  return 2;
}

typedef struct { nn_tensor *t; int dim; int64_t k; bool flag, keep; vi_fn f; } vi_args;
static nn_status run_sort(lua_State *L, void *p, nn_tensor **v, nn_tensor **i) {
  vi_args *a = p;
  return nn_sort(lunet_ctx(L), a->t, a->dim, a->flag, v, i);
}
static nn_status run_topk(lua_State *L, void *p, nn_tensor **v, nn_tensor **i) {
  vi_args *a = p;
  return nn_topk(lunet_ctx(L), a->t, a->k, a->dim, a->flag, v, i);
}
static nn_status run_kth(lua_State *L, void *p, nn_tensor **v, nn_tensor **i) {
  vi_args *a = p;
  return nn_kthvalue(lunet_ctx(L), a->t, a->k, a->dim, a->keep, v, i);
}
static nn_status run_vi(lua_State *L, void *p, nn_tensor **v, nn_tensor **i) {
  vi_args *a = p;
  return a->f(lunet_ctx(L), a->t, a->dim, a->keep, v, i);
}

/* sort([dim [, descending | {descending, stable}]]) -> values, indices; argsort: indices only */
static int sort_common(lua_State *L, bool arg_only, const char *fname) {
  vi_args a = {checkt(L, 1), -1, 0, false, false, NULL};
  int opts = 3;
  if (lua_type(L, 2) == LUA_TTABLE) opts = 2;
  else a.dim = dim_opt(L, 2, -1, fname);
  if (lua_type(L, opts) == LUA_TBOOLEAN) a.flag = lua_toboolean(L, opts);
  else { check_opts(L, opts, fname); a.flag = opt_bool(L, opts, "descending", false, fname);
         (void)opt_bool(L, opts, "stable", true, fname); }          /* always stable */
  if (lua_type(L, opts) == LUA_TTABLE && lua_getfield(L, opts, "dim") != LUA_TNIL) a.dim = lunet_checkdim(L, -1, fname);
  lua_settop(L, 3);
  if (!arg_only) return push_vi(L, run_sort, &a);
  LTensor *i = lunet_newbox(L);
  lunet_check(L, nn_sort(lunet_ctx(L), a.t, a.dim, a.flag, NULL, &i->t));
  plus1(L, -1);
  return 1;
}
static int v_sort(lua_State *L) { return sort_common(L, false, "sort"); }
static int v_argsort(lua_State *L) { return sort_common(L, true, "argsort"); }

/* topk(k [, dim [, largest [, sorted]]]) or topk(k, {dim = -1, largest = true, sorted = true}) */
static int v_topk(lua_State *L) {
  vi_args a = {checkt(L, 1), -1, (int64_t)luaL_checkinteger(L, 2), true, false, NULL};
  if (lua_type(L, 3) == LUA_TTABLE) {
    if (lua_getfield(L, 3, "dim") != LUA_TNIL) a.dim = lunet_checkdim(L, -1, "topk");
    lua_pop(L, 1);
    a.flag = opt_bool(L, 3, "largest", true, "topk");
    (void)opt_bool(L, 3, "sorted", true, "topk");                    /* always sorted */
  } else {
    a.dim = dim_opt(L, 3, -1, "topk");
    if (!lua_isnoneornil(L, 4)) { luaL_checktype(L, 4, LUA_TBOOLEAN); a.flag = lua_toboolean(L, 4); }
  }
  lua_settop(L, 4);
  return push_vi(L, run_topk, &a);
}

static bool keep_arg(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return false;
  luaL_checktype(L, arg, LUA_TBOOLEAN);
  return lua_toboolean(L, arg);
}

/* kthvalue(k [, dim = -1 [, keepdim]]) */
static int v_kthvalue(lua_State *L) {
  vi_args a = {checkt(L, 1), 0, (int64_t)luaL_checkinteger(L, 2), false, false, NULL};
  a.dim = dim_opt(L, 3, -1, "kthvalue");
  a.keep = keep_arg(L, 4);
  lua_settop(L, 4);
  return push_vi(L, run_kth, &a);
}

/* median(): the 0-d lower median; median(dim [, keepdim]) -> values, indices */
static int v_median(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  if (lua_isnoneornil(L, 2)) {
    LTensor *v = lunet_newbox(L);
    lunet_check(L, nn_median(lunet_ctx(L), t, NN_ALL, false, &v->t, NULL));
    return 1;
  }
  vi_args a = {t, lunet_checkdim(L, 2, "median"), 0, false, keep_arg(L, 3), nn_median};
  lua_settop(L, 3);
  return push_vi(L, run_vi, &a);
}
/* mode([dim = -1 [, keepdim]]) -> values, indices */
static int v_mode(lua_State *L) {
  vi_args a = {checkt(L, 1), dim_opt(L, 2, -1, "mode"), 0, false, keep_arg(L, 3), nn_mode};
  lua_settop(L, 3);
  return push_vi(L, run_vi, &a);
}

/* unique([{sorted = true, return_inverse, return_counts}]) -> values [, inverse] [, counts] */
static int v_unique(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  check_opts(L, 2, "unique");
  if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "dim") != LUA_TNIL)
    return luaL_error(L, "unique: the dim option is not supported (unique works on the flattened tensor)");
  bool inv = opt_bool(L, 2, "return_inverse", false, "unique"), cnt = opt_bool(L, 2, "return_counts", false, "unique");
  (void)opt_bool(L, 2, "sorted", true, "unique");                     /* always sorted */
  lua_settop(L, 2);
  LTensor *u = lunet_newbox(L), *i = lunet_newbox(L), *c = lunet_newbox(L);
  lunet_check(L, nn_unique(lunet_ctx(L), t, &u->t, &i->t, &c->t));
  plus1(L, 4);
  if (!cnt) lua_pop(L, 1);
  if (!inv) lua_remove(L, 4);
  return 1 + inv + cnt;
}

/* nonzero([{as_tuple}]): [count, ndim] 1-based coordinates, or a list of ndim 1-D tensors */
static int v_nonzero(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  check_opts(L, 2, "nonzero");
  bool tuple = opt_bool(L, 2, "as_tuple", false, "nonzero");
  lua_settop(L, 2);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_nonzero(lunet_ctx(L), t, &b->t));
  plus1(L, 3);
  if (!tuple) return 1;
  int nd = nn_tensor_ndim(t);
  lua_createtable(L, nd, 0);
  for (int d = 0; d < nd; d++) {
    LTensor *c = lunet_newbox(L);
    lunet_check(L, nn_select(lunet_ctx(L), b->t, 1, d, &c->t));
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

/* ---- scans and reductions -------------------------------------------------------------------- */

typedef nn_status (*scan_fn)(nn_ctx *, nn_tensor *, int, nn_tensor **);
static int scan(lua_State *L, scan_fn f, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  int d = lunet_checkdim(L, 2, fname);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, f(lunet_ctx(L), t, d, &b->t));
  return 1;
}
static int v_cumsum(lua_State *L) { return scan(L, nn_cumsum, "cumsum"); }
static int v_cumprod(lua_State *L) { return scan(L, nn_cumprod, "cumprod"); }

typedef nn_status (*cumext_fn)(nn_ctx *, nn_tensor *, int, nn_tensor **, nn_tensor **);
typedef struct { nn_tensor *t; int dim; cumext_fn f; } ce_args;
static nn_status run_ce(lua_State *L, void *p, nn_tensor **v, nn_tensor **i) {
  ce_args *a = p;
  return a->f(lunet_ctx(L), a->t, a->dim, v, i);
}
static int cumext(lua_State *L, cumext_fn f, const char *fname) {
  ce_args a = {checkt(L, 1), lunet_checkdim(L, 2, fname), f};
  lua_settop(L, 2);
  return push_vi(L, run_ce, &a);
}
static int v_cummax(lua_State *L) { return cumext(L, nn_cummax, "cummax"); }
static int v_cummin(lua_State *L) { return cumext(L, nn_cummin, "cummin"); }

typedef nn_status (*red_fn)(nn_ctx *, nn_tensor *, int, bool, nn_tensor **);
/* f([dim [, keepdim]]) */
static int reduce(lua_State *L, red_fn f, const char *fname) {
  nn_tensor *t = checkt(L, 1);
  int d = dim_opt(L, 2, NN_ALL, fname);
  bool keep = keep_arg(L, 3);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, f(lunet_ctx(L), t, d, keep, &b->t));
  return 1;
}
static int v_all(lua_State *L) { return reduce(L, nn_all, "all"); }
static int v_any(lua_State *L) { return reduce(L, nn_any, "any"); }
static int v_logsumexp(lua_State *L) {
  if (lua_isnoneornil(L, 2)) return luaL_error(L, "logsumexp: a dim is required (logsumexp(dim [, keepdim]))");
  return reduce(L, nn_logsumexp, "logsumexp");
}
static int v_count_nonzero(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = dim_opt(L, 2, NN_ALL, "count_nonzero");
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_count_nonzero(lunet_ctx(L), t, d, &b->t));
  return 1;
}

/* norm([p [, dim [, keepdim]]]): p a number (math.huge, -math.huge) or "fro"; 2 by default */
static int v_norm(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  double p = 2;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    if (strcmp(s, "fro") && strcmp(s, "inf") && strcmp(s, "-inf"))
      return luaL_error(L, "norm: p must be a number, \"fro\", \"inf\" or \"-inf\", got \"%s\"", s);
    p = !strcmp(s, "fro") ? 2 : s[0] == '-' ? -INFINITY : INFINITY;
  } else if (!lua_isnoneornil(L, 2)) {
    p = luaL_checknumber(L, 2);
  }
  int d = dim_opt(L, 3, NN_ALL, "norm");
  bool keep = keep_arg(L, 4);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_norm(lunet_ctx(L), t, p, d, keep, &b->t));
  return 1;
}

/* aminmax([{dim, keepdim}]) -> min, max */
static int v_aminmax(lua_State *L) {
  nn_tensor *t = checkt(L, 1);
  int d = NN_ALL;
  check_opts(L, 2, "aminmax");
  if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "dim") != LUA_TNIL) d = lunet_checkdim(L, -1, "aminmax");
  bool keep = opt_bool(L, 2, "keepdim", false, "aminmax");
  lua_settop(L, 2);
  LTensor *lo = lunet_newbox(L), *hi = lunet_newbox(L);
  lunet_check(L, nn_aminmax(lunet_ctx(L), t, d, keep, &lo->t, &hi->t));
  return 2;
}

/* ---- registration ---------------------------------------------------------------------------- */

static const luaL_Reg vocab[] = {
  {"gather", v_gather}, {"scatter", v_scatter}, {"scatter_", v_scatter_}, {"scatter_add", v_scatter_add},
  {"scatter_add_", v_scatter_add_}, {"index_add", v_index_add}, {"index_add_", v_index_add_},
  {"index_copy", v_index_copy}, {"index_copy_", v_index_copy_}, {"index_fill", v_index_fill},
  {"index_fill_", v_index_fill_}, {"take", v_take},
  {"masked_fill", v_masked_fill}, {"masked_fill_", v_masked_fill_}, {"masked_select", v_masked_select},
  {"masked_scatter", v_masked_scatter}, {"masked_scatter_", v_masked_scatter_},
  {"sort", v_sort}, {"argsort", v_argsort}, {"topk", v_topk}, {"kthvalue", v_kthvalue},
  {"median", v_median}, {"mode", v_mode}, {"unique", v_unique}, {"nonzero", v_nonzero},
  {"cumsum", v_cumsum}, {"cumprod", v_cumprod}, {"cummax", v_cummax}, {"cummin", v_cummin},
  {"all", v_all}, {"any", v_any}, {"logsumexp", v_logsumexp}, {"count_nonzero", v_count_nonzero},
  {"norm", v_norm}, {"aminmax", v_aminmax},
  {NULL, NULL}
};

/* Each function of the list into the methods table and into the module (lunet.gather(t, ...)) */
void lunet_open_vocab(lua_State *L, int mod, int methods) {
  mod = lua_absindex(L, mod);
  methods = lua_absindex(L, methods);
  for (const luaL_Reg *r = vocab; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_pushvalue(L, -1);
    lua_setfield(L, methods, r->name);
    lua_setfield(L, mod, r->name);
  }
}
