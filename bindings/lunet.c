/*
** lunet.c — the module entry point: one nn_ctx per lua_State, the helpers every binding file
** shares (lunet_impl.h), module-level functions (grad mode, threads, clock, BLAS info,
** profiling) and the lazy loading of the pure-Lua parts (listed in lua/lunet/autoload.lua).
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lunet_impl.h"

#ifndef LUNET_VERSION
#define LUNET_VERSION NN_VERSION
#endif

/* ---- the context ----------------------------------------------------------------------- */

/* One context per state, kept in the registry inside a userdata whose __gc frees it.
   nn_ctx_free defers while tensors are alive, so the order in which lua_close runs the
   finalizers does not matter. base and boxes pace lunet_gcstep. */
typedef struct {
  nn_ctx *ctx;
  size_t base;  /* bytes_in_use after the last full collection */
  size_t boxes; /* tensor boxes made since */
} CtxBox;

static const char ctxkey = 'c'; /* its address keys the box in the registry */
#define CTX_MT "lunet.Context"
#define PROFILE_MT "lunet.ProfileReport"
#define GC_FULL ((size_t)4 << 20)
#define TENSOR_OVERHEAD 2048

static int ctx_gc(lua_State *L) {
  CtxBox *c = luaL_checkudata(L, 1, CTX_MT);
  nn_ctx_free(c->ctx);
  c->ctx = NULL;
  return 0;
}

/* The block cache gives back what no request used since the previous collection cycle
   (nn_ctx_trim_idle) when a cycle ends, so that collectgarbage() returns idle memory. A cycle's
   end is seen as Lua's own test suite sees it: an unreachable sentinel is finalized, and its
   finalizer makes the next one. It keeps the context box as its user value; none is made while
   the state closes (the context is gone then). */
#define SENTINEL_MT "lunet.CacheSentinel"
static void new_sentinel(lua_State *L, int box);
static int sentinel_gc(lua_State *L) {
  CtxBox *c;
  lua_getiuservalue(L, 1, 1);
  c = lua_touserdata(L, -1);
  if (c == NULL || c->ctx == NULL) return 0;
  nn_ctx_trim_idle(c->ctx);
  new_sentinel(L, lua_gettop(L));
  return 0;
}
static void new_sentinel(lua_State *L, int box) {
  lua_newuserdatauv(L, 0, 1);
  lua_pushvalue(L, box);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, SENTINEL_MT)) {
    lua_pushcfunction(L, sentinel_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

static CtxBox *ctxbox(lua_State *L) {
  CtxBox *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctxkey) == LUA_TUSERDATA) {
    c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
  }
  lua_pop(L, 1);
  c = lua_newuserdatauv(L, sizeof *c, 0); /* box first: a failure below leaks nothing */
  c->ctx = NULL;
  c->base = c->boxes = 0;
  if (luaL_newmetatable(L, CTX_MT)) {
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  c->ctx = nn_ctx_new(NULL, NULL);
  if (c->ctx == NULL) luaL_error(L, "lunet: cannot create a context (out of memory)");
  new_sentinel(L, lua_gettop(L));
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ctxkey);
  return c;
}

nn_ctx *lunet_ctx(lua_State *L) {
  CtxBox *c = ctxbox(L);
  if (c->ctx == NULL) luaL_error(L, "lunet: the context is closed");
  return c->ctx;
}

/* ---- shared helpers ---------------------------------------------------------------------- */

/* Whether a chunk is one of Lunet's Lua modules (…/lunet/<name>.lua) */
static bool lunet_source(const char *src) {
  size_t n = strlen(src);
  const char *slash = strrchr(src, '/');
  if (src[0] != '@' || !slash || n < 4 || strcmp(src + n - 4, ".lua") != 0) return false;
  return slash - src >= 6 && memcmp(slash - 6, "/lunet", 6) == 0;
}

/* "file:line: " of the user's code that called into Lunet: the first Lua frame outside Lunet's
   own modules, so an error raised for nn.lua's call to a C function names the caller's line */
static void lunet_where(lua_State *L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0 && !lunet_source(ar.source)) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
  }
  lua_pushliteral(L, "");
}

int lunet_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lunet_where(L);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

int lunet_check(lua_State *L, nn_status s) {
  if (s != NN_OK) return lunet_error(L, "%s", nn_ctx_errmsg(lunet_ctx(L)));
  return 0;
}

/* Pushes the string key under which table t holds the value at f, or nothing */
static bool keyof(lua_State *L, int t, int f) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_rawequal(L, -1, f) && lua_type(L, -2) == LUA_TSTRING) {
      lua_pop(L, 1);
      return true;
    }
    lua_pop(L, 1);
  }
  return false;
}

/* The running C function's name for an argument error. Lua names it from the call site, which
   has no name for x[name](...) or a function taken from a table ("?"): then its key in the
   tensor methods (upvalue 3 of the tensor's __index) or in the lunet module is the name. */
static const char *funcname(lua_State *L, lua_Debug *ar) {
  int top = lua_gettop(L);
  if (ar->name && strcmp(ar->name, "?") != 0) return ar->name;
  lua_getinfo(L, "f", ar);                                   /* fn */
  if (luaL_getmetatable(L, LUNET_TENSOR) == LUA_TTABLE &&    /* fn mt */
      lua_getfield(L, -1, "__index") == LUA_TFUNCTION &&     /* fn mt index */
      lua_getupvalue(L, -1, 3) && lua_type(L, -1) == LUA_TTABLE &&
      keyof(L, lua_gettop(L), top + 1)) {
    const char *s = lua_tostring(L, -1);
    lua_replace(L, top + 1);                                 /* anchor the name */
    lua_settop(L, top + 1);
    return s;
  }
  lua_settop(L, top + 1);                                    /* fn */
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE &&
      lua_getfield(L, -1, "lunet") == LUA_TTABLE && keyof(L, lua_gettop(L), top + 1)) {
    const char *s = lua_pushfstring(L, "lunet.%s", lua_tostring(L, -1));
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return s;
  }
  lua_settop(L, top);
  return "?";
}

int lunet_argerror(lua_State *L, int arg, const char *extramsg) {
  lua_Debug ar;
  const char *name;
  if (!lua_getstack(L, 0, &ar)) return lunet_error(L, "bad argument #%d (%s)", arg, extramsg);
  lua_getinfo(L, "n", &ar);
  if (ar.namewhat && strcmp(ar.namewhat, "method") == 0) {   /* self is not counted */
    if (--arg == 0) return lunet_error(L, "calling '%s' on bad self (%s)", ar.name, extramsg);
  }
  name = funcname(L, &ar);
  return lunet_error(L, "bad argument #%d to '%s' (%s)", arg, name, extramsg);
}

int lunet_typeerror(lua_State *L, int arg, const char *tname) {
  const char *typearg;
  if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING) typearg = lua_tostring(L, -1);
  else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA) typearg = "light userdata";
  else typearg = luaL_typename(L, arg);
  return lunet_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, typearg));
}

void lunet_pushctxbox(lua_State *L) {
  ctxbox(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &ctxkey);
}

void lunet_gcstep(lua_State *L) { lunet_gcstep_box(L, ctxbox(L)); }

/* Tensor storage lives outside Lua's heap, so the collector cannot see what a dropped tensor
   holds (torch7 #280). What storage has grown by since the last full collection is at most
   what boxes no longer reachable hold: once it exceeds an eighth of what is alive (and GC_FULL,
   and twice the Lua heap, whose size is what a full collection costs) a full collection runs,
   so garbage stays a bounded fraction of live data, in either collector mode (generational
   mode's minor collections never free tensors that survived one, such as a training step's
   activations). Storage that C frees in between (activations autograd let go of, a closed
   tensor) is not counted: an earlier pacing that summed every increase ran a collection every
   14 digits steps for memory long given back, vs one in 60 now.
   Reporting each tensor to the collector as debt instead (LUA_GCSTEP) made it run a whole
   cycle every few allocations when the Lua heap is small: several microseconds per op.
   GC_FULL (4 MB) is several training steps' worth of activations (a digits step at batch 200
   leaves hundreds of KB in Lua boxes), so a full collection runs every few steps, not every
   step; larger values keep more garbage without making a fit faster
   (scripts/bench/digits_fit.lua). */
void lunet_gcstep_box(lua_State *L, void *box) {
  CtxBox *c = box;
  if (c->ctx == NULL) return;
  size_t now = nn_ctx_bytes_in_use(c->ctx);
  /* each tensor also holds a header, a storage record and its Lua box (TENSOR_OVERHEAD counts
     them, with room for what they cost the caches: about 400 bytes each, so a collection every
     2048 dropped 1-element tensors keeps them in L2, where the next ones reuse them; see
     scripts/bench/op_overhead.lua); with many tiny tensors those dominate, and finalizers
     would be queued faster than steps run them */
  size_t since = ++c->boxes * TENSOR_OVERHEAD + (now > c->base ? now - c->base : 0);
  /* a full collection costs about the Lua heap's size: keep it proportional to allocation */
  if (since > GC_FULL && since > now / 8 &&
      since > 2 * (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024) {
    lua_gc(L, LUA_GCCOLLECT);
    c->boxes = 0;
    c->base = nn_ctx_bytes_in_use(c->ctx);
  }
}

nn_dtype lunet_checkdtype(lua_State *L, int idx, nn_dtype def) {
  nn_dtype dt = def;
  const char *name;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TTABLE) {
    int ty = lua_getfield(L, idx, "dtype");
    if (ty == LUA_TNIL) {
      lua_pop(L, 1);
      return def;
    }
    if (ty != LUA_TSTRING)
      luaL_error(L, "option dtype must be a string (float32, float64 or int64), got %s",
                 luaL_typename(L, -1));
    name = lua_tostring(L, -1);
    lunet_check(L, nn_dtype_parse(lunet_ctx(L), name, &dt));
    lua_pop(L, 1);
    return dt;
  }
  if (lua_isnoneornil(L, idx)) return def;
  if (lua_type(L, idx) != LUA_TSTRING) luaL_typeerror(L, idx, "dtype name");
  lunet_check(L, nn_dtype_parse(lunet_ctx(L), lua_tostring(L, idx), &dt));
  return dt;
}

/* lunet.memory_stats() -> {bytes_in_use = live tensor storage, cached_bytes = freed blocks kept
   for reuse, alloc_calls = calls made to the allocator so far} */
static int m_memory_stats(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)nn_ctx_bytes_in_use(ctx));
  lua_setfield(L, -2, "bytes_in_use");
  lua_pushinteger(L, (lua_Integer)nn_ctx_cached_bytes(ctx));
  lua_setfield(L, -2, "cached_bytes");
  lua_pushinteger(L, (lua_Integer)nn_ctx_alloc_calls(ctx));
  lua_setfield(L, -2, "alloc_calls");
  return 1;
}

/* ---- grad mode ------------------------------------------------------------------------------- */

static void checkcallable(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TFUNCTION) return;
  if (luaL_getmetafield(L, idx, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_typeerror(L, idx, "function");
}

/* Runs fn(...) with grad mode set to on, restoring the previous mode even when fn raises:
   pcall, restore, then rethrow the same error value. */
static int run_with_grad(lua_State *L, bool on) {
  nn_ctx *ctx = lunet_ctx(L);
  bool prev;
  int st;
  checkcallable(L, 1);
  prev = nn_set_grad_enabled(ctx, on);
  st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  nn_set_grad_enabled(ctx, prev);
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int m_no_grad(lua_State *L) { return run_with_grad(L, false); }
static int m_enable_grad(lua_State *L) { return run_with_grad(L, true); }

static int m_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, nn_grad_enabled(lunet_ctx(L)));
  return 1;
}

static int m_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, nn_set_grad_enabled(lunet_ctx(L), lua_toboolean(L, 1)));
  return 1; /* the previous mode */
}

/* ---- threads, time, BLAS ---------------------------------------------------------------- */

static int m_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  nn_ctx *ctx = lunet_ctx(L);
  if (n < 1 || n > NN_THREADS_MAX)     /* (checked here too: n may not fit an int) */
    return luaL_error(L, "set_num_threads: expected 1..%d threads (NN_THREADS_MAX), got %I",
                      NN_THREADS_MAX, n);
  lunet_check(L, nn_set_num_threads(ctx, (int)n));
  return 0;
}

static int m_get_num_threads(lua_State *L) {
  lua_pushinteger(L, nn_get_num_threads(lunet_ctx(L)));
  return 1;
}

static int m_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* {library = "OpenBLAS", version = "0.3.26", core = "Haswell", threads = 4, config = "…"}:
   the config string's first two words are the library and its version. */
static bool slow_blas_kernel(void);

static int m_blas_info(lua_State *L) {
  int threads = 0;
  const char *core = NULL;
  const char *cfg = nn_blas_info(&threads, &core);
  const char *sp, *ver, *end;
  if (cfg == NULL) cfg = "";
  lua_createtable(L, 0, 5);
  sp = strchr(cfg, ' ');
  if (sp == NULL) sp = cfg + strlen(cfg);
  lua_pushlstring(L, cfg, (size_t)(sp - cfg));
  lua_setfield(L, -2, "library");
  ver = *sp ? sp + 1 : sp;
  end = strchr(ver, ' ');
  if (end == NULL) end = ver + strlen(ver);
  lua_pushlstring(L, ver, (size_t)(end - ver));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, core ? core : "");
  lua_setfield(L, -2, "core");
  lua_pushinteger(L, threads);
  lua_setfield(L, -2, "threads");
  lua_pushstring(L, cfg);
  lua_setfield(L, -2, "config");
  lua_pushboolean(L, slow_blas_kernel());
  lua_setfield(L, -2, "slow_kernel");
  return 1;
}

/* ---- profiling ------------------------------------------------------------------------ */

typedef struct { char name[48]; uint64_t calls; double seconds; } ProfRow;

static int byseconds(const void *a, const void *b) {
  const ProfRow *x = a, *y = b;
  if (x->seconds != y->seconds) return x->seconds < y->seconds ? 1 : -1;
  return strcmp(x->name, y->name);
}

/* Forward times come from a call/return hook on C functions (each tensor method, metamethod
   and layer call is one), backward times from the core's per-op timer. Times are inclusive:
   backward() contains the rows of the ops it ran.
   Profiles nest: the hook feeds every running profile (each keeps its own call stack), and an
   inner one leaves the core's timer running and reports what it gained while it ran, so the
   outer report includes the inner's ops. A hook the user had set (debug.sethook) keeps getting
   its events meanwhile and is put back afterwards. */
#define PROF_ROWS 256
#define PROF_DEPTH 64
typedef struct HookProf {
  ProfRow rows[PROF_ROWS];
  int nrows, depth;
  double start[PROF_DEPTH];
  int row_of[PROF_DEPTH];
  struct HookProf *outer;          /* the profile this one runs inside (anchored by its call) */
  lua_Hook user_hook;              /* the hook set before the outermost profile, and its mask */
  int user_mask, user_count;
  int ncore;                       /* the core's rows when this profile began (nested only) */
  const char *core_name[PROF_ROWS];
  uint64_t core_calls[PROF_ROWS];
  double core_secs[PROF_ROWS];
} HookProf;
static const char PROF_KEY = 'p';   /* registry key of the running HookProf */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int prof_row(HookProf *p, const char *name) {
  for (int i = 0; i < p->nrows; i++)
    if (strcmp(p->rows[i].name, name) == 0) return i;
  if (p->nrows == PROF_ROWS) return -1;
  snprintf(p->rows[p->nrows].name, sizeof p->rows[0].name, "%s", name);
  p->rows[p->nrows].calls = 0;
  p->rows[p->nrows].seconds = 0;
  return p->nrows++;
}

static void prof_hook(lua_State *L, lua_Debug *ar) {
  HookProf *p;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &PROF_KEY);
  p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (p == NULL) return;
  int ev = ar->event == LUA_HOOKTAILCALL ? LUA_MASKCALL : 1 << ar->event;
  if (p->user_hook && (p->user_mask & ev)) p->user_hook(L, ar);
  if (!(ev & (LUA_MASKCALL | LUA_MASKRET)) || !lua_getinfo(L, "Sn", ar)) return;
  if (ar->what == NULL || strcmp(ar->what, "C") != 0) return;
  double t = now_s();
  for (; p; p = p->outer) {
    if (ar->event == LUA_HOOKRET) {
      if (p->depth == 0) continue;
      p->depth--;
      int r = p->row_of[p->depth];
      if (r >= 0) { p->rows[r].calls++; p->rows[r].seconds += t - p->start[p->depth]; }
    } else if (p->depth < PROF_DEPTH) {
      p->row_of[p->depth] = prof_row(p, ar->name ? ar->name : "?");
      p->start[p->depth++] = t;
    }
  }
}

/* The report as text: one row per op, slowest first.
     op                      calls    total ms       %
     matmul                    300      12.345    45.6 */
static int report_tostring(lua_State *L) {
  luaL_Buffer b;
  char line[160];
  lua_Integer i, n;
  double total;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "total_ms");
  total = lua_tonumber(L, -1);
  lua_pop(L, 1);
  n = luaL_len(L, 1);
  luaL_buffinit(L, &b);
  snprintf(line, sizeof line, "%-24s %8s %12s %7s\n", "op", "calls", "total ms", "%");
  luaL_addstring(&b, line);
  for (i = 1; i <= n; i++) {
    const char *name;
    lua_Integer calls;
    double ms, pct;
    lua_geti(L, 1, i);
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "calls");
    lua_getfield(L, -3, "ms");
    lua_getfield(L, -4, "percent");
    name = lua_tostring(L, -4);
    calls = lua_tointeger(L, -3);
    ms = lua_tonumber(L, -2);
    pct = lua_tonumber(L, -1);
    snprintf(line, sizeof line, "%-24.24s %8lld %12.3f %7.1f\n", name ? name : "?",
             (long long)calls, ms, pct);
    lua_pop(L, 5);
    luaL_addstring(&b, line); /* the buffer may use the stack: add after popping */
  }
  snprintf(line, sizeof line, "%-24s %8s %12.3f %7.1f", "total", "", total, total > 0 ? 100.0 : 0.0);
  luaL_addstring(&b, line);
  luaL_pushresult(&b);
  return 1;
}

/* lunet.profile(fn, ...) -> report, fn's results. Runs fn with per-op timing on; the report
   is an array of {name, calls, ms, percent} rows, slowest first, plus total_ms; tostring
   gives a table for print. Profiling is switched off again even when fn raises. */
static int m_profile(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  int nargs = lua_gettop(L) - 1, st, nres, i, nrows;
  const char *name;
  uint64_t calls;
  double secs, t0, wall;
  lua_Hook old_hook = lua_gethook(L);
  int old_mask = lua_gethookmask(L), old_count = lua_gethookcount(L);
  checkcallable(L, 1);
  HookProf *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &PROF_KEY);
  p->outer = lua_touserdata(L, -1);       /* (its profile call anchors it while we run) */
  lua_pop(L, 1);
  if (p->outer) {                          /* nested: the user's hook is the outer's */
    p->user_hook = p->outer->user_hook;
    p->user_mask = p->outer->user_mask;
    p->user_count = p->outer->user_count;
    for (i = 0; i < PROF_ROWS && nn_profile_get(ctx, i, &name, &calls, &secs); i++) {
      p->core_name[i] = name; p->core_calls[i] = calls; p->core_secs[i] = secs;
    }
    p->ncore = i;
  } else {
    p->user_hook = old_hook;
    p->user_mask = old_hook ? old_mask : 0;
    p->user_count = old_count;
    nn_profile_reset(ctx);
    nn_profile_enable(ctx, true);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &PROF_KEY);
  lua_insert(L, 1);                       /* keep it below fn and its arguments */
  lua_sethook(L, prof_hook, LUA_MASKCALL | LUA_MASKRET | p->user_mask, p->user_count);
  t0 = now_s();
  st = lua_pcall(L, nargs, LUA_MULTRET, 0);
  wall = now_s() - t0;
  lua_sethook(L, old_hook, old_mask, old_count);
  if (p->outer == NULL) nn_profile_enable(ctx, false);
  if (p->outer) lua_pushlightuserdata(L, p->outer);
  else lua_pushnil(L);
  /* (the registry holds the outer's box as a light pointer now: its own call keeps it alive) */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &PROF_KEY);
  if (st != LUA_OK) return lua_error(L);
  nres = lua_gettop(L) - 1;
  for (i = 0; nn_profile_get(ctx, i, &name, &calls, &secs); i++) {
    char label[48];
    for (int k = 0; k < p->ncore; k++)     /* what the core counted before this profile */
      if (p->core_name[k] == name || strcmp(p->core_name[k], name) == 0) {
        calls -= p->core_calls[k]; secs -= p->core_secs[k];
        break;
      }
    if (calls == 0) continue;
    snprintf(label, sizeof label, "%.38s backward", name);
    int r = prof_row(p, label);
    if (r >= 0) { p->rows[r].calls += calls; p->rows[r].seconds += secs; }
  }
  nrows = p->nrows;
  qsort(p->rows, (size_t)nrows, sizeof p->rows[0], byseconds);
  lua_createtable(L, nrows, 1);
  for (i = 0; i < nrows; i++) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, p->rows[i].name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)p->rows[i].calls);
    lua_setfield(L, -2, "calls");
    lua_pushnumber(L, p->rows[i].seconds * 1e3);
    lua_setfield(L, -2, "ms");
    lua_pushnumber(L, wall > 0 ? 100.0 * p->rows[i].seconds / wall : 0.0);
    lua_setfield(L, -2, "percent");
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushnumber(L, wall * 1e3);
  lua_setfield(L, -2, "total_ms");
  if (luaL_newmetatable(L, PROFILE_MT)) {
    lua_pushcfunction(L, report_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  lua_replace(L, 1);   /* the report replaces the scratch rows: report, then fn's results */
  return nres + 1;
}

/* ---- the module table ------------------------------------------------------------------- */

/* lunet.<name> for a name the module table lacks: bindings/lua/lunet/autoload.lua maps the
   pure-Lua parts' names to loaders, so C knows no Lua module's name but that list's. The list
   is __index's upvalue, and its names the metatable's __dir (the REPL completes them before
   they load); a loader runs once, its result cached in the module table with rawset. Without the list (Lunet's Lua files not on
   package.path) the upvalue is the reason, and a missing name raises it rather than giving a
   nil that would fail later, far from the cause. */
static int m_index(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  if (!lua_istable(L, lua_upvalueindex(1)))
    return luaL_error(L, "lunet.%s: Lunet's Lua modules are not on package.path (%s)",
                      lua_tostring(L, 2), lua_tostring(L, lua_upvalueindex(1)));
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL) return 1;
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) return 1;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

/* __dir: the autoload list's names (the list at idx) as an array, for the REPL's completion
   (bindings/main.c); empty without the list. */
static void push_dir(lua_State *L, int idx) {
  lua_Integer n = 0;
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  if (!lua_istable(L, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, ++n);
  }
}

/* Pushes the autoload list, or the message saying why it could not be loaded. */
static void push_autoload(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunet.autoload");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) return;
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "lunet.autoload did not return a table");
  }
}

static const luaL_Reg funcs[] = {
  {"no_grad", m_no_grad},
  {"enable_grad", m_enable_grad},
  {"is_grad_enabled", m_is_grad_enabled},
  {"set_grad_enabled", m_set_grad_enabled},
  {"set_num_threads", m_set_num_threads},
  {"get_num_threads", m_get_num_threads},
  {"clock", m_clock},
  {"blas_info", m_blas_info},
  {"profile", m_profile},
  {"memory_stats", m_memory_stats},
  {NULL, NULL}
};

/* Debian 12's OpenBLAS 0.3.21 does not know recent AVX-512 CPUs and falls back to its generic
   kernels, several times slower at sgemm (Lunet's own float32 kernel takes over there, slower
   than OpenBLAS's right kernel would be: docs/benchmarks.md, run_all --prescott). We never
   change the user's environment, but we say so, once per process (LUNET_QUIET=1 silences it). */
static bool slow_blas_kernel(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return nn_blas_generic_kernel() &&
         (__builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx512f"));
#else
  return false;
#endif
}

static void warn_slow_blas(void) {
  static int warned;   /* a warning is per process by nature; nothing else reads this */
  const char *core = NULL, *quiet = getenv("LUNET_QUIET");
  nn_blas_info(NULL, &core);
  if (warned || (quiet && *quiet && strcmp(quiet, "0") != 0) || !slow_blas_kernel()) return;
  warned = 1;
  fprintf(stderr,
          "lunet: OpenBLAS is using its slow generic '%s' kernel on a CPU with AVX2/AVX-512;\n"
          "       set OPENBLAS_CORETYPE=%s for 2-4x faster matrix products (see README).\n",
          core,
#if defined(__x86_64__) && defined(__GNUC__)
          __builtin_cpu_supports("avx512f") ? "SkylakeX" :
#endif
          "Haswell");
}

NN_API int luaopen_lunet(lua_State *L) {
  luaL_checkversion(L);
  lunet_ctx(L);
  warn_slow_blas();
  luaL_newlib(L, funcs);
  lua_pushliteral(L, LUNET_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lunet_open_tensor(L);
  lunet_open_generator(L);
  lunet_open_randomstate(L);
  lunet_open_module(L);
  lunet_open_optim(L);
  lunet_open_readers(L);
  lunet_open_io(L);
  lunet_open_nnops(L);
  lunet_open_dist(L);
  lua_createtable(L, 0, 2);
  push_autoload(L);
  push_dir(L, -1);
  lua_setfield(L, -3, "__dir");
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
