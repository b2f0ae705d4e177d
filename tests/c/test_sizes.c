/* test_sizes.c — checked size arithmetic and int64 conversions in the C API: shapes, starts,
   lengths and strides that would wrap a product or a sum are refused with a message, and no
   view can reach outside its storage. */
#include "check.h"

static check_allocator heap;
static nn_ctx *C;
#define SH(...) ((const int64_t[]){__VA_ARGS__})

static nn_tensor *vec(int64_t n) {
  nn_tensor *t = NULL;
  OK(nn_zeros(C, NN_F32, 1, SH(n), &t));
  return t;
}

static void test_shapes(void) {
  nn_tensor *t = vec(1), *v = NULL;
  /* 7 * 0x6DB6DB6DB6DB6DB7 wraps to 1 in int64 */
  CHECK(nn_view(C, t, 2, SH(7, 0x6DB6DB6DB6DB6DB7), &v) == NN_ERR_SHAPE && !v);
  CHECK_MSG(C, "view: shape [7, 7905747460161236407] is invalid for input of size 1 (too many elements)");
  CHECK(nn_reshape(C, t, 2, SH((int64_t)1 << 40, (int64_t)1 << 40), &v) == NN_ERR_SHAPE && !v);
  CHECK(nn_zeros(C, NN_F32, 2, SH((int64_t)1 << 48, 2), &v) == NN_ERR_SHAPE && !v);
  CHECK_MSG(C, "tensor: shape [281474976710656, 2] has too many elements (at most 2^48)");
  CHECK(nn_zeros(C, NN_F32, 3, SH(INT64_MAX, INT64_MAX, 0), &v) == NN_ERR_SHAPE && !v);
  CHECK(nn_zeros(C, NN_F32, 9, SH(1, 1, 1, 1, 1, 1, 1, 1, 1), &v) == NN_ERR_SHAPE && !v);
  CHECK(nn_expand(C, t, 2, SH((int64_t)1 << 40, (int64_t)1 << 40), &v) == NN_ERR_SHAPE && !v);
  OK(nn_expand(C, t, 2, SH((int64_t)1 << 40, 1), &v));   /* a stride-0 view: no memory */
  CHECK(v && nn_tensor_numel(v) == (int64_t)1 << 40);
  nn_tensor_release(v);
  nn_tensor_release(t);
}

static void test_windows(void) {
  nn_tensor *t = vec(4), *v = NULL;
  CHECK(nn_narrow(C, t, 0, 1, INT64_MAX, &v) == NN_ERR_ARG && !v);
  CHECK_MSG(C, "narrow: start 1 and length 9223372036854775807 exceed dimension 1 of size 4");
  CHECK(nn_narrow(C, t, 0, INT64_MAX, 1, &v) == NN_ERR_ARG && !v);
  CHECK(nn_narrow(C, t, 0, -1, 1, &v) == NN_ERR_ARG && !v);
  OK(nn_narrow(C, t, 0, 4, 0, &v));                     /* empty, at the end */
  CHECK(v && nn_tensor_numel(v) == 0);
  nn_tensor_release(v);
  CHECK(nn_select(C, t, 0, INT64_MIN, &v) == NN_ERR_ARG && !v);
  CHECK_MSG(C, "select: index -9223372036854775808 out of range for dimension 1 of size 4");
  CHECK(nn_select(C, t, 0, 4, &v) == NN_ERR_ARG && !v);
  OK(nn_select(C, t, 0, -4, &v));
  nn_tensor_release(v);
  double x;
  CHECK(nn_tensor_get(C, t, SH(INT64_MIN), &x) == NN_ERR_ARG);
  CHECK(nn_tensor_set(C, t, SH(4), 1.0) == NN_ERR_ARG);
  nn_tensor_release(t);
}

/* A host's buffer with strides whose extent overflows is refused before any header exists. */
static void test_wrap(void) {
  static float buf[16];
  nn_tensor *v = NULL;
  CHECK(nn_tensor_wrap(C, NN_F32, 2, SH(3, 3), SH(INT64_MAX / 2, 1), buf, NULL, NULL, &v) ==
        NN_ERR_SHAPE && !v);
  CHECK_MSG(C, "wrap: these strides overflow the address range");
  OK(nn_tensor_wrap(C, NN_F32, 2, SH(4, 4), NULL, buf, NULL, NULL, &v));
  nn_tensor *n = NULL;   /* a narrow past the wrapped extent is refused, not read */
  CHECK(nn_narrow(C, v, 1, 2, 3, &n) == NN_ERR_ARG && !n);
  nn_tensor_release(v);
}

static void test_int64(void) {
  nn_tensor *t = NULL, *u = NULL;
  CHECK(nn_full(C, NN_I64, 1, SH(2), NAN, &t) == NN_ERR_ARG && !t);
  CHECK_MSG(C, "full: nan cannot be stored in an int64 tensor (not a finite number)");
  CHECK(nn_full(C, NN_I64, 1, SH(2), 0x1p63, &t) == NN_ERR_ARG && !t);
  CHECK_MSG(C, "full: 9.22337e+18 cannot be stored in an int64 tensor (outside int64's range)");
  OK(nn_full(C, NN_I64, 1, SH(2), -0x1p63, &t));          /* INT64_MIN itself fits */
  CHECK(((const int64_t *)nn_tensor_data(t))[1] == INT64_MIN);
  CHECK(nn_fill_(C, t, INFINITY) == NN_ERR_ARG);
  CHECK(nn_tensor_set(C, t, SH(0), NAN) == NN_ERR_ARG);
  nn_tensor_release(t);
  OK(nn_full(C, NN_F64, 1, SH(3), 2.5, &t));
  OK(nn_tensor_set(C, t, SH(2), INFINITY));
  CHECK(nn_to(C, t, NN_I64, &u) == NN_ERR_ARG && !u);
  CHECK_MSG(C, "to: inf cannot be stored in an int64 tensor (not a finite number)");
  int64_t k = 0;
  nn_tensor *one = NULL;
  OK(nn_full(C, NN_F32, 0, NULL, NAN, &one));
  CHECK(nn_item_i64(C, one, &k) == NN_ERR_ARG);
  nn_tensor_release(one);
  nn_tensor_release(t);
  /* exact int64 ranges: a double would repeat values past 2^53 */
  OK(nn_arange_i64(C, ((int64_t)1 << 53), ((int64_t)1 << 53) + 3, 1, &t));
  const int64_t *p = nn_tensor_data(t);
  CHECK(nn_tensor_numel(t) == 3 && p[0] == (int64_t)1 << 53 && p[1] == ((int64_t)1 << 53) + 1 &&
        p[2] == ((int64_t)1 << 53) + 2);
  nn_tensor_release(t);
  OK(nn_arange_i64(C, INT64_MIN, INT64_MAX, INT64_MAX, &t));   /* distance 2^64 - 1 */
  p = nn_tensor_data(t);
  CHECK(nn_tensor_numel(t) == 3 && p[0] == INT64_MIN && p[1] == -1 && p[2] == INT64_MAX - 1);
  nn_tensor_release(t);
  CHECK(nn_arange_i64(C, 0, INT64_MAX, 1, &t) == NN_ERR_ARG && !t);   /* too many */
  CHECK(nn_arange_i64(C, 0, 5, 0, &t) == NN_ERR_ARG && !t);
  CHECK(nn_arange_i64(C, 0, 5, -1, &t) == NN_ERR_ARG && !t);
  CHECK(nn_arange(C, NN_I64, 0, 1e19, 1e18, &t) == NN_ERR_ARG && !t);
}

int main(int argc, char **argv) {
  (void)argc; (void)argv;
  C = nn_ctx_new(check_alloc, &heap);
  if (!C) return 1;
  test_shapes();
  test_windows();
  test_wrap();
  test_int64();
  nn_ctx_free(C);
  CHECK(heap.live == 0);
  return check_report("test_sizes");
}
