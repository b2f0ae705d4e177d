/*
** test_api_null.c — the NULL rule of nn.h ("NULL arguments"), function by function: every
** NN_API function is called with NULL for each of its pointer arguments in turn (the others
** valid) and once with a NULL context. A status function must return NN_ERR_ARG and, given a
** context, record "<op>: ..." naming the NULL; one that returns a value must give its neutral
** value; a release of NULL must do nothing. Nothing may crash or leak (the allocator counts).
**
** So that the test grows with the API, it reads nn.h (argv[2] is the source tree) and fails,
** naming them, when an NN_API function is called nowhere in this file.
*/
#include <ctype.h>
#include "check.h"

static nn_ctx *C;
static nn_tensor *o;   /* the out slot of the calls below */

/* status NN_ERR_ARG and a message "<op>: ..." that says what is NULL */
static void null_case(int line, const char *expr, const char *op, const char *exact, nn_status s) {
  const char *m = nn_ctx_errmsg(C);
  size_t n = strlen(op ? op : "");
  bool ok = s == NN_ERR_ARG && nn_ctx_status(C) == NN_ERR_ARG &&
            (exact ? strcmp(m, exact) == 0
                   : strncmp(m, op, n) == 0 && m[n] == ':' && strstr(m, "NULL") != NULL);
  CHECKF(ok, "line %d: %s gave status %d, message '%s' (want NN_ERR_ARG, %s%s)", line, expr,
         (int)s, m, exact ? "" : "'<op>: ... NULL' with op ", exact ? exact : op);
}
/* clears the context's error first, so that a message left by an earlier call cannot pass */
#define NUL(op, call) null_case(__LINE__, #call, op, NULL, (nn_ctx_clear_error(C), (call)))
#define MSG(want, call) null_case(__LINE__, #call, NULL, want, (nn_ctx_clear_error(C), (call)))
/* the same for a call writing o: a failure sets *out to NULL */
#define NULO(op, call)                                                                        \
  do {                                                                                        \
    o = (nn_tensor *)&o;                                                                      \
    NUL(op, call);                                                                            \
    CHECKF(o == NULL, "line %d: %s left *out set", __LINE__, #call);                          \
  } while (0)
/* a NULL context: NN_ERR_ARG, and *out (o) not written, since the failure could not be told */
#define NOCTX(call)                                                                           \
  do {                                                                                        \
    o = (nn_tensor *)&o;                                                                      \
    nn_status s_ = (call);                                                                    \
    CHECKF(s_ == NN_ERR_ARG, "line %d: NULL ctx: %s gave %d", __LINE__, #call, (int)s_);      \
    CHECKF(o == (nn_tensor *)&o, "line %d: NULL ctx: %s wrote *out", __LINE__, #call);        \
  } while (0)

static void test_context(void) {
  nn_ctx *c2 = nn_ctx_new(NULL, NULL);   /* f NULL: malloc/free (documented, not an error) */
  CHECK(c2 != NULL);
  nn_ctx_free(c2);
  nn_ctx_free(NULL);
  CHECK(strcmp(nn_ctx_errmsg(NULL), "context is NULL") == 0);
  CHECK(nn_ctx_status(NULL) == NN_ERR_ARG);
  nn_ctx_clear_error(NULL);
  nn_ctx_interrupt(NULL);
  nn_ctx_clear_interrupt(NULL);
  CHECK(!nn_grad_enabled(NULL));
  CHECK(!nn_set_grad_enabled(NULL, true));
  CHECK(nn_get_num_threads(NULL) == 0);
  CHECK(nn_set_num_threads(NULL, 1) == NN_ERR_ARG);
  CHECK(nn_ctx_bytes_in_use(NULL) == 0);
  CHECK(nn_ctx_alloc_calls(NULL) == 0);
  nn_ctx_trim(NULL);
  nn_ctx_trim_idle(NULL);
  CHECK(nn_ctx_cached_bytes(NULL) == 0);
  CHECK(nn_ctx_rng(NULL) == NULL);
  nn_manual_seed(NULL, 1);
  CHECK(nn_blas_info(NULL, NULL) != NULL);   /* both outs are optional */
  CHECK(nn_blas_generic_kernel() == nn_blas_generic_kernel());   /* (no pointer argument) */
  nn_profile_enable(NULL, true);
  nn_profile_reset(NULL);
  CHECK(!nn_profile_get(NULL, 0, NULL, NULL, NULL));
  CHECK(nn_op_count() > 0);
  CHECK(nn_op_name(-1) == NULL && nn_op_name(0) != NULL);
}

static void test_rng(void) {
  nn_rng *r = (nn_rng *)&r;
  NUL("Generator", nn_rng_new(C, 1, NULL));
  CHECK(nn_rng_new(NULL, 1, &r) == NN_ERR_ARG && r == (nn_rng *)&r);
  nn_rng_free(C, NULL);
  nn_rng_free(NULL, NULL);
  nn_rng_seed(NULL, 1);
  uint64_t st[5] = {7, 7, 7, 7, 7};
  nn_rng_get_state(NULL, st);
  CHECK(st[0] == 7 && st[4] == 7);                  /* untouched */
  nn_rng_get_state(nn_ctx_rng(C), NULL);
  NUL("set_state", nn_rng_set_state(C, NULL, st));
  NUL("set_state", nn_rng_set_state(C, nn_ctx_rng(C), NULL));
  NOCTX(nn_rng_set_state(NULL, nn_ctx_rng(C), st));
  CHECK(nn_rng_next(NULL) == 0);
  CHECK(nn_rng_uniform(NULL) == 0.0);
  CHECK(nn_rng_normal(NULL) == 0.0);
  CHECK(nn_rng_below(NULL, 10) == 0);
}

static void test_tensor_objects(nn_tensor *x) {
  int64_t sh[2] = {2, 3}, ix[2] = {0, 1};
  float data[6] = {0};
  NULO("tensor", nn_tensor_new(C, NN_F32, 2, NULL, &o));
  NUL("tensor", nn_tensor_new(C, NN_F32, 2, sh, NULL));
  NOCTX(nn_tensor_new(NULL, NN_F32, 2, sh, &o));
  NULO("tensor_from_data", nn_tensor_from_data(C, NN_F32, 2, NULL, data, &o));
  NULO("tensor_from_data", nn_tensor_from_data(C, NN_F32, 2, sh, NULL, &o));
  NUL("tensor_from_data", nn_tensor_from_data(C, NN_F32, 2, sh, data, NULL));
  NOCTX(nn_tensor_from_data(NULL, NN_F32, 2, sh, data, &o));
  NULO("wrap", nn_tensor_wrap(C, NN_F32, 2, NULL, NULL, data, NULL, NULL, &o));
  NULO("wrap", nn_tensor_wrap(C, NN_F32, 2, sh, NULL, NULL, NULL, NULL, &o));
  NUL("wrap", nn_tensor_wrap(C, NN_F32, 2, sh, NULL, data, NULL, NULL, NULL));
  NOCTX(nn_tensor_wrap(NULL, NN_F32, 2, sh, NULL, data, NULL, NULL, &o));
  nn_tensor_retain(NULL);
  nn_tensor_release(NULL);
  CHECK(nn_tensor_dtype(NULL) == NN_F32);
  CHECK(nn_tensor_ndim(NULL) == 0);
  CHECK(nn_tensor_shape(NULL) == NULL);
  CHECK(nn_tensor_strides(NULL) == NULL);
  CHECK(nn_tensor_numel(NULL) == 0);
  CHECK(nn_tensor_data(NULL) == NULL);
  CHECK(!nn_tensor_is_contiguous(NULL));
  CHECK(!nn_tensor_same_storage(NULL, x) && !nn_tensor_same_storage(x, NULL));
  CHECK(nn_tensor_version(NULL) == 0);
  nn_tensor_bump_version(NULL);
  CHECK(nn_tensor_ctx(NULL) == NULL);
  CHECK(nn_dtype_size(NN_F64) == 8 && strcmp(nn_dtype_name(NN_I64), "int64") == 0);
  CHECK(nn_promote(NN_I64, NN_F32) == NN_F32);      /* (no pointer arguments) */
  nn_dtype dt = NN_I64;
  NUL("dtype_parse", nn_dtype_parse(C, NULL, &dt));
  NUL("dtype_parse", nn_dtype_parse(C, "float32", NULL));
  CHECK(nn_dtype_parse(NULL, "float32", &dt) == NN_ERR_ARG && dt == NN_I64);
  char buf[16] = "x";
  CHECK(nn_shape_str(NULL, buf, sizeof buf) == buf && buf[0] == '\0');
  CHECK(nn_shape_str(x, NULL, 16) == NULL);
  double v = 5;
  int64_t iv = 5;
  NUL("get", nn_tensor_get(C, NULL, ix, &v));
  NUL("get", nn_tensor_get(C, x, NULL, &v));
  NUL("get", nn_tensor_get(C, x, ix, NULL));
  NOCTX(nn_tensor_get(NULL, x, ix, &v));
  NUL("set", nn_tensor_set(C, NULL, ix, 1.0));
  NUL("set", nn_tensor_set(C, x, NULL, 1.0));
  NOCTX(nn_tensor_set(NULL, x, ix, 1.0));
  NUL("item", nn_item(C, NULL, &v));
  NUL("item", nn_item(C, x, NULL));
  NOCTX(nn_item(NULL, x, &v));
  NUL("item", nn_item_i64(C, NULL, &iv));
  NUL("item", nn_item_i64(C, x, NULL));
  NOCTX(nn_item_i64(NULL, x, &iv));
  CHECK(v == 5 && iv == 5);                       /* nothing written on failure */
}

static void test_autograd(nn_tensor *x, nn_tensor *w) {
  CHECK(!nn_tensor_requires_grad(NULL));
  CHECK(!nn_tensor_is_leaf(NULL));
  CHECK(nn_tensor_grad(NULL) == NULL);
  CHECK(nn_tensor_grad_fn(NULL) == NULL);
  nn_tensor_zero_grad(NULL);
  nn_tensor_zero_grad_deferred(NULL);
  NUL("set_requires_grad", nn_tensor_set_requires_grad(C, NULL, true));
  NOCTX(nn_tensor_set_requires_grad(NULL, x, false));
  NUL("set_grad", nn_tensor_set_grad(C, NULL, x));
  NOCTX(nn_tensor_set_grad(NULL, w, NULL));
  NUL("backward", nn_backward(C, NULL, NULL));
  NOCTX(nn_backward(NULL, w, NULL));
  NULO("detach", nn_detach(C, NULL, &o));
  NUL("detach", nn_detach(C, x, NULL));
  NOCTX(nn_detach(NULL, x, &o));
}

static void test_creation(nn_tensor *x) {
  int64_t sh[2] = {2, 3};
  NULO("zeros", nn_zeros(C, NN_F32, 2, NULL, &o));
  NUL("zeros", nn_zeros(C, NN_F32, 2, sh, NULL));
  NOCTX(nn_zeros(NULL, NN_F32, 2, sh, &o));
  NULO("ones", nn_ones(C, NN_F32, 2, NULL, &o));
  NUL("ones", nn_ones(C, NN_F32, 2, sh, NULL));
  NOCTX(nn_ones(NULL, NN_F32, 2, sh, &o));
  NULO("full", nn_full(C, NN_F32, 2, NULL, 1.0, &o));
  NUL("full", nn_full(C, NN_F32, 2, sh, 1.0, NULL));
  NOCTX(nn_full(NULL, NN_F32, 2, sh, 1.0, &o));
  NUL("eye", nn_eye(C, NN_F32, 2, 2, NULL));
  NOCTX(nn_eye(NULL, NN_F32, 2, 2, &o));
  NUL("arange", nn_arange(C, NN_F32, 0, 4, 1, NULL));
  NOCTX(nn_arange(NULL, NN_F32, 0, 4, 1, &o));
  NUL("arange", nn_arange_i64(C, 0, 4, 1, NULL));
  NOCTX(nn_arange_i64(NULL, 0, 4, 1, &o));
  NUL("linspace", nn_linspace(C, NN_F32, 0, 1, 5, NULL));
  NOCTX(nn_linspace(NULL, NN_F32, 0, 1, 5, &o));
  /* r NULL is the default generator (documented): only shape and out are required */
  NULO("rand", nn_rand(C, NULL, NN_F32, 2, NULL, &o));
  NUL("rand", nn_rand(C, NULL, NN_F32, 2, sh, NULL));
  NOCTX(nn_rand(NULL, NULL, NN_F32, 2, sh, &o));
  NULO("randn", nn_randn(C, NULL, NN_F32, 2, NULL, &o));
  NUL("randn", nn_randn(C, NULL, NN_F32, 2, sh, NULL));
  NOCTX(nn_randn(NULL, NULL, NN_F32, 2, sh, &o));
  NULO("randint", nn_randint(C, NULL, 0, 5, 2, NULL, &o));
  NUL("randint", nn_randint(C, NULL, 0, 5, 2, sh, NULL));
  NOCTX(nn_randint(NULL, NULL, 0, 5, 2, sh, &o));
  NUL("randperm", nn_randperm(C, NULL, 5, NULL));
  NOCTX(nn_randperm(NULL, NULL, 5, &o));
  NUL("fill_", nn_fill_(C, NULL, 1.0));
  NOCTX(nn_fill_(NULL, x, 1.0));
  NUL("uniform_", nn_uniform_(C, NULL, NULL, 0, 1));
  NOCTX(nn_uniform_(NULL, NULL, x, 0, 1));
  NUL("normal_", nn_normal_(C, NULL, NULL, 0, 1));
  NOCTX(nn_normal_(NULL, NULL, x, 0, 1));
}

/* the ops of one tensor argument and an out: f(ctx, t, ..., out) */
#define UNARY_OUT(op, F, ...)                                                                 \
  do {                                                                                        \
    NULO(op, F(C, NULL, __VA_ARGS__, &o));                                                    \
    NUL(op, F(C, x, __VA_ARGS__, NULL));                                                      \
    NOCTX(F(NULL, x, __VA_ARGS__, &o));                                                       \
  } while (0)
/* f(ctx, t, out) */
#define UNARY0(op, F)                                                                         \
  do {                                                                                        \
    NULO(op, F(C, NULL, &o));                                                                 \
    NUL(op, F(C, x, NULL));                                                                   \
    NOCTX(F(NULL, x, &o));                                                                    \
  } while (0)
/* f(ctx, a, b, out) */
#define BINARY(op, F, a, b)                                                                   \
  do {                                                                                        \
    NULO(op, F(C, NULL, b, &o));                                                              \
    NULO(op, F(C, a, NULL, &o));                                                              \
    NUL(op, F(C, a, b, NULL));                                                                \
    NOCTX(F(NULL, a, b, &o));                                                                 \
  } while (0)
/* f(ctx, a, b, red, out) */
#define LOSS(op, F, a, b)                                                                     \
  do {                                                                                        \
    NULO(op, F(C, NULL, b, NN_REDUCE_MEAN, &o));                                              \
    NULO(op, F(C, a, NULL, NN_REDUCE_MEAN, &o));                                              \
    NUL(op, F(C, a, b, NN_REDUCE_MEAN, NULL));                                                \
    NOCTX(F(NULL, a, b, NN_REDUCE_MEAN, &o));                                                 \
  } while (0)
/* in place f(ctx, a, b) and f(ctx, a, s) */
#define INPLACE2(op, F, ...)                                                                  \
  do {                                                                                        \
    NUL(op, F(C, NULL, __VA_ARGS__));                                                         \
    NOCTX(F(NULL, x, __VA_ARGS__));                                                           \
  } while (0)

/* gather/scatter and masks (ops_gather.c): each pointer NULL in turn, and no context */
#define IDX3(op, F, ...)                                                                      \
  do {                                                                                        \
    NULO(op, F(C, NULL, 0, idx, __VA_ARGS__, &o));                                            \
    NULO(op, F(C, x, 0, NULL, __VA_ARGS__, &o));                                              \
    NUL(op, F(C, x, 0, idx, __VA_ARGS__, NULL));                                              \
    NOCTX(F(NULL, x, 0, idx, __VA_ARGS__, &o));                                               \
  } while (0)
static void test_gather_masks(nn_tensor *x, nn_tensor *idx) {
  NULO("gather", nn_gather(C, NULL, 0, idx, &o));
  NULO("gather", nn_gather(C, x, 0, NULL, &o));
  NUL("gather", nn_gather(C, x, 0, idx, NULL));
  NOCTX(nn_gather(NULL, x, 0, idx, &o));
  IDX3("scatter", nn_scatter, x, NN_SCATTER_NONE);
  NULO("scatter", nn_scatter(C, x, 0, idx, NULL, NN_SCATTER_ADD, &o));
  NUL("scatter_", nn_scatter_(C, NULL, 0, idx, x, NN_SCATTER_NONE));
  NUL("scatter_", nn_scatter_(C, x, 0, NULL, x, NN_SCATTER_NONE));
  NUL("scatter_", nn_scatter_(C, x, 0, idx, NULL, NN_SCATTER_NONE));
  NOCTX(nn_scatter_(NULL, x, 0, idx, x, NN_SCATTER_NONE));
  IDX3("index_add", nn_index_add, x, 1.0);
  NULO("index_add", nn_index_add(C, x, 0, idx, NULL, 1.0, &o));
  NUL("index_add_", nn_index_add_(C, NULL, 0, idx, x, 1.0));
  NUL("index_add_", nn_index_add_(C, x, 0, idx, NULL, 1.0));
  NOCTX(nn_index_add_(NULL, x, 0, idx, x, 1.0));
  IDX3("index_copy", nn_index_copy, x);
  NULO("index_copy", nn_index_copy(C, x, 0, idx, NULL, &o));
  NUL("index_copy_", nn_index_copy_(C, NULL, 0, idx, x));
  NUL("index_copy_", nn_index_copy_(C, x, 0, idx, NULL));
  NOCTX(nn_index_copy_(NULL, x, 0, idx, x));
  IDX3("index_fill", nn_index_fill, 1.0);
  NUL("index_fill_", nn_index_fill_(C, NULL, 0, idx, 1.0));
  NUL("index_fill_", nn_index_fill_(C, x, 0, NULL, 1.0));
  NOCTX(nn_index_fill_(NULL, x, 0, idx, 1.0));
  BINARY("take", nn_take, x, idx);
  BINARY("masked_select", nn_masked_select, x, x);
  NULO("masked_fill", nn_masked_fill(C, NULL, x, x, &o));
  NULO("masked_fill", nn_masked_fill(C, x, NULL, x, &o));
  NULO("masked_fill", nn_masked_fill(C, x, x, NULL, &o));
  NUL("masked_fill", nn_masked_fill(C, x, x, x, NULL));
  NOCTX(nn_masked_fill(NULL, x, x, x, &o));
  NULO("masked_fill", nn_masked_fills(C, NULL, x, 1.0, &o));
  NULO("masked_fill", nn_masked_fills(C, x, NULL, 1.0, &o));
  NUL("masked_fill", nn_masked_fills(C, x, x, 1.0, NULL));
  NOCTX(nn_masked_fills(NULL, x, x, 1.0, &o));
  NUL("masked_fill_", nn_masked_fill_(C, NULL, x, 1.0));
  NUL("masked_fill_", nn_masked_fill_(C, x, NULL, 1.0));
  NOCTX(nn_masked_fill_(NULL, x, x, 1.0));
  NULO("masked_scatter", nn_masked_scatter(C, NULL, x, x, &o));
  NULO("masked_scatter", nn_masked_scatter(C, x, NULL, x, &o));
  NULO("masked_scatter", nn_masked_scatter(C, x, x, NULL, &o));
  NUL("masked_scatter", nn_masked_scatter(C, x, x, x, NULL));
  NOCTX(nn_masked_scatter(NULL, x, x, x, &o));
  NUL("masked_scatter_", nn_masked_scatter_(C, NULL, x, x));
  NUL("masked_scatter_", nn_masked_scatter_(C, x, NULL, x));
  NUL("masked_scatter_", nn_masked_scatter_(C, x, x, NULL));
  NOCTX(nn_masked_scatter_(NULL, x, x, x));
  /* sorting, selection, scans, reductions (ops_sort.c, ops_scan.c) */
  nn_tensor *v = NULL, *i = NULL;
  NUL("sort", nn_sort(C, NULL, 0, false, &v, &i));
  NUL("sort", nn_sort(C, x, 0, false, NULL, NULL));
  NOCTX(nn_sort(NULL, x, 0, false, &o, NULL));
  NUL("topk", nn_topk(C, NULL, 1, 0, true, &v, &i));
  NUL("topk", nn_topk(C, x, 1, 0, true, NULL, NULL));
  NOCTX(nn_topk(NULL, x, 1, 0, true, &o, NULL));
  NUL("kthvalue", nn_kthvalue(C, NULL, 1, 0, false, &v, &i));
  NUL("kthvalue", nn_kthvalue(C, x, 1, 0, false, NULL, NULL));
  NOCTX(nn_kthvalue(NULL, x, 1, 0, false, &o, NULL));
  NUL("median", nn_median(C, NULL, 0, false, &v, &i));
  NUL("median", nn_median(C, x, 0, false, NULL, NULL));
  NOCTX(nn_median(NULL, x, 0, false, &o, NULL));
  NUL("mode", nn_mode(C, NULL, 0, false, &v, &i));
  NUL("mode", nn_mode(C, x, 0, false, NULL, NULL));
  NOCTX(nn_mode(NULL, x, 0, false, &o, NULL));
  NUL("cummax", nn_cummax(C, NULL, 0, &v, &i));
  NUL("cummax", nn_cummax(C, x, 0, NULL, NULL));
  NOCTX(nn_cummax(NULL, x, 0, &o, NULL));
  NUL("cummin", nn_cummin(C, NULL, 0, &v, &i));
  NUL("cummin", nn_cummin(C, x, 0, NULL, NULL));
  NOCTX(nn_cummin(NULL, x, 0, &o, NULL));
  CHECK(v == NULL && i == NULL);
  NULO("unique", nn_unique(C, NULL, &o, NULL, NULL));
  NUL("unique", nn_unique(C, x, NULL, NULL, NULL));
  NOCTX(nn_unique(NULL, x, &o, NULL, NULL));
  UNARY0("nonzero", nn_nonzero);
  UNARY_OUT("cumsum", nn_cumsum, 0);
  UNARY_OUT("cumprod", nn_cumprod, 0);
  UNARY_OUT("logsumexp", nn_logsumexp, 0, false);
  UNARY_OUT("norm", nn_norm, 2.0, NN_ALL, false);
  UNARY_OUT("all", nn_all, NN_ALL, false);
  UNARY_OUT("any", nn_any, NN_ALL, false);
  UNARY_OUT("count_nonzero", nn_count_nonzero, NN_ALL);
  NUL("aminmax", nn_aminmax(C, NULL, NN_ALL, false, &v, &i));
  NUL("aminmax", nn_aminmax(C, x, NN_ALL, false, NULL, &i));
  NUL("aminmax", nn_aminmax(C, x, NN_ALL, false, &v, NULL));
  NOCTX(nn_aminmax(NULL, x, NN_ALL, false, &o, &o));
  CHECK(v == NULL && i == NULL);
}
/* (end of B's NULL cases) */

static void test_views_copies(nn_tensor *x, nn_tensor *idx) {
  int64_t sh[2] = {3, 2};
  int dims[2] = {1, 0};
  UNARY_OUT("view", nn_view, 2, sh);
  NULO("view", nn_view(C, x, 2, NULL, &o));
  UNARY_OUT("reshape", nn_reshape, 2, sh);
  NULO("reshape", nn_reshape(C, x, 2, NULL, &o));
  UNARY_OUT("expand", nn_expand, 2, (int64_t[]){2, 3});
  NULO("expand", nn_expand(C, x, 2, NULL, &o));
  UNARY_OUT("permute", nn_permute, dims);
  NULO("permute", nn_permute(C, x, NULL, &o));
  UNARY_OUT("transpose", nn_transpose, 0, 1);
  UNARY_OUT("narrow", nn_narrow, 0, 0, 1);
  UNARY_OUT("select", nn_select, 0, 0);
  UNARY_OUT("unsqueeze", nn_unsqueeze, 0);
  UNARY_OUT("squeeze", nn_squeeze, NN_ALL);
  UNARY_OUT("flatten", nn_flatten, 0, -1);
  UNARY0("contiguous", nn_contiguous);
  UNARY0("clone", nn_clone);
  UNARY_OUT("to", nn_to, NN_F64);
  NUL("copy_", nn_copy_(C, NULL, x));
  NUL("copy_", nn_copy_(C, x, NULL));
  NOCTX(nn_copy_(NULL, x, x));
  NULO("index_select", nn_index_select(C, NULL, 0, idx, &o));
  NULO("index_select", nn_index_select(C, x, 0, NULL, &o));
  NUL("index_select", nn_index_select(C, x, 0, idx, NULL));
  NOCTX(nn_index_select(NULL, x, 0, idx, &o));
  nn_tensor *two[2] = {x, x}, *hole[2] = {x, NULL};
  NULO("cat", nn_cat(C, 2, NULL, 0, &o));
  NULO("cat", nn_cat(C, 2, hole, 0, &o));
  NUL("cat", nn_cat(C, 2, two, 0, NULL));
  NOCTX(nn_cat(NULL, 2, two, 0, &o));
  NULO("stack", nn_stack(C, 2, NULL, 0, &o));
  NULO("stack", nn_stack(C, 2, hole, 0, &o));
  NUL("stack", nn_stack(C, 2, two, 0, NULL));
  NOCTX(nn_stack(NULL, 2, two, 0, &o));
  /* shape vocabulary (ops_layout.c); split and meshgrid leave their outputs unwritten on failure */
  int64_t one = 1, reps[2] = {1, 2}, pads[2] = {1, 1};
  NUL("split", nn_split(C, NULL, 0, 1, &one, &o));
  NUL("split", nn_split(C, x, 0, 1, NULL, &o));
  NUL("split", nn_split(C, x, 0, 1, &one, NULL));
  NOCTX(nn_split(NULL, x, 0, 1, &one, &o));
  UNARY_OUT("diagonal", nn_diagonal, 0, 0, 1);
  UNARY_OUT("diag", nn_diag, 0);
  UNARY0("trace", nn_trace);
  UNARY_OUT("tril", nn_tril, 0);
  UNARY_OUT("triu", nn_triu, 0);
  UNARY_OUT("flip", nn_flip, 1, dims);
  NULO("flip", nn_flip(C, x, 1, NULL, &o));
  UNARY_OUT("roll", nn_roll, 1, &one, dims);
  NULO("roll", nn_roll(C, x, 1, NULL, dims, &o));
  UNARY_OUT("tile", nn_tile, 2, reps);
  NULO("tile", nn_tile(C, x, 2, NULL, &o));
  UNARY_OUT("repeat_interleave", nn_repeat_interleave, 2, NULL, 0);
  UNARY_OUT("movedim", nn_movedim, 1, dims, dims + 1);
  NULO("movedim", nn_movedim(C, x, 1, NULL, dims, &o));
  NULO("movedim", nn_movedim(C, x, 1, dims, NULL, &o));
  UNARY_OUT("pad", nn_pad, 2, pads, NN_PAD_CONSTANT, 0);
  NULO("pad", nn_pad(C, x, 2, NULL, NN_PAD_CONSTANT, 0, &o));
  nn_tensor *grid[2];
  NUL("meshgrid", nn_meshgrid(C, 2, NULL, false, grid));
  NUL("meshgrid", nn_meshgrid(C, 2, hole, false, grid));
  NUL("meshgrid", nn_meshgrid(C, 2, two, false, NULL));
  NOCTX(nn_meshgrid(NULL, 2, two, false, grid));
}

static void test_elementwise(nn_tensor *x, nn_tensor *y) {
  BINARY("add", nn_add, x, y);
  BINARY("sub", nn_sub, x, y);
  BINARY("mul", nn_mul, x, y);
  BINARY("div", nn_div, x, y);
  BINARY("pow", nn_pow, x, y);
  BINARY("maximum", nn_maximum, x, y);
  BINARY("minimum", nn_minimum, x, y);
  UNARY_OUT("add", nn_adds, 1.0);
  UNARY_OUT("mul", nn_muls, 2.0);
  UNARY_OUT("pow", nn_pows, 2.0);
  UNARY_OUT("sub", nn_rsubs, 1.0);
  UNARY_OUT("div", nn_rdivs, 1.0);
  NULO("lt", nn_compare(C, NN_LT, NULL, y, &o));
  NULO("lt", nn_compare(C, NN_LT, x, NULL, &o));
  NUL("compare", nn_compare(C, NN_LT, x, y, NULL));
  NOCTX(nn_compare(NULL, NN_LT, x, y, &o));
  NULO("where", nn_where(C, NULL, x, y, &o));
  NULO("where", nn_where(C, x, NULL, y, &o));
  NULO("where", nn_where(C, x, x, NULL, &o));
  NUL("where", nn_where(C, x, x, y, NULL));
  NOCTX(nn_where(NULL, x, x, y, &o));
  UNARY0("neg", nn_neg);
  UNARY0("exp", nn_exp);
  UNARY0("log", nn_log);
  UNARY0("sqrt", nn_sqrt);
  UNARY0("abs", nn_abs);
  UNARY0("sign", nn_sign);
  UNARY0("tanh", nn_tanh);
  UNARY0("sigmoid", nn_sigmoid);
  UNARY0("relu", nn_relu);
  UNARY_OUT("leaky_relu", nn_leaky_relu, 0.01);
  UNARY0("gelu", nn_gelu);
  UNARY0("sin", nn_sin);
  UNARY0("cos", nn_cos);
  /* issue 13's element-wise vocabulary */
  UNARY0("tan", nn_tan);
  UNARY0("asin", nn_asin);
  UNARY0("acos", nn_acos);
  UNARY0("atan", nn_atan);
  UNARY0("sinh", nn_sinh);
  UNARY0("cosh", nn_cosh);
  UNARY0("asinh", nn_asinh);
  UNARY0("acosh", nn_acosh);
  UNARY0("atanh", nn_atanh);
  UNARY0("floor", nn_floor);
  UNARY0("ceil", nn_ceil);
  UNARY0("round", nn_round);
  UNARY0("trunc", nn_trunc);
  UNARY0("frac", nn_frac);
  UNARY0("log1p", nn_log1p);
  UNARY0("expm1", nn_expm1);
  UNARY0("log2", nn_log2);
  UNARY0("log10", nn_log10);
  UNARY0("exp2", nn_exp2);
  UNARY0("erf", nn_erf);
  UNARY0("erfc", nn_erfc);
  UNARY0("rsqrt", nn_rsqrt);
  UNARY0("reciprocal", nn_reciprocal);
  UNARY0("square", nn_square);
  UNARY0("silu", nn_silu);
  UNARY0("mish", nn_mish);
  UNARY0("isnan", nn_isnan);
  UNARY0("isinf", nn_isinf);
  UNARY0("isfinite", nn_isfinite);
  UNARY0("logical_not", nn_logical_not);
  UNARY0("bitwise_not", nn_bitwise_not);
  UNARY_OUT("hardtanh", nn_hardtanh, -1.0, 1.0);
  UNARY_OUT("softplus", nn_softplus, 1.0, 20.0);
  UNARY_OUT("nan_to_num", nn_nan_to_num, 0.0, 1.0, -1.0);
  BINARY("atan2", nn_atan2, x, y);
  BINARY("fmod", nn_fmod, x, y);
  BINARY("remainder", nn_remainder, x, y);
  BINARY("logical_and", nn_logical_and, x, y);
  BINARY("logical_or", nn_logical_or, x, y);
  BINARY("logical_xor", nn_logical_xor, x, y);
  BINARY("bitwise_and", nn_bitwise_and, x, y);
  BINARY("bitwise_or", nn_bitwise_or, x, y);
  BINARY("bitwise_xor", nn_bitwise_xor, x, y);
  NULO("lerp", nn_lerp(C, NULL, x, y, &o));
  NULO("lerp", nn_lerp(C, x, NULL, y, &o));
  NULO("lerp", nn_lerp(C, x, y, NULL, &o));
  NUL("lerp", nn_lerp(C, x, y, y, NULL));
  NOCTX(nn_lerp(NULL, x, y, y, &o));
  NULO("lerp", nn_lerps(C, NULL, x, 0.5, &o));
  NULO("lerp", nn_lerps(C, x, NULL, 0.5, &o));
  NUL("lerp", nn_lerps(C, x, y, 0.5, NULL));
  NOCTX(nn_lerps(NULL, x, y, 0.5, &o));
  NUL("unary_", nn_unary_(C, NULL, x));
  NUL("sin_", nn_unary_(C, "sin", NULL));
  NOCTX(nn_unary_(NULL, "sin", x));
  UNARY_OUT("clamp", nn_clamp, 0.0, 1.0);
  INPLACE2("add_", nn_add_, y);
  NUL("add_", nn_add_(C, x, NULL));
  INPLACE2("add_", nn_axpy_, y, 2.0);
  NUL("add_", nn_axpy_(C, x, NULL, 2.0));
  INPLACE2("sub_", nn_sub_, y);
  NUL("sub_", nn_sub_(C, x, NULL));
  INPLACE2("mul_", nn_mul_, y);
  NUL("mul_", nn_mul_(C, x, NULL));
  INPLACE2("div_", nn_div_, y);
  NUL("div_", nn_div_(C, x, NULL));
  INPLACE2("add_", nn_adds_, 1.0);
  INPLACE2("mul_", nn_muls_, 1.0);
  INPLACE2("clamp_", nn_clamp_, 0.0, 1.0);
}

static void test_reductions_linalg_nn(nn_tensor *x, nn_tensor *y, nn_tensor *w, nn_tensor *cls) {
  UNARY_OUT("sum", nn_sum, 0, false);
  UNARY_OUT("mean", nn_mean, 0, false);
  UNARY_OUT("prod", nn_prod, 0, false);
  UNARY_OUT("var", nn_var, 0, false, 1);
  UNARY_OUT("std", nn_std, 0, false, 1);
  nn_tensor *ix = NULL;   /* either out of max/min may be NULL, not both */
  NULO("max", nn_max(C, NULL, 0, false, &o, &ix));
  MSG("max: values and indices are both NULL", nn_max(C, x, 0, false, NULL, NULL));
  NOCTX(nn_max(NULL, x, 0, false, &o, NULL));
  NULO("min", nn_min(C, NULL, 0, false, &o, &ix));
  MSG("min: values and indices are both NULL", nn_min(C, x, 0, false, NULL, NULL));
  NOCTX(nn_min(NULL, x, 0, false, NULL, &o));
  CHECK(ix == NULL);
  nn_tensor *xt;
  OK(nn_transpose(C, x, 0, 1, &xt));   /* [3, 2], so that x xt is defined */
  BINARY("matmul", nn_matmul, x, xt);
  nn_tensor *row;
  OK(nn_select(C, x, 0, 0, &row));
  BINARY("dot", nn_dot, row, row);
  /* b (bias) NULL means none (documented): x and w are required */
  NULO("linear", nn_linear(C, NULL, w, NULL, &o));
  NULO("linear", nn_linear(C, x, NULL, NULL, &o));
  NUL("linear", nn_linear(C, x, w, NULL, NULL));
  NOCTX(nn_linear(NULL, x, w, NULL, &o));
  NULO("linear_relu", nn_linear_relu(C, NULL, w, NULL, &o));
  NULO("linear_relu", nn_linear_relu(C, x, NULL, NULL, &o));
  NUL("linear_relu", nn_linear_relu(C, x, w, NULL, NULL));
  NOCTX(nn_linear_relu(NULL, x, w, NULL, &o));
  NULO("addmm", nn_addmm(C, NULL, NULL, xt, &o));
  NULO("addmm", nn_addmm(C, NULL, x, NULL, &o));
  NUL("addmm", nn_addmm(C, NULL, x, xt, NULL));
  NOCTX(nn_addmm(NULL, NULL, x, xt, &o));
  /* convolution: b NULL means no bias, opts NULL the defaults; max pooling needs its opts */
  static const struct {
    const char *op;
    nn_status (*f)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, const nn_conv_opts *, nn_tensor **);
  } convs[] = {{"conv1d", nn_conv1d,}, {"conv2d", nn_conv2d,}, {"conv_transpose2d", nn_conv_transpose2d,}};
  for (int k = 0; k < 3; k++) {
    NULO(convs[k].op, convs[k].f(C, NULL, w, NULL, NULL, &o));
    NULO(convs[k].op, convs[k].f(C, x, NULL, NULL, NULL, &o));
    NUL(convs[k].op, convs[k].f(C, x, w, NULL, NULL, NULL));
    NOCTX(convs[k].f(NULL, x, w, NULL, NULL, &o));
  }
  nn_pool_opts po = {.kernel = {1, 1}};
  for (int k = 0; k < 2; k++) {
    const char *op = k ? "max_pool2d" : "max_pool1d";
    nn_status (*const pools[])(nn_ctx *, nn_tensor *, const nn_pool_opts *, nn_tensor **,
                               nn_tensor **) = {nn_max_pool1d, nn_max_pool2d,};
    nn_status (*f)(nn_ctx *, nn_tensor *, const nn_pool_opts *, nn_tensor **, nn_tensor **) = pools[k];
    NULO(op, f(C, NULL, &po, &o, NULL));
    NULO(op, f(C, x, NULL, &o, NULL));
    NUL(op, f(C, x, &po, NULL, NULL));
    NOCTX(f(NULL, x, &po, &o, NULL));
  }
  nn_tensor_release(xt);
  nn_tensor_release(row);
  UNARY_OUT("softmax", nn_softmax, 1);
  UNARY_OUT("log_softmax", nn_log_softmax, 1);
  NULO("dropout", nn_dropout(C, NULL, NULL, 0.5, true, &o));
  NUL("dropout", nn_dropout(C, NULL, x, 0.5, true, NULL));
  NOCTX(nn_dropout(NULL, NULL, x, 0.5, true, &o));
  /* normalization and resampling (ops_norm.c, ops_resample.c): weight, bias, running stats
     NULL mean none; x, sizes and out are required */
  int64_t k2[2] = {1, 1}, z2[2] = {0, 0}, d0 = 1;
  NULO("batch_norm", nn_batch_norm(C, NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, &o));
  NUL("batch_norm", nn_batch_norm(C, x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, NULL));
  NOCTX(nn_batch_norm(NULL, x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, &o));
  NULO("layer_norm", nn_layer_norm(C, NULL, 1, &d0, NULL, NULL, 1e-5, &o));
  NULO("layer_norm", nn_layer_norm(C, x, 1, NULL, NULL, NULL, 1e-5, &o));
  NUL("layer_norm", nn_layer_norm(C, x, 1, &d0, NULL, NULL, 1e-5, NULL));
  NOCTX(nn_layer_norm(NULL, x, 1, &d0, NULL, NULL, 1e-5, &o));
  NULO("group_norm", nn_group_norm(C, NULL, 1, NULL, NULL, 1e-5, &o));
  NUL("group_norm", nn_group_norm(C, x, 1, NULL, NULL, 1e-5, NULL));
  NOCTX(nn_group_norm(NULL, x, 1, NULL, NULL, 1e-5, &o));
  NULO("dropout2d", nn_dropout2d(C, NULL, NULL, 0.5, true, &o));
  NUL("dropout2d", nn_dropout2d(C, NULL, x, 0.5, true, NULL));
  NOCTX(nn_dropout2d(NULL, NULL, x, 0.5, true, &o));
  NULO("avg_pool2d", nn_avg_pool2d(C, NULL, k2, k2, z2, false, true, 0, &o));
  NUL("avg_pool2d", nn_avg_pool2d(C, x, k2, k2, z2, false, true, 0, NULL));
  NOCTX(nn_avg_pool2d(NULL, x, k2, k2, z2, false, true, 0, &o));
  NULO("avg_pool1d", nn_avg_pool1d(C, NULL, 1, 1, 0, false, true, &o));
  NUL("avg_pool1d", nn_avg_pool1d(C, x, 1, 1, 0, false, true, NULL));
  NOCTX(nn_avg_pool1d(NULL, x, 1, 1, 0, false, true, &o));
  NULO("adaptive_avg_pool2d", nn_adaptive_avg_pool2d(C, NULL, k2, &o));
  NULO("adaptive_avg_pool2d", nn_adaptive_avg_pool2d(C, x, NULL, &o));
  NUL("adaptive_avg_pool2d", nn_adaptive_avg_pool2d(C, x, k2, NULL));
  NOCTX(nn_adaptive_avg_pool2d(NULL, x, k2, &o));
  NULO("adaptive_max_pool2d", nn_adaptive_max_pool2d(C, NULL, k2, &o, NULL));
  NULO("adaptive_max_pool2d", nn_adaptive_max_pool2d(C, x, NULL, &o, NULL));
  NUL("adaptive_max_pool2d", nn_adaptive_max_pool2d(C, x, k2, NULL, NULL));
  NOCTX(nn_adaptive_max_pool2d(NULL, x, k2, &o, NULL));
  NULO("interpolate", nn_interpolate(C, NULL, k2, NULL, NN_INTERP_NEAREST, false, &o));
  NUL("interpolate", nn_interpolate(C, x, k2, NULL, NN_INTERP_NEAREST, false, NULL));
  NOCTX(nn_interpolate(NULL, x, k2, NULL, NN_INTERP_NEAREST, false, &o));
  NULO("embedding", nn_embedding(C, NULL, x, -1, &o));
  NULO("embedding", nn_embedding(C, cls, NULL, -1, &o));
  NUL("embedding", nn_embedding(C, cls, x, -1, NULL));
  NOCTX(nn_embedding(NULL, cls, x, -1, &o));
  NULO("rnn_seq", nn_rnn_seq(C, NN_RNN_LSTM, NULL, x, NULL, NULL, NULL, false, &o));
  NULO("rnn_seq", nn_rnn_seq(C, NN_RNN_GRU, x, NULL, NULL, NULL, NULL, true, &o));
  NUL("rnn_seq", nn_rnn_seq(C, NN_RNN_TANH, x, x, NULL, NULL, NULL, false, NULL));
  NOCTX(nn_rnn_seq(NULL, NN_RNN_RELU, x, x, NULL, NULL, NULL, false, &o));
  LOSS("cross_entropy", nn_cross_entropy, x, cls);
  LOSS("nll_loss", nn_nll_loss, x, cls);
  LOSS("mse_loss", nn_mse_loss, x, y);
  LOSS("l1_loss", nn_l1_loss, x, y);
  LOSS("binary_cross_entropy", nn_binary_cross_entropy, y, y);
  LOSS("binary_cross_entropy_with_logits", nn_bce_with_logits, x, y);
  const char *name = "x";
  uint64_t calls = 7;
  double secs = 7;
  CHECK(!nn_profile_get(NULL, 0, &name, &calls, &secs) && calls == 7 && secs == 7);
}

/* issue 13's linear algebra: products, einsum and its plans, LAPACK, norms */
static void test_linalg13(nn_tensor *x) {
  BINARY("bmm", nn_bmm, x, x);
  BINARY("mv", nn_mv, x, x);
  BINARY("outer", nn_outer, x, x);
  NULO("baddbmm", nn_baddbmm(C, NULL, x, x, 1, 1, &o));
  NULO("baddbmm", nn_baddbmm(C, x, NULL, x, 1, 1, &o));
  NUL("baddbmm", nn_baddbmm(C, x, x, x, 1, 1, NULL));
  NOCTX(nn_baddbmm(NULL, x, x, x, 1, 1, &o));
  NULO("addmv", nn_addmv(C, NULL, x, x, 1, 1, &o));
  NULO("addmv", nn_addmv(C, x, x, NULL, 1, 1, &o));
  NUL("addmv", nn_addmv(C, x, x, x, 1, 1, NULL));
  NOCTX(nn_addmv(NULL, x, x, x, 1, 1, &o));
  NULO("cross", nn_cross(C, NULL, x, NN_ALL, &o));
  NUL("cross", nn_cross(C, x, x, NN_ALL, NULL));
  NOCTX(nn_cross(NULL, x, x, NN_ALL, &o));
  nn_tensor *ops[2] = {x, NULL};
  NULO("einsum", nn_einsum(C, NULL, 1, ops, &o));
  NULO("einsum", nn_einsum(C, "ij,jk", 2, ops, &o));     /* a NULL operand */
  NULO("einsum", nn_einsum(C, "ij", 1, NULL, &o));
  NUL("einsum", nn_einsum(C, "ij", 1, ops, NULL));
  NOCTX(nn_einsum(NULL, "ij", 1, ops, &o));
  nn_einsum_plan *pl = (nn_einsum_plan *)&pl;
  NUL("einsum", nn_einsum_plan_new(C, NULL, &pl));
  CHECK(pl == NULL);
  NUL("einsum", nn_einsum_plan_new(C, "ij", NULL));
  CHECK(nn_einsum_plan_new(NULL, "ij", &pl) == NN_ERR_ARG);
  NULO("einsum", nn_einsum_run(C, NULL, 1, ops, &o));
  OK(nn_einsum_plan_new(C, "ij->ji", &pl));
  NUL("einsum", nn_einsum_run(C, pl, 1, ops, NULL));
  NOCTX(nn_einsum_run(NULL, pl, 1, ops, &o));
  nn_einsum_plan_free(C, pl);
  nn_einsum_plan_free(C, NULL);
  nn_einsum_plan_free(NULL, NULL);
  UNARY0("inv", nn_linalg_inv);
  UNARY0("det", nn_linalg_det);
  UNARY0("cholesky", nn_linalg_cholesky);
  UNARY0("svdvals", nn_linalg_svdvals);
  BINARY("solve", nn_linalg_solve, x, x);
  UNARY_OUT("vector_norm", nn_linalg_vector_norm, 2.0, 0, NULL, false);
  NULO("vector_norm", nn_linalg_vector_norm(C, x, 2.0, 1, NULL, false, &o));
  UNARY_OUT("matrix_norm", nn_linalg_matrix_norm, "fro", 0, 1, false);
  NULO("matrix_norm", nn_linalg_matrix_norm(C, x, NULL, 0, 1, false, &o));
}

static void test_layers(nn_tensor *x) {
  nn_module *m = (nn_module *)&m, *lin, *seq;
  NUL("Linear", nn_linear_new(C, NULL, 3, 2, true, NN_F32, NULL));
  CHECK(nn_linear_new(NULL, NULL, 3, 2, true, NN_F32, &m) == NN_ERR_ARG && m == (nn_module *)&m);
  NUL("layer_new", nn_layer_new(C, NN_RELU, 0, NULL));
  CHECK(nn_layer_new(NULL, NN_RELU, 0, &m) == NN_ERR_ARG);
  NUL("Flatten", nn_flatten_new(C, 0, -1, NULL));
  CHECK(nn_flatten_new(NULL, 0, -1, &m) == NN_ERR_ARG);
  NUL("Sequential", nn_sequential_new(C, NULL));
  CHECK(nn_sequential_new(NULL, &m) == NN_ERR_ARG && m == (nn_module *)&m);
  OK(nn_linear_new(C, NULL, 3, 2, true, NN_F32, &lin));
  OK(nn_sequential_new(C, &seq));
  NUL("Sequential.add", nn_sequential_add(C, NULL, lin));
  NUL("Sequential.add", nn_sequential_add(C, seq, NULL));
  NOCTX(nn_sequential_add(NULL, seq, lin));
  CHECK(nn_module_num_children(seq) == 0);
  nn_module_retain(NULL);
  nn_module_release(NULL);
  CHECK(nn_module_kind_of(NULL) == NN_IDENTITY);
  CHECK(strcmp(nn_module_name(NULL), "(null)") == 0);
  CHECK(nn_module_arg(NULL) == 0.0 && nn_module_arg2(NULL) == 0.0);
  CHECK(nn_module_num_children(NULL) == 0);
  CHECK(nn_module_child(NULL, 0) == NULL);
  NULO("forward", nn_module_forward(C, NULL, x, &o));
  NULO("Linear", nn_module_forward(C, lin, NULL, &o));
  NUL("forward", nn_module_forward(C, lin, x, NULL));
  NOCTX(nn_module_forward(NULL, lin, x, &o));
  nn_module *one[1] = {lin}, *hole[1] = {NULL};
  MSG("forward: no modules", nn_module_chain_forward(C, NULL, 1, x, &o));
  NULO("forward", nn_module_chain_forward(C, hole, 1, x, &o));
  NULO("forward", nn_module_chain_forward(C, one, 1, NULL, &o));
  NUL("forward", nn_module_chain_forward(C, one, 1, x, NULL));
  NOCTX(nn_module_chain_forward(NULL, one, 1, x, &o));
  nn_module_train(NULL, false);
  CHECK(!nn_module_is_training(NULL));
  nn_module_set_rng(NULL, NULL);
  nn_module_set_rng(lin, NULL);    /* r NULL: the default generator (documented) */
  CHECK(nn_module_num_params(NULL) == 0);
  char buf[32] = "x";
  CHECK(nn_module_param(NULL, 0, buf, sizeof buf) == NULL && buf[0] == '\0');
  CHECK(nn_module_param(lin, 0, NULL, 0) != NULL);   /* the name is optional */
  nn_tensor *w = nn_module_param(lin, 0, NULL, 0);
  NUL("set_param", nn_module_set_param(C, NULL, "weight", w));
  NUL("set_param", nn_module_set_param(C, lin, NULL, w));
  NUL("set_param", nn_module_set_param(C, lin, "weight", NULL));
  NOCTX(nn_module_set_param(NULL, lin, "weight", w));
  CHECK(nn_module_in_features(NULL) == -1 && nn_module_out_features(NULL) == -1);
  nn_module_release(lin);
  nn_module_release(seq);
}

static void test_optim(nn_tensor *p) {
  nn_optim_opts opts;
  nn_optim_defaults(NN_SGD, NULL);
  nn_optim_defaults(NN_SGD, &opts);
  opts.lr = 0.1;
  NUL("SGD", nn_optim_check_opts(C, NN_SGD, NULL));
  CHECK(nn_optim_check_opts(NULL, NN_SGD, &opts) == NN_ERR_ARG);
  nn_optim *opt = (nn_optim *)&opt;
  NUL("optimizer", nn_optim_new(C, nn_optim_kind_name(NN_SGD), NULL));
  CHECK(nn_optim_new(NULL, nn_optim_kind_name(NN_SGD), &opt) == NN_ERR_ARG && opt == (nn_optim *)&opt);
  nn_optim_free(NULL);
  OK(nn_optim_new(C, nn_optim_kind_name(NN_SGD), &opt));
  NUL("add_group", nn_optim_add_group_opts(C, NULL, 1, &p, &opts));
  MSG("SGD: optimizer got an empty parameter list", nn_optim_add_group_opts(C, opt, 1, NULL, &opts));
  MSG("SGD: add_group without options", nn_optim_add_group_opts(C, opt, 1, &p, NULL));
  nn_tensor *hole = NULL;
  NUL("SGD", nn_optim_add_group_opts(C, opt, 1, &hole, &opts));
  NOCTX(nn_optim_add_group_opts(NULL, opt, 1, &p, &opts));
  OK(nn_optim_add_group_opts(C, opt, 1, &p, &opts));
  nn_optim *none = (nn_optim *)&none;
  NUL("optimizer", nn_optim_new(C, NULL, &none));
  CHECK(none == NULL && strcmp(nn_optim_name(NULL), "") == 0);
  double v = -1;
  NUL("set", nn_optim_set(C, NULL, -1, "lr", 0.1));
  NUL("set", nn_optim_set(C, opt, -1, NULL, 0.1));
  NOCTX(nn_optim_set(NULL, opt, -1, "lr", 0.1));
  NUL("get", nn_optim_get(C, NULL, -1, "lr", &v));
  NUL("get", nn_optim_get(C, opt, -1, NULL, &v));
  NUL("get", nn_optim_get(C, opt, -1, "lr", NULL));
  NOCTX(nn_optim_get(NULL, opt, -1, "lr", &v));
  CHECK(v == -1);
  NUL("check", nn_optim_check(C, NULL, 0));
  NOCTX(nn_optim_check(NULL, opt, 0));
  CHECK(nn_optim_num_options(NULL) == 0 && nn_optim_option(NULL, 0, NULL) == NULL);
  NUL("add_group", nn_optim_add_group(C, NULL, 1, &p));
  NUL("SGD", nn_optim_add_group(C, opt, 1, &hole));
  NOCTX(nn_optim_add_group(NULL, opt, 1, &p));
  NUL("step", nn_optim_step(C, NULL));
  NOCTX(nn_optim_step(NULL, opt));
  nn_optim_zero_grad(NULL);
  nn_optim_zero_grad_deferred(NULL);
  CHECK(nn_optim_num_groups(NULL) == 0);
  CHECK(nn_optim_kind_of(NULL) == NN_SGD);
  CHECK(nn_optim_group_opts(NULL, 0) == NULL);
  CHECK(nn_optim_group_size(NULL, 0) == 0);
  CHECK(nn_optim_group_param(NULL, 0, 0) == NULL);
  CHECK(nn_optim_num_params(NULL) == 0);
  const char *const *names = (const char *const *)&names;
  CHECK(nn_optim_state_names(NULL, &names) == 0 && names == NULL);
  CHECK(nn_optim_state_names(opt, NULL) == 0);
  CHECK(nn_optim_state(NULL, 0, "momentum_buffer") == NULL);
  CHECK(nn_optim_state(opt, 0, NULL) == NULL);
  CHECK(nn_optim_param_step(NULL, 0) == 0);
  NUL("set_state", nn_optim_set_state(C, NULL, 0, "momentum_buffer", p));
  NUL("set_state", nn_optim_set_state(C, opt, 0, NULL, p));
  NOCTX(nn_optim_set_state(NULL, opt, 0, "momentum_buffer", p));
  OK(nn_optim_set_state(C, opt, 0, "momentum_buffer", NULL));   /* t NULL removes a state */
  NUL("set_param_step", nn_optim_set_param_step(C, NULL, 0, 1));
  NOCTX(nn_optim_set_param_step(NULL, opt, 0, 1));
  nn_optim_free(opt);
}

static void test_files(nn_tensor *x) {
  /* opts, header and ncols may be NULL (documented); the path and the out may not */
  NULO("read_csv", nn_read_csv(C, NULL, NULL, &o, NULL, NULL));
  NUL("read_csv", nn_read_csv(C, "x.csv", NULL, NULL, NULL, NULL));
  NOCTX(nn_read_csv(NULL, "x.csv", NULL, &o, NULL, NULL));
  NULO("read_idx", nn_read_idx(C, NULL, NN_F32, &o));
  NUL("read_idx", nn_read_idx(C, "x.idx", NN_F32, NULL));
  NOCTX(nn_read_idx(NULL, "x.idx", NN_F32, &o));
  {
    char *text = NULL;
    NUL("read_text", nn_read_text(C, NULL, &text, NULL));
    NUL("read_text", nn_read_text(C, "x.txt", NULL, NULL));
    NOCTX(nn_read_text(NULL, "x.txt", &text, NULL));
  }
  nn_free(C, NULL);
  nn_free(NULL, NULL);
  nn_named named[1] = {{"x", x}};
  nn_meta meta[1] = {{"k", "v"}};
  NUL("save_safetensors", nn_save_safetensors(C, NULL, 1, named, 1, meta));
  NUL("save_safetensors", nn_save_safetensors(C, "x.st", 1, NULL, 1, meta));
  NUL("save_safetensors", nn_save_safetensors(C, "x.st", 1, named, 1, NULL));
  NOCTX(nn_save_safetensors(NULL, "x.st", 1, named, 1, meta));
  nn_stfile *f = (nn_stfile *)&f;
  NUL("load_safetensors", nn_load_safetensors(C, NULL, &f));
  NUL("load_safetensors", nn_load_safetensors(C, "x.st", NULL));
  CHECK(nn_load_safetensors(NULL, "x.st", &f) == NN_ERR_ARG);
  static const unsigned char bytes[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  NUL("parse_safetensors", nn_parse_safetensors(C, NULL, sizeof bytes, &f));
  NUL("parse_safetensors", nn_parse_safetensors(C, bytes, sizeof bytes, NULL));
  CHECK(nn_parse_safetensors(NULL, bytes, sizeof bytes, &f) == NN_ERR_ARG);
  CHECK(nn_stfile_count(NULL) == 0);
  CHECK(nn_stfile_name(NULL, 0) == NULL);
  CHECK(nn_stfile_tensor(NULL, 0) == NULL);
  CHECK(nn_stfile_meta_count(NULL) == 0);
  const char *k = "k", *v = "v";
  nn_stfile_meta(NULL, 0, &k, &v);
  CHECK(k == NULL && v == NULL);
  nn_stfile_meta(NULL, 0, NULL, NULL);
  nn_stfile_free(NULL);
}

/* The NN_API function names in nn.h that this file never calls: "name(", or "name," as the
   function argument of the macros above ("name," or "name)"), at a word start. */
static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  char *s = NULL;
  long n = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
  if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1))) {
    s[fread(s, 1, (size_t)n, fp)] = '\0';
  }
  fclose(fp);
  return s;
}
static bool calls(const char *src, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strstr(src, name); p; p = strstr(p + 1, name))
    if ((p == src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) && p[n] && strchr("(,)", p[n]))
      return true;
  return false;
}
static void test_complete(const char *srcdir) {
  char hpath[1024], tpath[1024];
  snprintf(hpath, sizeof hpath, "%s/runtime/include/nn.h", srcdir);
  snprintf(tpath, sizeof tpath, "%s/tests/c/test_api_null.c", srcdir);
  char *h = slurp(hpath), *t = slurp(tpath);
  CHECKF(h && t, "cannot read %s or %s", hpath, tpath);
  int found = 0;
  for (const char *p = h ? strstr(h, "NN_API ") : NULL; p && t; p = strstr(p + 1, "NN_API ")) {
    if (p > h && p[-1] != '\n') continue;            /* (the #define lines) */
    const char *paren = strchr(p, '('), *e = paren;
    if (!paren) break;
    while (e > p && (isalnum((unsigned char)e[-1]) || e[-1] == '_')) e--;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(paren - e), e);
    found++;
    CHECKF(calls(t, name), "%s (nn.h) is not called by test_api_null.c: add its NULL cases", name);
  }
  CHECKF(found > 200, "only %d NN_API functions found in %s", found, hpath);
  free(h);
  free(t);
}

int main(int argc, char **argv) {
  check_allocator a = {0, 0, 0};
  C = nn_ctx_new(check_alloc, &a);
  int64_t sh[2] = {2, 3}, two = 2;
  double xv[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  float xf32[6] = {0};
  nn_tensor *x, *y, *w, *idx, *cls, *p, *xf;
  OK(nn_tensor_from_data(C, NN_F64, 2, sh, xv, &x));
  OK(nn_tensor_from_data(C, NN_F64, 2, sh, xv, &y));
  OK(nn_tensor_from_data(C, NN_F64, 2, (int64_t[]){4, 3}, (double[12]){0}, &w));
  OK(nn_tensor_from_data(C, NN_F64, 2, sh, xv, &p));
  OK(nn_tensor_set_requires_grad(C, p, true));
  OK(nn_arange_i64(C, 0, 2, 1, &idx));
  OK(nn_tensor_from_data(C, NN_I64, 1, &two, (int64_t[]){0, 2}, &cls));
  OK(nn_tensor_from_data(C, NN_F32, 2, sh, xf32, &xf));   /* for the float32 Linear */
  test_context();
  test_rng();
  test_tensor_objects(x);
  test_autograd(x, p);
  test_creation(x);
  test_views_copies(x, idx);
  test_gather_masks(x, idx);
  test_elementwise(x, y);
  test_reductions_linalg_nn(x, y, w, cls);
  test_linalg13(x);
  test_layers(xf);
  test_optim(p);
  test_files(x);
  nn_tensor *all[] = {x, y, w, idx, cls, p, xf};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nn_tensor_release(all[i]);
  CHECKF(nn_ctx_bytes_in_use(C) == 0, "%zu bytes of tensors left", nn_ctx_bytes_in_use(C));
  nn_ctx_free(C);
  CHECKF(a.live == 0, "%ld allocations not freed: an error path leaks", a.live);
  if (argc > 2) test_complete(argv[2]);
  else CHECKF(false, "usage: test_api_null LUNET SOURCE_DIR");
  return check_report("test_api_null");
}
