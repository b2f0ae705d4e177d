/*
** check.h — the C tests' shared scaffolding: counters, CHECK macros, an allocator that counts
** live blocks and fails on the Nth call, and the closing line. Header-only; every test is one
** translation unit, so the counters are plain statics.
**
**   CHECK(c)              counts a check; on failure prints file:line and the condition
**   CHECKF(c, fmt, ...)   the same with a printf-style message (printed as "FAIL file:line: ...")
**   CHECK_MSG(ctx, want)  the context's error message is exactly want
**   CHECK_NEAR(a, b, tol) |a - b| <= tol
**   CHECK_REL(a, b, tol)  |a - b| <= tol * (1 + |b|)
**   OK(call)              call returned NN_OK
*/
#ifndef LUNET_TEST_CHECK_H
#define LUNET_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

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

#define CHECK_NEAR(a, b, tol)                                                                 \
  do {                                                                                        \
    check_total++;                                                                            \
    double a_ = (a), b_ = (b);                                                                \
    if (!(fabs(a_ - b_) <= (tol))) {                                                          \
      check_failures++;                                                                       \
      fprintf(stderr, "%s:%d: %s = %.17g, want %.17g\n", __FILE__, __LINE__, #a, a_, b_);     \
    }                                                                                         \
  } while (0)

#define CHECK_REL(a, b, tol)                                                                  \
  do {                                                                                        \
    check_total++;                                                                            \
    double a_ = (a), b_ = (b);                                                                \
    if (!(fabs(a_ - b_) <= (tol) * (1 + fabs(b_)))) {                                         \
      check_failures++;                                                                       \
      fprintf(stderr, "%s:%d: %s = %.17g, want %.17g\n", __FILE__, __LINE__, #a, a_, b_);     \
    }                                                                                         \
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

/* Prints "name: N passed, M failed" and returns the exit status: 1 when any check failed. */
static inline int check_report(const char *name) {
  printf("%s: %d passed, %d failed\n", name, check_total - check_failures, check_failures);
  return check_failures ? 1 : 0;
}

#endif
