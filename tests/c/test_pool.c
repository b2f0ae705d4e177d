/*
** test_pool.c — matrix products split across a context's worker threads (runtime/pool.c):
** two contexts with two threads each give the same bits every time (the split depends on the
** size and the thread count only), one thread and two agree with a naive float64 product,
** for every layout the layers use (A·B, A·B^T, A^T·B), repeated to give races a chance.
** The pool starts 0.2 s after its context, so the test waits.
*/
#include <time.h>
#include "check.h"

static void wait_past_pool_delay(void) {
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

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

int main(void) {
  static const shape_case cases[] = {
    {200, 128, 64, false, false}, {200, 128, 64, false, true}, {128, 64, 200, true, false},
    {200, 10, 64, false, true},   {93, 64, 128, false, true},  {128, 256, 784, false, true},
    {7, 300, 50, false, false},   {300, 7, 50, true, false},
  };
  nn_ctx *one = nn_ctx_new(NULL, NULL), *two = nn_ctx_new(NULL, NULL), *other = nn_ctx_new(NULL, NULL);
  CHECK(one && two && other);
  OK(nn_set_num_threads(one, 1));
  OK(nn_set_num_threads(two, 2));
  OK(nn_set_num_threads(other, 2));
  nn_manual_seed(one, 7);
  wait_past_pool_delay();
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
  nn_ctx_free(one);
  nn_ctx_free(two);
  nn_ctx_free(other);
  return check_report("test_pool");
}
