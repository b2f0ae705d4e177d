/* ctx.c — the context: allocator and its block cache, errors, interrupts, random generators,
   BLAS threads and the op profiler. Everything a context holds is private to it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#include "nn_impl.h"

/* OpenBLAS extensions (declared in its cblas.h, repeated here for other BLAS headers) */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

/* ---- allocation ------------------------------------------------------------ */

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (nsize == 0) { free(ptr); return NULL; }
  return realloc(ptr, nsize);
}

/* Free blocks are kept in bins of one exact size each: small sizes (tensor headers, nodes,
   the storage of small tensors) in a table indexed by size, larger ones hashed into
   NN_CACHE_SLOTS lists. A training step asks for the same sizes every time, so after warm-up
   every request is a pop from a bin and the allocator is never called. (Small sizes get the
   table because a 1-element op takes four blocks: the lookup is on the hottest path there is.)
   The cache is bounded two ways, so that tensors of ever-changing sizes cannot hoard memory:
   - it holds at most CACHE_FLOOR bytes more than the peak of blocks in use since the last trim.
     A steady loop never reaches that (what it frees it takes back before its peak again), while
     a run of one-off sizes keeps no more than its own working set plus the floor;
   - nn_ctx_trim_idle (the Lua bindings call it at the end of every collection cycle) keeps the
     blocks of a size only if it was asked for both since its last call and in the interval
     before. A loop asks for its sizes in every interval, and keeps them even when its blocks
     are freed by the collection's own finalizers; a size asked for once, or not at all lately,
     goes back at the next call (or the one after, when a finalizer frees it after the trim).
   A bin outlives its blocks by one interval, to remember that it was asked for. */
typedef struct nn_bin {
  size_t size;
  nn_block *head;
  struct nn_bin *next;
  unsigned asked;  /* bit 0: asked for since the last trim; bit 1: in the interval before */
} nn_bin;
#define CACHE_FLOOR ((size_t)64 << 20)

static size_t slot_of(size_t n) { return (size_t)((n >> 4) * 2654435761u) % NN_CACHE_SLOTS; }
static size_t round_size(size_t n) { return n < 16 ? 16 : (n + 15) & ~(size_t)15; }

static void *raw_alloc(nn_ctx *ctx, size_t n) {
  ctx->alloc_calls++;
  return ctx->alloc(ctx->ud, NULL, 0, n);
}
static void raw_free(nn_ctx *ctx, void *p, size_t n) { ctx->alloc(ctx->ud, p, n, 0); }

static nn_bin *find_bin(nn_ctx *ctx, size_t n) {
  if (n >> 4 <= NN_SMALL_BINS) return ctx->small[n >> 4];
  nn_bin *b = ctx->cache[slot_of(n)];
  while (b && b->size != n) b = b->next;
  return b;
}

static nn_bin *new_bin(nn_ctx *ctx, size_t n) {
  nn_bin *b = raw_alloc(ctx, sizeof *b);
  if (!b) return NULL;
  b->size = n; b->head = NULL; b->asked = 0;
  if (n >> 4 <= NN_SMALL_BINS) {
    b->next = NULL;
    ctx->small[n >> 4] = b;
  } else {
    size_t s = slot_of(n);
    b->next = ctx->cache[s];
    ctx->cache[s] = b;
  }
  return b;
}

void *nn_block_get(nn_ctx *ctx, size_t n) {
  n = round_size(n);
  nn_bin *b = find_bin(ctx, n);
  void *p;
  if (!b && !(b = new_bin(ctx, n))) return NULL;   /* (a miss calls the allocator anyway) */
  b->asked |= 1;
  if (b->head) {
    nn_block *blk = b->head;
    b->head = blk->next;
    ctx->cached_bytes -= n;
    p = blk;
  } else if (!(p = raw_alloc(ctx, n))) {
    return NULL;
  }
  ctx->held_bytes += n;
  if (ctx->held_bytes > ctx->held_peak) ctx->held_peak = ctx->held_bytes;
  return p;
}

void nn_block_put(nn_ctx *ctx, void *p, size_t n) {
  if (!p) return;
  n = round_size(n);
  ctx->held_bytes -= n < ctx->held_bytes ? n : ctx->held_bytes;
  nn_bin *b = NULL;
  if (ctx->cached_bytes + n <= ctx->held_peak + CACHE_FLOOR && !ctx->closing) {
    b = find_bin(ctx, n);
    if (!b) b = new_bin(ctx, n);
  }
  if (!b) { raw_free(ctx, p, n); return; }
  nn_block *blk = p;
  blk->next = b->head; blk->size = n;
  b->head = blk;
  ctx->cached_bytes += n;
}

void *nn_block_get_zeroed(nn_ctx *ctx, size_t n) {
  void *p = nn_block_get(ctx, n);
  if (p) memset(p, 0, n);
  return p;
}

static void free_blocks(nn_ctx *ctx, nn_bin *b) {
  while (b->head) {
    nn_block *k = b->head;
    b->head = k->next;
    ctx->cached_bytes -= b->size;
    raw_free(ctx, k, b->size);
  }
}

/* One bin at a trim (all: nn_ctx_trim): false when it is to be freed itself. */
static bool trim_bin(nn_ctx *ctx, nn_bin *b, bool all) {
  if (all || b->asked != 3) free_blocks(ctx, b);
  b->asked = (b->asked << 1) & 2;
  return !all && b->asked != 0;
}

/* Applies trim_bin to every bin; the peak starts again from what is in use now. */
static void trim(nn_ctx *ctx, bool all) {
  for (int s = 0; s <= NN_SMALL_BINS; s++) {
    nn_bin *b = ctx->small[s];
    if (b && !trim_bin(ctx, b, all)) { raw_free(ctx, b, sizeof *b); ctx->small[s] = NULL; }
  }
  for (int s = 0; s < NN_CACHE_SLOTS; s++) {
    nn_bin *keep = NULL, *b = ctx->cache[s];
    while (b) {
      nn_bin *next = b->next;
      if (trim_bin(ctx, b, all)) { b->next = keep; keep = b; }
      else raw_free(ctx, b, sizeof *b);
      b = next;
    }
    ctx->cache[s] = keep;
  }
  ctx->held_peak = ctx->held_bytes;
}

void nn_ctx_trim(nn_ctx *ctx) { if (ctx) trim(ctx, true); }
void nn_ctx_trim_idle(nn_ctx *ctx) { if (ctx) trim(ctx, false); }
size_t nn_ctx_cached_bytes(const nn_ctx *ctx) { return ctx ? ctx->cached_bytes : 0; }

/* ---- the context ----------------------------------------------------------------- */

/* LUNET_NUM_THREADS if set (a number, held to 1..NN_THREADS_MAX), else the CPUs this process
   may use (nn_cpus_usable: affinity, cgroup quota, MPI ranks on this host). */
static int default_threads(void) {
  const char *e = getenv("LUNET_NUM_THREADS");
  char *end;
  long n = e && *e ? strtol(e, &end, 10) : 0;
  if (!e || !*e || *end != '\0') return nn_cpus_usable();
  return n < 1 ? 1 : n > NN_THREADS_MAX ? NN_THREADS_MAX : (int)n;
}

nn_ctx *nn_ctx_new(nn_alloc f, void *ud) {
  if (!f) f = default_alloc;
  nn_ctx *ctx = f(ud, NULL, 0, sizeof *ctx);
  if (!ctx) return NULL;
  memset(ctx, 0, sizeof *ctx);
  ctx->alloc = f;
  ctx->ud = ud;
  ctx->alloc_calls = 1;
  ctx->grad_enabled = true;
  ctx->threads = default_threads();
  nn_rng_seed(&ctx->rng, 0x6c756e6574ULL); /* "lunet" */
  return ctx;
}

static void ctx_destroy(nn_ctx *ctx) {
  nn_pool_free(ctx->pool);
  nn_ctx_trim(ctx);
  if (ctx->order) raw_free(ctx, ctx->order, ctx->order_cap * sizeof *ctx->order);
  ctx->alloc(ctx->ud, ctx, sizeof *ctx, 0);
}

/* A context outlives its objects: if any are alive it closes when the last one goes. */
void nn_ctx_free(nn_ctx *ctx) {
  if (!ctx) return;
  ctx->closing = true;
  nn_ctx_trim(ctx);
  if (ctx->live == 0) ctx_destroy(ctx);
}

void nn_ctx_unref(nn_ctx *ctx) {
  if (--ctx->live == 0 && ctx->closing) ctx_destroy(ctx);
}

nn_status nn_fail(nn_ctx *ctx, nn_status s, const char *fmt, ...) {
  va_list ap;
  if (!ctx) return s;                 /* nowhere to record it: the status alone tells */
  va_start(ap, fmt);
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  va_end(ap);
  ctx->status = s;
  return s;
}

const char *nn_ctx_errmsg(const nn_ctx *ctx) { return ctx ? ctx->errmsg : "context is NULL"; }
nn_status nn_ctx_status(const nn_ctx *ctx) { return ctx ? ctx->status : NN_ERR_ARG; }
void nn_ctx_clear_error(nn_ctx *ctx) {
  if (ctx) { ctx->status = NN_OK; ctx->errmsg[0] = '\0'; }
}
void nn_ctx_interrupt(nn_ctx *ctx) { if (ctx) ctx->interrupted = 1; }
void nn_ctx_clear_interrupt(nn_ctx *ctx) { if (ctx) ctx->interrupted = 0; }
bool nn_grad_enabled(const nn_ctx *ctx) { return ctx && ctx->grad_enabled; }
bool nn_set_grad_enabled(nn_ctx *ctx, bool on) {
  if (!ctx) return false;
  bool old = ctx->grad_enabled;
  ctx->grad_enabled = on;
  return old;
}
size_t nn_ctx_bytes_in_use(const nn_ctx *ctx) { return ctx ? ctx->bytes_in_use : 0; }
uint64_t nn_ctx_alloc_calls(const nn_ctx *ctx) { return ctx ? ctx->alloc_calls : 0; }
nn_rng *nn_ctx_rng(nn_ctx *ctx) { return ctx ? &ctx->rng : NULL; }
void nn_manual_seed(nn_ctx *ctx, uint64_t seed) { if (ctx) nn_rng_seed(&ctx->rng, seed); }

nn_status nn_check_interrupt(nn_ctx *ctx, const char *op) {
  if (!ctx->interrupted) return NN_OK;
  return nn_fail(ctx, NN_ERR_INTERRUPTED, "%s: interrupted", op);
}

double nn_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- BLAS threads ------------------------------------------------------------------- */

/* Products run on OpenBLAS with one thread, split across the context's own workers (see
   pool.c): OpenBLAS's threading costs more than it gains at the sizes small-batch training
   uses, and its idle workers spin (sched_yield) against ours. Its thread count is
   process-wide, so it is set before each context's products rather than once. */
void nn_blas_threads(nn_ctx *ctx) {
  if (ctx->blas_threads != 1 || openblas_get_num_threads() != 1) {
    /* (only when needed: setting it starts OpenBLAS's workers again if they were stopped) */
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    ctx->blas_threads = 1;
  }
}
int nn_get_num_threads(const nn_ctx *ctx) { return ctx ? ctx->threads : 0; }
nn_status nn_set_num_threads(nn_ctx *ctx, int n) {
  if (!ctx) return NN_ERR_ARG;
  if (n < 1 || n > NN_THREADS_MAX)
    return nn_fail(ctx, NN_ERR_ARG, "set_num_threads: expected 1..%d threads (NN_THREADS_MAX), got %d",
                   NN_THREADS_MAX, n);
  ctx->threads = n;
  ctx->blas_threads = 0;            /* applied at the next product */
  return NN_OK;
}

const char *nn_blas_info(int *threads, const char **core) {
  if (threads) *threads = openblas_get_num_threads();
  if (core) *core = openblas_get_corename();
  return openblas_get_config();
}

bool nn_blas_generic_kernel(void) {
  static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                        "Atom", "Katmai", "Coppermine", "Northwood", "Banias", NULL};
  const char *core = openblas_get_corename();
  for (int i = 0; core && generic[i]; i++)
    if (strcasecmp(core, generic[i]) == 0) return true;
  return false;
}

/* ---- profiling ------------------------------------------------------------------------ */

void nn_profile_enable(nn_ctx *ctx, bool on) { if (ctx) ctx->profiling = on; }
void nn_profile_reset(nn_ctx *ctx) { if (ctx) ctx->nprof = 0; }
void nn_prof_add(nn_ctx *ctx, const char *name, double seconds) {
  int i = 0;
  while (i < ctx->nprof && ctx->prof[i].name != name && strcmp(ctx->prof[i].name, name) != 0) i++;
  if (i == ctx->nprof) {
    if (ctx->nprof == NN_PROF_MAX) return;
    ctx->prof[ctx->nprof++] = (nn_prof){name, 0, 0.0};
  }
  ctx->prof[i].calls++;
  ctx->prof[i].seconds += seconds;
}
bool nn_profile_get(const nn_ctx *ctx, int i, const char **name, uint64_t *calls, double *seconds) {
  if (!ctx || i < 0 || i >= ctx->nprof) return false;
  if (name) *name = ctx->prof[i].name;
  if (calls) *calls = ctx->prof[i].calls;
  if (seconds) *seconds = ctx->prof[i].seconds;
  return true;
}

/* ---- random generators: xoshiro256** (Blackman & Vigna), seeded by splitmix64 ---------- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nn_rng_seed(nn_rng *r, uint64_t seed) {
  if (!r) return;
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0.0;
}

uint64_t nn_rng_next(nn_rng *r) {
  if (!r) return 0;
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nn_rng_uniform(nn_rng *r) { return (double)(nn_rng_next(r) >> 11) * 0x1.0p-53; } /* NULL: 0 */

/* Marsaglia's polar method; the second value of each pair is kept for the next call. */
double nn_rng_normal(nn_rng *r) {
  if (!r) return 0.0;
  if (r->has_spare) { r->has_spare = 0; return r->spare; }
  double u, v, s;
  do {
    u = 2.0 * nn_rng_uniform(r) - 1.0;
    v = 2.0 * nn_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double m = sqrt(-2.0 * log(s) / s);
  double spare = v * m;
  uint64_t bits;
  memcpy(&bits, &spare, sizeof bits);
  bits &= ~(uint64_t)1;              /* so that get_state/set_state round-trip it exactly */
  memcpy(&r->spare, &bits, sizeof bits);
  r->has_spare = 1;
  return u * m;
}

/* Rejection keeps it unbiased: draws below 2^64 mod n are thrown away. */
uint64_t nn_rng_below(nn_rng *r, uint64_t n) {
  if (!r || n <= 1) return 0;
  for (;;) {
    uint64_t x = nn_rng_next(r);
    /* x below 2^64 mod n is rejected (so that x % n is unbiased); that bound is below n, so
       it is computed only for such an x: one division a draw instead of two, same draws */
    if (x >= n || x >= (0 - n) % n) return x % n;
  }
}

nn_status nn_rng_new(nn_ctx *ctx, uint64_t seed, nn_rng **out) {
  NN_ARG(ctx, "Generator", out);
  *out = NULL;
  nn_rng *r = nn_block_get(ctx, sizeof *r);
  if (!r) return nn_fail(ctx, NN_ERR_MEM, "Generator: out of memory");
  nn_rng_seed(r, seed);
  ctx->live++;
  *out = r;
  return NN_OK;
}
void nn_rng_free(nn_ctx *ctx, nn_rng *r) {
  if (!ctx || !r) return;
  nn_block_put(ctx, r, sizeof *r);
  nn_ctx_unref(ctx);
}

/* state[0..3]: the xoshiro words; state[4]: the cached normal's bits, or 0 with none
   (the low bit tags presence, the cached double is stored with its low bit cleared). */
void nn_rng_get_state(const nn_rng *r, uint64_t state[5]) {
  if (!r || !state) return;
  memcpy(state, r->s, sizeof r->s);
  uint64_t bits = 0;
  if (r->has_spare) { memcpy(&bits, &r->spare, sizeof bits); bits |= 1; }
  state[4] = bits;
}
nn_status nn_rng_set_state(nn_ctx *ctx, nn_rng *r, const uint64_t state[5]) {
  NN_ARG(ctx, "set_state", r);
  NN_ARG(ctx, "set_state", state);
  if ((state[0] | state[1] | state[2] | state[3]) == 0)
    return nn_fail(ctx, NN_ERR_ARG, "set_state: an all-zero xoshiro256** state is invalid");
  memcpy(r->s, state, sizeof r->s);
  r->has_spare = (int)(state[4] & 1);
  uint64_t bits = state[4] & ~(uint64_t)1;
  memcpy(&r->spare, &bits, sizeof bits);
  return NN_OK;
}
