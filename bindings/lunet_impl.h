/* lunet_impl.h — shared by the binding files (not installed). */
#ifndef LUNET_IMPL_H
#define LUNET_IMPL_H

#include <lauxlib.h>
#include <lua.h>
#include "lunet.h"
#include "nn_internal.h"   /* the core's entry points for the bindings: fusions, lazy zeroing */

#define LUNET_MODULE "lunet.Module"     /* built-in C layers */
#define LUNET_OPTIM "lunet.Optimizer"
#define LUNET_GENERATOR "lunet.Generator"

typedef struct { nn_tensor *t; } LTensor;  /* t == NULL: closed */

/* Raises the context's error message as a Lua error when s != NN_OK. */
int lunet_check(lua_State *L, nn_status s);
/* luaL_error, but the position is the user's line that called into Lunet (Lunet's own Lua
   modules are skipped), as every error of lunet_check's */
int lunet_error(lua_State *L, const char *fmt, ...);
/* luaL_argerror and luaL_typeerror at the user's line (as lunet_error), naming the function
   also where the call site gives Lua no name (x[name](...)): its method or lunet.* name */
int lunet_argerror(lua_State *L, int arg, const char *extramsg);
int lunet_typeerror(lua_State *L, int arg, const char *tname);
/* Box first, then compute: pushes a closed box to fill; an error after this leaks nothing. */
LTensor *lunet_newbox(lua_State *L);
/* Tensor at idx; a number becomes a 0-d tensor of dtype like (or float32 if like is NULL). */
nn_tensor *lunet_totensor_or_number(lua_State *L, int idx, nn_tensor *like);
/* Reads a dtype name at idx (or opts.dtype); def if absent. */
nn_dtype lunet_checkdtype(lua_State *L, int idx, nn_dtype def);
/* A Generator userdata's rng, or NULL (default generator) if idx is nil/none. */
nn_rng *lunet_optrng(lua_State *L, int idx);
/* A Lua dim at arg (1-based, negative from the end, 0 refused) as the core's 0-based dim:
   the one converter of dims not tied to a tensor (ltensor.c) */
int lunet_checkdim(lua_State *L, int arg, const char *fname);
/* Tells the collector about storage allocated since the last call. */
void lunet_gcstep(lua_State *L);
/* The same with the context box already at hand (a closure's upvalue: no registry lookup). */
void lunet_gcstep_box(lua_State *L, void *box);
/* Pushes the state's context box (a userdata; created with the context if need be). */
void lunet_pushctxbox(lua_State *L);

/* per-type openers, called by luaopen_lunet with the module table on top */
void lunet_open_tensor(lua_State *L);
void lunet_open_module(lua_State *L);
void lunet_open_optim(lua_State *L);
void lunet_open_io(lua_State *L);       /* lio.c: save, load (safetensors) */
void lunet_open_readers(lua_State *L);  /* lreaders.c: read_csv, read_idx */
void lunet_open_generator(lua_State *L);
void lunet_open_randomstate(lua_State *L); /* lrandomstate.c: NumPy's legacy MT19937 */
void lunet_open_nnops(lua_State *L);     /* lnnops.c: conv, pool, norm, recurrent ops */
/* lvocab.c: gather/scatter, masks, sort, scans into the tensor methods and the module */
void lunet_open_vocab(lua_State *L, int mod, int methods);
/* llinalg.c: bmm, baddbmm, mv, addmv, outer, cross, einsum and lunet._linalg (LAPACK) */
void lunet_open_linalg(lua_State *L, int mod, int methods);
void lunet_open_dist(lua_State *L);      /* ldist.c: lunet._dist (MPI, for lunet.distributed) */

#endif
