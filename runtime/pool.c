/* pool.c — a context's worker threads, for splitting one matrix product across cores.

   OpenBLAS's own threading loses to one thread below tens of millions of multiply-adds (its
   workers wake slowly and then spin), which is where small-batch training lives. So each
   context keeps threads-1 workers of its own and hands each a band of rows of C to compute
   with single-threaded BLAS. Workers spin briefly after a job (the next product usually
   follows within microseconds), then sleep on a condition variable.
   One job at a time, its parts claimed from a ticket (job number and next part in one atomic
   word, taken by compare-and-swap). Part 0 is always the caller's; the others go to whoever
   claims them first, the caller too once its own is done, so a worker the system has not
   scheduled yet costs nothing — the caller does its share and returns once every claimed
   part is done. A worker that wakes for an old job finds its number gone and claims nothing. */
#define _GNU_SOURCE        /* pthread_setname_np */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "nn_impl.h"

extern int openblas_get_parallel(void);   /* 0: a serial build, 1: pthreads, 2: OpenMP */
/* OpenBLAS's pthreads build: nonzero while its own worker threads exist (weak: another BLAS,
   or a build without it, leaves it NULL) */
extern int blas_server_avail __attribute__((weak));

#define SPIN_NS 200000   /* a worker spins this long for the next job before sleeping */
#define MAX_WORKERS 63
#define POOL_DELAY_S 0.2   /* seconds after the context's creation before workers start */

typedef struct { struct nn_pool *p; int index; } worker_arg;

struct nn_pool {
  nn_ctx *ctx;
  int nworkers, requested;   /* started, and asked for (thread creation may fall short) */
  pthread_t *tids;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint_fast64_t ticket; /* job number << 32 | next part to claim */
  atomic_int done;             /* parts of the current job finished */
  atomic_int sleeping;
  atomic_bool quit;
  void (*fn)(void *arg, int part);
  void *arg;
  atomic_int nparts;           /* read by workers that may be looking at the previous job */
  worker_arg wargs[MAX_WORKERS];
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Claims and runs parts of job number job until none is left; returns how many it ran. */
static void run_parts(nn_pool *p, uint32_t job) {
  for (;;) {
    uint64_t t = atomic_load(&p->ticket);
    if ((uint32_t)(t >> 32) != job || (int)(uint32_t)t >= atomic_load_explicit(&p->nparts, memory_order_relaxed))
      return;            /* (a stale count fails the exchange below, as the ticket moved on) */
    if (!atomic_compare_exchange_weak(&p->ticket, &t, t + 1)) continue;
    p->fn(p->arg, (int)(uint32_t)t);
    atomic_fetch_add(&p->done, 1);
  }
}

static void *worker(void *wa) {
  nn_pool *p = ((worker_arg *)wa)->p;
  nn_ftz_begin();                        /* our own thread: products run flushing subnormals */
#if defined(__linux__) && defined(__GLIBC__)
  pthread_setname_np(pthread_self(), "lunet-worker");   /* (named in top, perf, gdb) */
#endif
  uint32_t seen = 0;                     /* the pool starts at job 0: a job may already be posted */
  for (;;) {
    uint64_t until = mono_ns() + SPIN_NS;
    int k = 0;
    while ((uint32_t)(atomic_load(&p->ticket) >> 32) == seen && !atomic_load(&p->quit)) {
      cpu_relax();
      if (++k % 64 == 0 && mono_ns() > until) {
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleeping, 1);
        while ((uint32_t)(atomic_load(&p->ticket) >> 32) == seen && !atomic_load(&p->quit))
          pthread_cond_wait(&p->cv, &p->mu);
        atomic_fetch_sub(&p->sleeping, 1);
        pthread_mutex_unlock(&p->mu);
      }
    }
    if (atomic_load(&p->quit)) return NULL;
    seen = (uint32_t)(atomic_load(&p->ticket) >> 32);
    run_parts(p, seen);
  }
}

void nn_pool_free(nn_pool *p) {
  if (!p) return;
  atomic_store(&p->quit, true);
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nworkers; i++) pthread_join(p->tids[i], NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  nn_ctx *ctx = p->ctx;
  ctx->alloc(ctx->ud, p->tids, sizeof *p->tids * (size_t)p->nworkers, 0);
  ctx->alloc(ctx->ud, p, sizeof *p, 0);
}

static nn_pool *pool_new(nn_ctx *ctx, int nworkers) {
  nn_pool *p = ctx->alloc(ctx->ud, NULL, 0, sizeof *p);
  ctx->alloc_calls++;
  if (!p) return NULL;
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->requested = nworkers;
  p->tids = ctx->alloc(ctx->ud, NULL, 0, sizeof *p->tids * (size_t)nworkers);
  ctx->alloc_calls++;
  if (!p->tids || pthread_mutex_init(&p->mu, NULL) != 0) {
    if (p->tids) ctx->alloc(ctx->ud, p->tids, sizeof *p->tids * (size_t)nworkers, 0);
    ctx->alloc(ctx->ud, p, sizeof *p, 0);
    return NULL;
  }
  pthread_cond_init(&p->cv, NULL);
  atomic_init(&p->ticket, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->nparts, 0);
  atomic_init(&p->sleeping, 0);
  atomic_init(&p->quit, false);
  for (int i = 0; i < nworkers; i++) {
    worker_arg *wa = &p->wargs[i];
    wa->p = p;
    wa->index = i;
    if (pthread_create(&p->tids[i], NULL, worker, wa) != 0) break;
    p->nworkers++;
  }
  if (p->nworkers == 0) { nn_pool_free(p); return NULL; }
  return p;
}

/* Runs fn(arg, 0..nparts-1), part 0 on the calling thread and the others on the context's
   workers (created on first use). Without workers every part runs here, in order. */
void nn_pool_run(nn_ctx *ctx, int nparts, void (*fn)(void *arg, int part), void *arg) {
  int want = ctx->threads - 1 > MAX_WORKERS ? MAX_WORKERS : ctx->threads - 1;
  if (ctx->pool && ctx->pool->requested != want) { nn_pool_free(ctx->pool); ctx->pool = NULL; }
  /* Concurrent calls are safe only into OpenBLAS's pthreads build (its serial build shares
     buffers between callers: wrong results, measured), so other builds get no workers. That
     build starts its own workers with the process, and they spin (sched_yield) for about
     2^28 cycles before sleeping; ours started alongside would make three busy threads on two
     cores and stall the lock-step products, so the pool starts after that spell — at once
     when those workers are gone (the lunet runner stops them: bindings/main.c). */
  bool openblas_idle = &blas_server_avail != NULL && blas_server_avail == 0;
  if (!ctx->pool && want > 0 && nparts > 1 && openblas_get_parallel() == 1 &&
      (openblas_idle || nn_now() - ctx->born > POOL_DELAY_S))
    ctx->pool = pool_new(ctx, want);
  nn_pool *p = ctx->pool;
  if (!p || nparts < 2) {
    for (int i = 0; i < nparts; i++) fn(arg, i);
    return;
  }
  /* publish the job: its fields first, then the ticket with the next job number and part 1:
     part 0 is the caller's own, so a job split by rows keeps its first rows on this thread
     and the next on the first worker, step after step (data stays in the core that made it) */
  p->fn = fn;
  p->arg = arg;
  atomic_store_explicit(&p->nparts, nparts, memory_order_relaxed);
  atomic_store(&p->done, 0);
  uint32_t job = (uint32_t)(atomic_load(&p->ticket) >> 32) + 1;
  atomic_store(&p->ticket, (uint64_t)job << 32 | 1u);
  if (atomic_load(&p->sleeping) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  fn(arg, 0);
  atomic_fetch_add(&p->done, 1);
  run_parts(p, job);                /* parts no worker has taken yet */
  while (atomic_load(&p->done) < nparts) cpu_relax();   /* parts claimed by workers */
}

/* ---- lanes: row ranges across threads -------------------------------------------------------
   A training step's tensors are [batch, features]. Split every big op by rows the same way —
   lane p takes rows [rows·p/parts, rows·(p+1)/parts), lane 0 on the caller, as products' bands
   are (gemm_part) — and each core reads the activations it wrote itself: splitting only the
   products left the element-wise ops reading half their rows from the other core's cache. */
#define LANE_MIN 4096      /* elements touched: below this an op runs here */

typedef struct {
  nn_lane_fn fn;
  void *arg;
  int64_t rows;
  int parts;
  unsigned csr;            /* the caller's floating-point mode, for every lane */
} lane_job;

/* a job of parts lanes over rows, in the caller's floating-point mode */
static lane_job lane_job_of(nn_lane_fn fn, void *arg, int64_t rows, int parts) {
  lane_job j = {fn, arg, rows, parts, 0};
#if defined(__SSE__) || defined(__x86_64__)
  j.csr = _mm_getcsr();
#endif
  return j;
}

static void lane_part(void *arg, int part) {
  const lane_job *j = arg;
  int64_t lo = j->rows * part / j->parts, hi = j->rows * (part + 1) / j->parts;
#if defined(__SSE__) || defined(__x86_64__)
  unsigned old = _mm_getcsr();     /* workers flush subnormals; an element-wise op here may not */
  _mm_setcsr(j->csr);
  j->fn(j->arg, part, lo, hi);
  _mm_setcsr(old);
#else
  j->fn(j->arg, part, lo, hi);
#endif
}

int nn_lane_count(nn_ctx *ctx, int64_t rows, int64_t work) {
  int parts = ctx->threads < NN_LANES_MAX ? ctx->threads : NN_LANES_MAX;
  if (parts > rows) parts = (int)rows;
  return parts < 2 || work < LANE_MIN ? 1 : parts;
}

void nn_lanes(nn_ctx *ctx, int64_t rows, int64_t work, nn_lane_fn fn, void *arg) {
  int parts = nn_lane_count(ctx, rows, work);
  if (parts < 2) { fn(arg, 0, 0, rows); return; }
  lane_job j = lane_job_of(fn, arg, rows, parts);
  nn_pool_run(ctx, parts, lane_part, &j);
}

/* Two phases in one job: parts 0..n-1 run fn's lanes and count themselves done; parts n..2n-1
   wait for that count and run then's lanes. A part waits only for parts claimed before it (the
   ticket hands them out in order), each of which is running, so no wait is forever; without
   workers all parts run here in order. The second phase saves a hand-off and the wait at its
   end: a layer's backward adds its lanes' partial weight gradients this way. */
typedef struct {
  lane_job a;
  nn_lane_fn then;
  int64_t then_rows;
  atomic_int done;           /* first-phase parts finished */
} lanes2_job;

static void lanes2_part(void *arg, int item) {
  lanes2_job *j = arg;
  int parts = j->a.parts;
  if (item < parts) {
    lane_part(&j->a, item);
    atomic_fetch_add_explicit(&j->done, 1, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&j->done, memory_order_acquire) < parts) cpu_relax();
  lane_job b = j->a;
  b.fn = j->then;
  b.rows = j->then_rows;
  lane_part(&b, item - parts);
}

void nn_lanes_then(nn_ctx *ctx, int64_t rows, int64_t work, nn_lane_fn fn, void *arg,
                   int64_t then_rows, nn_lane_fn then) {
  int parts = nn_lane_count(ctx, rows, work);
  if (parts < 2) { fn(arg, 0, 0, rows); then(arg, 0, 0, then_rows); return; }
  lanes2_job j = {lane_job_of(fn, arg, rows, parts), then, then_rows, 0};
  atomic_init(&j.done, 0);
  nn_pool_run(ctx, 2 * parts, lanes2_part, &j);
}

typedef struct {
  int nops, ndim;
  const int64_t *shape;
  char *const *base;
  const int64_t *const *strides;
  const size_t *elsize;
  nn_row_fn fn;
  void *arg;
} loop_job;

static void loop_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const loop_job *j = arg;
  (void)part;
  int64_t shape[NN_MAX_DIMS];
  char *base[3];
  memcpy(shape, j->shape, sizeof(int64_t) * (size_t)j->ndim);
  shape[0] = hi - lo;
  for (int k = 0; k < j->nops; k++) base[k] = j->base[k] + lo * j->strides[k][0] * (int64_t)j->elsize[k];
  nn_loop(j->nops, j->ndim, shape, base, j->strides, j->elsize, j->fn, j->arg);
}

void nn_loop_lanes(nn_ctx *ctx, int nops, int ndim, const int64_t *shape, char *const *base,
                   const int64_t *const *strides, const size_t *elsize, nn_row_fn fn, void *arg) {
  int64_t n = nn_shape_numel(ndim, shape);
  /* (an output whose rows overlap — an in-place op on an expanded view — stays on one thread) */
  if (ndim < 1 || shape[0] < 2 || n < LANE_MIN || strides[0][0] == 0) {
    nn_loop(nops, ndim, shape, base, strides, elsize, fn, arg);
    return;
  }
  loop_job j = {nops, ndim, shape, base, strides, elsize, fn, arg};
  nn_lanes(ctx, shape[0], n, loop_rows, &j);
}
