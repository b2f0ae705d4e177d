/*
** check.h — the C tests' shared scaffolding (STYLE.md §9). Header-only; every test is one
** translation unit, so the counters are plain statics.
**
**   CHECK(c)              counts a check; on failure prints file:line and the condition
**   CHECKF(c, fmt, ...)   the same with a printf-style message (printed as "FAIL file:line: ...")
**   CHECK_MSG(ctx, want)  the context's error message is exactly want
**   CHECK_NEAR(a, b, tol) |a - b| <= tol
**   CHECK_REL(a, b, tol)  |a - b| <= tol * (1 + |b|)
**   OK(call)              call returned NN_OK
**
**   check_alloc           an nn_alloc over a check_allocator: counts live blocks, fails on call N
**   check_elem(t, i)      element i (row-major) of any tensor, as a double
**   check_report(name)    prints "name: N passed, M failed"; returns main's exit status
*/
#ifndef LUNET_TEST_CHECK_H
#define LUNET_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn_internal.h"   /* the tests reach the internal entry points too */

static int check_total, check_failures;

#define CHECK(c)                                                                              \
  do {                                                                                        \
    check_total++;                                                                            \
    if (!(c)) {                                                                               \
      check_failures++;                                                                       \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c);                  \
    }                                                                                         \
  } while (0)

#define CHECKF(c, ...)                                                                        \
  do {                                                                                        \
    check_total++;                                                                            \
    if (!(c)) {                                                                               \
      check_failures++;                                                                       \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                             \
      printf(__VA_ARGS__);                                                                    \
      printf("\n");                                                                           \
    }                                                                                         \
  } while (0)

#define CHECK_MSG(ctx, want)                                                                  \
  do {                                                                                        \
    check_total++;                                                                            \
    if (strcmp(nn_ctx_errmsg(ctx), (want)) != 0) {                                            \
      check_failures++;                                                                       \
      fprintf(stderr, "%s:%d: message\n  got  '%s'\n  want '%s'\n", __FILE__, __LINE__,       \
              nn_ctx_errmsg(ctx), (want));                                                    \
    }                                                                                         \
  } while (0)

/* CHECK_NEAR and CHECK_REL: |a - b| <= bound */
static inline void check_near(const char *file, int line, const char *expr, double a, double b,
                              double bound) {
  check_total++;
  if (!(fabs(a - b) <= bound)) {
    check_failures++;
    fprintf(stderr, "%s:%d: %s = %.17g, want %.17g\n", file, line, expr, a, b);
  }
}
#define CHECK_NEAR(a, b, tol) check_near(__FILE__, __LINE__, #a, (a), (b), (tol))
#define CHECK_REL(a, b, tol)                                                                  \
  do {                                                                                        \
    double b_ = (b);                                                                          \
    check_near(__FILE__, __LINE__, #a, (a), b_, (tol) * (1 + fabs(b_)));                      \
  } while (0)

#define OK(call) CHECK((call) == NN_OK)

/* An nn_alloc for nn_ctx_new(check_alloc, &a): counts calls and live blocks, and returns NULL
   on call number fail_at (0: never). */
typedef struct { long calls, fail_at, live; } check_allocator;

static inline void *check_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  check_allocator *a = ud;
  (void)osize;
  if (nsize == 0) {
    if (ptr) a->live--;
    free(ptr);
    return NULL;
  }
  if (++a->calls == a->fail_at) return NULL;
  void *p = realloc(ptr, nsize);
  if (p && !ptr) a->live++;
  return p;
}

/* element i (row-major, any strides) of a tensor as a double */
static inline double check_elem(const nn_tensor *t, int64_t i) {
  int nd = nn_tensor_ndim(t);
  const int64_t *sh = nn_tensor_shape(t), *st = nn_tensor_strides(t);
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; d--) { off += (i % sh[d]) * st[d]; i /= sh[d]; }
  const char *p = nn_tensor_data(t);
  switch (nn_tensor_dtype(t)) {
    case NN_F32: return ((const float *)p)[off];
    case NN_F64: return ((const double *)p)[off];
    default: return (double)((const int64_t *)p)[off];
  }
}

/* Prints "name: N passed, M failed" and returns the exit status: 1 when any check failed. */
static inline int check_report(const char *name) {
  printf("%s: %d passed, %d failed\n", name, check_total - check_failures, check_failures);
  return check_failures ? 1 : 0;
}

#endif
