/* test_autograd.c — the autograd graph's memory safety: a graph of a million nodes is freed
   without recursion, whether backward ran or not; backward walks a million-node chain; no
   reference cycle can be made through grads; a backward that fails on a modified saved tensor
   leaves the leaves' grads untouched; a backward that runs out of memory part-way leaks
   nothing. Every context runs on a counting allocator: nothing may leak. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "nn.h"

#define SH(...) (const int64_t[]){__VA_ARGS__}
enum { DEEP = 1000000 };   /* a recursion per node overflowed the C stack at 200,000 */

static check_allocator heap;
static nn_ctx *C;

/* live blocks once the context's cache is emptied */
static long live_now(void) {
  nn_ctx_trim(C);
  return heap.live;
}

static nn_tensor *leaf(int n, const double *v) {
  nn_tensor *t = NULL;
  OK(nn_tensor_from_data(C, NN_F64, 1, SH(n), v, &t));
  OK(nn_tensor_set_requires_grad(C, t, true));
  return t;
}

/* y = -(-(...(x))) over n negations; NULL (after a failed CHECK) if an op fails */
static nn_tensor *neg_chain(nn_tensor *x, int n) {
  nn_tensor *y = x;
  nn_tensor_retain(y);
  for (int i = 0; i < n; i++) {
    nn_tensor *z = NULL;
    if (nn_neg(C, y, &z) != NN_OK) { CHECK(!"neg"); nn_tensor_release(y); return NULL; }
    nn_tensor_release(y);
    y = z;
  }
  return y;
}

/* ---- deep graphs ------------------------------------------------------------------------ */

static void deep_graphs(void) {
  long before = live_now();
  nn_tensor *x = leaf(1, (const double[]){3});
  /* dropped without backward: the release walks the chain as a list */
  nn_tensor *y = neg_chain(x, DEEP);
  CHECK(y != NULL);
  nn_tensor_release(y);
  CHECK(live_now() == before + 2);              /* x: its header and its storage */
  /* backward over the same depth: d(-1)^n x / dx = 1 for even n */
  y = neg_chain(x, DEEP);
  OK(nn_backward(C, y, NULL));
  CHECK(nn_tensor_grad(x) && check_elem(nn_tensor_grad(x), 0) == 1.0);
  CHECK(check_elem(y, 0) == 3.0);
  nn_tensor_release(y);
  /* a chain of grads (each grad given a grad of its own) is freed in a loop too */
  nn_tensor *g = NULL;
  OK(nn_tensor_new(C, NN_F64, 1, SH(1), &g));
  nn_tensor *t = x;
  for (int i = 0; i < DEEP && t; i++) {
    if (nn_tensor_set_grad(C, t, g) != NN_OK) { CHECK(!"set_grad"); break; }
    t = nn_tensor_grad(t);
  }
  nn_tensor_release(g);
  nn_tensor_release(x);
  CHECK(live_now() == before);
}

/* ---- grads make no reference cycles ------------------------------------------------------ */

static void grad_cycles(void) {
  long before = live_now();
  /* t.grad = t, many times: each t is freed (before, every one stayed alive) */
  for (int i = 0; i < 100; i++) {
    nn_tensor *t = leaf(3, (const double[]){1, 2, 3});
    OK(nn_tensor_set_grad(C, t, t));
    CHECK(nn_tensor_grad(t) != t && nn_tensor_same_storage(nn_tensor_grad(t), t));
    nn_tensor_release(t);
  }
  CHECK(nn_ctx_bytes_in_use(C) == 0);
  /* a.grad = b; b.grad = a */
  nn_tensor *a = leaf(2, (const double[]){1, 2}), *b = leaf(2, (const double[]){3, 4});
  OK(nn_tensor_set_grad(C, a, b));
  OK(nn_tensor_set_grad(C, b, a));
  CHECK(check_elem(nn_tensor_grad(a), 1) == 4 && check_elem(nn_tensor_grad(b), 1) == 2);
  nn_tensor_release(a);
  nn_tensor_release(b);
  CHECK(live_now() == before);

  /* the grad shares g's storage: writes through either are seen by the other */
  nn_tensor *x = leaf(2, (const double[]){1, 2});
  nn_tensor *g = NULL;
  OK(nn_tensor_from_data(C, NN_F64, 1, SH(2), (const double[]){10, 20}, &g));
  OK(nn_tensor_set_grad(C, x, g));
  ((double *)nn_tensor_data(g))[0] = 11;
  CHECK(check_elem(nn_tensor_grad(x), 0) == 11);
  nn_tensor *y = NULL, *loss = NULL;
  OK(nn_mul(C, x, x, &y));
  OK(nn_sum(C, y, NN_ALL, false, &loss));
  OK(nn_backward(C, loss, NULL));                /* grad += 2x */
  CHECK(check_elem(g, 0) == 13 && check_elem(g, 1) == 24);
  nn_tensor_release(loss);
  nn_tensor_release(y);
  nn_tensor_release(g);
  CHECK(check_elem(nn_tensor_grad(x), 1) == 24); /* the grad outlives g */

  /* the grad must match the tensor */
  nn_tensor *w = NULL;
  OK(nn_tensor_new(C, NN_F64, 2, SH(2, 3), &w));
  CHECK(nn_tensor_set_grad(C, x, w) == NN_ERR_SHAPE);
  CHECK_MSG(C, "set_grad: assigned grad has shape [2, 3], the tensor has shape [2]");
  nn_tensor_release(w);
  OK(nn_tensor_new(C, NN_F32, 1, SH(2), &w));
  CHECK(nn_tensor_set_grad(C, x, w) == NN_ERR_DTYPE);
  CHECK_MSG(C, "set_grad: assigned grad has dtype float32, the tensor has dtype float64");
  nn_tensor_release(w);
  CHECK(check_elem(nn_tensor_grad(x), 1) == 24); /* a refused grad changes nothing */
  OK(nn_tensor_set_grad(C, x, NULL));
  CHECK(nn_tensor_grad(x) == NULL);
  nn_tensor_release(x);
  CHECK(live_now() == before);
}

/* ---- a failed backward ------------------------------------------------------------------- */

/* loss = sum(x * x) + sum(w * 2): backward reaches w first (the later node), then x * x,
   whose saved x may have been modified */
static nn_tensor *forward(nn_tensor *x, nn_tensor *w) {
  nn_tensor *xx = NULL, *w2 = NULL, *s1 = NULL, *s2 = NULL, *loss = NULL;
  OK(nn_mul(C, x, x, &xx));
  OK(nn_sum(C, xx, NN_ALL, false, &s1));
  OK(nn_muls(C, w, 2, &w2));
  OK(nn_sum(C, w2, NN_ALL, false, &s2));
  OK(nn_add(C, s1, s2, &loss));
  nn_tensor_release(xx); nn_tensor_release(w2);
  nn_tensor_release(s1); nn_tensor_release(s2);
  return loss;
}

static void failed_backward(void) {
  long before = live_now();
  nn_tensor *x = leaf(2, (const double[]){1, 2}), *w = leaf(2, (const double[]){5, 6});
  nn_tensor *loss = forward(x, w);
  ((double *)nn_tensor_data(x))[0] = 7;         /* modified after use */
  nn_tensor_bump_version(x);
  CHECK(nn_backward(C, loss, NULL) == NN_ERR_STATE);
  CHECK_MSG(C, "backward: an input of mul was modified by an in-place operation after it was "
               "used (version 1, expected 0); its gradient would be wrong");
  CHECK(nn_tensor_grad(w) == NULL && nn_tensor_grad(x) == NULL);  /* w's got 2 before */
  CHECK(nn_backward(C, loss, NULL) == NN_ERR_STATE);   /* the graph is kept: the same error */
  CHECK(strstr(nn_ctx_errmsg(C), "was modified by an in-place operation") != NULL);
  nn_tensor_release(loss);
  /* fixed and run again: the gradients are those of one clean backward */
  ((double *)nn_tensor_data(x))[0] = 1;
  loss = forward(x, w);
  OK(nn_backward(C, loss, NULL));
  nn_tensor_release(loss);
  CHECK(check_elem(nn_tensor_grad(x), 0) == 2 && check_elem(nn_tensor_grad(x), 1) == 4);
  CHECK(check_elem(nn_tensor_grad(w), 0) == 2 && check_elem(nn_tensor_grad(w), 1) == 2);
  /* grads accumulated before are kept as they were by a failed backward */
  loss = forward(x, w);
  nn_tensor_bump_version(x);
  CHECK(nn_backward(C, loss, NULL) == NN_ERR_STATE);
  CHECK(check_elem(nn_tensor_grad(w), 0) == 2 && check_elem(nn_tensor_grad(x), 1) == 4);
  nn_tensor_release(loss);

  /* an interrupt is seen during the walk: the graph is freed; here the walk stopped at its
     first node, before any leaf */
  loss = forward(x, w);
  nn_ctx_interrupt(C);
  CHECK(nn_backward(C, loss, NULL) == NN_ERR_INTERRUPTED);
  nn_ctx_clear_interrupt(C);
  CHECK(check_elem(nn_tensor_grad(w), 0) == 2 && check_elem(nn_tensor_grad(x), 1) == 4);
  CHECK(nn_backward(C, loss, NULL) == NN_ERR_STATE);
  CHECK(strstr(nn_ctx_errmsg(C), "a second time") != NULL);
  nn_tensor_release(loss);
  nn_tensor_release(x);
  nn_tensor_release(w);
  CHECK(live_now() == before);
}

/* Out of memory at every allocation of a backward in turn: each failure is NN_ERR_MEM and
   leaks nothing. One before the walk (the seed) keeps the graph and the grads: a retry counts
   every gradient once; one during the walk frees the graph: a retry says so. */
static void backward_out_of_memory(void) {
  long before = live_now();
  int failures = 0;
  for (long k = 1; k < 1000; k++) {
    nn_tensor *x = leaf(2, (const double[]){1, 2}), *w = leaf(2, (const double[]){5, 6});
    nn_tensor *loss = forward(x, w);
    nn_ctx_trim(C);                              /* every block comes from the allocator */
    heap.fail_at = heap.calls + k;
    nn_status s = nn_backward(C, loss, NULL);
    bool reached = heap.calls >= heap.fail_at;   /* (a failure the cache absorbs gives NN_OK) */
    heap.fail_at = 0;
    if (s == NN_OK) {
      CHECK(check_elem(nn_tensor_grad(x), 1) == 4 && check_elem(nn_tensor_grad(w), 1) == 2);
    } else {
      failures++;
      CHECKF(s == NN_ERR_MEM, "allocation %ld: status %d (%s)", k, (int)s, nn_ctx_errmsg(C));
      s = nn_backward(C, loss, NULL);
      if (s == NN_OK) CHECK(check_elem(nn_tensor_grad(x), 1) == 4 && check_elem(nn_tensor_grad(w), 1) == 2);
      else CHECK(s == NN_ERR_STATE && strstr(nn_ctx_errmsg(C), "a second time") != NULL);
      s = NN_ERR_MEM;
    }
    nn_tensor_release(loss);
    nn_tensor_release(x);
    nn_tensor_release(w);
    CHECK(live_now() == before);
    if (!reached) break;
  }
  CHECK(failures > 0);
}

int main(void) {
  C = nn_ctx_new(check_alloc, &heap);
  if (!C) { printf("no context\n"); return 1; }
  nn_tensor *w = leaf(1, (const double[]){1});   /* backward's work list: kept by the context */
  nn_tensor *nw = neg_chain(w, 1);
  OK(nn_backward(C, nw, NULL));
  nn_tensor_release(nw);
  nn_tensor_release(w);
  deep_graphs();
  grad_cycles();
  failed_backward();
  backward_out_of_memory();
  nn_ctx_free(C);
  CHECK(heap.live == 0);
  return check_report("test_autograd");
}
