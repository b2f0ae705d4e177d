/* fuzz_common.h — shared by the libFuzzer targets: one context per process, a scratch file for
   readers that take a path, and a leak check after every input (the context counts its live
   bytes, so a tensor left unreleased by an error path is a finding, not a slow drift). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn.h"

static nn_ctx *fuzz_ctx(void) {
  static nn_ctx *ctx;
  if (ctx == NULL) {
    ctx = nn_ctx_new(NULL, NULL);
    if (ctx == NULL) abort();
    nn_set_num_threads(ctx, 1);
  }
  return ctx;
}

/* The path of a per-process scratch file holding exactly data[0..size). */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/lunet-fuzz-%ld%s", (long)getpid(), suffix);
  FILE *f = fopen(path, "wb");
  if (f == NULL) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return path;
}

/* Every input must leave nothing alive and, on failure, a message. */
static void fuzz_check(nn_ctx *ctx, nn_status s) {
  if (s != NN_OK && nn_ctx_errmsg(ctx)[0] == '\0') {
    fprintf(stderr, "failure %d without a message\n", (int)s);
    abort();
  }
  if (nn_ctx_bytes_in_use(ctx) != 0) {
    fprintf(stderr, "%zu bytes of tensor storage still alive\n", nn_ctx_bytes_in_use(ctx));
    abort();
  }
}

#endif
