/*
** lunet.h — embedding Lunet in a host that runs Lua 5.4.
**
**   lua_State *L = luaL_newstate();
**   luaL_openlibs(L);
**   luaL_requiref(L, "lunet", luaopen_lunet, 0); lua_pop(L, 1);  // or package.preload
**   float buf[6] = {1, 2, 3, 4, 5, 6};
**   int64_t shape[2] = {2, 3};
**   lunet_wrap(L, NN_F32, 2, shape, buf, NULL, NULL);   // a tensor over buf, no copy
**   lua_setglobal(L, "X");
**   if (luaL_dostring(L, script) != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
**
** Run Lua code from the host only through lua_pcall (luaL_dostring, luaL_dofile use it): a
** Lunet error is a Lua error, and an unprotected one would longjmp across the host's frames.
** Each lua_State gets its own nn_ctx, so two threads with two states never share state.
*/
#ifndef LUNET_H
#define LUNET_H

#include <lua.h>
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LUNET_TENSOR "lunet.Tensor"     /* metatable name of tensor userdata */

NN_API int luaopen_lunet(lua_State *L);              /* the module table */
NN_API nn_ctx *lunet_ctx(lua_State *L);               /* this state's context (created on demand) */
/* Pushes a tensor userdata owning one reference to t (the caller's reference moves to Lua). */
NN_API void lunet_pushtensor(lua_State *L, nn_tensor *t);
NN_API nn_tensor *lunet_checktensor(lua_State *L, int idx); /* raises on a non-tensor or closed one */
NN_API nn_tensor *lunet_totensor(lua_State *L, int idx);    /* NULL if not an open tensor */
/* Pushes a tensor over host memory without copying. release(ud, data) is called when Lua and
   every view are done with it (NULL: the host keeps ownership and must outlive the tensor). */
NN_API void lunet_wrap(lua_State *L, nn_dtype dt, int ndim, const int64_t *shape, void *data,
                       void (*release)(void *ud, void *data), void *ud);

#ifdef __cplusplus
}
#endif
#endif
