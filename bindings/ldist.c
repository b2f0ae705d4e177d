/*
** ldist.c — lunet._dist, the MPI half of lunet.distributed (lua/lunet/distributed.lua is the
** public face). MPI lives in the bindings only: the C core (liblunetcore) never links it, and a
** C host that wants MPI calls it itself on nn_tensor_data's buffers.
**
** Ranks, roots and sources are 0-based here; distributed.lua converts. Tensors go to MPI as
** their own buffers (contiguous float32/float64/int64: no copies). Only the main thread calls
** MPI (MPI_THREAD_FUNNELED): Lunet's workers never do.
**
** A process started without a launcher (no PMI/PMIx/Open MPI rank in its environment) is a
** 1-rank world that never initialises MPI, unless LUNET_MPI_SINGLETON=1 asks for MPI's own
** singleton start: the collectives are then the identity, so a script runs alike with and
** without mpirun. At exit (on_exit, which sees the status) MPI is finalised, or, when the
** process exits with an error in a world of several ranks, MPI_Abort ends the whole job: the
** error was printed already (by the runner), and the other ranks, which may wait in a
** collective for this one, would otherwise hang.
**
** DDP (ddp_new) sums gradients in buckets: flat buffers, one per group of parameters (in reverse
** order, so the last layers' bucket fills first; a bucket holds one dtype). Backward's
** gradient-ready hook (nn_set_grad_ready_hook) counts each bucket's parameters; a full bucket is
** packed (its grads copied into the flat buffer) and its MPI_Iallreduce starts while backward
** goes on with the earlier layers. Buckets start in their index order on every rank (a bucket
** that fills early waits for the ones before it), so the ranks' collectives always match. At the
** end of backward the rest start, all are waited for, and each grad is set to the average.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lunet_impl.h"

#ifdef LUNET_HAVE_MPI
#include <mpi.h>
#endif

#define DDP_MT "lunet.DDP"

/* ---- tensors as buffers ------------------------------------------------------------------ */

static nn_tensor *buffer_arg(lua_State *L, int idx, const char *fname) {
  nn_tensor *t = lunet_checktensor(L, idx);
  if (!nn_tensor_is_contiguous(t))
    luaL_error(L, "%s: the tensor must be contiguous (MPI writes its buffer in place); pass "
               "t:contiguous() and use the result", fname);
  return t;
}

static size_t tensor_bytes(const nn_tensor *t) {
  return (size_t)nn_tensor_numel(t) * nn_dtype_size(nn_tensor_dtype(t));
}

/* tobytes(t) -> string: the elements of t, contiguous, in memory order */
static int d_tobytes(lua_State *L) {
  nn_tensor *t = buffer_arg(L, 1, "tobytes");
  lua_pushlstring(L, (const char *)nn_tensor_data(t), tensor_bytes(t));
  return 1;
}

/* frombytes(s, dtype, {shape}) -> tensor, its elements read from s */
static int d_frombytes(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  nn_dtype dt = lunet_checkdtype(L, 2, NN_F32);
  luaL_checktype(L, 3, LUA_TTABLE);
  int64_t shape[NN_MAX_DIMS];
  lua_Integer nd = luaL_len(L, 3);
  if (nd < 0 || nd > NN_MAX_DIMS) return luaL_error(L, "frombytes: %I dims (at most %d)", nd, NN_MAX_DIMS);
  uint64_t want = nn_dtype_size(dt);   /* checked against len before anything is allocated */
  for (int i = 0; i < (int)nd; i++) {
    lua_geti(L, 3, i + 1);
    lua_Integer d = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    if (d < 0 || (d > 0 && want > len / (uint64_t)d))
      return luaL_error(L, "frombytes: the shape does not fit the %I bytes given", (lua_Integer)len);
    shape[i] = (int64_t)d;
    want *= (uint64_t)d;
  }
  if (want != len)
    return luaL_error(L, "frombytes: %I bytes for a shape of %I bytes", (lua_Integer)len,
                      (lua_Integer)want);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_tensor_new(lunet_ctx(L), dt, (int)nd, shape, &b->t));
  memcpy(nn_tensor_data(b->t), s, len);
  return 1;
}

static int d_built(lua_State *L) {
#ifdef LUNET_HAVE_MPI
  lua_pushboolean(L, 1);
#else
  lua_pushboolean(L, 0);
#endif
  return 1;
}

#ifndef LUNET_HAVE_MPI

static const char NO_MPI[] =
    "lunet.distributed: this Lunet was built without MPI; install an MPI (Debian: apt-get "
    "install libopenmpi-dev openmpi-bin) and rebuild (./build.sh, or cmake -DLUNET_MPI=ON)";

static int d_nompi(lua_State *L) { return luaL_error(L, "%s", NO_MPI); }

static const luaL_Reg funcs[] = {
  {"built", d_built}, {"tobytes", d_tobytes}, {"frombytes", d_frombytes},
  {"init", d_nompi}, {NULL, NULL}};

#else /* LUNET_HAVE_MPI */

/* ---- the world --------------------------------------------------------------------------- */

static struct {
  bool started;   /* init ran */
  bool mpi;       /* MPI_Init ran (a launcher, or LUNET_MPI_SINGLETON=1) */
  int rank, size, local_rank, local_size;
} W = {false, false, 0, 1, 0, 1};

static const char *LAUNCHER_VARS[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                      "PMI_SIZE", "MV2_COMM_WORLD_RANK", "MPI_LOCALNRANKS"};

static bool launched(void) {
  const char *e = getenv("LUNET_MPI_SINGLETON");
  if (e && strcmp(e, "1") == 0) return true;
  for (size_t i = 0; i < sizeof LAUNCHER_VARS / sizeof *LAUNCHER_VARS; i++)
    if (getenv(LAUNCHER_VARS[i])) return true;
  return false;
}

/* at exit: finalise, or end the whole job when this rank fails (see the top of the file) */
static void at_exit(int status, void *ud) {
  (void)ud;
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  if (status != 0 && W.size > 1) MPI_Abort(MPI_COMM_WORLD, status);
  MPI_Finalize();
}

/* Threads that share the host: the default count (nn_cpus_usable) already divides by the
   ranks here when the launcher says how many (Open MPI, MPICH); other launchers (srun with
   PMIx) say it only through MPI_COMM_TYPE_SHARED, so the default is divided now, unless the
   user chose (LUNET_NUM_THREADS, or set_num_threads to something else than the default). */
static void share_cores(lua_State *L) {
  if (W.local_size < 2 || getenv("LUNET_NUM_THREADS") || getenv("OMPI_COMM_WORLD_LOCAL_SIZE") ||
      getenv("MPI_LOCALNRANKS"))
    return;
  nn_ctx *ctx = lunet_ctx(L);
  int all = nn_cpus_usable();
  if (nn_get_num_threads(ctx) != all) return;
  int n = all / W.local_size;
  nn_set_num_threads(ctx, n < 1 ? 1 : n);
}

static void start_mpi(lua_State *L) {
  int provided = 0;
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    luaL_error(L, "lunet.distributed: MPI_Init_thread failed");
  on_exit(at_exit, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &W.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &W.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, W.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &W.local_rank);
  MPI_Comm_size(local, &W.local_size);
  MPI_Comm_free(&local);
  W.mpi = true;
}

/* init() -> rank, size, local_rank, local_size (0-based ranks), mpi (whether MPI runs) */
static int d_init(lua_State *L) {
  if (!W.started) {
    int already = 0;
    MPI_Initialized(&already);
    if (already || launched()) {
      if (already) {   /* a host initialised MPI itself: it finalises it too */
        MPI_Comm_rank(MPI_COMM_WORLD, &W.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &W.size);
        W.mpi = true;
      } else start_mpi(L);
    }
    W.started = true;
    share_cores(L);
  }
  lua_pushinteger(L, W.rank);
  lua_pushinteger(L, W.size);
  lua_pushinteger(L, W.local_rank);
  lua_pushinteger(L, W.local_size);
  lua_pushboolean(L, W.mpi);
  return 5;
}

static void need_init(lua_State *L, const char *fname) {
  if (!W.started) luaL_error(L, "%s: call lunet.distributed.init() first", fname);
}

static int d_barrier(lua_State *L) {
  need_init(L, "barrier");
  if (W.mpi) MPI_Barrier(MPI_COMM_WORLD);
  return 0;
}

static int d_abort(lua_State *L) {
  int code = (int)luaL_optinteger(L, 1, 1);
  if (W.mpi) MPI_Abort(MPI_COMM_WORLD, code);
  return 0;
}

static int d_wtime(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
  return 1;
}

static MPI_Datatype mpi_type(nn_dtype dt) {
  return dt == NN_F32 ? MPI_FLOAT : dt == NN_F64 ? MPI_DOUBLE : MPI_INT64_T;
}

/* counts go to MPI as int: a buffer of more elements is refused, not truncated */
static int mpi_count(lua_State *L, const nn_tensor *t, const char *fname) {
  int64_t n = nn_tensor_numel(t);
  if (n > INT32_MAX) luaL_error(L, "%s: %I elements is more than MPI's int count takes", fname, (lua_Integer)n);
  return (int)n;
}

/* a 0-based rank from lunet.distributed's root_arg; the message shows it 1-based again, the +1
   wrapping as Lua's integers do (math.maxinteger comes back as the math.mininteger it was) */
static int check_root(lua_State *L, int idx, const char *fname) {
  lua_Integer r = luaL_checkinteger(L, idx);
  if (r < 0 || r >= W.size)
    luaL_error(L, "%s: rank %I is not in 1..%d", fname, (lua_Integer)((lua_Unsigned)r + 1u), W.size);
  return (int)r;
}

/* op name -> MPI_Op; "mean" sums (the caller divides) */
static MPI_Op reduce_op(lua_State *L, int idx, nn_dtype dt, const char *fname, bool *mean) {
  static const char *const names[] = {"sum", "mean", "max", "min", NULL};
  int o = luaL_checkoption(L, idx, "sum", names);
  *mean = o == 1;
  if (*mean && dt == NN_I64)
    luaL_error(L, "%s: \"mean\" of an int64 tensor (use \"sum\", or a float tensor)", fname);
  return o == 2 ? MPI_MAX : o == 3 ? MPI_MIN : MPI_SUM;
}

static void divide(nn_tensor *t, int by) {
  int64_t n = nn_tensor_numel(t);
  if (nn_tensor_dtype(t) == NN_F32) {
    float *p = nn_tensor_data(t), inv = 1.0f / (float)by;
    for (int64_t i = 0; i < n; i++) p[i] *= inv;
  } else {
    double *p = nn_tensor_data(t), inv = 1.0 / (double)by;
    for (int64_t i = 0; i < n; i++) p[i] *= inv;
  }
}

/* all_reduce(t, op) and reduce(t, op, root): in place (reduce: the result on root only) */
static int reduce_common(lua_State *L, bool all) {
  const char *fname = all ? "all_reduce" : "reduce";
  need_init(L, fname);
  nn_tensor *t = buffer_arg(L, 1, fname);
  bool mean;
  MPI_Op op = reduce_op(L, 2, nn_tensor_dtype(t), fname, &mean);
  int root = all ? 0 : check_root(L, 3, fname);
  int n = mpi_count(L, t, fname);
  if (W.mpi && W.size > 1) {
    void *p = nn_tensor_data(t);
    if (all) MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_type(nn_tensor_dtype(t)), op, MPI_COMM_WORLD);
    else MPI_Reduce(W.rank == root ? MPI_IN_PLACE : p, p, n, mpi_type(nn_tensor_dtype(t)), op,
                    root, MPI_COMM_WORLD);
    if (mean && (all || W.rank == root)) divide(t, W.size);
    nn_tensor_bump_version(t);
  }
  lua_settop(L, 1);
  return 1;
}
static int d_all_reduce(lua_State *L) { return reduce_common(L, true); }
static int d_reduce(lua_State *L) { return reduce_common(L, false); }

/* broadcast(t, root): root's values into t on every rank */
static int d_broadcast(lua_State *L) {
  need_init(L, "broadcast");
  nn_tensor *t = buffer_arg(L, 1, "broadcast");
  int root = check_root(L, 2, "broadcast");
  int n = mpi_count(L, t, "broadcast");
  if (W.mpi && W.size > 1) {
    MPI_Bcast(nn_tensor_data(t), n, mpi_type(nn_tensor_dtype(t)), root, MPI_COMM_WORLD);
    nn_tensor_bump_version(t);
  }
  lua_settop(L, 1);
  return 1;
}

/* A new contiguous tensor of shape [size, t's shape] and t's dtype, pushed */
static nn_tensor *stacked_like(lua_State *L, const nn_tensor *t, const char *fname) {
  int nd = nn_tensor_ndim(t);
  if (nd + 1 > NN_MAX_DIMS) luaL_error(L, "%s: a %d-d tensor (at most %d dims)", fname, nd, NN_MAX_DIMS - 1);
  int64_t shape[NN_MAX_DIMS];
  shape[0] = W.size;
  memcpy(shape + 1, nn_tensor_shape(t), (size_t)nd * sizeof *shape);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_tensor_new(lunet_ctx(L), nn_tensor_dtype(t), nd + 1, shape, &b->t));
  return b->t;
}

/* all_gather(t) -> [size, ...] (every rank), gather(t, root) -> [size, ...] on root, nil else */
static int gather_common(lua_State *L, bool all) {
  const char *fname = all ? "all_gather" : "gather";
  need_init(L, fname);
  nn_tensor *t = buffer_arg(L, 1, fname);
  int root = all ? 0 : check_root(L, 2, fname);
  int n = mpi_count(L, t, fname);
  if ((int64_t)n * W.size > INT32_MAX) luaL_error(L, "%s: the result is too large for MPI", fname);
  nn_tensor *out = NULL;
  if (all || W.rank == root) out = stacked_like(L, t, fname);
  else lua_pushnil(L);
  MPI_Datatype ty = mpi_type(nn_tensor_dtype(t));
  if (!W.mpi) memcpy(nn_tensor_data(out), nn_tensor_data(t), tensor_bytes(t));
  else if (all) MPI_Allgather(nn_tensor_data(t), n, ty, nn_tensor_data(out), n, ty, MPI_COMM_WORLD);
  else MPI_Gather(nn_tensor_data(t), n, ty, out ? nn_tensor_data(out) : NULL, n, ty, root,
                  MPI_COMM_WORLD);
  return 1;
}
static int d_all_gather(lua_State *L) { return gather_common(L, true); }
static int d_gather(lua_State *L) { return gather_common(L, false); }

/* scatter(out, src, root): root's src ([size, out's shape], out's dtype) row r into rank r's out */
static int d_scatter(lua_State *L) {
  need_init(L, "scatter");
  nn_tensor *out = buffer_arg(L, 1, "scatter");
  int root = check_root(L, 3, "scatter");
  int n = mpi_count(L, out, "scatter");
  nn_tensor *src = NULL;
  if (W.rank == root) {
    src = buffer_arg(L, 2, "scatter");
    if (nn_tensor_dtype(src) != nn_tensor_dtype(out) ||
        nn_tensor_numel(src) != (int64_t)n * W.size)
      return luaL_error(L, "scatter: the source must hold %d tensors of the output's %I elements "
                        "and dtype %s (got %I elements of %s)", W.size, (lua_Integer)n,
                        nn_dtype_name(nn_tensor_dtype(out)), (lua_Integer)nn_tensor_numel(src),
                        nn_dtype_name(nn_tensor_dtype(src)));
  }
  MPI_Datatype ty = mpi_type(nn_tensor_dtype(out));
  if (!W.mpi) memcpy(nn_tensor_data(out), nn_tensor_data(src), tensor_bytes(out));
  else MPI_Scatter(src ? nn_tensor_data(src) : NULL, n, ty, nn_tensor_data(out), n, ty, root,
                   MPI_COMM_WORLD);
  nn_tensor_bump_version(out);
  lua_settop(L, 1);
  return 1;
}

static int check_tag(lua_State *L, int idx, const char *fname) {
  lua_Integer tag = luaL_optinteger(L, idx, 0);
  if (tag < 0 || tag > 32767) luaL_error(L, "%s: tag %I is not in 0..32767", fname, tag);
  return (int)tag;
}

/* send(t, dst [, tag]); recv(t, src or -1 (any) [, tag]) -> t, the source rank */
static int d_send(lua_State *L) {
  need_init(L, "send");
  nn_tensor *t = buffer_arg(L, 1, "send");
  int dst = check_root(L, 2, "send");
  int tag = check_tag(L, 3, "send");
  int n = mpi_count(L, t, "send");
  if (dst == W.rank || !W.mpi)
    return luaL_error(L, "send: to itself (rank %d) would never complete", dst + 1);
  MPI_Send(nn_tensor_data(t), n, mpi_type(nn_tensor_dtype(t)), dst, tag, MPI_COMM_WORLD);
  return 0;
}

static int d_recv(lua_State *L) {
  need_init(L, "recv");
  nn_tensor *t = buffer_arg(L, 1, "recv");
  int src = luaL_checkinteger(L, 2) == -1 ? MPI_ANY_SOURCE : check_root(L, 2, "recv");
  int tag = check_tag(L, 3, "recv");
  int n = mpi_count(L, t, "recv");
  if (src == W.rank || !W.mpi)
    return luaL_error(L, "recv: from itself (rank %d: a world of one) would never complete", W.rank + 1);
  MPI_Status st;
  MPI_Recv(nn_tensor_data(t), n, mpi_type(nn_tensor_dtype(t)), src, tag, MPI_COMM_WORLD, &st);
  int got = 0;
  MPI_Get_count(&st, mpi_type(nn_tensor_dtype(t)), &got);
  if (got != n) return luaL_error(L, "recv: %d elements arrived for a tensor of %d", got, n);
  nn_tensor_bump_version(t);
  lua_settop(L, 1);
  lua_pushinteger(L, st.MPI_SOURCE);
  return 2;
}

/* bcast_bytes(s or nil, root) -> root's string on every rank */
static int d_bcast_bytes(lua_State *L) {
  need_init(L, "broadcast_object");
  int root = check_root(L, 2, "broadcast_object");
  size_t len = 0;
  const char *s = W.rank == root ? luaL_checklstring(L, 1, &len) : NULL;
  if (!W.mpi || W.size == 1) { lua_settop(L, 1); return 1; }
  if (len > INT32_MAX) return luaL_error(L, "broadcast_object: %d bytes is too large", (int)len);
  int64_t n = (int64_t)len;
  MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n);
  if (s) memcpy(p, s, (size_t)n);
  MPI_Bcast(p, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* allgather_bytes(s) -> {string of rank 1, ...} */
static int d_allgather_bytes(lua_State *L) {
  need_init(L, "all_gather_object");
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (len > INT32_MAX) return luaL_error(L, "all_gather_object: %d bytes is too large", (int)len);
  int n = (int)len, *counts = lua_newuserdatauv(L, 2 * (size_t)W.size * sizeof(int), 0);
  int *displs = counts + W.size;
  if (W.mpi) MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
  else counts[0] = n;
  int64_t total = 0;
  for (int r = 0; r < W.size; r++) {
    displs[r] = (int)total;
    total += counts[r];
    if (total > INT32_MAX) return luaL_error(L, "all_gather_object: the results are too large");
  }
  char *all = lua_newuserdatauv(L, (size_t)total + 1, 0);
  if (W.mpi) MPI_Allgatherv(s, n, MPI_BYTE, all, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
  else memcpy(all, s, len);
  lua_createtable(L, W.size, 0);
  for (int r = 0; r < W.size; r++) {
    lua_pushlstring(L, all + displs[r], (size_t)counts[r]);
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

/* ---- DistributedDataParallel's buckets ------------------------------------------------------ */

typedef struct {
  int first, count;   /* its parameters: Ddp.p[first .. first+count) */
  int ready;          /* how many are ready in this backward */
  bool started;
  nn_tensor *flat;    /* the packed gradients (all one dtype) */
  MPI_Request req;
} Bucket;

typedef struct { nn_tensor *t; int i; } ParamKey;   /* sorted by address: the hook's lookup */

typedef struct Ddp {
  nn_ctx *ctx;
  int np, nb, next;   /* parameters, buckets, the next bucket to start */
  nn_tensor **p;      /* retained, in bucket order */
  int *bucket_of;
  bool *is_ready;
  ParamKey *keys;
  Bucket *b;
  bool sync, closed;
  double comm_s;      /* seconds spent in MPI calls (exposed communication) */
  uint64_t bytes, steps;
  struct Ddp *next_ddp;
} Ddp;

static Ddp *ddps;   /* the live ones: the hook's user data is the context, this the list */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int key_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const ParamKey *)a)->t, y = (uintptr_t)((const ParamKey *)b)->t;
  return x < y ? -1 : x > y;
}

static void pack(Ddp *d, Bucket *bk) {
  char *dst = nn_tensor_data(bk->flat);
  for (int i = bk->first; i < bk->first + bk->count; i++) {
    nn_tensor *g = nn_tensor_grad(d->p[i]);
    size_t n = tensor_bytes(d->p[i]);
    if (g) memcpy(dst, nn_tensor_data(g), n);
    else memset(dst, 0, n);
    dst += n;
  }
}

static void start(Ddp *d, Bucket *bk) {
  double t0 = now_s();
  pack(d, bk);
  int n = (int)nn_tensor_numel(bk->flat);
  MPI_Iallreduce(MPI_IN_PLACE, nn_tensor_data(bk->flat), n, mpi_type(nn_tensor_dtype(bk->flat)),
                 MPI_SUM, MPI_COMM_WORLD, &bk->req);
  bk->started = true;
  d->bytes += tensor_bytes(bk->flat);
  d->comm_s += now_s() - t0;
}

/* each grad = its bucket's sum / size (a parameter without a grad gets one) */
static void unpack(Ddp *d, Bucket *bk) {
  const char *src = nn_tensor_data(bk->flat);
  for (int i = bk->first; i < bk->first + bk->count; i++) {
    nn_tensor *p = d->p[i], *g = nn_tensor_grad(p);
    if (!g) {
      nn_tensor *z = NULL;
      if (nn_zeros(d->ctx, nn_tensor_dtype(p), nn_tensor_ndim(p), nn_tensor_shape(p), &z) == NN_OK) {
        if (nn_tensor_set_grad(d->ctx, p, z) == NN_OK) g = nn_tensor_grad(p);
        nn_tensor_release(z);
      }
      if (!g) continue;   /* no memory: this grad stays absent (the step skips it) */
    }
    size_t n = tensor_bytes(p);
    memcpy(nn_tensor_data(g), src, n);
    divide(g, W.size);
    nn_tensor_bump_version(g);
    src += n;
  }
}

static void finish(Ddp *d) {
  for (; d->next < d->nb; d->next++) start(d, &d->b[d->next]);
  double t0 = now_s();
  for (int k = 0; k < d->nb; k++) {
    MPI_Wait(&d->b[k].req, MPI_STATUS_IGNORE);
    d->b[k].started = false;
    d->b[k].ready = 0;
  }
  d->comm_s += now_s() - t0;
  for (int k = 0; k < d->nb; k++) unpack(d, &d->b[k]);
  memset(d->is_ready, 0, (size_t)d->np * sizeof *d->is_ready);
  d->next = 0;
  d->steps++;
}

static void on_ready(Ddp *d, nn_tensor *leaf) {
  ParamKey key = {leaf, 0}, *k = bsearch(&key, d->keys, (size_t)d->np, sizeof key, key_cmp);
  if (!k || d->is_ready[k->i]) return;
  d->is_ready[k->i] = true;
  d->b[d->bucket_of[k->i]].ready++;
  bool progressed = false;
  while (d->next < d->nb && d->b[d->next].ready == d->b[d->next].count) {
    start(d, &d->b[d->next++]);
    progressed = true;
  }
  if (!progressed && d->next > 0) {   /* lets MPI move the started ones along */
    int flag;
    MPI_Test(&d->b[d->next - 1].req, &flag, MPI_STATUS_IGNORE);
    if (flag) d->b[d->next - 1].req = MPI_REQUEST_NULL;
  }
}

static void grad_ready(nn_ctx *ctx, nn_tensor *leaf, void *ud) {
  (void)ud;
  for (Ddp *d = ddps; d; d = d->next_ddp) {
    if (d->ctx != ctx || !d->sync || d->closed) continue;
    if (leaf) on_ready(d, leaf);
    else finish(d);
  }
}

static void ddp_close(Ddp *d) {
  if (d->closed) return;
  d->closed = true;
  for (int k = 0; k < d->nb; k++) {
    if (d->b[k].started) MPI_Wait(&d->b[k].req, MPI_STATUS_IGNORE);
    nn_tensor_release(d->b[k].flat);
  }
  for (int i = 0; i < d->np; i++) nn_tensor_release(d->p[i]);
  Ddp **pp = &ddps;
  while (*pp && *pp != d) pp = &(*pp)->next_ddp;
  if (*pp) *pp = d->next_ddp;
  bool others = false;
  for (Ddp *o = ddps; o; o = o->next_ddp) others = others || o->ctx == d->ctx;
  if (!others) nn_set_grad_ready_hook(d->ctx, NULL, NULL);
  free(d->p);
  free(d->bucket_of);
  free(d->is_ready);
  free(d->keys);
  free(d->b);
  d->p = NULL;
  d->b = NULL;
  d->np = d->nb = 0;
}

static int ddp_gc(lua_State *L) {
  ddp_close(luaL_checkudata(L, 1, DDP_MT));
  return 0;
}

static Ddp *check_ddp(lua_State *L) {
  Ddp *d = luaL_checkudata(L, 1, DDP_MT);
  if (d->closed) luaL_error(L, "DistributedDataParallel: closed");
  return d;
}

static int ddp_set_sync(lua_State *L) {
  check_ddp(L)->sync = lua_toboolean(L, 2);
  return 0;
}

/* stats() -> seconds in MPI, bytes all-reduced, backward passes synchronised */
static int ddp_stats(lua_State *L) {
  Ddp *d = check_ddp(L);
  lua_pushnumber(L, d->comm_s);
  lua_pushinteger(L, (lua_Integer)d->bytes);
  lua_pushinteger(L, (lua_Integer)d->steps);
  return 3;
}

/* The buckets: parameters in the given order (the caller reverses), a new bucket when the dtype
   changes or the bytes would pass cap; then the flat buffers and the lookup keys. */
static void ddp_layout(lua_State *L, Ddp *d, size_t cap) {
  size_t bytes = 0;
  for (int i = 0; i < d->np; i++) {
    size_t n = tensor_bytes(d->p[i]);
    bool fresh = d->nb == 0 || nn_tensor_dtype(d->p[i]) != nn_tensor_dtype(d->p[i - 1]) ||
                 (bytes > 0 && bytes + n > cap);
    if (fresh) {
      d->b[d->nb++] = (Bucket){.first = i, .req = MPI_REQUEST_NULL};
      bytes = 0;
    }
    d->b[d->nb - 1].count++;
    d->bucket_of[i] = d->nb - 1;
    bytes += n;
    d->keys[i] = (ParamKey){d->p[i], i};
  }
  qsort(d->keys, (size_t)d->np, sizeof *d->keys, key_cmp);
  for (int k = 0; k < d->nb; k++) {
    int64_t n = 0;
    for (int i = d->b[k].first; i < d->b[k].first + d->b[k].count; i++) n += nn_tensor_numel(d->p[i]);
    if (n > INT32_MAX) luaL_error(L, "DistributedDataParallel: a bucket of %I elements is too large for MPI (lower bucket_mb)", (lua_Integer)n);
    lunet_check(L, nn_tensor_new(d->ctx, nn_tensor_dtype(d->p[d->b[k].first]), 1, &n, &d->b[k].flat));
  }
}

/* ddp_new({params in bucket order}, bucket_bytes) -> handle (all-reduces only in a world of 2+) */
static int d_ddp_new(lua_State *L) {
  need_init(L, "DistributedDataParallel");
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer cap = luaL_checkinteger(L, 2);
  lua_Integer np = luaL_len(L, 1);
  if (np < 0 || np > (1 << 24)) return luaL_error(L, "DistributedDataParallel: %I parameters", np);
  for (lua_Integer i = 1; i <= np; i++) {
    lua_geti(L, 1, i);
    nn_tensor *t = lunet_checktensor(L, -1);
    if (nn_tensor_dtype(t) == NN_I64 || !nn_tensor_requires_grad(t))
      return luaL_error(L, "DistributedDataParallel: parameter %I does not require grad", i);
    lua_pop(L, 1);
  }
  Ddp *d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  d->closed = true;   /* until complete: __gc then frees only what is there */
  luaL_setmetatable(L, DDP_MT);
  size_t n = (size_t)(np > 0 ? np : 1);
  d->p = calloc(n, sizeof *d->p);
  d->bucket_of = calloc(n, sizeof *d->bucket_of);
  d->is_ready = calloc(n, sizeof *d->is_ready);
  d->keys = calloc(n, sizeof *d->keys);
  d->b = calloc(n, sizeof *d->b);
  if (!d->p || !d->bucket_of || !d->is_ready || !d->keys || !d->b) {
    d->closed = false;
    ddp_close(d);
    return luaL_error(L, "DistributedDataParallel: out of memory");
  }
  d->ctx = lunet_ctx(L);
  for (int i = 0; i < (int)np; i++) {
    lua_geti(L, 1, i + 1);
    d->p[i] = lunet_checktensor(L, -1);
    nn_tensor_retain(d->p[i]);
    d->np = i + 1;
    lua_pop(L, 1);
  }
  d->closed = false;
  d->sync = true;
  d->next_ddp = ddps;
  ddps = d;
  ddp_layout(L, d, cap > 0 ? (size_t)cap : 1);
  if (W.mpi && W.size > 1) nn_set_grad_ready_hook(d->ctx, grad_ready, NULL);
  lua_pushinteger(L, d->nb);
  return 2;
}

static const luaL_Reg ddp_methods[] = {
  {"set_sync", ddp_set_sync}, {"stats", ddp_stats}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
  {"built", d_built}, {"tobytes", d_tobytes}, {"frombytes", d_frombytes},
  {"init", d_init}, {"barrier", d_barrier}, {"abort", d_abort}, {"wtime", d_wtime},
  {"all_reduce", d_all_reduce}, {"reduce", d_reduce}, {"broadcast", d_broadcast},
  {"all_gather", d_all_gather}, {"gather", d_gather}, {"scatter", d_scatter},
  {"send", d_send}, {"recv", d_recv},
  {"bcast_bytes", d_bcast_bytes}, {"allgather_bytes", d_allgather_bytes},
  {"ddp_new", d_ddp_new}, {NULL, NULL}};

#endif /* LUNET_HAVE_MPI */

void lunet_open_dist(lua_State *L) {
#ifdef LUNET_HAVE_MPI
  if (luaL_newmetatable(L, DDP_MT)) {
    lua_pushcfunction(L, ddp_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, ddp_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
#endif
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "_dist");
}
