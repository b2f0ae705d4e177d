/*
** test_determinism.c — a short training loop on two threads gives the same bits every run while
** other threads keep every core busy: a part of a split op computes what its index says, whoever
** runs it, so a worker the system deschedules (the caller then takes its parts, or sleeps until
** it is done) changes when a part runs, never what it computes. The parameters after each run
** are compared bytewise with the first run's.
** The busy threads stop when the runs are done (or after 20 s, whichever comes first).
*/
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "check.h"

enum { RUNS = 20, STEPS = 4, N = 256, IN = 32, HID = 64, OUT = 10, BUSY = 3 };

static atomic_bool stop_busy;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *busy(void *arg) {
  (void)arg;
  double until = now_s() + 20;
  volatile unsigned x = 1;
  while (!atomic_load_explicit(&stop_busy, memory_order_relaxed) && now_s() < until)
    for (int i = 0; i < 100000; i++) x = x * 1664525u + 1013904223u;
  return NULL;
}

/* a rows×cols float32 tensor from a fixed sequence (seed) */
static nn_tensor *fixed(nn_ctx *ctx, int64_t rows, int64_t cols, unsigned seed, float scale) {
  nn_tensor *t;
  int64_t shape[2] = {rows, cols};
  float *data = malloc(sizeof(float) * (size_t)(rows * cols));
  for (int64_t i = 0; i < rows * cols; i++) {
    seed = seed * 1664525u + 1013904223u;
    data[i] = scale * (float)((seed >> 8) / 16777216.0 - 0.5);
  }
  OK(nn_tensor_from_data(ctx, NN_F32, rows == 1 ? 1 : 2, rows == 1 ? shape + 1 : shape, data, &t));
  free(data);
  return t;
}

/* An MLP IN-HID-OUT (linear_relu, linear, cross-entropy), Adam, STEPS steps on one batch of N
   rows; the parameters afterwards, concatenated, into out (new: caller frees). */
static float *train(nn_ctx *ctx, size_t *count) {
  nn_tensor *x = fixed(ctx, N, IN, 1, 2.0f), *w1 = fixed(ctx, HID, IN, 2, 0.5f),
            *b1 = fixed(ctx, 1, HID, 3, 0.1f), *w2 = fixed(ctx, OUT, HID, 4, 0.5f),
            *b2 = fixed(ctx, 1, OUT, 5, 0.1f), *y;
  int64_t labels[N], n = N;
  for (int i = 0; i < N; i++) labels[i] = (i * 7 + i / 5) % OUT;
  OK(nn_tensor_from_data(ctx, NN_I64, 1, &n, labels, &y));
  nn_tensor *params[4] = {w1, b1, w2, b2};
  for (int i = 0; i < 4; i++) OK(nn_tensor_set_requires_grad(ctx, params[i], true));
  nn_optim *o = NULL;
  nn_optim_opts opts;
  nn_optim_defaults(NN_ADAM, &opts);
  opts.lr = 0.01;
  OK(nn_optim_new(ctx, nn_optim_kind_name(NN_ADAM), &o));
  OK(nn_optim_add_group_opts(ctx, o, 4, params, &opts));
  for (int step = 0; step < STEPS; step++) {
    nn_tensor *h, *z, *l;
    nn_optim_zero_grad(o);
    OK(nn_linear_relu(ctx, x, w1, b1, &h));
    OK(nn_linear(ctx, h, w2, b2, &z));
    OK(nn_cross_entropy(ctx, z, y, NN_REDUCE_MEAN, &l));
    OK(nn_backward(ctx, l, NULL));
    OK(nn_optim_step(ctx, o));
    nn_tensor_release(h); nn_tensor_release(z); nn_tensor_release(l);
  }
  *count = 0;
  for (int i = 0; i < 4; i++) *count += (size_t)nn_tensor_numel(params[i]);
  float *out = malloc(sizeof(float) * *count), *p = out;
  for (int i = 0; i < 4; i++) {
    size_t k = (size_t)nn_tensor_numel(params[i]);
    memcpy(p, nn_tensor_data(params[i]), k * sizeof(float));
    p += k;
  }
  nn_optim_free(o);
  for (int i = 0; i < 4; i++) nn_tensor_release(params[i]);
  nn_tensor_release(x); nn_tensor_release(y);
  return out;
}

int main(void) {
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  CHECK(ctx != NULL);
  OK(nn_set_num_threads(ctx, 2));
  struct timespec delay = {0, 300 * 1000 * 1000};   /* past the pool's start delay (pool.c) */
  nanosleep(&delay, NULL);
  pthread_t tids[BUSY];
  int started = 0;
  atomic_init(&stop_busy, false);
  for (int i = 0; i < BUSY; i++) started += pthread_create(&tids[i], NULL, busy, NULL) == 0;
  CHECK(started == BUSY);
  size_t count = 0, count2 = 0;
  float *first = train(ctx, &count);
  int differ = 0, moved = 0;
  for (int run = 1; run < RUNS; run++) {
    float *again = train(ctx, &count2);
    differ += count2 != count || memcmp(first, again, count * sizeof(float)) != 0;
    free(again);
  }
  atomic_store(&stop_busy, true);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
  CHECKF(differ == 0, "%d of %d training runs on two threads under load differ from the first", differ,
         RUNS - 1);
  /* the runs trained: the parameters moved from where they started */
  nn_tensor *w1 = fixed(ctx, HID, IN, 2, 0.5f);
  moved = memcmp(first, nn_tensor_data(w1), sizeof(float) * HID * IN) != 0;
  CHECK(moved);
  nn_tensor_release(w1);
  free(first);
  nn_ctx_free(ctx);
  return check_report("test_determinism");
}
