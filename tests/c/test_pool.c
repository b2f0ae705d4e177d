/*
** test_pool.c — matrix products split across a context's worker threads (runtime/pool.c):
** two contexts with two threads each give the same bits every time (the split depends on the
** size and the thread count only), one thread and two agree with a naive float64 product,
** for every layout the layers use (A·B, A·B^T, A^T·B), repeated to give races a chance; a
** layer's forward and backward split by rows into lanes agree with one thread's, run after run.
** The pool itself: every part of every job runs exactly once (jobs of changing part counts
** back to back, where a worker still finishing one job meets the next), a second phase starts
** after the first, a lane function that splits work of its own runs it serially, a caller that is
** preempted often backs off to running jobs alone for a while; the thread
** limit and the default thread count (cgroup quota files, MPI ranks on the host); the
** workers start with a context's first job that splits, however soon after its creation.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "nn_impl.h"

extern int openblas_get_parallel(void);   /* OpenBLAS: 1 for its pthreads build */

/* naive C = op(A) op(B) in float64 from float32 tensors given as 2-D views */
static double naive(const nn_tensor *a, const nn_tensor *b, int64_t i, int64_t j) {
  const int64_t *as = nn_tensor_strides(a), *bs = nn_tensor_strides(b);
  const float *ap = nn_tensor_data(a), *bp = nn_tensor_data(b);
  int64_t K = nn_tensor_shape(a)[1];
  double s = 0;
  for (int64_t k = 0; k < K; k++) s += (double)ap[i * as[0] + k * as[1]] * bp[k * bs[0] + j * bs[1]];
  return s;
}

typedef struct { int64_t M, N, K; bool ta, tb; } shape_case;

/* A rows×cols operand in ctx, stored transposed when trans; values from a fixed sequence
   (seed), so every context gets the same numbers. */
static nn_tensor *operand(nn_ctx *ctx, int64_t rows, int64_t cols, bool trans, unsigned seed) {
  nn_tensor *t, *v;
  int64_t shape[2] = {trans ? cols : rows, trans ? rows : cols};
  float *data = malloc(sizeof(float) * (size_t)(rows * cols));
  for (int64_t i = 0; i < rows * cols; i++) {
    seed = seed * 1664525u + 1013904223u;
    data[i] = (float)((seed >> 8) / 16777216.0 - 0.5);
  }
  OK(nn_tensor_from_data(ctx, NN_F32, 2, shape, data, &t));
  free(data);
  if (!trans) return t;
  OK(nn_transpose(ctx, t, 0, 1, &v));
  nn_tensor_release(t);
  return v;
}

/* y = relu(layer(x)) * 0.5 + x2, loss = Σ y ⊙ gy; returns the gradients of x, w, b (new
   references: caller releases) and y. Operands come from fixed sequences in ctx. The layer is
   linear, addmm, or linear_relu (the relu fused in). */
typedef struct { nn_tensor *y, *gx, *gw, *gb; } lane_out;
enum { L_LINEAR, L_ADDMM, L_LINEAR_RELU };
static lane_out lanes_run(nn_ctx *ctx, int op, bool f64, bool xt) {
  bool addmm = op == L_ADDMM;
  enum { N = 200, IN = 64, OUT = 128 };
  nn_tensor *x = operand(ctx, N, IN, xt, 11),  /* xt: x a transposed view */ *w = operand(ctx, addmm ? IN : OUT, addmm ? OUT : IN, false, 12);
  nn_tensor *b2 = operand(ctx, 1, OUT, false, 13), *gy = operand(ctx, N, OUT, false, 14);
  nn_tensor *x2 = operand(ctx, N, OUT, false, 15), *b, *t[6], *l, *z, *h, *hs, *y, *prod;
  OK(nn_select(ctx, b2, 0, 0, &b));
  nn_tensor *in[5] = {x, w, b, gy, x2};
  if (f64)                        /* (contiguous copies: the transposed x is float32 only) */
    for (int i = 0; i < 5; i++) { OK(nn_to(ctx, in[i], NN_F64, &t[i])); nn_tensor_release(in[i]); in[i] = t[i]; }
  x = in[0]; w = in[1]; b = in[2]; gy = in[3]; x2 = in[4];
  OK(nn_tensor_set_requires_grad(ctx, x, true));
  OK(nn_tensor_set_requires_grad(ctx, w, true));
  OK(nn_tensor_set_requires_grad(ctx, b, true));
  if (op == L_ADDMM) OK(nn_addmm(ctx, b, x, w, &z));
  else if (op == L_LINEAR) OK(nn_linear(ctx, x, w, b, &z));
  else OK(nn_linear_relu(ctx, x, w, b, &z));
  if (op == L_LINEAR_RELU) nn_tensor_retain(h = z);
  else OK(nn_relu(ctx, z, &h));
  OK(nn_muls(ctx, h, 0.5, &hs));
  OK(nn_add(ctx, hs, x2, &y));
  OK(nn_mul(ctx, y, gy, &prod));
  OK(nn_sum(ctx, prod, NN_ALL, false, &l));
  OK(nn_backward(ctx, l, NULL));
  lane_out o = {y, nn_tensor_grad(x), nn_tensor_grad(w), nn_tensor_grad(b)};
  nn_tensor_retain(o.gx); nn_tensor_retain(o.gw); nn_tensor_retain(o.gb);
  nn_tensor *r[] = {x, w, b, b2, gy, x2, l, z, h, hs, prod};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) nn_tensor_release(r[i]);
  return o;
}

static double elem(const nn_tensor *t, int64_t i) {
  return nn_tensor_dtype(t) == NN_F64 ? ((const double *)nn_tensor_data(t))[i]
                                      : ((const float *)nn_tensor_data(t))[i];
}

static void lanes_case(nn_ctx *one, nn_ctx *two, int op, bool f64, bool xt) {
  static const char *names[3][2] = {{"linear", "linear of a transposed x"},
                                    {"addmm", "addmm of a transposed x"},
                                    {"linear_relu", "linear_relu of a transposed x"}};
  const char *name = names[op][xt];
  lane_out a = lanes_run(one, op, f64, xt), b = lanes_run(two, op, f64, xt),
           c = lanes_run(two, op, f64, xt);
  nn_tensor *pa[4] = {a.y, a.gx, a.gw, a.gb}, *pb[4] = {b.y, b.gx, b.gw, b.gb}, *pc[4] = {c.y, c.gx, c.gw, c.gb};
  static const char *what[4] = {"output", "input gradient", "weight gradient", "bias gradient"};
  double tol = f64 ? 1e-12 : 2e-5;
  for (int k = 0; k < 4; k++) {
    CHECKF(pa[k] && pb[k] && pc[k], "%s %s: %s missing", name, f64 ? "float64" : "float32", what[k]);
    if (!pa[k] || !pb[k] || !pc[k]) continue;
    int64_t n = nn_tensor_numel(pa[k]);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
      double d = fabs(elem(pa[k], i) - elem(pb[k], i)) / (1 + fabs(elem(pa[k], i)));
      if (d > worst) worst = d;
    }
    CHECKF(worst <= tol, "%s %s: %s of two threads differs from one thread's by %g (relative)", name,
           f64 ? "float64" : "float32", what[k], worst);
    size_t bytes = (size_t)n * (f64 ? 8 : 4);
    CHECKF(memcmp(nn_tensor_data(pb[k]), nn_tensor_data(pc[k]), bytes) == 0,
           "%s %s: %s differs between two runs on two threads", name, f64 ? "float64" : "float32", what[k]);
  }
  for (int k = 0; k < 4; k++) { nn_tensor_release(pa[k]); nn_tensor_release(pb[k]); nn_tensor_release(pc[k]); }
}

/* ---- the pool's own invariants ---------------------------------------------------------- */

enum { JOBS = 20000, MAXP = 7 };
typedef struct { atomic_int runs[MAXP]; atomic_int bad; } count_job;

static void count_part(void *arg, int part) {
  count_job *j = arg;
  if (part < 0 || part >= MAXP) atomic_fetch_add(&j->bad, 1);
  else atomic_fetch_add(&j->runs[part], 1);
}

/* Jobs of 2..MAXP parts back to back: after each call every part ran exactly once. A worker
   that paired the old job's ticket with the new job's part count ran a part twice, or let the
   call return before a part had run. */
static void pool_every_part_once(nn_ctx *ctx) {
  count_job j;
  int wrong = 0, first_bad = -1;
  for (int job = 0; job < JOBS; job++) {
    int nparts = 2 + (job * 7 + job / 3) % (MAXP - 1);
    for (int i = 0; i < MAXP; i++) atomic_init(&j.runs[i], 0);
    atomic_init(&j.bad, 0);
    nn_pool_run(ctx, nparts, count_part, &j);
    bool ok = atomic_load(&j.bad) == 0;
    for (int i = 0; i < MAXP; i++) ok = ok && atomic_load(&j.runs[i]) == (i < nparts);
    if (!ok && wrong++ == 0) first_bad = job;
  }
  CHECKF(wrong == 0, "pool: %d of %d jobs did not run each part exactly once (first: job %d)", wrong,
         JOBS, first_bad);
}

/* The workers start with the first job that splits, on a context just made: no wait on the
   clock (a pool that waited 0.2 s ran this job and the next ones serially). A job of one part
   starts none. (OpenBLAS's pthreads build only: its other builds get no workers.) */
static void pool_starts_at_once(nn_ctx *ctx) {
  count_job j;
  for (int i = 0; i < MAXP; i++) atomic_init(&j.runs[i], 0);
  atomic_init(&j.bad, 0);
  nn_pool_run(ctx, 1, count_part, &j);
  CHECKF(ctx->pool == NULL, "pool: a job of one part started the workers");
  nn_pool_run(ctx, 3, count_part, &j);
  if (openblas_get_parallel() == 1)
    CHECKF(ctx->pool != NULL, "pool: the first job of three parts on a new context ran without workers");
  CHECK(atomic_load(&j.runs[0]) == 2 && atomic_load(&j.runs[1]) == 1 && atomic_load(&j.runs[2]) == 1);
}

/* nn_lanes_then: every second-phase lane sees every first-phase lane done. */
enum { ROWS2 = 64 };
typedef struct { atomic_int first[ROWS2]; atomic_int early, rows2; } phase_job;

static void phase_a(void *arg, int part, int64_t lo, int64_t hi) {
  phase_job *j = arg;
  (void)part;
  for (int64_t r = lo; r < hi; r++) atomic_fetch_add(&j->first[r], 1);
}
static void phase_b(void *arg, int part, int64_t lo, int64_t hi) {
  phase_job *j = arg;
  (void)part;
  for (int r = 0; r < ROWS2; r++) if (atomic_load(&j->first[r]) != 1) atomic_fetch_add(&j->early, 1);
  atomic_fetch_add(&j->rows2, (int)(hi - lo));
}

static void pool_phases(nn_ctx *ctx) {
  int early = 0, rows2 = 0;
  for (int rep = 0; rep < 2000; rep++) {
    phase_job j;
    for (int r = 0; r < ROWS2; r++) atomic_init(&j.first[r], 0);
    atomic_init(&j.early, 0);
    atomic_init(&j.rows2, 0);
    nn_lanes_then(ctx, ROWS2, 1 << 20, phase_a, &j, 10, phase_b);
    early += atomic_load(&j.early);
    rows2 += atomic_load(&j.rows2) != 10;
  }
  CHECKF(early == 0, "lanes_then: %d second-phase lanes started before the first phase was done", early);
  CHECKF(rows2 == 0, "lanes_then: %d of 2000 jobs did not cover the second phase's rows once", rows2);
}

/* A lane function that calls nn_lanes itself (on the caller's thread and on workers): the inner
   call runs its lanes serially; every inner row is covered once, and nothing hangs. */
enum { OUTER = 8, INNER = 5000 };
typedef struct { nn_ctx *ctx; atomic_int rows[OUTER]; atomic_int inner_parts; } nest_job;
typedef struct { nest_job *n; int outer; } nest_inner;

static void nest_in(void *arg, int part, int64_t lo, int64_t hi) {
  nest_inner *in = arg;
  atomic_fetch_add(&in->n->rows[in->outer], (int)(hi - lo));
  if (part > 0) atomic_fetch_add(&in->n->inner_parts, 1);
}
static void nest_out(void *arg, int part, int64_t lo, int64_t hi) {
  nest_job *n = arg;
  (void)part;
  for (int64_t o = lo; o < hi; o++) {
    nest_inner in = {n, (int)o};
    nn_lanes(n->ctx, INNER, 1 << 20, nest_in, &in);
  }
}

static void pool_nested(nn_ctx *ctx) {
  int wrong = 0, split = 0;
  for (int rep = 0; rep < 200; rep++) {
    nest_job n = {.ctx = ctx};
    for (int o = 0; o < OUTER; o++) atomic_init(&n.rows[o], 0);
    atomic_init(&n.inner_parts, 0);
    nn_lanes(ctx, OUTER, 1 << 20, nest_out, &n);
    for (int o = 0; o < OUTER; o++) wrong += atomic_load(&n.rows[o]) != INNER;
    split += atomic_load(&n.inner_parts);
  }
  CHECKF(wrong == 0, "nested lanes: %d inner row ranges not covered exactly once", wrong);
  CHECK(split > 0);   /* (the inner calls still split their rows, serially) */
}

/* Back-off: a caller preempted often (here a counter standing in for the system's) runs the
   next jobs alone for a spell, every part on its own thread and in order; a caller that is not
   never does; after the spell, workers take parts again. The spell's length is time, so the
   checks ask only what holds wherever the clock lands: a job counted as run alone ran every
   part on the caller, one of the first jobs after a crowded window ran alone, and within 4 s of
   jobs a worker runs a part again. */
typedef struct {
  pthread_t caller;
  int wait_ms;                /* part 0 waits this long at most for part 1 to be claimed */
  atomic_int claimed, runs[MAXP], on_caller[MAXP];
} solo_job;

static void solo_part(void *arg, int part) {
  solo_job *j = arg;
  bool here = pthread_equal(pthread_self(), j->caller);
  atomic_fetch_add(&j->runs[part], 1);
  if (here) atomic_fetch_add(&j->on_caller[part], 1);
  if (part == 1) atomic_store(&j->claimed, 1);
  for (int ms = 0; part == 0 && !atomic_load(&j->claimed) && ms < j->wait_ms; ms++) usleep(1000);
}

static int miscounted, alone_elsewhere;   /* jobs with a part not run once; jobs alone that were not */

/* one job of nparts on ctx; returns whether it ran alone (nn_pool_stats' count moved), counts
   it in miscounted or alone_elsewhere when wrong, and adds the parts run off the caller */
static bool solo_run(nn_ctx *ctx, int nparts, int wait_ms, int *elsewhere) {
  solo_job j = {.caller = pthread_self(), .wait_ms = wait_ms};
  atomic_init(&j.claimed, 0);
  for (int i = 0; i < MAXP; i++) atomic_init(&j.runs[i], 0), atomic_init(&j.on_caller[i], 0);
  long solo0, solo1, spells;
  nn_pool_stats(ctx, &solo0, &spells);
  nn_pool_run(ctx, nparts, solo_part, &j);
  nn_pool_stats(ctx, &solo1, &spells);
  int here = 0, once = 0;
  for (int i = 0; i < nparts; i++) {
    once += atomic_load(&j.runs[i]) == 1;
    here += atomic_load(&j.on_caller[i]);
  }
  miscounted += once != nparts;
  alone_elsewhere += solo1 > solo0 && here != nparts;
  *elsewhere += nparts - here;
  return solo1 > solo0;
}

static atomic_long fake_count;
static long crowded_caller(void) { return atomic_fetch_add(&fake_count, 50) + 50; }
static long quiet_caller(void) { return atomic_load(&fake_count); }

/* jobs of 2 parts for at least ms milliseconds; returns the spells started meanwhile */
static long jobs_for(nn_ctx *ctx, int ms) {
  long solo, spells0, spells;
  int elsewhere = 0;
  nn_pool_stats(ctx, &solo, &spells0);
  for (double t0 = nn_now(); nn_now() - t0 < ms * 1e-3;) solo_run(ctx, 2, 0, &elsewhere);
  nn_pool_stats(ctx, &solo, &spells);
  return spells - spells0;
}

/* on a context of its own, whose pool has seen no other counter (a spell the real one started
   under a loaded CI machine could outlast a short loop) */
static void pool_backoff(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  CHECK(ctx != NULL);
  OK(nn_set_num_threads(ctx, 2));
  long (*real)(void) = nn_pool_preemptions;
  nn_pool_preemptions = quiet_caller;
  long quiet = jobs_for(ctx, 20);
  int alone = 0, elsewhere = 0, tries = 0;
  nn_pool_preemptions = crowded_caller;
  for (; tries < 5 && !alone; tries++) {
    long spells = 0;
    for (int k = 0; k < 2000 && !spells; k++) spells = jobs_for(ctx, 1);
    CHECKF(spells > 0, "back-off: 2 s of jobs with a caller preempted 50 times a window started no spell");
    for (int k = 0; k < 3; k++) alone += solo_run(ctx, 3, 0, &elsewhere);
  }
  nn_pool_preemptions = real;
  CHECKF(quiet == 0, "back-off: a caller never preempted started %ld spells in 20 ms of jobs", quiet);
  CHECKF(alone > 0, "back-off: no job ran alone right after a crowded window (%d tries)", tries);
  elsewhere = 0;
  for (int k = 0; k < 200 && elsewhere == 0; k++) solo_run(ctx, 2, 20, &elsewhere);
  CHECKF(elsewhere > 0, "back-off: after the spell no worker ran a part in 4 s of jobs");
  CHECKF(miscounted == 0, "back-off: %d jobs did not run each part exactly once", miscounted);
  CHECKF(alone_elsewhere == 0, "back-off: %d jobs counted as run alone ran parts on a worker", alone_elsewhere);
  nn_ctx_free(ctx);
}

/* ---- the thread limit and the default thread count ------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECKF(f != NULL, "cannot write %s", path);
  if (f) { fputs(text, f); fclose(f); }
}

static void mkdirs(const char *root, const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *s = path + strlen(root) + 1; *s; s++)
    if (*s == '/') { *s = '\0'; mkdir(path, 0700); *s = '/'; }
  mkdir(path, 0700);
}

static void cgroup_quota(void) {
  char root[] = "/tmp/lunet_cgroupXXXXXX", self[600], dir[600];
  CHECK(mkdtemp(root) != NULL);
  snprintf(self, sizeof self, "%s/self", root);
  /* cgroup v2: the smallest quota on the way up; "max" is none; rounded down */
  mkdirs(root, "v2/a/b");
  snprintf(dir, sizeof dir, "%s/v2", root);
  write_file(dir, "cpu.max", "400000 100000\n");
  snprintf(dir, sizeof dir, "%s/v2/a", root);
  write_file(dir, "cpu.max", "250000 100000\n");
  snprintf(dir, sizeof dir, "%s/v2/a/b", root);
  write_file(dir, "cpu.max", "max 100000\n");
  write_file(root, "self", "0::/a/b\n");
  snprintf(dir, sizeof dir, "%s/v2", root);
  CHECKF(nn_cgroup_cpus(self, dir) == 2, "cgroup v2, 2.5 CPUs above max: %d", nn_cgroup_cpus(self, dir));
  /* a container that sees the host's path: its own quota is at the mount's root */
  write_file(root, "self", "0::/docker/0123abcd\n");
  CHECKF(nn_cgroup_cpus(self, dir) == 4, "cgroup v2, host path: %d", nn_cgroup_cpus(self, dir));
  /* half a CPU still gets one thread */
  snprintf(dir, sizeof dir, "%s/v2/a", root);
  write_file(dir, "cpu.max", "50000 100000\n");
  write_file(root, "self", "0::/a/b\n");
  snprintf(dir, sizeof dir, "%s/v2", root);
  CHECKF(nn_cgroup_cpus(self, dir) == 1, "cgroup v2, half a CPU: %d", nn_cgroup_cpus(self, dir));
  /* cgroup v1: the cpu controller's hierarchy; -1 is no quota */
  mkdirs(root, "v1/cpu,cpuacct/job");
  snprintf(dir, sizeof dir, "%s/v1/cpu,cpuacct/job", root);
  write_file(dir, "cpu.cfs_quota_us", "300000\n");
  write_file(dir, "cpu.cfs_period_us", "100000\n");
  write_file(root, "self", "12:memory:/job\n4:cpu,cpuacct:/job\n0::/job\n");
  snprintf(dir, sizeof dir, "%s/v1", root);
  CHECKF(nn_cgroup_cpus(self, dir) == 3, "cgroup v1, 3 CPUs: %d", nn_cgroup_cpus(self, dir));
  snprintf(dir, sizeof dir, "%s/v1/cpu,cpuacct/job", root);
  write_file(dir, "cpu.cfs_quota_us", "-1\n");
  snprintf(dir, sizeof dir, "%s/v1", root);
  CHECKF(nn_cgroup_cpus(self, dir) == 0, "cgroup v1, no quota: %d", nn_cgroup_cpus(self, dir));
  /* no such files: no quota */
  CHECK(nn_cgroup_cpus("/nonexistent/self", dir) == 0);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  CHECK(system(cmd) == 0);
}

static void thread_counts(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  CHECK(ctx != NULL);
  CHECK(nn_set_num_threads(ctx, NN_THREADS_MAX + 1) == NN_ERR_ARG);
  CHECK_MSG(ctx, "set_num_threads: expected 1..64 threads (NN_THREADS_MAX), got 65");
  CHECK(nn_set_num_threads(ctx, 0) == NN_ERR_ARG);
  OK(nn_set_num_threads(ctx, NN_THREADS_MAX));
  CHECK(nn_get_num_threads(ctx) == NN_THREADS_MAX);
  nn_ctx_free(ctx);
  /* the default: the usable CPUs, shared among the ranks on this host */
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  unsetenv("MPI_LOCALNRANKS");
  int all = nn_cpus_usable();
  CHECKF(all >= 1 && all <= NN_THREADS_MAX, "nn_cpus_usable: %d", all);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  CHECKF(nn_cpus_usable() == (all / 2 > 0 ? all / 2 : 1), "2 Open MPI ranks: %d of %d CPUs", nn_cpus_usable(), all);
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  setenv("MPI_LOCALNRANKS", "1000", 1);
  CHECKF(nn_cpus_usable() == 1, "1000 MPICH ranks: %d threads", nn_cpus_usable());
  unsetenv("MPI_LOCALNRANKS");
  setenv("LUNET_NUM_THREADS", "3", 1);
  ctx = nn_ctx_new(NULL, NULL);
  CHECK(ctx && nn_get_num_threads(ctx) == 3);
  nn_ctx_free(ctx);
  setenv("LUNET_NUM_THREADS", "100000", 1);
  ctx = nn_ctx_new(NULL, NULL);
  CHECK(ctx && nn_get_num_threads(ctx) == NN_THREADS_MAX);
  nn_ctx_free(ctx);
  unsetenv("LUNET_NUM_THREADS");
  cgroup_quota();
}

int main(void) {
  static const shape_case cases[] = {
    {200, 128, 64, false, false}, {200, 128, 64, false, true}, {128, 64, 200, true, false},
    {200, 10, 64, false, true},   {93, 64, 128, false, true},  {128, 256, 784, false, true},
    {7, 300, 50, false, false},   {300, 7, 50, true, false},
    /* Lunet's AVX2 product: depth in equal blocks (300, 520), B^T packed by transposes, A^T */
    {70, 40, 300, false, true},   {130, 33, 520, true, true},  {64, 288, 196, false, true},
    /* one row (a layer on one sample): Lunet's own gemv where OpenBLAS runs a generic kernel */
    {1, 64, 64, false, true},     {1, 64, 64, false, false},   {1, 10, 37, false, true},
    {1, 19, 5, false, false},     {1, 24, 70, true, true},
  };
  /* the generic-kernel run of this test (CTest's *.generic_blas) is seen as one */
  const char *coretype = getenv("OPENBLAS_CORETYPE");
  if (coretype && strcmp(coretype, "Prescott") == 0)
    CHECKF(nn_blas_generic_kernel(), "OPENBLAS_CORETYPE=Prescott is not taken for a generic kernel");
  nn_ctx *one = nn_ctx_new(NULL, NULL), *two = nn_ctx_new(NULL, NULL), *other = nn_ctx_new(NULL, NULL);
  CHECK(one && two && other);
  OK(nn_set_num_threads(one, 1));
  OK(nn_set_num_threads(two, 2));
  OK(nn_set_num_threads(other, 2));
  nn_manual_seed(one, 7);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const shape_case *k = &cases[c];
    nn_tensor *a = operand(one, k->M, k->K, k->ta, 1), *b = operand(one, k->K, k->N, k->tb, 2);
    nn_tensor *a2 = operand(two, k->M, k->K, k->ta, 1), *b2 = operand(two, k->K, k->N, k->tb, 2);
    nn_tensor *a3 = operand(other, k->M, k->K, k->ta, 1), *b3 = operand(other, k->K, k->N, k->tb, 2);
    nn_tensor *y1, *y2, *y3, *first;
    OK(nn_matmul(one, a, b, &y1));
    OK(nn_matmul(two, a2, b2, &first));
    int differ = 0, far = 0;
    size_t bytes = (size_t)nn_tensor_numel(y1) * sizeof(float);
    for (int rep = 0; rep < 200; rep++) {
      OK(nn_matmul(two, a2, b2, &y2));
      OK(nn_matmul(other, a3, b3, &y3));
      differ += memcmp(nn_tensor_data(first), nn_tensor_data(y2), bytes) != 0;
      differ += memcmp(nn_tensor_data(first), nn_tensor_data(y3), bytes) != 0;
      nn_tensor_release(y2);
      nn_tensor_release(y3);
    }
    for (int v = 0; v < 2; v++) {
      const float *yp = nn_tensor_data(v ? first : y1);
      for (int64_t i = 0; i < k->M; i++)
        for (int64_t j = 0; j < k->N; j++) {
          double want = naive(a, b, i, j);
          if (fabs(yp[i * k->N + j] - want) > 1e-4 * (1 + fabs(want)) * sqrt((double)k->K)) far++;
        }
    }
    nn_tensor_release(first);
    CHECKF(differ == 0, "%lldx%lldx%lld ta%d tb%d: %d of 400 two-thread products differ from the first",
           (long long)k->M, (long long)k->N, (long long)k->K, k->ta, k->tb, differ);
    CHECKF(far == 0, "%lldx%lldx%lld ta%d tb%d: %d elements far from the float64 product",
           (long long)k->M, (long long)k->N, (long long)k->K, k->ta, k->tb, far);
    nn_tensor *r[] = {y1, a, b, a2, b2, a3, b3};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) nn_tensor_release(r[i]);
  }
  /* the fused linear layer (bias written per band), forward and weight gradient, twice */
  {
    nn_ctx *cs[2] = {two, other};   /* same thread count: the same bits */
    nn_tensor *y[2], *g[2], *keep[2][4];
    for (int c = 0; c < 2; c++) {
      nn_tensor *x = operand(cs[c], 200, 64, false, 3), *w = operand(cs[c], 128, 64, false, 4);
      nn_tensor *b2d = operand(cs[c], 1, 128, false, 5), *bias, *l;
      OK(nn_select(cs[c], b2d, 0, 0, &bias));
      OK(nn_tensor_set_requires_grad(cs[c], w, true));
      OK(nn_linear(cs[c], x, w, bias, &y[c]));
      OK(nn_sum(cs[c], y[c], NN_ALL, false, &l));
      OK(nn_backward(cs[c], l, NULL));
      g[c] = nn_tensor_grad(w);
      keep[c][0] = x; keep[c][1] = w; keep[c][2] = b2d; keep[c][3] = bias;
      nn_tensor_release(l);
    }
    size_t yb = (size_t)nn_tensor_numel(y[0]) * sizeof(float), gb = (size_t)nn_tensor_numel(g[0]) * sizeof(float);
    CHECKF(memcmp(nn_tensor_data(y[0]), nn_tensor_data(y[1]), yb) == 0, "linear forward differs between two two-thread contexts");
    CHECKF(memcmp(nn_tensor_data(g[0]), nn_tensor_data(g[1]), gb) == 0,
           "linear weight gradient differs between two two-thread contexts");
    for (int c = 0; c < 2; c++) {
      nn_tensor_release(y[c]);
      for (int i = 0; i < 4; i++) nn_tensor_release(keep[c][i]);
    }
  }
  /* a layer's backward split by the batch's rows (lanes), for linear, addmm and linear_relu,
     float32 and float64: the gradients agree with one thread's, and two runs on two threads give
     the same bits; element-wise ops in lanes (relu, its backward, add, a scalar multiply) are
     exact */
  for (int op = L_LINEAR; op <= L_LINEAR_RELU; op++)
    for (int f64 = 0; f64 < 2; f64++)
      for (int xt = 0; xt < 2; xt++) lanes_case(one, two, op, f64 == 1, xt == 1);
  /* an optimizer step in lanes (element ranges of all parameters together): every kind gives
     the same bits on one thread and on two, over a few steps */
  for (int kind = NN_SGD; kind <= NN_ADAGRAD; kind++) {
    nn_tensor *p[2][3];
    for (int c = 0; c < 2; c++) {
      nn_ctx *ctx = c ? two : one;
      nn_optim *o;
      nn_optim_opts op;
      nn_optim_defaults((nn_optim_kind)kind, &op);
      if (kind == NN_SGD) op.momentum = 0.9;
      op.weight_decay = 0.01;
      p[c][0] = operand(ctx, 100, 64, false, 31);
      p[c][1] = operand(ctx, 64, 128, false, 32);
      p[c][2] = operand(ctx, 1, 10, false, 33);
      OK(nn_optim_new(ctx, nn_optim_kind_name((nn_optim_kind)kind), &o));
      OK(nn_optim_add_group_opts(ctx, o, 3, p[c], &op));
      for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 3; i++) {
          nn_tensor *g = operand(ctx, nn_tensor_shape(p[c][i])[0], nn_tensor_shape(p[c][i])[1], false, 40 + step + i);
          OK(nn_tensor_set_grad(ctx, p[c][i], g));
          nn_tensor_release(g);
        }
        OK(nn_optim_step(ctx, o));
      }
      nn_optim_free(o);
    }
    int differ = 0;
    for (int i = 0; i < 3; i++)
      differ += memcmp(nn_tensor_data(p[0][i]), nn_tensor_data(p[1][i]),
                       (size_t)nn_tensor_numel(p[0][i]) * sizeof(float)) != 0;
    CHECKF(differ == 0, "optimizer kind %d: %d of 3 parameters differ between one thread and two", kind, differ);
    for (int c = 0; c < 2; c++)
      for (int i = 0; i < 3; i++) nn_tensor_release(p[c][i]);
  }
  /* cross-entropy in lanes (rows): per-row losses and the gradient exact, the mean close */
  for (int red = 0; red < 2; red++) {
    nn_tensor *loss[2], *grad[2];
    for (int c = 0; c < 2; c++) {
      nn_ctx *ctx = c ? two : one;
      nn_tensor *z = operand(ctx, 200, 10, false, 51), *zs, *t, *l;
      int64_t tv[200], n200 = 200;
      for (int i = 0; i < 200; i++) tv[i] = (i * 7) % 10;
      OK(nn_muls(ctx, z, 8.0, &zs));          /* logits of a few units */
      OK(nn_tensor_set_requires_grad(ctx, zs, true));
      OK(nn_tensor_from_data(ctx, NN_I64, 1, &n200, tv, &t));
      OK(nn_cross_entropy(ctx, zs, t, red ? NN_REDUCE_MEAN : NN_REDUCE_NONE, &loss[c]));
      if (red) l = loss[c], nn_tensor_retain(l);
      else OK(nn_sum(ctx, loss[c], NN_ALL, false, &l));
      OK(nn_backward(ctx, l, NULL));
      grad[c] = nn_tensor_grad(zs);
      nn_tensor_retain(grad[c]);
      nn_tensor_release(z); nn_tensor_release(zs); nn_tensor_release(t); nn_tensor_release(l);
    }
    const float *l0 = nn_tensor_data(loss[0]), *l1 = nn_tensor_data(loss[1]);
    if (red)
      CHECKF(fabs(l0[0] - l1[0]) <= 1e-6 * fabs(l0[0]), "cross_entropy mean: %.9g on one thread, %.9g on two",
             (double)l0[0], (double)l1[0]);
    else
      CHECKF(memcmp(l0, l1, 200 * sizeof(float)) == 0, "cross_entropy per-row losses differ between one thread and two");
    CHECKF(memcmp(nn_tensor_data(grad[0]), nn_tensor_data(grad[1]), 2000 * sizeof(float)) == 0,
           "cross_entropy (%s) gradient differs between one thread and two", red ? "mean" : "none");
    for (int c = 0; c < 2; c++) { nn_tensor_release(loss[c]); nn_tensor_release(grad[c]); }
  }
  /* more threads than rows (nn_lane_count caps the lanes): the mean loss is still every row's */
  {
    nn_ctx *many = nn_ctx_new(NULL, NULL);
    CHECK(many != NULL);
    OK(nn_set_num_threads(many, NN_THREADS_MAX));
    nn_tensor *l[2];
    for (int c = 0; c < 2; c++) {
      nn_ctx *ctx = c ? many : one;
      nn_tensor *z = operand(ctx, 40, 20, false, 61), *t;
      int64_t tv[40], n40 = 40;
      for (int i = 0; i < 40; i++) tv[i] = (i * 3) % 20;
      OK(nn_tensor_from_data(ctx, NN_I64, 1, &n40, tv, &t));
      OK(nn_cross_entropy(ctx, z, t, NN_REDUCE_MEAN, &l[c]));
      nn_tensor_release(z); nn_tensor_release(t);
    }
    float l0 = *(const float *)nn_tensor_data(l[0]), l1 = *(const float *)nn_tensor_data(l[1]);
    CHECKF(fabs(l0 - l1) <= 1e-6 * fabs(l0), "cross_entropy mean of 40 rows on %d threads: %.9g, one thread %.9g", NN_THREADS_MAX,
           (double)l1, (double)l0);
    nn_tensor_release(l[0]); nn_tensor_release(l[1]);
    nn_ctx_free(many);
  }
  /* a batch gathered in lanes (index_select by rows): the rows asked for, in order */
  {
    nn_tensor *src = operand(two, 300, 64, false, 21), *idx, *y;
    int64_t iv[200];
    for (int i = 0; i < 200; i++) iv[i] = (i * 37 + 11) % 300;
    int64_t n200 = 200;
    OK(nn_tensor_from_data(two, NN_I64, 1, &n200, iv, &idx));
    OK(nn_index_select(two, src, 0, idx, &y));
    int bad = 0;
    const float *sp = nn_tensor_data(src), *yp = nn_tensor_data(y);
    for (int i = 0; i < 200; i++)
      bad += memcmp(yp + i * 64, sp + iv[i] * 64, 64 * sizeof(float)) != 0;
    CHECKF(bad == 0, "index_select in lanes: %d of 200 rows wrong", bad);
    nn_tensor_release(src); nn_tensor_release(idx); nn_tensor_release(y);
  }
  /* the pool itself, on four threads (more than this machine may have: workers get preempted) */
  {
    nn_ctx *four = nn_ctx_new(NULL, NULL);
    CHECK(four != NULL);
    OK(nn_set_num_threads(four, 4));
    pool_starts_at_once(four);
    pool_every_part_once(four);
    pool_every_part_once(two);
    pool_phases(four);
    pool_nested(four);
    pool_nested(two);
    if (openblas_get_parallel() == 1) pool_backoff();   /* (other builds have no workers) */
    nn_ctx_free(four);
  }
  thread_counts();
  nn_ctx_free(one);
  nn_ctx_free(two);
  nn_ctx_free(other);
  return check_report("test_pool");
}
