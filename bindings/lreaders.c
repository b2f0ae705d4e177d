/*
** lreaders.c — lunet._io.read_csv, read_idx, read_text and isatty: the C readers seen from Lua.
**
**   local t, names = lunet._io.read_csv(path, header, delimiter, dtype)
**   local t = lunet._io.read_idx(path, dtype)
**   local s = lunet._io.read_text(path)   -- the file's bytes as a Lua string
**   lunet._io.isatty(2)               -- is stderr a terminal? (progress bars)
**
** Misuse (a bad delimiter, an unknown dtype, a malformed file) raises. A file that cannot be
** opened or read returns nil, msg as luaL_fileresult does: lunet.data decides whether to raise.
*/
#include <string.h>
#include <unistd.h>

#include "lunet_impl.h"

/* nil, msg for an I/O failure (NN_ERR_IO); raises for anything else */
static int failure(lua_State *L, nn_status s) {
  if (s == NN_ERR_IO) {
    lua_pushnil(L);
    lua_pushstring(L, nn_ctx_errmsg(lunet_ctx(L)));
    return 2;
  }
  return lunet_check(L, s);
}

static int io_read_csv(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  bool header = lua_toboolean(L, 2);
  size_t dlen = 1;
  const char *delim = luaL_optlstring(L, 3, ",", &dlen);
  luaL_argcheck(L, dlen == 1, 3, "delimiter must be one character");
  nn_csv_opts o = {delim[0], header, lunet_checkdtype(L, 4, NN_F32)};
  nn_ctx *ctx = lunet_ctx(L);
  LTensor *box = lunet_newbox(L);
  char *names = NULL;
  int64_t ncols = 0;
  nn_status s = nn_read_csv(ctx, path, &o, &box->t, header ? &names : NULL, &ncols);
  if (s != NN_OK) return failure(L, s);
  lunet_gcstep(L);
  if (!header) return 1;
  /* anchor the names in one Lua string first, so that a memory error cannot leak them */
  size_t len = 0;
  for (int64_t c = 0; c < ncols; c++) len += strlen(names + len) + 1;
  lua_pushlstring(L, names, len);  /* may raise: then names leak once (a few bytes) */
  nn_free(ctx, names);
  const char *all = lua_tostring(L, -1);
  lua_createtable(L, ncols > INT32_MAX ? 0 : (int)ncols, 0);
  size_t at = 0;
  for (int64_t c = 0; c < ncols; c++) {
    lua_pushstring(L, all + at);
    lua_rawseti(L, -2, (lua_Integer)c + 1);
    at += strlen(all + at) + 1;
  }
  lua_remove(L, -2);               /* the joined string */
  return 2;
}

static int io_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  nn_dtype dt = lunet_checkdtype(L, 2, NN_F32);
  LTensor *box = lunet_newbox(L);
  nn_status s = nn_read_idx(lunet_ctx(L), path, dt, &box->t);
  if (s != NN_OK) return failure(L, s);
  lunet_gcstep(L);
  return 1;
}

static int io_read_text(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  nn_ctx *ctx = lunet_ctx(L);
  char *text = NULL;
  size_t len = 0;
  nn_status s = nn_read_text(ctx, path, &text, &len);
  if (s != NN_OK) return failure(L, s);
  lua_pushlstring(L, text, len);   /* may raise out of memory: then text leaks once */
  nn_free(ctx, text);
  return 1;
}

static int io_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
  lua_pushboolean(L, isatty((int)fd) == 1);
  return 1;
}

static const luaL_Reg io_funcs[] = {
  {"read_csv", io_read_csv},
  {"read_idx", io_read_idx},
  {"read_text", io_read_text},
  {"isatty", io_isatty},
  {NULL, NULL}
};

/* With the module table on top: fills lunet._io (shared with lio.c), creating it if absent. */
void lunet_open_readers(lua_State *L) {
  if (lua_getfield(L, -1, "_io") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "_io");
  }
  luaL_setfuncs(L, io_funcs, 0);
  lua_pop(L, 1);
}
