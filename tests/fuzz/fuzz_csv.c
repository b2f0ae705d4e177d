/* fuzz_csv.c — nn_read_csv on arbitrary bytes (written to a scratch file: the reader takes a
   path). The first byte picks the options (header row, delimiter, dtype); the rest is the file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  nn_ctx *ctx = fuzz_ctx();
  static const char delims[4] = {',', ';', '\t', ' '};
  nn_csv_opts o = {delims[data[0] & 3], (data[0] >> 2) & 1, (nn_dtype)((data[0] >> 3) % 3)};
  const char *path = fuzz_file(data + 1, size - 1, ".csv");
  nn_tensor *t = (nn_tensor *)&t;
  char *header = (char *)&header;
  int64_t ncols = -7;
  nn_status s = nn_read_csv(ctx, path, &o, &t, &header, &ncols);
  if (s != NN_OK && t != NULL) abort();
  if (s == NN_OK) {
    if (nn_tensor_dtype(t) != o.dtype) abort();
    if (nn_tensor_ndim(t) == 2 && nn_tensor_shape(t)[1] != ncols) abort();
    nn_tensor_release(t);
    nn_free(ctx, header);
  } else if (header != NULL && header != (char *)&header) {
    nn_free(ctx, header);
  }
  unlink(path);
  fuzz_check(ctx, s);
  return 0;
}
