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

static const luaL_Reg functions[] = {
  {NULL, NULL}
};

/* Module table on top: the functions go straight into lunet. */
void lunet_open_nnops(lua_State *L) {
  (void)sizes_arg;
  luaL_setfuncs(L, functions, 0);
}
