/* fuzz_idx.c — nn_read_idx on arbitrary bytes (written to a scratch file: the reader takes a
   path). The first byte picks the dtype asked for; the rest is the file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  nn_ctx *ctx = fuzz_ctx();
  nn_dtype dt = (nn_dtype)(data[0] % 3);
  const char *path = fuzz_file(data + 1, size - 1, ".idx");
  nn_tensor *t = (nn_tensor *)&t;
  nn_status s = nn_read_idx(ctx, path, dt, &t);
  if (s != NN_OK && t != NULL) abort();
  if (s == NN_OK) {
    if (nn_tensor_dtype(t) != dt) abort();
    /* the elements came from the file: uncompressed, there cannot be more than its bytes */
    if (size > 2 && !(data[1] == 0x1f && data[2] == 0x8b) && (size_t)nn_tensor_numel(t) > size)
      abort();
    nn_tensor_release(t);
  }
  unlink(path);
  fuzz_check(ctx, s);
  return 0;
}
