/*
** nn.h — the Lunet core: tensors, autograd, layers, losses, optimizers.
** C11, no Lua. Every object belongs to a context; nothing here is global.
**
**   nn_ctx *ctx = nn_ctx_new(NULL, NULL);          // malloc/free
**   nn_tensor *x, *w, *y, *loss;
**   int64_t xs[] = {4, 3}, ws[] = {2, 3};
**   nn_randn(ctx, NULL, NN_F32, 2, xs, &x);
**   nn_randn(ctx, NULL, NN_F32, 2, ws, &w);
**   nn_tensor_set_requires_grad(ctx, w, true);
**   if (nn_linear(ctx, x, w, NULL, &y) != NN_OK) puts(nn_ctx_errmsg(ctx));
**   nn_sum(ctx, y, NN_ALL, false, &loss);
**   nn_backward(ctx, loss, NULL);                   // w's grad: nn_tensor_grad(w)
**   nn_tensor_release(loss); nn_tensor_release(y); ...
**   nn_ctx_free(ctx);
**
** Conventions
** - Every function returning nn_status writes *out only on NN_OK (it sets *out = NULL first);
**   on failure nn_ctx_errmsg(ctx) says what went wrong, naming the operation and shapes.
** - Every *out hands the caller one reference: release it with nn_tensor_release.
**   Arguments are borrowed.
** - Indices and dims are 0-based here; negative dims count from the end (-1 is the last).
** - Ops record an autograd node when grad mode is on and an input requires grad.
**
** NULL arguments (one rule for every function here; tests/c/test_api_null.c checks each)
** - A function returning nn_status given a NULL ctx returns NN_ERR_ARG and does nothing else:
**   no message (there is nowhere to record it) and *out is not written.
** - Given a NULL tensor, module, optimizer, generator state, name, path, shape (ndim > 0),
**   index (t not 0-d), array (count > 0) or out, it returns NN_ERR_ARG and records
**   "<op>: <what> is NULL" (what: the argument's name here, or "tensor"); *out is set to NULL
**   when out itself is not NULL.
** - Arguments documented as optional keep their meaning: a NULL rng (the context's generator),
**   bias, backward's grad, set_grad's g (clears), set_state's t (removes the state), one of
**   max/min's two outs, read_csv's opts/header/ncols, wrap's strides/release/ud.
** - Functions returning a value give a neutral one for NULL: 0, false, NULL or NN_F32 (dtype);
**   nn_ctx_errmsg(NULL) is "context is NULL", nn_ctx_status(NULL) NN_ERR_ARG,
**   nn_module_name(NULL) "(null)", nn_module_kind_of(NULL) NN_IDENTITY, in/out_features -1,
**   nn_shape_str(NULL, buf, n) "". Out-pointers of void functions may be NULL (not written).
** - Releases and frees of NULL (or with a NULL ctx) do nothing; so do setters on NULL.
*/
#ifndef NN_H
#define NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NN_BUILD)
#define NN_API __attribute__((visibility("default")))
#else
#define NN_API
#endif

#define NN_VERSION "0.1.0"
#define NN_MAX_DIMS 8
#define NN_ALL (-1000) /* "all dims" for reductions */

typedef struct nn_ctx nn_ctx;       /* allocator, last error, RNG, grad mode, threads */
typedef struct nn_tensor nn_tensor; /* shape/strides/offset/dtype over refcounted storage */
typedef struct nn_rng nn_rng;       /* a random generator (xoshiro256**) */
typedef struct nn_module nn_module; /* a built-in layer or a Sequential of them */
typedef struct nn_optim nn_optim;   /* an optimizer over parameter groups */

typedef enum { NN_F32 = 0, NN_F64 = 1, NN_I64 = 2 } nn_dtype;

typedef enum {
  NN_OK = 0,
  NN_ERR_MEM,         /* allocation failed */
  NN_ERR_ARG,         /* a bad argument value (index, dim, size, option) */
  NN_ERR_SHAPE,       /* shapes do not fit */
  NN_ERR_DTYPE,       /* dtype misuse */
  NN_ERR_STATE,       /* wrong order of calls (backward twice, modified saved tensor…) */
  NN_ERR_IO,          /* a file could not be read or written */
  NN_ERR_FORMAT,      /* a file's contents are malformed */
  NN_ERR_INTERRUPTED  /* nn_ctx_interrupt was called during a long operation */
} nn_status;

typedef enum { NN_REDUCE_MEAN = 0, NN_REDUCE_SUM, NN_REDUCE_NONE } nn_reduction;

/* The allocator, as lua_Alloc: nsize 0 frees ptr (returns NULL); otherwise (re)allocates. */
typedef void *(*nn_alloc)(void *ud, void *ptr, size_t osize, size_t nsize);

/* ---- context ---------------------------------------------------------- */
NN_API nn_ctx *nn_ctx_new(nn_alloc f, void *ud);      /* f NULL: malloc/free; NULL on failure */
NN_API void nn_ctx_free(nn_ctx *ctx);                  /* every tensor must be released first */
NN_API const char *nn_ctx_errmsg(const nn_ctx *ctx);   /* text of the last failure ("" if none) */
NN_API nn_status nn_ctx_status(const nn_ctx *ctx);     /* status of the last failure */
NN_API void nn_ctx_clear_error(nn_ctx *ctx);
NN_API void nn_ctx_interrupt(nn_ctx *ctx);             /* async-signal-safe: long ops stop soon */
NN_API void nn_ctx_clear_interrupt(nn_ctx *ctx);
NN_API bool nn_grad_enabled(const nn_ctx *ctx);
NN_API bool nn_set_grad_enabled(nn_ctx *ctx, bool on); /* returns the previous mode */
#define NN_THREADS_MAX 64   /* the most threads a context uses (nn_set_num_threads, LUNET_NUM_THREADS) */
NN_API int nn_get_num_threads(const nn_ctx *ctx);
NN_API nn_status nn_set_num_threads(nn_ctx *ctx, int n); /* BLAS threads used by this context's ops */
NN_API size_t nn_ctx_bytes_in_use(const nn_ctx *ctx);  /* live tensor storage bytes */
NN_API void nn_ctx_trim(nn_ctx *ctx);                  /* return cached blocks to the allocator */
NN_API void nn_ctx_trim_idle(nn_ctx *ctx);             /* the same for blocks unused since its last call */
NN_API size_t nn_ctx_cached_bytes(const nn_ctx *ctx);  /* bytes of freed blocks kept for reuse */
NN_API nn_rng *nn_ctx_rng(nn_ctx *ctx);                /* the default generator (borrowed) */
NN_API void nn_manual_seed(nn_ctx *ctx, uint64_t seed);/* seeds the default generator */
NN_API const char *nn_blas_info(int *threads, const char **core); /* BLAS library and version */

/* ---- random generators: xoshiro256** seeded through splitmix64 ---------- */
NN_API nn_status nn_rng_new(nn_ctx *ctx, uint64_t seed, nn_rng **out); /* free with nn_rng_free */
NN_API void nn_rng_free(nn_ctx *ctx, nn_rng *r);
NN_API void nn_rng_seed(nn_rng *r, uint64_t seed);
NN_API void nn_rng_get_state(const nn_rng *r, uint64_t state[5]); /* 4 words + cached normal flag */
NN_API nn_status nn_rng_set_state(nn_ctx *ctx, nn_rng *r, const uint64_t state[5]);
NN_API uint64_t nn_rng_next(nn_rng *r);               /* 64 random bits */
NN_API double nn_rng_uniform(nn_rng *r);              /* [0, 1) with 53 bits */
NN_API double nn_rng_normal(nn_rng *r);               /* N(0, 1) */
NN_API uint64_t nn_rng_below(nn_rng *r, uint64_t n);  /* uniform in [0, n), unbiased; n > 0 */

/* ---- tensor objects ------------------------------------------------------ */
NN_API nn_status nn_tensor_new(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                               nn_tensor **out);        /* uninitialized, contiguous */
NN_API nn_status nn_tensor_from_data(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                                     const void *data, nn_tensor **out); /* copies numel elements */
/* Wraps caller memory without copying; release(ud, data) runs when the last view goes.
   strides NULL means contiguous; strides are in elements and must keep every index in bounds
   of the memory the host owns (not checked: the host vouches for it). */
NN_API nn_status nn_tensor_wrap(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape,
                                const int64_t *strides, void *data,
                                void (*release)(void *ud, void *data), void *ud, nn_tensor **out);
NN_API void nn_tensor_retain(nn_tensor *t);
NN_API void nn_tensor_release(nn_tensor *t);            /* NULL is a no-op */
NN_API nn_dtype nn_tensor_dtype(const nn_tensor *t);
NN_API int nn_tensor_ndim(const nn_tensor *t);
NN_API const int64_t *nn_tensor_shape(const nn_tensor *t);
NN_API const int64_t *nn_tensor_strides(const nn_tensor *t); /* in elements */
NN_API int64_t nn_tensor_numel(const nn_tensor *t);
NN_API void *nn_tensor_data(const nn_tensor *t);        /* address of element [0,…,0] */
NN_API bool nn_tensor_is_contiguous(const nn_tensor *t);
NN_API bool nn_tensor_same_storage(const nn_tensor *a, const nn_tensor *b);
NN_API uint64_t nn_tensor_version(const nn_tensor *t);  /* bumped by in-place changes */
NN_API void nn_tensor_bump_version(nn_tensor *t);       /* after writing through nn_tensor_data */
NN_API size_t nn_dtype_size(nn_dtype dt);
NN_API const char *nn_dtype_name(nn_dtype dt);          /* "float32", "float64", "int64" */
NN_API nn_status nn_dtype_parse(nn_ctx *ctx, const char *name, nn_dtype *dt);
NN_API nn_dtype nn_promote(nn_dtype a, nn_dtype b);     /* PyTorch's rule for these three */
NN_API nn_ctx *nn_tensor_ctx(const nn_tensor *t);
/* Writes "[2, 3]" into buf (always NUL-terminated). Returns buf. */
NN_API const char *nn_shape_str(const nn_tensor *t, char *buf, size_t size);

/* element access by index (0-based, bounds-checked) */
NN_API nn_status nn_tensor_get(nn_ctx *ctx, const nn_tensor *t, const int64_t *idx, double *v);
NN_API nn_status nn_tensor_set(nn_ctx *ctx, nn_tensor *t, const int64_t *idx, double v);
NN_API nn_status nn_item(nn_ctx *ctx, const nn_tensor *t, double *v); /* one-element tensor */
NN_API nn_status nn_item_i64(nn_ctx *ctx, const nn_tensor *t, int64_t *v);

/* ---- autograd ------------------------------------------------------------ */
NN_API bool nn_tensor_requires_grad(const nn_tensor *t);
NN_API nn_status nn_tensor_set_requires_grad(nn_ctx *ctx, nn_tensor *t, bool on); /* leaves only */
NN_API bool nn_tensor_is_leaf(const nn_tensor *t);
NN_API nn_tensor *nn_tensor_grad(nn_tensor *t);         /* borrowed; NULL if none yet */
/* t's grad becomes a new header over g's storage (writes through either are seen by both; g
   itself is not kept); g must match t's shape and dtype and be contiguous; g NULL clears */
NN_API nn_status nn_tensor_set_grad(nn_ctx *ctx, nn_tensor *t, nn_tensor *g);
NN_API void nn_tensor_zero_grad(nn_tensor *t);          /* fills the grad with 0 (keeps the buffer) */
NN_API const char *nn_tensor_grad_fn(const nn_tensor *t); /* op name of the recording node or NULL */
/* Accumulates d(t)/d(leaves) into the leaves' grads. grad NULL requires a one-element t.
   The graph behind t is freed afterwards; a second backward through it is an error. A saved
   tensor modified in place fails it before any grad changes (the graph is kept); an interrupt
   or out of memory during the walk leaves partial sums in the leaves reached and frees it. */
NN_API nn_status nn_backward(nn_ctx *ctx, nn_tensor *t, nn_tensor *grad);
NN_API nn_status nn_detach(nn_ctx *ctx, nn_tensor *t, nn_tensor **out); /* shares storage */

/* ---- creation --------------------------------------------------------- */
NN_API nn_status nn_zeros(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, nn_tensor **out);
NN_API nn_status nn_ones(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, nn_tensor **out);
NN_API nn_status nn_full(nn_ctx *ctx, nn_dtype dt, int ndim, const int64_t *shape, double v,
                         nn_tensor **out);
NN_API nn_status nn_eye(nn_ctx *ctx, nn_dtype dt, int64_t n, int64_t m, nn_tensor **out);
NN_API nn_status nn_arange(nn_ctx *ctx, nn_dtype dt, double start, double end, double step,
                           nn_tensor **out);              /* end exclusive */
NN_API nn_status nn_arange_i64(nn_ctx *ctx, int64_t start, int64_t end, int64_t step,
                               nn_tensor **out);   /* int64 [start, end) exactly */
NN_API nn_status nn_linspace(nn_ctx *ctx, nn_dtype dt, double a, double b, int64_t n,
                             nn_tensor **out);
/* r NULL: the context's default generator */
NN_API nn_status nn_rand(nn_ctx *ctx, nn_rng *r, nn_dtype dt, int ndim, const int64_t *shape,
                         nn_tensor **out);                /* U[0, 1) */
NN_API nn_status nn_randn(nn_ctx *ctx, nn_rng *r, nn_dtype dt, int ndim, const int64_t *shape,
                          nn_tensor **out);               /* N(0, 1) */
NN_API nn_status nn_randint(nn_ctx *ctx, nn_rng *r, int64_t lo, int64_t hi, int ndim,
                            const int64_t *shape, nn_tensor **out); /* int64 in [lo, hi) */
NN_API nn_status nn_randperm(nn_ctx *ctx, nn_rng *r, int64_t n, nn_tensor **out); /* 0..n-1 */
/* In-place fills (bump the version): */
NN_API nn_status nn_fill_(nn_ctx *ctx, nn_tensor *t, double v);
NN_API nn_status nn_uniform_(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double lo, double hi);
NN_API nn_status nn_normal_(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double mean, double std);

/* ---- views (share storage, differentiable) ------------------------------ */
NN_API nn_status nn_view(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape,
                         nn_tensor **out);                /* one -1 is inferred; needs viewable strides */
NN_API nn_status nn_reshape(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape,
                            nn_tensor **out);             /* a view when possible, else a copy */
NN_API nn_status nn_transpose(nn_ctx *ctx, nn_tensor *t, int d0, int d1, nn_tensor **out);
NN_API nn_status nn_permute(nn_ctx *ctx, nn_tensor *t, const int *dims, nn_tensor **out);
NN_API nn_status nn_narrow(nn_ctx *ctx, nn_tensor *t, int dim, int64_t start, int64_t len,
                           nn_tensor **out);
NN_API nn_status nn_select(nn_ctx *ctx, nn_tensor *t, int dim, int64_t i, nn_tensor **out);
NN_API nn_status nn_unsqueeze(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out);
NN_API nn_status nn_squeeze(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out); /* NN_ALL: all */
NN_API nn_status nn_expand(nn_ctx *ctx, nn_tensor *t, int ndim, const int64_t *shape,
                           nn_tensor **out);              /* -1 keeps a size */
NN_API nn_status nn_flatten(nn_ctx *ctx, nn_tensor *t, int start, int end, nn_tensor **out);

/* ---- copies ----------------------------------------------------------------- */
NN_API nn_status nn_contiguous(nn_ctx *ctx, nn_tensor *t, nn_tensor **out); /* t itself if already */
NN_API nn_status nn_clone(nn_ctx *ctx, nn_tensor *t, nn_tensor **out);
NN_API nn_status nn_to(nn_ctx *ctx, nn_tensor *t, nn_dtype dt, nn_tensor **out);
NN_API nn_status nn_copy_(nn_ctx *ctx, nn_tensor *dst, nn_tensor *src); /* src broadcasts to dst */
NN_API nn_status nn_index_select(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx,
                                 nn_tensor **out);        /* idx: 1-D int64, 0-based */
NN_API nn_status nn_cat(nn_ctx *ctx, int n, nn_tensor *const *ts, int dim, nn_tensor **out);
NN_API nn_status nn_stack(nn_ctx *ctx, int n, nn_tensor *const *ts, int dim, nn_tensor **out);

/* ---- shape vocabulary (PyTorch's names; differentiable; dims 0-based, negative from the end) -- */
NN_API nn_status nn_split(nn_ctx *ctx, nn_tensor *t, int dim, int64_t n, const int64_t *sizes,
                          nn_tensor **outs);   /* n views of sizes[i] (summing to t's dim) into outs[0..n-1] */
NN_API nn_status nn_diagonal(nn_ctx *ctx, nn_tensor *t, int64_t offset, int d1, int d2,
                             nn_tensor **out);   /* view; d1, d2 dropped, the diagonal is the last dim */
NN_API nn_status nn_diag(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out); /* 1-D -> 2-D, 2-D -> 1-D */
NN_API nn_status nn_trace(nn_ctx *ctx, nn_tensor *t, nn_tensor **out);         /* 2-D -> 0-d sum of diagonal */
NN_API nn_status nn_tril(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out); /* keep j - i <= k */
NN_API nn_status nn_triu(nn_ctx *ctx, nn_tensor *t, int64_t k, nn_tensor **out); /* keep j - i >= k */
NN_API nn_status nn_flip(nn_ctx *ctx, nn_tensor *t, int n, const int *dims, nn_tensor **out); /* copy */
NN_API nn_status nn_roll(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *shifts, const int *dims,
                         nn_tensor **out);     /* dims NULL: one shift of the flattened tensor */
NN_API nn_status nn_tile(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *reps,
                         nn_tensor **out);     /* torch.tile / Tensor.repeat: a copy */
NN_API nn_status nn_repeat_interleave(nn_ctx *ctx, nn_tensor *t, int64_t repeats, nn_tensor *reps,
                                      int dim, nn_tensor **out); /* reps (int64, 1 or size elements) or NULL; dim NN_ALL: flattened */
NN_API nn_status nn_movedim(nn_ctx *ctx, nn_tensor *t, int n, const int *src, const int *dst,
                            nn_tensor **out);  /* view: dim src[i] goes to dst[i] */
NN_API nn_status nn_meshgrid(nn_ctx *ctx, int n, nn_tensor *const *ts, bool xy,
                             nn_tensor **outs); /* n expanded views; xy: Cartesian (first two swapped) */
typedef enum { NN_PAD_CONSTANT, NN_PAD_REFLECT, NN_PAD_REPLICATE, NN_PAD_CIRCULAR } nn_pad_mode;
NN_API nn_status nn_pad(nn_ctx *ctx, nn_tensor *t, int n, const int64_t *pads, nn_pad_mode mode,
                        double value, nn_tensor **out); /* pads: before, after of the last dim, then the one before it... */

/* ---- element-wise (broadcasting, dtype promotion) ------------------------ */
NN_API nn_status nn_add(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_sub(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_mul(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_div(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_pow(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_maximum(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_minimum(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* with a number: y = a op s (s is not promoted past a's dtype, as a Python scalar in PyTorch,
   except that an int64 tensor with a non-integral s gives float32) */
NN_API nn_status nn_adds(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out);
NN_API nn_status nn_muls(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out);
NN_API nn_status nn_pows(nn_ctx *ctx, nn_tensor *a, double p, nn_tensor **out);
NN_API nn_status nn_rsubs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out); /* s - a */
NN_API nn_status nn_rdivs(nn_ctx *ctx, nn_tensor *a, double s, nn_tensor **out); /* s / a */
/* comparisons: 0/1 in the promoted dtype, no gradient */
typedef enum { NN_EQ, NN_NE, NN_LT, NN_LE, NN_GT, NN_GE } nn_cmp;
NN_API nn_status nn_compare(nn_ctx *ctx, nn_cmp op, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_where(nn_ctx *ctx, nn_tensor *cond, nn_tensor *a, nn_tensor *b,
                          nn_tensor **out);               /* cond != 0 ? a : b */
/* unary */
NN_API nn_status nn_neg(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_exp(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_log(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_sqrt(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_abs(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_sign(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_tanh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_sigmoid(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_relu(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_leaky_relu(nn_ctx *ctx, nn_tensor *a, double slope, nn_tensor **out);
NN_API nn_status nn_gelu(nn_ctx *ctx, nn_tensor *a, nn_tensor **out); /* exact (erf) form */
NN_API nn_status nn_clamp(nn_ctx *ctx, nn_tensor *a, double lo, double hi, nn_tensor **out);
NN_API nn_status nn_sin(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_cos(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
/* the element-wise vocabulary (ops_unary.def, ops_binary.def): PyTorch's semantics; floor,
   ceil, round (half to even), trunc and square keep int64, the others compute int64 in float32 */
NN_API nn_status nn_tan(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_asin(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_acos(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_atan(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_sinh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_cosh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_asinh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_acosh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_atanh(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_floor(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_ceil(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_round(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_trunc(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_frac(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_log1p(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_expm1(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_log2(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_log10(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_exp2(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_erf(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_erfc(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_rsqrt(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_reciprocal(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_square(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_silu(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_mish(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_hardtanh(nn_ctx *ctx, nn_tensor *a, double lo, double hi, nn_tensor **out);
NN_API nn_status nn_softplus(nn_ctx *ctx, nn_tensor *a, double beta, double threshold,
                             nn_tensor **out);            /* linear where beta x > threshold */
/* NaN, +inf and -inf replaced by the given values (PyTorch's defaults: 0 and the dtype's
   largest and lowest finite values); int64 unchanged */
NN_API nn_status nn_nan_to_num(nn_ctx *ctx, nn_tensor *a, double nan, double posinf,
                               double neginf, nn_tensor **out);
NN_API nn_status nn_atan2(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* fmod: the dividend's sign (C's fmod); remainder: the divisor's (Python's %); int64 division
   by zero is an error */
NN_API nn_status nn_fmod(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_remainder(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* a + w (b - a), w a tensor (broadcasting) or a number; float only */
NN_API nn_status nn_lerp(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor *w, nn_tensor **out);
NN_API nn_status nn_lerps(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, double w, nn_tensor **out);
/* without gradient: 0/1 in the input's (promoted) dtype; logical ops take nonzero as true */
NN_API nn_status nn_isnan(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_isinf(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_isfinite(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_logical_not(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_logical_and(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_logical_or(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_logical_xor(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* int64 only, no gradient */
NN_API nn_status nn_bitwise_not(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_bitwise_and(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_bitwise_or(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_bitwise_xor(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* the in-place form of the unary op named op ("sin" for sin_, any of the rows above without
   parameters: neg exp log … mish); as the other in-place ops below */
NN_API nn_status nn_unary_(nn_ctx *ctx, const char *op, nn_tensor *a);
/* in place on a (no autograd recording through a; bumps the version; a leaf that requires
   grad may not be changed in place while grad mode is on) */
NN_API nn_status nn_add_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b);  /* a += b (b broadcasts) */
NN_API nn_status nn_axpy_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, double alpha); /* a += alpha b */
NN_API nn_status nn_sub_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b);
NN_API nn_status nn_mul_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b);
NN_API nn_status nn_div_(nn_ctx *ctx, nn_tensor *a, nn_tensor *b);
NN_API nn_status nn_adds_(nn_ctx *ctx, nn_tensor *a, double s);
NN_API nn_status nn_muls_(nn_ctx *ctx, nn_tensor *a, double s);
NN_API nn_status nn_clamp_(nn_ctx *ctx, nn_tensor *a, double lo, double hi);

/* ---- reductions: dim NN_ALL reduces everything to a 0-d tensor -------------- */
NN_API nn_status nn_sum(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
NN_API nn_status nn_mean(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
NN_API nn_status nn_prod(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
NN_API nn_status nn_var(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, int correction,
                        nn_tensor **out);                 /* correction 1: unbiased */
NN_API nn_status nn_std(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, int correction,
                        nn_tensor **out);
/* values and 0-based int64 indices (either out may be NULL); dim NN_ALL gives 0-d results
   with the index into the flattened tensor */
NN_API nn_status nn_max(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                        nn_tensor **indices);
NN_API nn_status nn_min(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                        nn_tensor **indices);

/* ---- gather/scatter and masks (issue 13; indices 0-based int64, every one checked) ------- */
/* gather: y (idx's shape) = t[c with c[dim] = idx[c]]; idx has t's ndim, no size above t's but
   along dim */
NN_API nn_status nn_gather(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor **out);
typedef enum { NN_SCATTER_NONE, NN_SCATTER_ADD, NN_SCATTER_MUL } nn_scatter_reduce;
/* scatter: y = t with y[c with c[dim] = idx[c]] = src[c] (ADD: +=, MUL: *=; MUL has no gradient);
   src of t's dtype, no size below idx's; repeated indices apply in row-major order */
NN_API nn_status nn_scatter(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                            nn_scatter_reduce reduce, nn_tensor **out);
NN_API nn_status nn_scatter_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                             nn_scatter_reduce reduce);
/* index_*: idx 1-D (K); src has t's shape with K along dim. y[.., idx[i], ..] += alpha src[.., i, ..] */
NN_API nn_status nn_index_add(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                              double alpha, nn_tensor **out);
NN_API nn_status nn_index_add_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                               double alpha);
NN_API nn_status nn_index_copy(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src,
                               nn_tensor **out);
NN_API nn_status nn_index_copy_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, nn_tensor *src);
NN_API nn_status nn_index_fill(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, double v,
                               nn_tensor **out);
NN_API nn_status nn_index_fill_(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor *idx, double v);
/* take: y (idx's shape) = t flattened, at idx */
NN_API nn_status nn_take(nn_ctx *ctx, nn_tensor *t, nn_tensor *idx, nn_tensor **out);
/* masks: 0/1 (nonzero is true) of any dtype, broadcast with t as PyTorch */
/* masked_fill: t where mask is false, value where true (value a 0-d tensor: gradient flows to it;
   nn_masked_fills: a number); the result keeps t's dtype */
NN_API nn_status nn_masked_fill(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *value,
                                nn_tensor **out);
NN_API nn_status nn_masked_fills(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, double value,
                                 nn_tensor **out);
NN_API nn_status nn_masked_fill_(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, double value);
/* masked_select: 1-D, t's elements where mask is true (row-major over the broadcast shape) */
NN_API nn_status nn_masked_select(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor **out);
/* masked_scatter: t with the true positions taken in order from src's first elements */
NN_API nn_status nn_masked_scatter(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *src,
                                   nn_tensor **out);
NN_API nn_status nn_masked_scatter_(nn_ctx *ctx, nn_tensor *t, nn_tensor *mask, nn_tensor *src);

/* ---- sorting and selection (issue 13): indices 0-based int64; values = gather(t, dim, indices)
   (their gradient is gather's); either out may be NULL. NaN sorts above every number. ------- */
/* sort along dim, stable (equal values keep their order) */
NN_API nn_status nn_sort(nn_ctx *ctx, nn_tensor *t, int dim, bool descending, nn_tensor **values,
                         nn_tensor **indices);
/* the k largest (or smallest) along dim, in order; O(n log k) per row for small k */
NN_API nn_status nn_topk(nn_ctx *ctx, nn_tensor *t, int64_t k, int dim, bool largest,
                         nn_tensor **values, nn_tensor **indices);
/* the k-th smallest (k from 1) along dim */
NN_API nn_status nn_kthvalue(nn_ctx *ctx, nn_tensor *t, int64_t k, int dim, bool keepdim,
                             nn_tensor **values, nn_tensor **indices);
/* the lower median (a NaN in the row gives NaN); dim NN_ALL: of the flattened tensor */
NN_API nn_status nn_median(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                           nn_tensor **indices);
/* the most frequent value (the smallest of equally frequent ones) and its last position */
NN_API nn_status nn_mode(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values,
                         nn_tensor **indices);
/* the sorted distinct values of the flattened t; inverse (t's shape) and counts optional */
NN_API nn_status nn_unique(nn_ctx *ctx, nn_tensor *t, nn_tensor **out, nn_tensor **inverse,
                           nn_tensor **counts);
/* [count, ndim] coordinates of the nonzero elements, row-major */
NN_API nn_status nn_nonzero(nn_ctx *ctx, nn_tensor *t, nn_tensor **out);

/* ---- scans and more reductions (issue 13); dim NN_ALL where a reduction allows it -------- */
NN_API nn_status nn_cumsum(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out);
NN_API nn_status nn_cumprod(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out); /* exact grad with zeros */
/* the running max/min along dim and its index (the latest of equal values) */
NN_API nn_status nn_cummax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **values, nn_tensor **indices);
NN_API nn_status nn_cummin(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **values, nn_tensor **indices);
NN_API nn_status nn_logsumexp(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
/* p: 2 (Frobenius), 1, INFINITY, -INFINITY, 0 (count of nonzeros) or any other */
NN_API nn_status nn_norm(nn_ctx *ctx, nn_tensor *t, double p, int dim, bool keepdim, nn_tensor **out);
/* 0/1 of t's dtype: all nonzero (empty: 1), any nonzero (empty: 0) */
NN_API nn_status nn_all(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
NN_API nn_status nn_any(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **out);
NN_API nn_status nn_count_nonzero(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out); /* int64 */
NN_API nn_status nn_aminmax(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **min,
                            nn_tensor **max);
/* ---- end of the issue-13 vocabulary of ops_gather.c, ops_sort.c, ops_scan.c ---- */

/* ---- linear algebra (BLAS) ------------------------------------------------ */
NN_API nn_status nn_matmul(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
                                    /* 1-D·1-D, 2-D, batched 3-D (broadcast batch) as PyTorch */
NN_API nn_status nn_dot(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
/* y = x w^T + b; x [N,in] (or [in]), w [out,in], b [out] or NULL: one fused op */
NN_API nn_status nn_linear(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_tensor **out);
/* y[N,M] = bias + x[N,K] w[K,M]; bias (NULL for none) broadcasts to [N,M]: a linear layer with
   its weight stored [in, out] */
NN_API nn_status nn_addmm(nn_ctx *ctx, nn_tensor *bias, nn_tensor *x, nn_tensor *w, nn_tensor **out);
/* issue 13's products (ops_linalg.c): bmm [B,n,m]·[B,m,p]; mv [n,m]·[m]; outer [n]⊗[m];
   baddbmm/addmv: beta input + alpha product (input broadcasts; beta 0 ignores its values);
   cross of 3-vectors along dim (NN_ALL: the first dim of size 3), a and b broadcast */
NN_API nn_status nn_bmm(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_mv(nn_ctx *ctx, nn_tensor *m, nn_tensor *v, nn_tensor **out);
NN_API nn_status nn_outer(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_baddbmm(nn_ctx *ctx, nn_tensor *input, nn_tensor *a, nn_tensor *b, double beta,
                            double alpha, nn_tensor **out);
NN_API nn_status nn_addmv(nn_ctx *ctx, nn_tensor *input, nn_tensor *m, nn_tensor *v, double beta,
                          double alpha, nn_tensor **out);
NN_API nn_status nn_cross(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, int dim, nn_tensor **out);
/* einsum of n (1 or 2) operands, PyTorch's equations (ops_einsum.c). A plan is the parsed
   equation, to run many times (free with nn_einsum_plan_free); nn_einsum parses each call. */
typedef struct nn_einsum_plan nn_einsum_plan;
NN_API nn_status nn_einsum_plan_new(nn_ctx *ctx, const char *eq, nn_einsum_plan **out);
NN_API void nn_einsum_plan_free(nn_ctx *ctx, nn_einsum_plan *p);
NN_API nn_status nn_einsum_run(nn_ctx *ctx, const nn_einsum_plan *p, int n, nn_tensor *const *ops,
                               nn_tensor **out);
NN_API nn_status nn_einsum(nn_ctx *ctx, const char *eq, int n, nn_tensor *const *ops, nn_tensor **out);
/* LAPACK (ops_lapack.c), over batches [..., n, n], computed in float64: a singular matrix is
   an error for inv and solve (det gives 0); cholesky reads the lower triangle and fails for a
   matrix that is not positive-definite. solve: b [..., n, k], or [n] with a 2-D a. */
NN_API nn_status nn_linalg_inv(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_linalg_det(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
NN_API nn_status nn_linalg_solve(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_tensor **out);
NN_API nn_status nn_linalg_cholesky(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
/* the singular values of each matrix [..., m, n] as [..., min(m, n)], descending */
NN_API nn_status nn_linalg_svdvals(nn_ctx *ctx, nn_tensor *a, nn_tensor **out);
/* torch.linalg.vector_norm: ord any p (INFINITY, -INFINITY, 0 counts nonzeros) over the dims
   listed (ndims 0: all); matrix_norm: ord "fro", "nuc", "1", "-1", "2", "-2", "inf", "-inf" over
   dims d0, d1 */
NN_API nn_status nn_linalg_vector_norm(nn_ctx *ctx, nn_tensor *t, double ord, int ndims,
                                       const int *dims, bool keepdim, nn_tensor **out);
NN_API nn_status nn_linalg_matrix_norm(nn_ctx *ctx, nn_tensor *t, const char *ord, int d0, int d1,
                                       bool keepdim, nn_tensor **out);

/* ---- neural-network functions ---------------------------------------------- */
NN_API nn_status nn_softmax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out);
NN_API nn_status nn_log_softmax(nn_ctx *ctx, nn_tensor *t, int dim, nn_tensor **out);
/* inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when !train */
NN_API nn_status nn_dropout(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double p, bool train,
                            nn_tensor **out);

/* ---- normalization (ops_norm.c): x [N, C, *]; per-channel tensors 1-d [C] of x's dtype ---- */
/* batch_norm: training normalizes with the batch's mean and biased variance and (running stats
   given) updates running = (1 - momentum) running + momentum stat, the variance unbiased;
   evaluation uses the running stats. weight, bias, running_mean/var may be NULL (the running
   pair together; evaluation needs them). */
NN_API nn_status nn_batch_norm(nn_ctx *ctx, nn_tensor *x, nn_tensor *running_mean,
                               nn_tensor *running_var, nn_tensor *weight, nn_tensor *bias,
                               bool training, double momentum, double eps, nn_tensor **out);
/* over the last nd dims, which must equal normalized_shape; weight, bias (NULL: none) of that shape */
NN_API nn_status nn_layer_norm(nn_ctx *ctx, nn_tensor *x, int nd, const int64_t *normalized_shape,
                               nn_tensor *weight, nn_tensor *bias, double eps, nn_tensor **out);
/* over each of groups channel groups (C % groups == 0) of each sample; weight, bias [C] or NULL */
NN_API nn_status nn_group_norm(nn_ctx *ctx, nn_tensor *x, int64_t groups, nn_tensor *weight,
                               nn_tensor *bias, double eps, nn_tensor **out);
/* whole channels of [N, C, *] zeroed with probability p, the rest scaled by 1/(1-p) */
NN_API nn_status nn_dropout2d(nn_ctx *ctx, nn_rng *r, nn_tensor *t, double p, bool train,
                              nn_tensor **out);

/* ---- average/adaptive pooling, interpolation (ops_resample.c): x [N, C, H, W] or [C, H, W]
   (1-d: [N, C, L] or [C, L]); sizes {h, w}; output sizes as PyTorch's */
NN_API nn_status nn_avg_pool2d(nn_ctx *ctx, nn_tensor *x, const int64_t kernel[2],
                               const int64_t stride[2], const int64_t padding[2], bool ceil_mode,
                               bool count_include_pad, int64_t divisor_override, /* 0: none */
                               nn_tensor **out);
NN_API nn_status nn_avg_pool1d(nn_ctx *ctx, nn_tensor *x, int64_t kernel, int64_t stride,
                               int64_t padding, bool ceil_mode, bool count_include_pad,
                               nn_tensor **out);
NN_API nn_status nn_adaptive_avg_pool2d(nn_ctx *ctx, nn_tensor *x, const int64_t size[2],
                                        nn_tensor **out);
/* indices (may be NULL): int64, 0-based h * W + w within each plane, as PyTorch's */
NN_API nn_status nn_adaptive_max_pool2d(nn_ctx *ctx, nn_tensor *x, const int64_t size[2],
                                        nn_tensor **out, nn_tensor **indices);
typedef enum { NN_INTERP_NEAREST, NN_INTERP_LINEAR } nn_interp_mode; /* linear: bilinear in 2-d */
/* x [N, C, L] or [N, C, H, W]; one of size (ndim - 2 sizes) or scale (factors; out = floor(in *
   scale), the index arithmetic then uses 1 / scale) is NULL */
NN_API nn_status nn_interpolate(nn_ctx *ctx, nn_tensor *x, const int64_t *size, const double *scale,
                                nn_interp_mode mode, bool align_corners, nn_tensor **out);

/* ---- sequence models (ops_rnn.c) ---- */
/* y[..., D] = weight[ids[...], :]; ids int64 0-based of any shape, weight [N, D]; the row
   padding_idx (-1: none) gets no gradient */
NN_API nn_status nn_embedding(nn_ctx *ctx, nn_tensor *ids, nn_tensor *weight, int64_t padding_idx,
                              nn_tensor **out);
typedef enum { NN_RNN_TANH, NN_RNN_RELU, NN_RNN_LSTM, NN_RNN_GRU } nn_rnn_mode;
/* One recurrent layer in one direction over a whole sequence (the time loop in C, one node):
   gx [T, B, G*H] = x W_ih^T + b_ih of every step (G gates: LSTM 4 i,f,g,o; GRU 3 r,z,n; RNN 1),
   w_hh [G*H, H], b_hh [G*H] (optional), h0 [B, H] and c0 [B, H] (LSTM) optional (zeros);
   reverse runs t = T-1..0. *out [T+1, B, H] (LSTM [T+2, B, H]): h_t for each t by time, then
   the final h, then (LSTM) the final c. Gradients flow to all inputs. */
NN_API nn_status nn_rnn_seq(nn_ctx *ctx, nn_rnn_mode mode, nn_tensor *gx, nn_tensor *w_hh,
                            nn_tensor *b_hh, nn_tensor *h0, nn_tensor *c0, bool reverse,
                            nn_tensor **out);

/* ---- losses: input [N,C] (or [C]); targets int64 0-based class ids [N] or probabilities [N,C] */
NN_API nn_status nn_cross_entropy(nn_ctx *ctx, nn_tensor *logits, nn_tensor *target,
                                  nn_reduction red, nn_tensor **out); /* fused log-softmax + NLL */
NN_API nn_status nn_nll_loss(nn_ctx *ctx, nn_tensor *logp, nn_tensor *target, nn_reduction red,
                             nn_tensor **out);
NN_API nn_status nn_mse_loss(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_reduction red,
                             nn_tensor **out);
NN_API nn_status nn_l1_loss(nn_ctx *ctx, nn_tensor *a, nn_tensor *b, nn_reduction red,
                            nn_tensor **out);
NN_API nn_status nn_binary_cross_entropy(nn_ctx *ctx, nn_tensor *p, nn_tensor *t,
                                         nn_reduction red, nn_tensor **out);
NN_API nn_status nn_bce_with_logits(nn_ctx *ctx, nn_tensor *z, nn_tensor *t, nn_reduction red,
                                    nn_tensor **out);

/* ---- convolution and max pooling (ops_conv.c, ops_pool.c): NCHW, weights as PyTorch's ----
   Options per spatial dim [h, w] (the 1-d ops read index 0); opts NULL: the defaults. A stride,
   dilation or groups of 0 means 1, a pooling stride of 0 the kernel size. */
typedef struct nn_conv_opts {
  int64_t stride[2], dilation[2];
  int64_t padding[2];          /* zeros before and after each spatial dim */
  int64_t padding_extra[2];    /* more zeros after only ("same" with an even kernel) */
  int64_t output_padding[2];   /* conv_transpose2d: added to the output size (< stride or dilation) */
  int64_t groups;
} nn_conv_opts;
/* y[N,O,OH,OW] = x[N,C,H,W] ⋆ w[O,C/groups,kh,kw] + b[O] (b NULL: none); *out is new */
NN_API nn_status nn_conv2d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                           const nn_conv_opts *opts, nn_tensor **out);
/* y[N,O,OL] = x[N,C,L] ⋆ w[O,C/groups,k] + b[O] */
NN_API nn_status nn_conv1d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                           const nn_conv_opts *opts, nn_tensor **out);
/* the transpose of conv2d (its input gradient as an op): x[N,C,H,W], w[C,O/groups,kh,kw], b[O];
   OH = (H-1)·stride - 2·padding + dilation·(kh-1) + output_padding + 1 */
NN_API nn_status nn_conv_transpose2d(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                                     const nn_conv_opts *opts, nn_tensor **out);
typedef struct nn_pool_opts {
  int64_t kernel[2], stride[2], padding[2], dilation[2];
  bool ceil_mode;              /* the last window may start in the padding's right half */
} nn_pool_opts;
/* y[N,C,OH,OW] = the max of each window of x[N,C,H,W] (or [C,H,W]), padding as -inf; with
   indices, *indices is new too: int64, each max's 0-based position in its H·W plane */
NN_API nn_status nn_max_pool2d(nn_ctx *ctx, nn_tensor *x, const nn_pool_opts *opts,
                               nn_tensor **out, nn_tensor **indices);
/* the same over x[N,C,L] (or [C,L]): positions in L */
NN_API nn_status nn_max_pool1d(nn_ctx *ctx, nn_tensor *x, const nn_pool_opts *opts,
                               nn_tensor **out, nn_tensor **indices);

/* ---- the op list (for gradient checks and profiling) ------------------------ */
typedef struct nn_op nn_op;
NN_API int nn_op_count(void);
NN_API const char *nn_op_name(int i);
/* Profiling: when on, each op's forward and backward time is summed per op name. */
NN_API void nn_profile_enable(nn_ctx *ctx, bool on);
NN_API void nn_profile_reset(nn_ctx *ctx);
/* i-th profile row; false past the end. seconds include forward and backward. */
NN_API bool nn_profile_get(const nn_ctx *ctx, int i, const char **name, uint64_t *calls,
                           double *seconds);

/* ---- layers ------------------------------------------------------------------ */
typedef enum {
  NN_LINEAR, NN_RELU, NN_LEAKY_RELU, NN_SIGMOID, NN_TANH, NN_GELU, NN_SOFTMAX, NN_LOG_SOFTMAX,
  NN_IDENTITY, NN_DROPOUT, NN_FLATTEN, NN_SEQUENTIAL
} nn_module_kind;
/* Linear(in, out): weight [out,in], bias [out], both U(-1/sqrt(in), 1/sqrt(in)) as PyTorch. */
NN_API nn_status nn_linear_new(nn_ctx *ctx, nn_rng *r, int64_t in, int64_t out, bool bias,
                               nn_dtype dt, nn_module **m);
/* Parameter-free layers. arg: LeakyReLU slope, Softmax/LogSoftmax dim, Dropout p,
   Flatten start dim (end dim is -1). */
NN_API nn_status nn_layer_new(nn_ctx *ctx, nn_module_kind kind, double arg, nn_module **m);
/* Flatten(start, end): dims start..end (0-based, negative from the end) become one. */
NN_API nn_status nn_flatten_new(nn_ctx *ctx, int start, int end, nn_module **m);
NN_API nn_status nn_sequential_new(nn_ctx *ctx, nn_module **m);
NN_API nn_status nn_sequential_add(nn_ctx *ctx, nn_module *seq, nn_module *child); /* retains */
NN_API void nn_module_retain(nn_module *m);
NN_API void nn_module_release(nn_module *m);             /* NULL is a no-op */
NN_API nn_module_kind nn_module_kind_of(const nn_module *m);
NN_API const char *nn_module_name(const nn_module *m);   /* "Linear", "ReLU", … */
NN_API double nn_module_arg(const nn_module *m);
NN_API double nn_module_arg2(const nn_module *m);          /* Flatten end dim */
NN_API int nn_module_num_children(const nn_module *m);
NN_API nn_module *nn_module_child(const nn_module *m, int i); /* borrowed */
NN_API nn_status nn_module_forward(nn_ctx *ctx, nn_module *m, nn_tensor *x, nn_tensor **out);
/* m[n-1](...m[0](x)): the modules of an array run in sequence, as a Sequential of them runs */
NN_API nn_status nn_module_chain_forward(nn_ctx *ctx, nn_module *const *m, int n, nn_tensor *x,
                                         nn_tensor **out);
NN_API void nn_module_train(nn_module *m, bool on);      /* recursive; Dropout obeys it */
NN_API bool nn_module_is_training(const nn_module *m);
NN_API void nn_module_set_rng(nn_module *m, nn_rng *r);  /* Dropout's generator (NULL: default) */
/* Parameters in PyTorch state_dict order, names like "0.weight" (0-based, as PyTorch). */
NN_API int nn_module_num_params(const nn_module *m);
NN_API nn_tensor *nn_module_param(const nn_module *m, int i, char *name, size_t namesize);
NN_API nn_status nn_module_set_param(nn_ctx *ctx, nn_module *m, const char *name, nn_tensor *t);
NN_API int64_t nn_module_in_features(const nn_module *m);  /* Linear only, else -1 */
NN_API int64_t nn_module_out_features(const nn_module *m);

/* ---- optimizers ------------------------------------------------------------------ */
/* By name: "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" (nn_optim_kind_name(i) lists them and
   is NULL past the end), with PyTorch's defaults. */
NN_API const char *nn_optim_kind_name(int i);
NN_API nn_status nn_optim_new(nn_ctx *ctx, const char *name, nn_optim **out);
NN_API void nn_optim_free(nn_optim *o);
NN_API const char *nn_optim_name(const nn_optim *o);      /* "Adam", …; "" for NULL */
/* Options by PyTorch's names ("lr", "momentum", "weight_decay", "beta1", "beta2", "eps", …),
   as numbers (flags such as "nesterov" are 0 or 1). group -1 holds the defaults that
   nn_optim_add_group copies into each new group; 0.. is a group. A name the optimizer does not
   have fails naming its valid ones; a value out of range fails naming the rule. */
NN_API nn_status nn_optim_set(nn_ctx *ctx, nn_optim *o, int group, const char *key, double v);
NN_API nn_status nn_optim_get(nn_ctx *ctx, const nn_optim *o, int group, const char *key,
                              double *v);
/* Checks group's options together (SGD's nesterov needs a momentum and no dampening);
   add_group and step check them too. */
NN_API nn_status nn_optim_check(nn_ctx *ctx, nn_optim *o, int group);
NN_API int nn_optim_num_options(const nn_optim *o);
/* name of option i (0-based; NULL past the end); *is_flag (may be NULL) says 0/1 valued */
NN_API const char *nn_optim_option(const nn_optim *o, int i, bool *is_flag);
/* A group of n parameters with the current defaults (group -1); the optimizer retains them. */
NN_API nn_status nn_optim_add_group(nn_ctx *ctx, nn_optim *o, int n, nn_tensor *const *params);
NN_API nn_status nn_optim_step(nn_ctx *ctx, nn_optim *o); /* parameters without grad are skipped */
NN_API void nn_optim_zero_grad(nn_optim *o);
NN_API int nn_optim_num_groups(const nn_optim *o);
NN_API int nn_optim_group_size(const nn_optim *o, int g);
NN_API nn_tensor *nn_optim_group_param(const nn_optim *o, int g, int i); /* borrowed */
/* Per-parameter state, as PyTorch names it: "step" (a count), "exp_avg", "exp_avg_sq",
   "max_exp_avg_sq", "momentum_buffer", "square_avg", "grad_avg", "sum". The flat index p runs
   over all groups' parameters in order. *t is borrowed and NULL when that state does not exist
   (yet). */
NN_API int nn_optim_num_params(const nn_optim *o);
NN_API int nn_optim_state_names(const nn_optim *o, const char *const **names);
NN_API nn_tensor *nn_optim_state(const nn_optim *o, int p, const char *name);
NN_API int64_t nn_optim_param_step(const nn_optim *o, int p);
/* Sets a state (copied; the shape must match the parameter; t NULL removes it) and the step
   count. */
NN_API nn_status nn_optim_set_state(nn_ctx *ctx, nn_optim *o, int p, const char *name,
                                    nn_tensor *t);
NN_API nn_status nn_optim_set_param_step(nn_ctx *ctx, nn_optim *o, int p, int64_t step);

/* ---- files: CSV, IDX, safetensors ------------------------------------------------ */
/* CSV: numbers only, optional header row; ".gz" read through zlib. */
typedef struct nn_csv_opts { char delimiter; bool header; nn_dtype dtype; } nn_csv_opts;
/* *header (if asked, may be NULL) receives a NUL-separated list of ncols names; free with
   nn_free(ctx, *header). */
NN_API nn_status nn_read_csv(nn_ctx *ctx, const char *path, const nn_csv_opts *opts,
                             nn_tensor **out, char **header, int64_t *ncols);
/* IDX (MNIST layout, big-endian header; unsigned byte, signed byte, short, int, float, double
   element types; ".gz" read through zlib): values converted to dt, shape from the header. */
NN_API nn_status nn_read_idx(nn_ctx *ctx, const char *path, nn_dtype dt, nn_tensor **out);
/* A whole file's bytes (".gz" decompressed; others passed through), NUL-terminated (the text may
   hold NULs too: *len is its length); free with nn_free(ctx, *text). */
NN_API nn_status nn_read_text(nn_ctx *ctx, const char *path, char **text, size_t *len);
NN_API void nn_free(nn_ctx *ctx, void *p);

/* safetensors: a named list of tensors plus string metadata */
typedef struct nn_named { const char *name; nn_tensor *t; } nn_named;
typedef struct nn_meta { const char *key; const char *value; } nn_meta;
NN_API nn_status nn_save_safetensors(nn_ctx *ctx, const char *path, int n, const nn_named *ts,
                                     int nmeta, const nn_meta *meta); /* atomic */
typedef struct nn_stfile nn_stfile; /* a loaded file: names, tensors, metadata */
NN_API nn_status nn_load_safetensors(nn_ctx *ctx, const char *path, nn_stfile **out);
NN_API nn_status nn_parse_safetensors(nn_ctx *ctx, const void *bytes, size_t len, nn_stfile **out);
NN_API int nn_stfile_count(const nn_stfile *f);
NN_API const char *nn_stfile_name(const nn_stfile *f, int i);
NN_API nn_tensor *nn_stfile_tensor(const nn_stfile *f, int i); /* borrowed */
NN_API int nn_stfile_meta_count(const nn_stfile *f);
NN_API void nn_stfile_meta(const nn_stfile *f, int i, const char **key, const char **value);
NN_API void nn_stfile_free(nn_stfile *f);

#ifdef __cplusplus
}
#endif
#endif
