/* lnnops.c — the functional neural-network ops on tensors: convolution, pooling,
   normalization, embedding and the recurrent steps (lunet.conv2d, lunet.max_pool2d,
   lunet.batch_norm, …). They take and return tensors, so they live beside ltensor.c rather
   than in it; the layers built on them are Lua classes (bindings/lua/lunet/nn_*.lua).

   Sizes given as a number or a table {h, w} (PyTorch's int-or-tuple) are read by sizes_arg,
   the one converter of such options here. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lunet_impl.h"

/* Reads opts[field] (the table at opts, or nil) as n sizes: a number (repeated n times) or a
   table of n integers; def when absent. Each value must be >= lo. */
static void sizes_arg(lua_State *L, int opts, const char *field, int n, int64_t *out,
                      int64_t def, int64_t lo, const char *fname) {
  int i;
  for (i = 0; i < n; i++) out[i] = def;
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  int ty = lua_getfield(L, opts, field);
  if (ty == LUA_TNIL) { lua_pop(L, 1); return; }
  for (i = 0; i < n; i++) {
    int isnum;
    lua_Integer v;
    if (ty == LUA_TTABLE) {
      if (lua_rawlen(L, -1) != (size_t)n)
        luaL_error(L, "%s: %s must be a number or a table of %d numbers, got a table of %d",
                   fname, field, n, (int)lua_rawlen(L, -1));
      lua_rawgeti(L, -1, i + 1);
      v = lua_tointegerx(L, -1, &isnum);
      lua_pop(L, 1);
    } else {
      v = lua_tointegerx(L, -1, &isnum);
    }
    if (!isnum)
      luaL_error(L, "%s: %s must be an integer or a table of %d integers", fname, field, n);
    if (v < lo)
      luaL_error(L, "%s: %s must be >= %d, got %d", fname, field, (int)lo, (int)v);
    out[i] = v;
  }
  lua_pop(L, 1);
}

/* ---- convolution and max pooling (runtime/ops_conv.c, ops_pool.c) -------------------------- */

/* conv options from the table at opts for an op over n spatial dims of weight w: stride,
   padding (sizes, "valid", or "same" — stride 1 only; an even kernel's extra zero goes after),
   dilation, groups, and output_padding when transposed */
static void conv_opts_arg(lua_State *L, int opts, int n, nn_tensor *w, bool transposed,
                          nn_conv_opts *o, const char *fname) {
  int64_t v[2];
  *o = (nn_conv_opts){.groups = 1};
  sizes_arg(L, opts, "stride", n, o->stride, 1, 1, fname);
  sizes_arg(L, opts, "dilation", n, o->dilation, 1, 1, fname);
  if (transposed) sizes_arg(L, opts, "output_padding", n, o->output_padding, 0, 0, fname);
  sizes_arg(L, opts, "groups", 1, v, 1, 1, fname);
  o->groups = v[0];
  if (!lua_isnoneornil(L, opts) && lua_getfield(L, opts, "padding") == LUA_TSTRING) {
    const char *p = lua_tostring(L, -1);
    bool same = strcmp(p, "same") == 0;
    if (!same && strcmp(p, "valid") != 0)
      luaL_error(L, "%s: padding must be a number, a table of %d numbers, \"same\" or \"valid\", "
                 "got \"%s\"", fname, n, p);
    for (int i = 0; same && i < n; i++) {
      const int64_t *ks = nn_tensor_shape(w);
      int64_t k = ks[nn_tensor_ndim(w) - n + i], total;
      if (o->stride[i] != 1)
        luaL_error(L, "%s: padding \"same\" needs stride 1, got %d", fname, (int)o->stride[i]);
      if (__builtin_mul_overflow(o->dilation[i], k - 1, &total))
        luaL_error(L, "%s: dilation too large", fname);
      o->padding[i] = total / 2;
      o->padding_extra[i] = total % 2;
    }
    lua_pop(L, 1);
  } else {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    sizes_arg(L, opts, "padding", n, o->padding, 0, 0, fname);
  }
}

typedef nn_status (*conv_fn)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, const nn_conv_opts *,
                             nn_tensor **);

/* conv1d/conv2d/conv_transpose2d(x, w [, b [, opts]]) */
static int conv_call(lua_State *L, conv_fn f, int n, bool transposed, const char *fname) {
  nn_tensor *x = lunet_checktensor(L, 1), *w = lunet_checktensor(L, 2);
  nn_tensor *b = lua_isnoneornil(L, 3) ? NULL : lunet_checktensor(L, 3);
  nn_conv_opts o;
  conv_opts_arg(L, 4, n, w, transposed, &o, fname);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, f(lunet_ctx(L), x, w, b, &o, &r->t));
  lunet_gcstep(L);
  return 1;
}
static int m_conv1d(lua_State *L) { return conv_call(L, nn_conv1d, 1, false, "conv1d"); }
static int m_conv2d(lua_State *L) { return conv_call(L, nn_conv2d, 2, false, "conv2d"); }
static int m_conv_transpose2d(lua_State *L) {
  return conv_call(L, nn_conv_transpose2d, 2, true, "conv_transpose2d");
}

/* max_pool1d/2d(x, kernel [, {stride = kernel, padding = 0, dilation = 1, ceil_mode = false,
   return_indices = false}]) -> y [, 1-based int64 positions in each plane] */
static int max_pool_call(lua_State *L, int n, const char *fname) {
  nn_tensor *x = lunet_checktensor(L, 1);
  nn_pool_opts o = {0};
  lua_settop(L, 3);
  lua_newtable(L);                         /* {kernel = arg 2}: sizes_arg reads fields */
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "kernel");
  sizes_arg(L, 4, "kernel", n, o.kernel, 0, 1, fname);
  lua_pop(L, 1);
  sizes_arg(L, 3, "stride", n, o.stride, 0, 1, fname);   /* absent (0): the kernel */
  sizes_arg(L, 3, "padding", n, o.padding, 0, 0, fname);
  sizes_arg(L, 3, "dilation", n, o.dilation, 1, 1, fname);
  bool ret = false;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "ceil_mode"); o.ceil_mode = lua_toboolean(L, -1);
    lua_getfield(L, 3, "return_indices"); ret = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  if (lua_isnoneornil(L, 2)) luaL_error(L, "%s: kernel size expected", fname);
  LTensor *y = lunet_newbox(L), *i = ret ? lunet_newbox(L) : NULL;
  lunet_check(L, (n == 1 ? nn_max_pool1d : nn_max_pool2d)(lunet_ctx(L), x, &o, &y->t,
                                                         i ? &i->t : NULL));
  if (i) {                                 /* 1-based, as every index at the Lua boundary */
    nn_tensor *z = i->t;
    nn_status s = nn_adds(lunet_ctx(L), z, 1, &i->t);
    if (s) i->t = z; else nn_tensor_release(z);
    lunet_check(L, s);
  }
  lunet_gcstep(L);
  return ret ? 2 : 1;
}
static int m_max_pool1d(lua_State *L) { return max_pool_call(L, 1, "max_pool1d"); }
static int m_max_pool2d(lua_State *L) { return max_pool_call(L, 2, "max_pool2d"); }

/* ---- normalization, average/adaptive pooling, interpolation (ops_norm.c, ops_resample.c) ---- */

/* The sizes at argument idx (a number or a table of n), named what in messages */
static void sizes_at(lua_State *L, int idx, const char *what, int n, int64_t *out, const char *fname) {
  if (lua_isnoneornil(L, idx)) luaL_error(L, "%s: %s expected", fname, what);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, what);
  sizes_arg(L, lua_gettop(L), what, n, out, 0, 1, fname);
  lua_pop(L, 1);
}

/* opts[field] as a boolean (def when opts or the field is nil) */
static bool bool_field(lua_State *L, int opts, const char *field, bool def) {
  if (!lua_istable(L, opts)) return def;
  int ty = lua_getfield(L, opts, field);
  bool v = ty == LUA_TNIL ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* avg_pool1d/2d(x, kernel [, {stride = kernel, padding = 0, ceil_mode = false,
   count_include_pad = true, divisor_override (2-d)}]) */
static int avg_pool_call(lua_State *L, int n, const char *fname) {
  nn_tensor *x = lunet_checktensor(L, 1);
  int64_t k[2], st[2], pad[2], div = 0;
  sizes_at(L, 2, "kernel_size", n, k, fname);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  sizes_arg(L, 3, "stride", n, st, 0, 1, fname);
  if (st[0] == 0) memcpy(st, k, sizeof st);   /* absent: the kernel size */
  sizes_arg(L, 3, "padding", n, pad, 0, 0, fname);
  if (n == 2) sizes_arg(L, 3, "divisor_override", 1, &div, 0, 1, fname);
  bool ceil_mode = bool_field(L, 3, "ceil_mode", false), cip = bool_field(L, 3, "count_include_pad", true);
  LTensor *r = lunet_newbox(L);
  nn_ctx *ctx = lunet_ctx(L);
  lunet_check(L, n == 1 ? nn_avg_pool1d(ctx, x, k[0], st[0], pad[0], ceil_mode, cip, &r->t)
                        : nn_avg_pool2d(ctx, x, k, st, pad, ceil_mode, cip, div, &r->t));
  lunet_gcstep(L);
  return 1;
}
static int m_avg_pool1d(lua_State *L) { return avg_pool_call(L, 1, "avg_pool1d"); }
static int m_avg_pool2d(lua_State *L) { return avg_pool_call(L, 2, "avg_pool2d"); }

/* adaptive_avg_pool2d(x, output_size) */
static int m_adaptive_avg_pool2d(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  int64_t size[2];
  sizes_at(L, 2, "output_size", 2, size, "adaptive_avg_pool2d");
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_adaptive_avg_pool2d(lunet_ctx(L), x, size, &r->t));
  lunet_gcstep(L);
  return 1;
}

/* adaptive_max_pool2d(x, output_size [, return_indices]) -> y [, 1-based int64 positions in
   each plane] */
static int m_adaptive_max_pool2d(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  int64_t size[2];
  sizes_at(L, 2, "output_size", 2, size, "adaptive_max_pool2d");
  bool ret = lua_toboolean(L, 3);
  LTensor *y = lunet_newbox(L), *i = ret ? lunet_newbox(L) : NULL;
  nn_ctx *ctx = lunet_ctx(L);
  lunet_check(L, nn_adaptive_max_pool2d(ctx, x, size, &y->t, i ? &i->t : NULL));
  if (i) {                                 /* 1-based, as every index at the Lua boundary */
    nn_tensor *z = i->t;
    nn_status s = nn_adds(ctx, z, 1, &i->t);
    if (s) i->t = z; else nn_tensor_release(z);
    lunet_check(L, s);
  }
  lunet_gcstep(L);
  return ret ? 2 : 1;
}

/* opts.scale_factor as n positive numbers (a number or a table of n); false when absent */
static bool scales_field(lua_State *L, int opts, int n, double *out, const char *fname) {
  int ty = lua_getfield(L, opts, "scale_factor");
  if (ty == LUA_TNIL) { lua_pop(L, 1); return false; }
  for (int i = 0; i < n; i++) {
    int isnum;
    if (ty == LUA_TTABLE) {
      if (lua_rawlen(L, -1) != (size_t)n)
        luaL_error(L, "%s: scale_factor must be a number or a table of %d numbers", fname, n);
      lua_rawgeti(L, -1, i + 1);
      out[i] = lua_tonumberx(L, -1, &isnum);
      lua_pop(L, 1);
    } else {
      out[i] = lua_tonumberx(L, -1, &isnum);
    }
    if (!isnum || !(out[i] > 0))
      luaL_error(L, "%s: scale_factor must be a positive number or a table of %d of them", fname, n);
  }
  lua_pop(L, 1);
  return true;
}

/* interpolate(x, {size | scale_factor, mode = "nearest" | "linear" (3-d) | "bilinear" (4-d),
   align_corners}) */
static int m_interpolate(lua_State *L) {
  const char *fname = "interpolate";
  nn_tensor *x = lunet_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int nd = nn_tensor_ndim(x), n = nd == 4 ? 2 : 1;
  lua_getfield(L, 2, "mode");
  const char *mode = luaL_optstring(L, -1, "nearest");
  bool nearest = strcmp(mode, "nearest") == 0;
  if (!nearest && strcmp(mode, "linear") && strcmp(mode, "bilinear"))
    luaL_error(L, "%s: mode must be \"nearest\", \"linear\" or \"bilinear\", got \"%s\"", fname, mode);
  if (!nearest && (strcmp(mode, "linear") == 0) != (nd == 3))
    luaL_error(L, "%s: mode \"%s\" needs a %s input, got %d dims", fname, mode,
               nd == 3 ? "4-d (bilinear)" : "3-d (linear)", nd);
  lua_getfield(L, 2, "align_corners");
  if (nearest && !lua_isnil(L, -1))
    luaL_error(L, "%s: align_corners can only be set with the linear modes", fname);
  bool align = lua_toboolean(L, -1);
  lua_pop(L, 2);
  int64_t size[2];
  double scale[2];
  bool has_scale = scales_field(L, 2, n, scale, fname);
  lua_getfield(L, 2, "size");
  bool has_size = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (has_size == has_scale)
    luaL_error(L, "%s: give either size or scale_factor%s", fname, has_size ? ", not both" : "");
  if (has_size) sizes_arg(L, 2, "size", n, size, 0, 1, fname);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_interpolate(lunet_ctx(L), x, has_size ? size : NULL, has_scale ? scale : NULL,
                                nearest ? NN_INTERP_NEAREST : NN_INTERP_LINEAR, align, &r->t));
  lunet_gcstep(L);
  return 1;
}

static nn_tensor *opt_tensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lunet_checktensor(L, idx);
}

/* batch_norm(x, running_mean, running_var [, weight, bias, training = false, momentum = 0.1,
   eps = 1e-5]), as torch.nn.functional.batch_norm */
static int m_batch_norm(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1), *rm = opt_tensor(L, 2), *rv = opt_tensor(L, 3);
  nn_tensor *w = opt_tensor(L, 4), *b = opt_tensor(L, 5);
  bool training = lua_toboolean(L, 6);
  double momentum = luaL_optnumber(L, 7, 0.1), eps = luaL_optnumber(L, 8, 1e-5);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_batch_norm(lunet_ctx(L), x, rm, rv, w, b, training, momentum, eps, &r->t));
  lunet_gcstep(L);
  return 1;
}

/* layer_norm(x, normalized_shape [, weight, bias, eps = 1e-5]) */
static int m_layer_norm(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  int64_t shape[NN_MAX_DIMS];
  int nd;
  if (lua_istable(L, 2)) {
    size_t len = lua_rawlen(L, 2);
    if (len < 1 || len > NN_MAX_DIMS)
      luaL_error(L, "layer_norm: normalized_shape must have 1 to %d sizes, got %d", NN_MAX_DIMS, (int)len);
    nd = (int)len;
    for (int i = 0; i < nd; i++) {
      lua_rawgeti(L, 2, i + 1);
      int isnum;
      shape[i] = lua_tointegerx(L, -1, &isnum);
      if (!isnum) luaL_error(L, "layer_norm: normalized_shape must hold integers");
      lua_pop(L, 1);
    }
  } else {
    nd = 1;
    shape[0] = luaL_checkinteger(L, 2);
  }
  nn_tensor *w = opt_tensor(L, 3), *b = opt_tensor(L, 4);
  double eps = luaL_optnumber(L, 5, 1e-5);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_layer_norm(lunet_ctx(L), x, nd, shape, w, b, eps, &r->t));
  lunet_gcstep(L);
  return 1;
}

/* group_norm(x, num_groups [, weight, bias, eps = 1e-5]) */
static int m_group_norm(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  lua_Integer g = luaL_checkinteger(L, 2);
  nn_tensor *w = opt_tensor(L, 3), *b = opt_tensor(L, 4);
  double eps = luaL_optnumber(L, 5, 1e-5);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_group_norm(lunet_ctx(L), x, g, w, b, eps, &r->t));
  lunet_gcstep(L);
  return 1;
}

/* dropout2d(x, p = 0.5, training = true [, generator]) */
static int m_dropout2d(lua_State *L) {
  nn_tensor *x = lunet_checktensor(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  bool train = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  nn_rng *rng = lunet_optrng(L, 4);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_dropout2d(lunet_ctx(L), rng, x, p, train, &r->t));
  lunet_gcstep(L);
  return 1;
}

/* ---- sequence models (ops_rnn.c) ---------------------------------------------------------- */

/* embedding(ids, weight [, padding_idx]): ids int64 1-based of any shape; a 0 or an id past the
   rows is an error that says ids are 1-based */
static int f_embedding(lua_State *L) {
  nn_tensor *ids = lunet_checktensor(L, 1), *w = lunet_checktensor(L, 2);
  nn_ctx *ctx = lunet_ctx(L);
  lua_Integer pad = luaL_optinteger(L, 3, 0);   /* 0: none */
  if (nn_tensor_ndim(w) != 2) {
    char sw[96];
    nn_shape_str(w, sw, sizeof sw);
    return lunet_error(L, "embedding: weight must be 2-D [num, dim], got %s", sw);
  }
  int64_t rows = nn_tensor_shape(w)[0];
  if (pad < 0 || pad > rows)
    return lunet_error(L, "embedding: padding_idx %I is out of range for %I rows (1..%I)",
                       pad, (lua_Integer)rows, (lua_Integer)rows);
  if (nn_tensor_dtype(ids) != NN_I64)
    return lunet_error(L, "embedding: ids must be int64 (1-based), got %s; convert with :long()",
                       nn_dtype_name(nn_tensor_dtype(ids)));
  LTensor *r = lunet_newbox(L);
  nn_tensor *c, *ids0 = NULL;
  lunet_check(L, nn_contiguous(ctx, ids, &c));
  const int64_t *id = nn_tensor_data(c);
  for (int64_t i = 0, n = nn_tensor_numel(c); i < n; i++)
    if (id[i] < 1 || id[i] > rows) {
      lua_Integer bad = (lua_Integer)id[i];
      nn_tensor_release(c);
      return lunet_error(L, "embedding: id %I is out of range for %I rows (ids are 1-based: "
                         "1..%I%s)", bad, (lua_Integer)rows, (lua_Integer)rows,
                         bad == 0 ? "; 0-based ids need + 1" : "");
    }
  nn_status s = nn_adds(ctx, c, -1.0, &ids0);
  nn_tensor_release(c);
  lunet_check(L, s);
  s = nn_embedding(ctx, ids0, w, (int64_t)pad - 1, &r->t);
  nn_tensor_release(ids0);
  lunet_check(L, s);
  return 1;
}

/* rnn_seq(mode, gx, w_hh [, b_hh, h0, c0, reverse]): mode "rnn_tanh" | "rnn_relu" | "lstm" | "gru" */
static int f_rnn_seq(lua_State *L) {
  static const char *const modes[] = {"rnn_tanh", "rnn_relu", "lstm", "gru", NULL};
  int mode = luaL_checkoption(L, 1, NULL, modes);
  nn_tensor *gx = lunet_checktensor(L, 2), *whh = lunet_checktensor(L, 3);
  nn_tensor *opt[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 3; i++)
    if (!lua_isnoneornil(L, 4 + i)) opt[i] = lunet_checktensor(L, 4 + i);
  bool reverse = lua_toboolean(L, 7);
  LTensor *r = lunet_newbox(L);
  lunet_check(L, nn_rnn_seq(lunet_ctx(L), (nn_rnn_mode)mode, gx, whh, opt[0], opt[1], opt[2],
                            reverse, &r->t));
  return 1;
}

static const luaL_Reg functions[] = {
  {"embedding", f_embedding},
  {"rnn_seq", f_rnn_seq},
  {"conv1d", m_conv1d}, {"conv2d", m_conv2d}, {"conv_transpose2d", m_conv_transpose2d},
  {"max_pool1d", m_max_pool1d}, {"max_pool2d", m_max_pool2d},
  {"avg_pool1d", m_avg_pool1d}, {"avg_pool2d", m_avg_pool2d},
  {"adaptive_avg_pool2d", m_adaptive_avg_pool2d}, {"adaptive_max_pool2d", m_adaptive_max_pool2d},
  {"interpolate", m_interpolate}, {"batch_norm", m_batch_norm}, {"layer_norm", m_layer_norm},
  {"group_norm", m_group_norm}, {"dropout2d", m_dropout2d},
  {NULL, NULL}
};

/* Module table on top: the functions go straight into lunet. */
void lunet_open_nnops(lua_State *L) {
  (void)sizes_arg;
  luaL_setfuncs(L, functions, 0);
}
