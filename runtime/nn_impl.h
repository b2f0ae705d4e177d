/* nn_impl.h — private structures of the core. Not installed: nn.h is the public face. */
#ifndef NN_IMPL_H
#define NN_IMPL_H

#include <signal.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "nn.h"
#include "nn_internal.h"

/* ---- context ------------------------------------------------------------- */

/* A freed block waits in a size-keyed cache so that steady-state training loops never call
   the allocator: a step allocates the same sizes every time. */
typedef struct nn_block { struct nn_block *next; size_t size; } nn_block;
#define NN_CACHE_SLOTS 64
#define NN_SMALL_BINS 256          /* blocks up to 4 KB: one bin per 16-byte size, indexed */

typedef struct nn_pool nn_pool;

typedef struct nn_prof { const char *name; uint64_t calls; double seconds; } nn_prof;
#define NN_PROF_MAX 96

struct nn_rng { uint64_t s[4]; double spare; int has_spare; };

struct nn_ctx {
  nn_alloc alloc;
  void *ud;
  uint64_t alloc_calls;
  size_t bytes_in_use;        /* live tensor storage */
  size_t cached_bytes;        /* bytes waiting in the block cache */
  size_t held_bytes, held_peak; /* blocks handed out now, and their peak since the last trim */
  struct nn_bin *cache[NN_CACHE_SLOTS]; /* bins of larger sizes, hashed, chained by next */
  struct nn_bin *small[NN_SMALL_BINS + 1]; /* free lists of small blocks, by size / 16 */
  nn_status status;
  char errmsg[512];
  volatile sig_atomic_t interrupted;
  bool grad_enabled;
  bool closing;               /* nn_ctx_free called while objects were alive */
  int64_t live;               /* tensors, storages, nodes, modules, optimizers, rngs alive */
  int threads;
  int blas_threads;           /* what BLAS was last set to (0: unknown) */
  nn_pool *pool;              /* worker threads for split products (lazy) */
  uint64_t seq;               /* autograd node sequence (topological order) */
  struct nn_node **order;     /* backward's reusable work list */
  size_t order_cap;
  nn_grad_ready_fn grad_ready; /* nn_set_grad_ready_hook (DDP buckets); NULL: none */
  void *grad_ready_ud;
  struct nn_rng rng;
  bool profiling;
  nn_prof prof[NN_PROF_MAX];
  int nprof;
};

/* Records an error and returns its status. Always returns s. A NULL ctx records nothing. */
nn_status nn_fail(nn_ctx *ctx, nn_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The NULL rule of nn.h: returns NN_ERR_ARG from the calling function when ctx or p is NULL,
   recording "<op>: <p> is NULL" when there is a context (p spelled as nn.h names it).
   NN_ARG_AS names it what instead (p may then be a condition: a && b, "tensor"). The status
   is returned as a constant so that the compiler sees a failure (callers' *out stays unset). */
#define NN_ARG(ctx, op, p) NN_ARG_AS(ctx, op, p, #p)
#define NN_ARG_AS(ctx, op, p, what)                                                          \
  do {                                                                                       \
    if (!(ctx) || !(p)) {                                                                    \
      nn_fail((ctx), NN_ERR_ARG, "%s: %s is NULL", (op), (what));                            \
      return NN_ERR_ARG;                                                                     \
    }                                                                                        \
  } while (0)
/* The core's own memory, from the context's block cache (storages, headers, nodes, work
   arrays): NULL on failure (no error recorded); the owner remembers the size and gives the
   block back with nn_block_put and that size. */
void *nn_block_get(nn_ctx *ctx, size_t n);
void *nn_block_get_zeroed(nn_ctx *ctx, size_t n);
void nn_block_put(nn_ctx *ctx, void *p, size_t n);
/* A buffer handed to the caller of a public function (read_csv's header): it keeps its size
   in a prefix, so the caller frees it with the public nn_free (nn.h), which takes no size. */
void *nn_buffer_alloc(nn_ctx *ctx, size_t n);
void nn_ctx_unref(nn_ctx *ctx);           /* an object died: free a closing context at 0 */
double nn_now(void);                      /* monotonic seconds */
/* NN_ERR_INTERRUPTED (with message) if the interrupt flag is set */
nn_status nn_check_interrupt(nn_ctx *ctx, const char *op);
void nn_prof_add(nn_ctx *ctx, const char *name, double seconds);
/* Runs fn(arg, part) for part 0..nparts-1 across the context's threads (part 0 here);
   at most as many parts run as there are threads. */
void nn_pool_run(nn_ctx *ctx, int nparts, void (*fn)(void *arg, int part), void *arg);
void nn_pool_free(nn_pool *p);
/* the jobs a context's pool ran on the caller alone while backing off from crowded CPUs, and
   the spells of that (pool.c); 0 without a pool */
void nn_pool_stats(const nn_ctx *ctx, long *solo_jobs, long *spells);
/* the calling thread's involuntary context switches so far, which the pool's back-off counts;
   a test may point it elsewhere */
extern long (*nn_pool_preemptions)(void);
/* The threads a new context gets: the CPUs this process may run on, capped by its cgroup's CPU
   quota, shared among the MPI ranks on this host; 1..NN_THREADS_MAX (pool.c). */
int nn_cpus_usable(void);
/* The CPUs a cgroup CPU quota allows (rounded down, at least 1), 0 when there is none: self is
   a /proc/self/cgroup file, root where the cgroup file systems are mounted (/sys/fs/cgroup). */
int nn_cgroup_cpus(const char *self, const char *root);
/* Puts BLAS on one thread before a product (the context splits products itself). */
void nn_blas_threads(nn_ctx *ctx);

/* ---- storage and tensors ----------------------------------------------------- */
typedef struct nn_storage {
  int64_t refs;
  void *data;
  size_t nbytes;
  uint64_t version;               /* shared by all views: in-place changes bump it */
  void (*release)(void *ud, void *data); /* host memory's release callback, or NULL */
  void *ud;
  bool owned;                     /* data is a context block */
  nn_ctx *ctx;
} nn_storage;

struct nn_tensor {
  int refs;
  nn_dtype dtype;
  int ndim;
  bool requires_grad;
  bool grad_stale;                 /* grad's values count as zeros (a lazy zero_grad) */
  int64_t shape[NN_MAX_DIMS];
  int64_t stride[NN_MAX_DIMS];     /* in elements */
  int64_t offset;                  /* in elements */
  int64_t numel;
  nn_storage *st;
  nn_ctx *ctx;
  nn_tensor *grad;                 /* leaves: accumulated gradient */
  struct nn_node *node;            /* non-leaves: the op that made it (owned) */
  uint64_t ready_mark;             /* backward's walk stamp: already on ctx->ready */
};

static inline char *nn_ptr(const nn_tensor *t) {
  return (char *)t->st->data + (size_t)t->offset * nn_dtype_size(t->dtype);
}
bool nn_is_contig(const nn_tensor *t);
/* A new header over t's storage with the given geometry (no autograd). */
nn_status nn_alias(nn_ctx *ctx, const nn_tensor *t, int ndim, const int64_t *shape,
                   const int64_t *stride, int64_t offset, nn_tensor **out);
/* A new contiguous tensor; zeroed if zero. */
nn_status nn_new(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, bool zero,
                 nn_tensor **out);
nn_status nn_new_like(nn_ctx *ctx, const nn_tensor *t, bool zero, nn_tensor **out);
/* ---- checked size arithmetic --------------------------------------------------------------
   Every product of dims, start + len, offset and byte count goes through these: a wrapped size
   from a hostile shape would make a small buffer look big. False on overflow. */
#define NN_NUMEL_MAX ((int64_t)1 << 48)   /* elements (and product of nonzero sizes) at most */
static inline bool nn_size_mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool nn_size_add(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
/* The element count of a shape: false if a size is negative or the product of the nonzero
   sizes passes NN_NUMEL_MAX (which bounds every stride and offset of a contiguous layout). */
bool nn_shape_count(int ndim, const int64_t *shape, int64_t *numel);
/* The element count of a shape already validated (nn_check_shape): -1 if it was not valid. */
int64_t nn_shape_numel(int ndim, const int64_t *shape);
/* i (0-based, negative from the end) into [0, size), or [0, size] when end_ok; false if out of
   range. Cannot overflow for any int64 i. */
static inline bool nn_wrap_index(int64_t *i, int64_t size, bool end_ok) {
  int64_t k = *i < 0 ? *i + size : *i;       /* size >= 0: no overflow for negative i */
  if (k < 0 || k > size || (k == size && !end_ok)) return false;
  *i = k;
  return true;
}
/* A number for an error message: NaN without the sign x86 gives 0/0 ("-nan" reads as a bug) */
static inline double nn_shownum(double v) { return v != v ? NAN : v; }
/* A double as int64, refusing NaN, infinities, fractions and values outside int64's range
   (a plain cast of those is undefined behaviour in C). */
static inline bool nn_f64_to_i64(double v, int64_t *out) {
  if (!(v >= -0x1p63 && v < 0x1p63) || v != floor(v)) return false;
  *out = (int64_t)v;
  return true;
}
bool nn_same_shape(const nn_tensor *a, const nn_tensor *b);
/* Normalizes a dim (negative from the end) into [0, ndim); false if out of range. */
bool nn_wrap_dim(int *dim, int ndim);
nn_status nn_check_dim(nn_ctx *ctx, const char *op, int *dim, int ndim);
nn_status nn_check_open(nn_ctx *ctx, const char *op, const nn_tensor *t);
/* Validates a shape (ndim in 0..8, sizes >= 0, numel fits) for op. */
nn_status nn_check_shape(nn_ctx *ctx, const char *op, int ndim, const int64_t *shape);
/* Broadcast shape of a and b into shape/ndim; NN_ERR_SHAPE naming op and both shapes. */
nn_status nn_broadcast_shape(nn_ctx *ctx, const char *op, const nn_tensor *a, const nn_tensor *b,
                             int *ndim, int64_t *shape);
/* Strides of t seen at a broadcast shape (0 on broadcast dims). */
void nn_broadcast_strides(const nn_tensor *t, int ndim, const int64_t *shape, int64_t *stride);
/* Element i (flat, row-major over shape) of t as double; slow path helper. */
double nn_get_flat(const nn_tensor *t, int64_t i);
/* x[0..n) summed in double through independent lanes, in a fixed order (ops_reduce.c: sum's
   float32 rows, also a convolution's bias gradient) */
double nn_sum_f32_row(const float *x, int64_t n);
/* Copies src (broadcast) into dst converting dtypes; no autograd. */
void nn_copy_raw(nn_tensor *dst, const nn_tensor *src);
/* nn_copy_raw, refusing float values that int64 cannot hold when dst is int64 */
nn_status nn_copy_checked(nn_ctx *ctx, const char *op, nn_tensor *dst, const nn_tensor *src);
/* NN_ERR_ARG if dt is int64 and v is not an integer it can hold (NaN, inf, fraction, range) */
nn_status nn_check_i64(nn_ctx *ctx, const char *op, nn_dtype dt, double v);
/* NN_ERR_ARG if two elements of t share memory (expanded views): in-place ops refuse them */
nn_status nn_check_overlap(nn_ctx *ctx, const char *op, const nn_tensor *t);

/* ---- autograd ----------------------------------------------------------------
   An op is a descriptor beside its forward (the public nn_<op> function) and its backward, in
   one block of its ops_*.c file:

     typedef struct { int dim; } softmax_args;           (what backward needs besides tensors)
     static nn_status softmax_backward(nn_ctx *ctx, nn_node *n) {
       const softmax_args *a = n->args; ... n->saved (the output), n->gout ...
     }
     const nn_op nn_op_softmax = {.name = "softmax", .backward = softmax_backward,
                                  .saves_output = true, .args_size = sizeof(softmax_args)};

   and the forward ends with nn_record(ctx, &nn_op_softmax, out, 1, &t, NULL, &args).
   Listing the descriptor in oplist.c makes test_grad.c demand a gradient case for it. */
struct nn_op {
  const char *name;
  /* reads n->gout and accumulates into the inputs' gradients (nn_grad_accum, nn_grad_slot) */
  nn_status (*backward)(nn_ctx *ctx, struct nn_node *n);
  unsigned saves;       /* bit i: backward reads input i's values (checked against in-place changes) */
  bool saves_output;    /* backward reads the result: the node keeps a header on it as n->saved */
  size_t args_size;     /* bytes of the op's argument struct, copied into the node (0: none) */
};

typedef struct nn_node {
  int refs;
  bool freed;                       /* graph released by backward */
  uint64_t mark;                    /* visited stamp of the current backward walk */
  const nn_op *op;
  uint64_t seq;
  int nin;
  nn_tensor **in;                   /* nin retained inputs (an absent optional one is NULL) */
  uint64_t *in_version;             /* their storage versions when recorded */
  void *args;                       /* the op's argument struct (op->args_size bytes) */
  nn_tensor *saved;                 /* the output (op->saves_output) or the op's extra tensor */
  uint64_t saved_version;
  nn_tensor *gout;                  /* gradient w.r.t. the output, during backward */
  nn_ctx *ctx;
  struct nn_node *next_dead;        /* release's work list, once refs reach 0 */
  size_t bytes;                     /* this allocation: the node and its tail */
  max_align_t tail[];               /* args, in[], in_version[]: one block per node, so a
                                       training step's nodes come from the block cache */
} nn_node;

/* Each ops file's descriptors, NULL-terminated (oplist.c walks them all) */
extern const nn_op *const nn_ops_ewise[], *const nn_ops_reduce[], *const nn_ops_shape[],
    *const nn_ops_index[], *const nn_ops_linalg[], *const nn_ops_nn[],
    *const nn_ops_rnn[];
extern const nn_op *const nn_ops_conv[], *const nn_ops_pool[];   /* ops_conv.c, ops_pool.c */
extern const nn_op *const nn_ops_norm[], *const nn_ops_resample[]; /* ops_norm.c, ops_resample.c */
/* True if an op on these inputs must be recorded. */
static inline bool nn_needs_grad(nn_ctx *ctx, int n, nn_tensor *const *in) {
  if (!ctx->grad_enabled) return false;
  for (int i = 0; i < n; i++)
    if (in[i] && in[i]->requires_grad) return true;
  return false;
}
/* The one way ops record: when grad mode is on and an input needs a gradient (and *out is not
   int64), attaches a node for op to *out (fresh: refs 1, no node), retaining in[0..n), the
   output when op->saves_output, else saved (may be NULL), and copying op->args_size bytes of
   args. On failure releases *out, sets it NULL and returns the error. */
nn_status nn_record(nn_ctx *ctx, const nn_op *op, nn_tensor **out, int n, nn_tensor *const *in,
                    nn_tensor *saved, const void *args);
/* Adds g into the gradient of input i of n, summing over broadcast dims so that g's shape
   reduces to the input's. Inputs that need no grad are skipped. */
nn_status nn_grad_accum(nn_ctx *ctx, nn_node *n, int i, nn_tensor *g);
/* nn_grad_accum of g * scale (scale 1: g itself) */
nn_status nn_grad_accum_scaled(nn_ctx *ctx, nn_node *n, int i, nn_tensor *g, double scale);
/* nn_grad_accum of x * y (broadcast) */
nn_status nn_grad_accum_mul(nn_ctx *ctx, nn_node *n, int i, nn_tensor *x, nn_tensor *y);
/* The contiguous gradient buffer of input i for kernels that accumulate straight into it
   (GEMM with beta = 1); *slot NULL if input i needs no grad. A buffer created here is zeroed,
   unless fresh is given: then *fresh says it is new and uninitialized (GEMM with beta = 0). */
nn_status nn_grad_slot(nn_ctx *ctx, nn_node *n, int i, nn_tensor **slot, bool *fresh);
/* Whether input i needs a gradient. */
bool nn_input_needs_grad(const nn_node *n, int i);
void nn_node_release(nn_node *n);
/* Drops one reference to t; a tensor freed here hands its node, when that dies too, to *dead
   instead of freeing it, so releasing a graph is a loop (nn_node_release) and not a recursion
   as deep as the graph. */
void nn_tensor_unref(nn_tensor *t, nn_node **dead);
/* Frees the nodes of the list dead (linked by next_dead) and whatever dies with them. */
void nn_nodes_free(nn_node *dead);

/* ---- helpers shared by the ops ----------------------------------------------------------- */
/* t itself when contiguous (retained), else a contiguous copy (no autograd) */
nn_status nn_contig(nn_ctx *ctx, nn_tensor *t, nn_tensor **out);
/* t itself when of dtype dt (retained), else a converted copy (no autograd) */
nn_status nn_as_dtype(nn_ctx *ctx, nn_tensor *t, nn_dtype dt, nn_tensor **out);
/* A second header on t (same geometry, no node): what a node saves of an output */
nn_status nn_same_view(nn_ctx *ctx, nn_tensor *t, nn_tensor **out);
/* NN_ERR_ARG for a NULL t ("<op>: tensor is NULL"), NN_ERR_DTYPE for int64 */
nn_status nn_need_float(nn_ctx *ctx, const char *op, const nn_tensor *t);
/* Element i of a float32/float64 buffer p, as double, and its store */
static inline double nn_load_f(const char *p, nn_dtype dt, int64_t i) {
  return dt == NN_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}
static inline void nn_store_f(char *p, nn_dtype dt, int64_t i, double v) {
  if (dt == NN_F32) ((float *)p)[i] = (float)v; else ((double *)p)[i] = v;
}

/* "[2, 3]" into a rotating static-free buffer owned by the caller */
#define NN_SHAPE_BUF 96
const char *nn_shape_fmt(int ndim, const int64_t *shape, char *buf);

/* ---- subnormals -------------------------------------------------------------------------
   Arithmetic on subnormal floats takes a microcode assist on x86, about 100 times slower: late
   in training, gradients and Adam's second moments drift into that range and slow optimizer
   steps several times over. The heavy kernels (products, optimizer
   steps) run with flush-to-zero and denormals-are-zero and give the caller's mode back after;
   only values below 1.2e-38 change, and results stay deterministic. */
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
static inline unsigned nn_ftz_begin(void) {
  unsigned old = _mm_getcsr();
  _mm_setcsr(old | 0x8040u);   /* FTZ (bit 15) | DAZ (bit 6) */
  return old;
}
static inline void nn_ftz_end(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned nn_ftz_begin(void) { return 0; }
static inline void nn_ftz_end(unsigned old) { (void)old; }
#endif

/* ---- e^x in float32 ---------------------------------------------------------------------
   libm's expf is a call per element that no loop vectorizes; this one is branch-free and
   inline, so loops over arrays (softmax, cross-entropy, sigmoid) run 8 lanes at a time.
   e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln 2 / 2, e^r by Cephes' expf polynomial
   (about 1 ulp; test_tensor checks 2 ulp against exp in double over the whole range). 2^n is
   applied in two halves so results down to the subnormals are exact. Overflow gives inf,
   underflow 0; NaN stays NaN. */
#if defined(__GNUC__)
#define NN_ALWAYS_INLINE static inline __attribute__((always_inline)) /* (LTO may not otherwise) */
#else
#define NN_ALWAYS_INLINE static inline
#endif
NN_ALWAYS_INLINE float nn_f32_from_bits(uint32_t b) { float f; memcpy(&f, &b, sizeof f); return f; }
NN_ALWAYS_INLINE int32_t nn_f32_bits(float f) { int32_t b; memcpy(&b, &f, sizeof b); return b; }
NN_ALWAYS_INLINE float nn_expf(float x) {
  const float hi = 88.72283935546875f, lo = -103.97208404541015625f; /* e^lo < 2^-150 */
  float xc = x < lo ? lo : x;                             /* (one select each: vectorizes) */
  xc = xc > hi ? hi : xc;
  float t = xc * 1.44269504088896341f + 12582912.0f;    /* 1.5 * 2^23: round to integer */
  int32_t n = nn_f32_bits(t) - 0x4B400000;
  float fn = t - 12582912.0f;
  float r = xc - fn * 0.693359375f - fn * -2.12194440e-4f;
  float z = r * r;
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
              4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  int32_t h = n >> 1;                                    /* n in [-150, 128]: halves are normal */
  y = y * nn_f32_from_bits((uint32_t)(h + 127) << 23) * nn_f32_from_bits((uint32_t)(n - h + 127) << 23);
  y = x < lo ? 0.0f : y;
  return x > hi ? (float)INFINITY : y;
}

/* ---- strided loops ------------------------------------------------------------------
   Up to three operands walked over one index space. Dims where every operand is contiguous
   with the next are merged, so most loops run as one long inner row. fn gets each inner
   row: n elements, operand base pointers and their strides in elements. */
typedef void (*nn_row_fn)(int64_t n, char *p0, int64_t s0, char *p1, int64_t s1, char *p2,
                          int64_t s2, void *arg);
void nn_loop(int nops, int ndim, const int64_t *shape, char *const *base,
             const int64_t *const *strides, const size_t *elsize, nn_row_fn fn, void *arg);
/* Row ranges across the context's threads: fn(arg, part, lo, hi) for nn_lane_count consecutive
   ranges of [0, rows), part 0 on the calling thread (see pool.c); work (elements touched)
   below a threshold is one part, run here. At most NN_LANES_MAX parts, so callers may keep
   a result per part in a fixed array. */
#define NN_LANES_MAX NN_THREADS_MAX
typedef void (*nn_lane_fn)(void *arg, int part, int64_t lo, int64_t hi);
int nn_lane_count(nn_ctx *ctx, int64_t rows, int64_t work);
void nn_lanes(nn_ctx *ctx, int64_t rows, int64_t work, nn_lane_fn fn, void *arg);
/* nn_lanes(fn over rows), then, once every lane is done, then(arg, part, lo, hi) over
   then_rows in as many lanes, in one hand-off (pool.c) */
void nn_lanes_then(nn_ctx *ctx, int64_t rows, int64_t work, nn_lane_fn fn, void *arg,
                   int64_t then_rows, nn_lane_fn then);
/* nn_loop with dim 0 split into lanes */
void nn_loop_lanes(nn_ctx *ctx, int nops, int ndim, const int64_t *shape, char *const *base,
                   const int64_t *const *strides, const size_t *elsize, nn_row_fn fn, void *arg);
/* C[M,N] = A[M,K] B[K,N] + beta C in float32 with AVX2/FMA, any strides (gemm_avx2.c): for CPUs
   where OpenBLAS runs a generic kernel; usable() says whether this CPU can run it */
bool nn_sgemm_avx2_usable(void);
void nn_sgemm_avx2(int64_t M, int64_t N, int64_t K, const float *a, int64_t ars, int64_t acs,
                   const float *b, int64_t brs, int64_t bcs, float *c, int64_t ldc, float beta);
/* c[0..N) = beta c + a B for one row a (K long), B [K, N] with any strides, in float32 with
   AVX2/FMA (for the same CPUs) */
void nn_sgemv_avx2(int64_t N, int64_t K, const float *a, int64_t acs, const float *b,
                   int64_t brs, int64_t bcs, float *c, float beta);
/* dst[c * ldd + r] = src[r * lds + c]: a float32 matrix [rows, cols] transposed (AVX2 when
   usable() says so; a plain loop elsewhere) */
void nn_transpose_avx2(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst,
                       int64_t ldd);
/* C[M,N] = op(A) op(B) + beta C on the calling thread, by Linear's own path (OpenBLAS, or
   gemm_avx2.c where OpenBLAS runs a generic kernel); A, B, C by pointer and strides in elements.
   For ops that split their work in lanes themselves; call nn_blas_threads first. */
void nn_gemm_serial(nn_dtype dt, int64_t M, int64_t N, int64_t K, const char *a, int64_t ars,
                    int64_t acs, const char *b, int64_t brs, int64_t bcs, char *c, int64_t ldc,
                    double beta);
/* Strides of a contiguous tensor of this shape */
void nn_contig_strides(int ndim, const int64_t *shape, int64_t *stride);
#endif
