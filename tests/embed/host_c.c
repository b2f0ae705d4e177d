/*
** host_c.c — a pure C program using the Lunet core (nn.h), built only from the installed headers,
** liblunet.a and lunet.pc (tests/sh/embed.sh). It
**   - builds Sequential(Linear(2, 16), ReLU, Linear(16, 1)) with nn_linear_new and friends;
**   - trains it with Adam on data it owns, wrapped without copying (nn_tensor_wrap);
**   - predicts with grad mode off and checks the fit;
**   - trains two models at once in two threads, each with its own context, and checks that
**     they end bit-identical to the same two trainings run one after the other.
** Exits 0 when every check holds.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static int failures;
#define CHECK(c) \
  do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

enum { N = 64, HIDDEN = 16, STEPS = 200, NPARAM = 2 * HIDDEN + HIDDEN + HIDDEN + 1 };

typedef struct {
  uint64_t seed;
  float first_loss, last_loss, pred;   /* pred: the model at (0.5, -0.5); truth 2.0 */
  float params[NPARAM];                /* every parameter, in state_dict order */
  char err[512];
} job;

#define TRY(call) do { if ((s = (call)) != NN_OK) goto fail; } while (0)

/* y = 2 x0 - x1 + 0.5 + 0.5 sin(3 x0) on data owned here */
static void *train(void *arg) {
  job *jb = arg;
  float X[N * 2], Y[N];
  for (int i = 0; i < N; i++) {
    X[2 * i] = (float)(i % 8) / 4.0f - 1.0f;
    X[2 * i + 1] = (float)(i / 8) / 4.0f - 1.0f;
    Y[i] = 2.0f * X[2 * i] - X[2 * i + 1] + 0.5f + 0.5f * sinf(3.0f * X[2 * i]);
  }
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  if (ctx == NULL) { snprintf(jb->err, sizeof jb->err, "no context"); return NULL; }
  nn_status s = NN_OK;
  nn_rng *r = NULL;
  nn_module *seq = NULL, *l1 = NULL, *act = NULL, *l2 = NULL;
  nn_optim *opt = NULL;
  nn_tensor *x = NULL, *y = NULL, *out = NULL, *loss = NULL, *q = NULL, *qo = NULL;
  int64_t xs[2] = {N, 2}, ys[2] = {N, 1}, qs[2] = {1, 2};
  float qv[2] = {0.5f, -0.5f};
  TRY(nn_set_num_threads(ctx, 1));
  TRY(nn_rng_new(ctx, jb->seed, &r));
  TRY(nn_sequential_new(ctx, &seq));
  TRY(nn_linear_new(ctx, r, 2, HIDDEN, true, NN_F32, &l1));
  TRY(nn_layer_new(ctx, NN_RELU, 0, &act));
  TRY(nn_linear_new(ctx, r, HIDDEN, 1, true, NN_F32, &l2));
  TRY(nn_sequential_add(ctx, seq, l1));
  TRY(nn_sequential_add(ctx, seq, act));
  TRY(nn_sequential_add(ctx, seq, l2));
  TRY(nn_tensor_wrap(ctx, NN_F32, 2, xs, NULL, X, NULL, NULL, &x));
  TRY(nn_tensor_wrap(ctx, NN_F32, 2, ys, NULL, Y, NULL, NULL, &y));
  if (nn_tensor_data(x) != (void *)X) { snprintf(jb->err, sizeof jb->err, "wrap copied"); goto done; }

  nn_tensor *params[4];
  int np = nn_module_num_params(seq);
  if (np != 4) { snprintf(jb->err, sizeof jb->err, "%d params", np); goto done; }
  for (int i = 0; i < np; i++) params[i] = nn_module_param(seq, i, NULL, 0);
  TRY(nn_optim_new(ctx, "Adam", &opt));
  TRY(nn_optim_set(ctx, opt, -1, "lr", 0.02));   /* the defaults the next group takes */
  TRY(nn_optim_add_group(ctx, opt, np, params));
  for (int step = 0; step < STEPS; step++) {
    nn_optim_zero_grad(opt);
    TRY(nn_module_forward(ctx, seq, x, &out));
    TRY(nn_mse_loss(ctx, out, y, NN_REDUCE_MEAN, &loss));
    TRY(nn_backward(ctx, loss, NULL));
    TRY(nn_optim_step(ctx, opt));
    double v;
    TRY(nn_item(ctx, loss, &v));
    if (step == 0) jb->first_loss = (float)v;
    jb->last_loss = (float)v;
    nn_tensor_release(loss); loss = NULL;
    nn_tensor_release(out); out = NULL;
  }
  /* predict without recording */
  bool was = nn_set_grad_enabled(ctx, false);
  TRY(nn_tensor_from_data(ctx, NN_F32, 2, qs, qv, &q));
  TRY(nn_module_forward(ctx, seq, q, &qo));
  nn_set_grad_enabled(ctx, was);
  CHECK(nn_tensor_grad_fn(qo) == NULL);
  jb->pred = *(const float *)nn_tensor_data(qo);
  int k = 0;
  for (int i = 0; i < np; i++) {
    nn_tensor *p = params[i];
    memcpy(jb->params + k, nn_tensor_data(p), (size_t)nn_tensor_numel(p) * sizeof(float));
    k += (int)nn_tensor_numel(p);
  }
  goto done;
fail:
  snprintf(jb->err, sizeof jb->err, "status %d: %s", (int)s, nn_ctx_errmsg(ctx));
done:
  nn_tensor_release(qo); nn_tensor_release(q); nn_tensor_release(loss); nn_tensor_release(out);
  nn_tensor_release(x); nn_tensor_release(y);
  nn_optim_free(opt);
  nn_module_release(l1); nn_module_release(act); nn_module_release(l2); nn_module_release(seq);
  nn_rng_free(ctx, r);
  if (nn_ctx_bytes_in_use(ctx) != 0 && jb->err[0] == '\0')
    snprintf(jb->err, sizeof jb->err, "%zu bytes still in use", nn_ctx_bytes_in_use(ctx));
  nn_ctx_free(ctx);
  return NULL;
}

int main(void) {
  job seq[2] = {{.seed = 1}, {.seed = 2}}, par[2] = {{.seed = 1}, {.seed = 2}};
  for (int i = 0; i < 2; i++) {
    train(&seq[i]);
    if (seq[i].err[0]) { fprintf(stderr, "train: %s\n", seq[i].err); return 1; }
    CHECK(seq[i].last_loss < 0.05f * seq[i].first_loss);
    CHECK(fabsf(seq[i].pred - 2.0f - 0.5f * sinf(1.5f)) < 0.3f);
  }
  /* different seeds, different models */
  CHECK(memcmp(seq[0].params, seq[1].params, sizeof seq[0].params) != 0);
  /* the same two trainings at the same time, one context per thread */
  pthread_t th[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, train, &par[i]) == 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    if (par[i].err[0]) { fprintf(stderr, "thread: %s\n", par[i].err); return 1; }
    CHECK(memcmp(seq[i].params, par[i].params, sizeof seq[i].params) == 0);
    CHECK(memcmp(&seq[i].last_loss, &par[i].last_loss, sizeof(float)) == 0);
  }
  /* the core reports misuse instead of crashing */
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  nn_module *m = NULL;
  CHECK(nn_linear_new(ctx, NULL, 0, 3, true, NN_F32, &m) != NN_OK && m == NULL);
  CHECK(strlen(nn_ctx_errmsg(ctx)) > 0);
  nn_ctx_free(ctx);
  printf("host_c: %s (loss %.4g -> %.4g)\n", failures ? "FAILED" : "ok", seq[0].first_loss,
         seq[0].last_loss);
  return failures ? 1 : 0;
}
