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

/* ---- sequence models (ops_rnn.c) ---------------------------------------------------------- */

/* embedding(ids, weight [, padding_idx]): ids int64 1-based of any shape; a 0 or an id past the
   rows is an error that says ids are 1-based */
static int f_embedding(lua_State *L) {
  nn_tensor *ids = lunet_checktensor(L, 1), *w = lunet_checktensor(L, 2);
  nn_ctx *ctx = lunet_ctx(L);
  lua_Integer pad = luaL_optinteger(L, 3, 0);   /* 0: none */
  if (nn_tensor_ndim(w) != 2) return luaL_error(L, "embedding: weight must be 2-D [num, dim]");
  int64_t rows = nn_tensor_shape(w)[0];
  if (pad < 0 || pad > rows)
    return luaL_error(L, "embedding: padding_idx %I is out of range for %I rows (1..%I)",
                      pad, (lua_Integer)rows, (lua_Integer)rows);
  if (nn_tensor_dtype(ids) != NN_I64)
    return luaL_error(L, "embedding: ids must be int64 (1-based), got %s; convert with :long()",
                      nn_dtype_name(nn_tensor_dtype(ids)));
  LTensor *r = lunet_newbox(L);
  nn_tensor *c, *ids0 = NULL;
  lunet_check(L, nn_contiguous(ctx, ids, &c));
  const int64_t *id = nn_tensor_data(c);
  for (int64_t i = 0, n = nn_tensor_numel(c); i < n; i++)
    if (id[i] < 1 || id[i] > rows) {
      lua_Integer bad = (lua_Integer)id[i];
      nn_tensor_release(c);
      return luaL_error(L, "embedding: id %I is out of range for %I rows (ids are 1-based: "
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
  {NULL, NULL}
};

/* Module table on top: the functions go straight into lunet. */
void lunet_open_nnops(lua_State *L) {
  (void)sizes_arg;
  luaL_setfuncs(L, functions, 0);
}
