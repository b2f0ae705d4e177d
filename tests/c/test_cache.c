/* test_cache.c — the context's block cache stays bounded: tensors of ever-changing sizes
   cannot make it hoard memory, idle blocks go back on nn_ctx_trim_idle, and a loop that asks
   for the same sizes between two trims never calls the allocator. */
#include "check.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define MiB ((size_t)1 << 20)

/* 300 one-off sizes of 0.4 to 1.6 MB, each freed before the next (about 300 MB in all): the
   cache used to keep up to 1 GiB of them. Now it keeps at most 64 MiB over the peak in use. */
static void test_varying_sizes(void) {
  check_allocator a = {0, 0, 0};
  nn_ctx *c = nn_ctx_new(check_alloc, &a);
  size_t most = 0;
  for (int i = 0; i < 300; i++) {
    nn_tensor *t = NULL;
    OK(nn_zeros(c, NN_F32, 1, SH(100000 + 1000 * i), &t));
    nn_tensor_release(t);
    if (nn_ctx_cached_bytes(c) > most) most = nn_ctx_cached_bytes(c);
  }
  CHECK(nn_ctx_bytes_in_use(c) == 0);
  CHECKF(most <= 64 * MiB + 2 * MiB, "the cache held %zu bytes", most);
  CHECKF(most >= 60 * MiB, "the cache kept only %zu bytes (it may keep up to its floor)", most);
  /* each size was asked for once: its blocks go back at the first trim, its bin at the next */
  nn_ctx_trim_idle(c);
  CHECKF(nn_ctx_cached_bytes(c) == 0, "%zu bytes left after an idle trim", nn_ctx_cached_bytes(c));
  nn_ctx_trim_idle(c);
  CHECKF(a.live == 1, "%ld blocks still allocated (the context itself is one)", a.live);
  nn_ctx_free(c);
  CHECK(a.live == 0);
}

/* A step that allocates and frees the same sizes, with an idle trim after each step (what a
   Lua collection cycle does): after the first step the allocator is never called. */
static void test_steady_with_trims(void) {
  nn_ctx *c = nn_ctx_new(NULL, NULL);
  uint64_t before = 0;
  bool ok = true;
  for (int step = 0; step < 20; step++) {
    if (step == 2) before = nn_ctx_alloc_calls(c);
    nn_tensor *x = NULL, *y = NULL, *z = NULL;
    ok = ok && !nn_zeros(c, NN_F32, 2, SH(300, 300), &x) && !nn_zeros(c, NN_F64, 1, SH(7), &y) &&
         !nn_add(c, x, x, &z);
    nn_tensor_release(x); nn_tensor_release(y); nn_tensor_release(z);
    nn_ctx_trim_idle(c);   /* the first frees step 0's blocks: a size asked for once */
  }
  CHECKF(ok, "step failed: %s", nn_ctx_errmsg(c));
  CHECKF(nn_ctx_alloc_calls(c) == before, "steady steps called the allocator %llu times",
         (unsigned long long)(nn_ctx_alloc_calls(c) - before));
  CHECK(nn_ctx_cached_bytes(c) >= 2 * 300 * 300 * sizeof(float));
  /* sizes not asked for since the last trim go back at the next; nn_ctx_trim frees everything */
  nn_ctx_trim_idle(c);
  CHECK(nn_ctx_cached_bytes(c) == 0);
  nn_tensor *x = NULL;
  OK(nn_zeros(c, NN_F32, 1, SH(1000), &x));
  nn_tensor_release(x);
  CHECK(nn_ctx_cached_bytes(c) > 0);
  nn_ctx_trim(c);
  CHECK(nn_ctx_cached_bytes(c) == 0);
  nn_ctx_free(c);
}

/* A working set above the floor is cached whole: a step with 100 MB of 4 MB activations, freed
   at the end of the step, runs again from the cache. */
static void test_large_working_set(void) {
  nn_ctx *c = nn_ctx_new(NULL, NULL);
  uint64_t before = 0;
  bool ok = true;
  for (int step = 0; step < 3; step++) {
    if (step == 1) before = nn_ctx_alloc_calls(c);
    nn_tensor *t[25] = {0};
    for (int i = 0; i < 25; i++) ok = ok && !nn_zeros(c, NN_F32, 1, SH(1 << 20), &t[i]);
    for (int i = 0; i < 25; i++) nn_tensor_release(t[i]);
  }
  CHECKF(ok, "step failed: %s", nn_ctx_errmsg(c));
  CHECKF(nn_ctx_alloc_calls(c) == before, "steps of 100 MB called the allocator %llu times",
         (unsigned long long)(nn_ctx_alloc_calls(c) - before));
  nn_ctx_free(c);
}

int main(void) {
  test_varying_sizes();
  test_steady_with_trims();
  test_large_working_set();
  return check_report("test_cache");
}
