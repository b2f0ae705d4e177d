/* pool.c — a context's worker threads, for splitting one matrix product, or a batch's rows,
   across cores; and how many threads a context gets by default.

   OpenBLAS's own threading loses to one thread below tens of millions of multiply-adds (its
   workers wake slowly and then spin), which is where small-batch training lives. So each
   context keeps threads-1 workers of its own and hands each a band of rows of C to compute
   with single-threaded BLAS.

   One job at a time, its parts claimed from a ticket (see struct nn_pool). Part 0 is always
   the caller's; the others go to whoever claims them first, the caller too once its own is
   done, so a worker the system has not scheduled costs nothing: the caller runs every part no
   worker has taken. What a part computes depends on its index alone, never on the thread that
   runs it, so the results are the same bits whoever runs which part.

   Nothing spins without bound. On a loaded machine (two training processes on two cores) the
   thread being waited for may be off the CPU for a whole time slice, and spinning through it
   only keeps it off longer. Idle workers spin briefly (the next job usually follows within
   microseconds), then sleep on a condition variable; a thread waiting for parts that other
   threads have claimed spins briefly, then sleeps until the last of them is done. And when
   the caller finds the CPUs crowded, it stops posting jobs for a while (see after_job). */
#define _GNU_SOURCE        /* pthread_setname_np, sched_getaffinity */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include "nn_impl.h"

extern int openblas_get_parallel(void);   /* 0: a serial build, 1: pthreads, 2: OpenMP */

#define SPIN_S 200e-6      /* an idle worker spins this long for the next job before sleeping */
#define WAIT_SPIN_S 50e-6  /* a thread waiting for others' parts spins this long, then sleeps */
#define MAX_WORKERS (NN_THREADS_MAX - 1)
#define MAX_PARTS 0xffff   /* parts of one job: they must fit the ticket's 16-bit fields */

/* The ticket is one atomic word: job number << 32 | the job's part count << 16 | next part.
   Why one word: a worker still finishing job g may look at the pool while the caller posts
   job g+1. Its claim is a compare-and-swap of the whole word it read, so it succeeds only on
   a word of job g with a part of job g left, and every part of job g is claimed before the
   caller moves on (it waits for them all); so a stale claim fails, and a worker never counts
   a part twice. With the part count in a separate variable, stored before the new ticket, a
   worker could pair job g's ticket with job g+1's count and run a part of job g+1 that was
   claimed again later (a race ThreadSanitizer reported).
   The job's other fields (fn, arg, phase) are plain: the caller writes them before it stores
   the ticket (release, seq_cst), and a worker reads them only after a successful claim
   (acquire), so it sees this job's; the caller rewrites them only after every part is done. */
static inline uint32_t t_job(uint64_t t) { return (uint32_t)(t >> 32); }
static inline int t_parts(uint64_t t) { return (int)(t >> 16 & 0xffff); }
static inline int t_next(uint64_t t) { return (int)(t & 0xffff); }

struct nn_pool {
  nn_ctx *ctx;
  int nworkers, requested;    /* started, and asked for (thread creation may fall short) */
  pthread_t *tids;
  pthread_mutex_t mu;
  pthread_cond_t wake;        /* idle workers sleep here: a new job, or quit */
  pthread_cond_t finished;    /* threads waiting for parts sleep here: done moved */
  void (*fn)(void *arg, int part);   /* the job (see above) */
  void *arg;
  int phase;                  /* parts >= phase start once parts < phase are done (0: one phase) */
  atomic_uint_fast64_t ticket;
  atomic_int done;            /* parts of the current job finished */
  atomic_int sleeping;        /* workers asleep on wake */
  atomic_int waiting;         /* threads asleep on finished */
  atomic_bool busy;           /* a job is running: a call from inside one of its parts runs serially */
  atomic_bool quit;
  /* back-off (see after_job), the caller's alone: no worker reads these */
  double solo_until;          /* jobs posted before this time run on the caller alone */
  double backoff;             /* the next solo spell's length */
  double parallel_since;      /* when the last spell ended */
  double checked;             /* when the current window started */
  pthread_t checker;          /* the thread whose preemptions it counts, */
  long preempts;              /* and their number then */
  long solo_jobs, spells;     /* counted for nn_pool_stats */
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Waits until target parts of the current job are done: spins for WAIT_SPIN_S, then sleeps.
   No lost wake-up: the sleeper raises waiting, then reads done; a finisher raises done, then
   reads waiting (all seq_cst), so at least one sees the other's change, and the finisher
   broadcasts under the mutex the sleeper holds until it is in pthread_cond_wait. */
static void wait_done(nn_pool *p, int target) {
  double until = 0;
  for (int k = 1; atomic_load(&p->done) < target; k++) {
    cpu_relax();
    if (k % 64) continue;
    double now = nn_now();
    if (!until) until = now + WAIT_SPIN_S;
    else if (now > until) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->waiting, 1);
      while (atomic_load(&p->done) < target) pthread_cond_wait(&p->finished, &p->mu);
      atomic_fetch_sub(&p->waiting, 1);
      pthread_mutex_unlock(&p->mu);
      return;
    }
  }
}

/* A part is done: count it (after its writes), and wake whoever sleeps in wait_done. */
static void finish_part(nn_pool *p) {
  atomic_fetch_add(&p->done, 1);
  if (atomic_load(&p->waiting) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->finished);
    pthread_mutex_unlock(&p->mu);
  }
}

/* Claims and runs parts of job number job until none is left. A part of the second phase
   waits for the first: those parts were all claimed before it (the ticket hands parts out in
   order) by threads that are running them, so the wait ends. */
static void run_parts(nn_pool *p, uint32_t job) {
  uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
  while (t_job(t) == job && t_next(t) < t_parts(t)) {
    if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acquire,
                                               memory_order_acquire))
      continue;                      /* t now holds the current word */
    int part = t_next(t);
    if (p->phase > 0 && part >= p->phase) wait_done(p, p->phase);
    p->fn(p->arg, part);
    finish_part(p);
    t = atomic_load_explicit(&p->ticket, memory_order_acquire);
  }
}

static void *worker(void *arg) {
  nn_pool *p = arg;
  nn_ftz_begin();                        /* our own thread: products run flushing subnormals */
#if defined(__linux__) && defined(__GLIBC__)
  pthread_setname_np(pthread_self(), "lunet-worker");   /* (named in top, perf, gdb) */
#endif
  uint32_t seen = 0;                     /* the pool starts at job 0: a job may already be posted */
  for (;;) {
    double until = nn_now() + SPIN_S;
    uint64_t t;
    int k = 0;
    while (t_job(t = atomic_load(&p->ticket)) == seen && !atomic_load(&p->quit)) {
      cpu_relax();
      if (++k % 64 == 0 && nn_now() > until) {
        /* (the same handshake as wait_done's, on sleeping and the ticket) */
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleeping, 1);
        while (t_job(atomic_load(&p->ticket)) == seen && !atomic_load(&p->quit))
          pthread_cond_wait(&p->wake, &p->mu);
        atomic_fetch_sub(&p->sleeping, 1);
        pthread_mutex_unlock(&p->mu);
      }
    }
    if (atomic_load(&p->quit)) return NULL;
    seen = t_job(t);
    run_parts(p, seen);
  }
}

void nn_pool_free(nn_pool *p) {
  if (!p) return;
  atomic_store(&p->quit, true);
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nworkers; i++) pthread_join(p->tids[i], NULL);
  pthread_cond_destroy(&p->finished);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  nn_ctx *ctx = p->ctx;
  ctx->alloc(ctx->ud, p->tids, sizeof *p->tids * (size_t)p->requested, 0);
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
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->finished, NULL);
  atomic_init(&p->ticket, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->sleeping, 0);
  atomic_init(&p->waiting, 0);
  atomic_init(&p->busy, false);
  atomic_init(&p->quit, false);
  for (int i = 0; i < nworkers; i++) {
    if (pthread_create(&p->tids[i], NULL, worker, p) != 0) break;
    p->nworkers++;
  }
  if (p->nworkers == 0) { nn_pool_free(p); return NULL; }
  return p;
}

/* Back-off. When more threads want the CPUs than there are (two training processes on two
   cores), parallel jobs cost more than they give: a worker woken for a job takes a CPU from
   the caller or from the other process, and a part's thread may be off its CPU for a whole
   time slice. The caller sees it from its own thread: it is preempted (an involuntary context
   switch) hundreds of times a second where alone it hardly ever is. A window of CHECK_S with
   more than PREEMPT_RATE makes the next jobs run on the caller alone for a spell: the workers
   fall asleep and leave their CPUs to the other threads. A spell doubles, up to BACKOFF_MAX,
   when the parallel jobs after it are crowded again (so two processes on two cores settle
   into one thread each, trying two for a window every BACKOFF_MAX), and starts again from
   BACKOFF_MIN after CLEAN_S without one. The split does not change (the same parts, run in
   order), so neither do the bits. */
#define CHECK_S 1e-3
#define PREEMPT_RATE 1e3   /* preemptions per second of the caller (and 2 at least) */
#define BACKOFF_MIN 2e-3
#define BACKOFF_MAX 128e-3
#define CLEAN_S 0.25

/* the calling thread's involuntary context switches so far (0 where the system does not say) */
static long thread_preemptions(void) {
#if defined(RUSAGE_THREAD)
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) return ru.ru_nivcsw;
#endif
  return 0;
}
long (*nn_pool_preemptions)(void) = thread_preemptions;

/* a new window from now on, counting the calling thread's preemptions */
static void window_start(nn_pool *p, double now) {
  p->checked = now;
  p->checker = pthread_self();
  p->preempts = nn_pool_preemptions();
}

/* whether this job runs on the caller alone: a spell is on */
static bool solo(nn_pool *p) {
  if (p->solo_until == 0) return false;
  double now = nn_now();
  if (now < p->solo_until) return p->solo_jobs++, true;
  p->solo_until = 0;
  p->parallel_since = now;
  window_start(p, now);
  return false;
}

/* a parallel job is over: at the end of a window, start a spell when it was crowded */
static void after_job(nn_pool *p) {
  double now = nn_now(), span = now - p->checked;
  if (span < CHECK_S) return;
  long n = nn_pool_preemptions() - p->preempts;
  bool crowded = pthread_equal(p->checker, pthread_self()) && n >= 2 && n > PREEMPT_RATE * span;
  window_start(p, now);
  if (!crowded) return;
  p->spells++;
  if (now - p->parallel_since > CLEAN_S || p->backoff < BACKOFF_MIN) p->backoff = BACKOFF_MIN;
  p->solo_until = now + p->backoff;
  p->backoff = p->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : p->backoff * 2;
}

/* Runs fn(arg, 0..nparts-1), part 0 on the calling thread and the others on the context's
   workers (created on first use); parts >= phase (when phase > 0) only once every part below
   phase is done. Without workers every part runs here, in order. */
static void pool_run(nn_ctx *ctx, int nparts, int phase, void (*fn)(void *arg, int part), void *arg) {
  int want = ctx->threads - 1 > MAX_WORKERS ? MAX_WORKERS : ctx->threads - 1;
  nn_pool *p = ctx->pool;
  /* One job at a time: a part that calls back in (a lane function splitting an op of its
     own) runs that call's parts itself, in order; posting a job would overwrite the running
     one. A context serves one host thread at a time, so only such a nested call sees busy
     (a worker's claim made the caller's store of it visible). */
  bool nested = p && atomic_load_explicit(&p->busy, memory_order_relaxed);
  if (!nested && p && p->requested != want) { nn_pool_free(p); ctx->pool = p = NULL; }
  /* The workers start with the first job that splits. Concurrent calls are safe only into
     OpenBLAS's pthreads build (its serial build shares buffers between callers and gives
     wrong results), so other builds get no workers. That build is put on one thread first
     (nn_blas_threads, through its public openblas_set_num_threads), so that its own workers
     are never handed a job. They still spin (sched_yield) for 2^28 cycles after the library
     loads before they sleep, and may overlap our first jobs in that spell; no public call
     ends it, and waiting it out would make the split depend on the clock. The lunet runner
     stops them at start-up (bindings/main.c). */
  if (!p && want > 0 && nparts > 1 && openblas_get_parallel() == 1) {
    nn_blas_threads(ctx);
    ctx->pool = p = pool_new(ctx, want);
  }
  if (!p || nested || nparts < 2 || nparts > MAX_PARTS || solo(p)) {
    for (int i = 0; i < nparts; i++) fn(arg, i);
    return;
  }
  /* publish the job: its fields first, then the ticket with the next job number and part 1:
     part 0 is the caller's own, so a job split by rows keeps its first rows on this thread
     and the next on the first worker, step after step (data stays in the core that made it) */
  atomic_store_explicit(&p->busy, true, memory_order_relaxed);
  p->fn = fn;
  p->arg = arg;
  p->phase = phase;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  uint32_t job = t_job(atomic_load_explicit(&p->ticket, memory_order_relaxed)) + 1;
  atomic_store(&p->ticket, (uint64_t)job << 32 | (uint64_t)nparts << 16 | 1u);
  if (atomic_load(&p->sleeping) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  fn(arg, 0);
  finish_part(p);
  run_parts(p, job);                /* parts no worker has taken yet */
  wait_done(p, nparts);             /* parts workers have taken */
  atomic_store_explicit(&p->busy, false, memory_order_relaxed);
  after_job(p);
}

void nn_pool_run(nn_ctx *ctx, int nparts, void (*fn)(void *arg, int part), void *arg) {
  pool_run(ctx, nparts, 0, fn, arg);
}

void nn_pool_stats(const nn_ctx *ctx, long *solo_jobs, long *spells) {
  const nn_pool *p = ctx->pool;
  *solo_jobs = p ? p->solo_jobs : 0;
  *spells = p ? p->spells : 0;
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

/* Two phases in one job: parts 0..n-1 run fn's lanes, parts n..2n-1 then's, each starting
   once the first phase is done (pool_run's phase). The second phase saves a hand-off and the
   wait at its end: a layer's backward adds its lanes' partial weight gradients this way.
   Without workers all parts run here in order. */
typedef struct { lane_job a, b; } lanes2_job;

static void lanes2_part(void *arg, int item) {
  lanes2_job *j = arg;
  if (item < j->a.parts) lane_part(&j->a, item);
  else lane_part(&j->b, item - j->a.parts);
}

void nn_lanes_then(nn_ctx *ctx, int64_t rows, int64_t work, nn_lane_fn fn, void *arg,
                   int64_t then_rows, nn_lane_fn then) {
  int parts = nn_lane_count(ctx, rows, work);
  if (parts < 2) { fn(arg, 0, 0, rows); then(arg, 0, 0, then_rows); return; }
  lanes2_job j = {lane_job_of(fn, arg, rows, parts), lane_job_of(then, arg, then_rows, parts)};
  pool_run(ctx, 2 * parts, parts, lanes2_part, &j);
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

/* ---- the default thread count ---------------------------------------------------------------
   A thread more than the CPUs this process may use only waits for one: its lanes stall the
   others' (a part runs late, and the step waits for it). So the default counts the CPUs the
   process may run on (taskset, a container's cpuset), caps them by the cgroup's CPU quota
   (docker --cpus: the CPUs are all visible, but time on them is rationed), and shares them
   among the MPI ranks on this host, each of which makes its own context. */

/* the CPUs quota/period allows in one cgroup directory, or 0 when it sets none: cgroup v2's
   cpu.max ("max 100000" or "150000 100000"), else v1's cpu.cfs_quota_us (-1: none) */
static double quota_in(const char *dir) {
  char path[4096 + 32], buf[64];    /* dir is at most 4096 */
  double quota = -1, period = 0;
  snprintf(path, sizeof path, "%s/cpu.max", dir);
  FILE *f = fopen(path, "r");
  if (f) {
    if (fgets(buf, sizeof buf, f) && sscanf(buf, "%lf %lf", &quota, &period) != 2) quota = -1;
    fclose(f);
  } else {
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if ((f = fopen(path, "r"))) {
      if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%lf", &quota) != 1) quota = -1;
      fclose(f);
    }
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if ((f = fopen(path, "r"))) {
      if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%lf", &period) != 1) period = 0;
      fclose(f);
    }
  }
  return quota > 0 && period > 0 ? quota / period : 0;
}

/* the smallest quota on the way from base/path up to base: a parent's quota binds its
   children too. Inside a container /proc/self/cgroup may name the host's path while the
   container sees its own cgroup at the mount's root: the walk reaches that as well. */
static double quota_up(const char *base, const char *path) {
  char dir[4096];
  double best = 0;
  int n = snprintf(dir, sizeof dir, "%s%s", base, path);
  if (n < 0 || (size_t)n >= sizeof dir) return 0;
  size_t root = strlen(base);
  for (;;) {
    while (n > (int)root + 1 && dir[n - 1] == '/') dir[--n] = '\0';   /* no trailing slash */
    double q = quota_in(dir);
    if (q > 0 && (best == 0 || q < best)) best = q;
    char *slash = strrchr(dir + root, '/');
    if (!slash) break;
    n = (int)(slash - dir);
    if (n < (int)root) break;
    dir[n] = '\0';
  }
  return best;
}

int nn_cgroup_cpus(const char *self, const char *root) {
  FILE *f = fopen(self, "r");
  if (!f) return 0;
  char line[4096], base[4096];
  double best = 0;
  while (fgets(line, sizeof line, f)) {      /* "id:controllers:path" */
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *ctrls = c1 + 1, *path = c2 + 1;
    double q = 0;
    if (*ctrls == '\0') {                    /* v2: one hierarchy */
      snprintf(base, sizeof base, "%s", root);
      q = quota_up(base, path);
    } else {                                 /* v1: the hierarchy whose controllers include cpu */
      char list[256];
      snprintf(list, sizeof list, ",%s,", ctrls);
      if (!strstr(list, ",cpu,")) continue;
      static const char *mounts[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
      for (size_t m = 0; m < sizeof mounts / sizeof mounts[0] && q == 0; m++) {
        snprintf(base, sizeof base, "%s/%s", root, mounts[m]);
        q = quota_up(base, path);
      }
    }
    if (q > 0 && (best == 0 || q < best)) best = q;
  }
  fclose(f);
  if (best <= 0) return 0;
  return best < 1 ? 1 : best > NN_THREADS_MAX ? NN_THREADS_MAX : (int)best;   /* rounded down */
}

int nn_cpus_usable(void) {
  long n = 0;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
  int quota = nn_cgroup_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
  if (quota > 0 && quota < n) n = quota;
  /* ranks on this host: Open MPI's mpirun, then MPICH's (Hydra) */
  const char *ranks = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!ranks || !*ranks) ranks = getenv("MPI_LOCALNRANKS");
  long r = ranks ? strtol(ranks, NULL, 10) : 1;
  if (r > 1) n /= r;
  return n < 1 ? 1 : n > NN_THREADS_MAX ? NN_THREADS_MAX : (int)n;
}
