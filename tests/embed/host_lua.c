/*
** host_lua.c — a C program that embeds Lua and Lunet, built only from the installed headers,
** liblunet.a and lunet.pc (tests/sh/embed.sh). It
**   - opens a lua_State, requires lunet through luaL_requiref, points package.path at the
**     installed pure-Lua modules (argv[1]);
**   - hands Lua its own float buffers through lunet_wrap and checks they are shared, not copied
**     (Lua writes, C sees it; C writes, Lua sees it);
**   - runs a small training script with lua_pcall on that data and reads the results back;
**   - checks that a Lua error comes back as a message, and that the release callback of wrapped
**     memory runs exactly once, when Lua is done with it.
** Exits 0 when every check holds.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lunet.h"

static int failures;
#define CHECK(c) \
  do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

static int released;
static void on_release(void *ud, void *data) {
  (void)data;
  released += *(int *)ud;
}

/* Runs code in L protected; returns its first result as a number (or NAN on error, printing). */
static double run(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return NAN;
  }
  double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
  lua_pop(L, 1);
  return v;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return 2;
  luaL_openlibs(L);
  if (argc > 1) {                      /* where the installed Lua modules (lunet/nn.lua, ...) live */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", argv[1], argv[1]);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
  }
  luaL_requiref(L, "lunet", luaopen_lunet, 1);   /* also the global "lunet" */
  lua_pop(L, 1);

  /* y = 2 x1 - x2 + 0.5 on a grid the host owns */
  enum { N = 32 };
  static float X[N * 2], Y[N];
  for (int i = 0; i < N; i++) {
    X[2 * i] = (float)(i % 8) / 4.0f - 1.0f;
    X[2 * i + 1] = (float)(i / 8) / 2.0f - 1.0f;
    Y[i] = 2.0f * X[2 * i] - X[2 * i + 1] + 0.5f;
  }
  int64_t xs[2] = {N, 2}, ys[2] = {N, 1};
  int one = 1;
  lunet_wrap(L, NN_F32, 2, xs, X, NULL, NULL);
  lua_setglobal(L, "X");
  lunet_wrap(L, NN_F32, 2, ys, Y, on_release, &one);
  lua_setglobal(L, "Y");

  /* zero-copy both ways */
  float x00 = X[0];
  CHECK(run(L, "X[1][1] = 42; return X[1][1]") == 42.0);
  CHECK(X[0] == 42.0f);
  X[0] = x00;
  X[3] = 0.125f;
  CHECK(run(L, "return X[2][2]") == 0.125);
  X[3] = (float)(0 / 8) / 2.0f - 1.0f;
  CHECK(run(L, "return X[2][2]") == -1.0);

  /* a training script: it must fit the line the host's data describes */
  double loss = run(L,
      "local nn, optim = lunet.nn, lunet.optim\n"
      "lunet.manual_seed(0)\n"
      "local model = nn.Linear(2, 1)\n"
      "local opt = optim.Adam(model:parameters(), {lr = 0.05})\n"
      "local first\n"
      "for step = 1, 300 do\n"
      "  opt:zero_grad()\n"
      "  local loss = nn.mse_loss(model(X), Y)\n"
      "  first = first or loss:item()\n"
      "  loss:backward()\n"
      "  opt:step()\n"
      "end\n"
      "W, B, FIRST = model.weight, model.bias, first\n"
      "return nn.mse_loss(model(X), Y):item()\n");
  CHECK(loss == loss && loss < 1e-3);
  lua_getglobal(L, "FIRST");
  CHECK(lua_tonumber(L, -1) > 0.5);
  lua_pop(L, 1);
  /* the learned weights, read from C through the public API */
  lua_getglobal(L, "W");
  nn_tensor *w = lunet_checktensor(L, -1);
  CHECK(nn_tensor_numel(w) == 2 && nn_tensor_dtype(w) == NN_F32);
  const float *wd = nn_tensor_data(w);
  CHECK(fabsf(wd[0] - 2.0f) < 0.05f && fabsf(wd[1] + 1.0f) < 0.05f);
  lua_pop(L, 1);
  lua_getglobal(L, "B");
  nn_tensor *b = lunet_totensor(L, -1);
  CHECK(b != NULL && fabsf(*(const float *)nn_tensor_data(b) - 0.5f) < 0.05f);
  lua_pop(L, 1);
  lua_pushinteger(L, 3);
  CHECK(lunet_totensor(L, -1) == NULL);
  lua_pop(L, 1);

  /* a Lunet error is a Lua error the host receives as text */
  CHECK(luaL_dostring(L, "return lunet.matmul(X, X)") != LUA_OK);
  const char *msg = lua_tostring(L, -1);
  CHECK(msg != NULL && strstr(msg, "matmul") != NULL);
  lua_pop(L, 1);

  /* the host's release callback runs once, after Lua and every view let go */
  CHECK(run(L, "V = Y:narrow(1, 1, 4); Y = nil; collectgarbage(); collectgarbage(); return 0") == 0);
  CHECK(released == 0);                /* the view V still holds the memory */
  lua_close(L);
  CHECK(released == 1);

  printf("host_lua: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
