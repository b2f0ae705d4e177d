/* fuzz_safetensors.c — nn_parse_safetensors on arbitrary bytes. A file that parses must hold
   tensors whose sizes fit the input, and must survive a save/load round trip unchanged. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nn_ctx *ctx = fuzz_ctx();
  nn_stfile *f = (nn_stfile *)&f;
  nn_status s = nn_parse_safetensors(ctx, data, size, &f);
  if (s != NN_OK) {
    if (f != NULL) abort();              /* *out must be NULL on failure */
    fuzz_check(ctx, s);
    return 0;
  }
  size_t total = 0;
  int n = nn_stfile_count(f);
  nn_named *ts = calloc((size_t)n + 1, sizeof *ts);
  nn_meta *ms = calloc((size_t)nn_stfile_meta_count(f) + 1, sizeof *ms);
  for (int i = 0; i < n; i++) {
    nn_tensor *t = nn_stfile_tensor(f, i);
    total += (size_t)nn_tensor_numel(t) * nn_dtype_size(nn_tensor_dtype(t));
    ts[i].name = nn_stfile_name(f, i);
    ts[i].t = t;
  }
  if (total > size) abort();
  for (int i = 0; i < nn_stfile_meta_count(f); i++) nn_stfile_meta(f, i, &ms[i].key, &ms[i].value);
  /* round trip: what we read, we can write, and it reads back the same */
  const char *path = fuzz_file(NULL, 0, ".safetensors");
  s = nn_save_safetensors(ctx, path, n, ts, nn_stfile_meta_count(f), ms);
  if (s == NN_OK) {
    nn_stfile *g = NULL;
    if (nn_load_safetensors(ctx, path, &g) != NN_OK) abort();
    if (nn_stfile_count(g) != n || nn_stfile_meta_count(g) != nn_stfile_meta_count(f)) abort();
    for (int i = 0; i < n; i++) {
      /* g is in the writer's order: find each tensor by name */
      int j = 0;
      while (j < n && strcmp(nn_stfile_name(g, j), ts[i].name) != 0) j++;
      if (j == n) abort();
      nn_tensor *a = ts[i].t, *b = nn_stfile_tensor(g, j);
      size_t bytes = (size_t)nn_tensor_numel(a) * nn_dtype_size(nn_tensor_dtype(a));
      if (nn_tensor_dtype(a) != nn_tensor_dtype(b) || nn_tensor_ndim(a) != nn_tensor_ndim(b) ||
          nn_tensor_numel(a) != nn_tensor_numel(b) ||
          (bytes && memcmp(nn_tensor_data(a), nn_tensor_data(b), bytes) != 0))
        abort();
    }
    nn_stfile_free(g);
  } else if (s != NN_ERR_ARG) {
    /* names with a NUL escape (\u0000) are cut short and may collide: an ARG error is fine */
    fprintf(stderr, "save failed: %s\n", nn_ctx_errmsg(ctx));
    abort();
  }
  unlink(path);
  free(ts);
  free(ms);
  nn_stfile_free(f);
  fuzz_check(ctx, NN_OK);
  return 0;
}
