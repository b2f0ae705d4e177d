/*
** test_readers.c — nn_read_csv and nn_read_idx on small files written here (plain and
** gzipped), every error path with its message, out-of-memory at every allocation, and the
** Fashion-MNIST files when the Debian package is installed.
*/
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "nn.h"

static char dir[64];

static const char *file(const char *name) {
  static char paths[32][256];
  static int k;
  char *p = paths[k++ % 32];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

static const char *put(const char *name, const void *bytes, size_t n) {
  const char *path = file(name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, n, f) != n) { perror(path); exit(2); }
  fclose(f);
  return path;
}

static const char *putgz(const char *name, const void *bytes, size_t n) {
  const char *path = file(name);
  gzFile f = gzopen(path, "wb");
  if (!f || (n && gzwrite(f, bytes, (unsigned)n) != (int)n)) { perror(path); exit(2); }
  gzclose(f);
  return path;
}

static const char *puts_(const char *name, const char *text) { return put(name, text, strlen(text)); }

static double at(nn_ctx *ctx, nn_tensor *t, int64_t i, int64_t j) {
  int64_t idx[2] = {i, j};
  double v = -999;
  if (nn_tensor_get(ctx, t, idx, &v) != NN_OK) return -777;
  return v;
}

static bool shape_is(nn_tensor *t, int ndim, int64_t a, int64_t b, int64_t c) {
  if (t == NULL || nn_tensor_ndim(t) != ndim) return false;
  const int64_t *s = nn_tensor_shape(t), want[3] = {a, b, c};
  for (int d = 0; d < ndim; d++)
    if (s[d] != want[d]) return false;
  return true;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_values(nn_ctx *ctx) {
  nn_tensor *t;
  int64_t nc = -1;
  const char *p = puts_("a.csv", "1,2,3\n4,5,6.5\n");
  CHECK(nn_read_csv(ctx, p, NULL, &t, NULL, &nc) == NN_OK);
  CHECK(shape_is(t, 2, 2, 3, 0) && nn_tensor_dtype(t) == NN_F32 && nc == 3);
  CHECK(at(ctx, t, 0, 0) == 1 && at(ctx, t, 0, 2) == 3 && at(ctx, t, 1, 2) == 6.5);
  nn_tensor_release(t);

  /* gzipped, header with spaces and quotes, CRLF, blank lines, no final newline */
  const char text[] = "a, b ,\"c\"\r\n1.5,-2,3e2\r\n\r\n 0.25 ,\"7\",-0\r\n\n8,9,10";
  p = putgz("b.csv.gz", text, sizeof text - 1);
  nn_csv_opts o = {',', true, NN_F64};
  char *names = NULL;
  CHECK(nn_read_csv(ctx, p, &o, &t, &names, &nc) == NN_OK);
  CHECK(shape_is(t, 2, 3, 3, 0) && nn_tensor_dtype(t) == NN_F64 && nc == 3);
  CHECK(at(ctx, t, 0, 0) == 1.5 && at(ctx, t, 0, 1) == -2 && at(ctx, t, 0, 2) == 300);
  CHECK(at(ctx, t, 1, 0) == 0.25 && at(ctx, t, 1, 1) == 7 && at(ctx, t, 2, 2) == 10);
  CHECK(names && strcmp(names, "a") == 0 && strcmp(names + 2, "b") == 0 &&
        strcmp(names + 4, "c") == 0);
  nn_free(ctx, names);
  nn_tensor_release(t);

  /* header skipped when not asked for; float64 keeps 0.1 exactly */
  p = puts_("c.csv", "x;y\n0.1;1e-300\n");
  o = (nn_csv_opts){';', true, NN_F64};
  CHECK(nn_read_csv(ctx, p, &o, &t, NULL, NULL) == NN_OK);
  CHECK(shape_is(t, 2, 1, 2, 0) && at(ctx, t, 0, 0) == 0.1 && at(ctx, t, 0, 1) == 1e-300);
  nn_tensor_release(t);

  /* int64: exact beyond 2^53, "4.0" accepted; tab delimiter */
  p = puts_("d.tsv", "9007199254740993\t-3\n4.0\t1e3\n");
  o = (nn_csv_opts){'\t', false, NN_I64};
  CHECK(nn_read_csv(ctx, p, &o, &t, NULL, NULL) == NN_OK);
  CHECK(shape_is(t, 2, 2, 2, 0) && nn_tensor_dtype(t) == NN_I64);
  if (t) {
    const int64_t *v = nn_tensor_data(t);
    CHECK(v[0] == 9007199254740993LL && v[1] == -3 && v[2] == 4 && v[3] == 1000);
  }
  nn_tensor_release(t);

  /* the decimal spellings, nan / inf / infinity in any case, float32's extremes */
  p = puts_("f.csv", "+5,-.5,5.,1E+2\nnan,-Inf,INFINITY,NaN\n3.4028235e38,-3.4028235e38,1e-50,-0\n");
  o = (nn_csv_opts){',', false, NN_F32};
  CHECK(nn_read_csv(ctx, p, &o, &t, NULL, NULL) == NN_OK);
  CHECK(shape_is(t, 2, 3, 4, 0));
  if (t) {
    CHECK(at(ctx, t, 0, 0) == 5 && at(ctx, t, 0, 1) == -0.5 && at(ctx, t, 0, 2) == 5 &&
          at(ctx, t, 0, 3) == 100);
    CHECK(isnan(at(ctx, t, 1, 0)) && at(ctx, t, 1, 1) == -INFINITY && at(ctx, t, 1, 2) == INFINITY &&
          isnan(at(ctx, t, 1, 3)));
    CHECK(at(ctx, t, 2, 0) == FLT_MAX && at(ctx, t, 2, 1) == -FLT_MAX && at(ctx, t, 2, 2) == 0 &&
          at(ctx, t, 2, 3) == 0);
  }
  nn_tensor_release(t);

  /* a header and no rows: [0, 2] */
  p = puts_("e.csv", "u,v\n");
  o = (nn_csv_opts){',', true, NN_F32};
  names = NULL;
  CHECK(nn_read_csv(ctx, p, &o, &t, &names, &nc) == NN_OK);
  CHECK(shape_is(t, 2, 0, 2, 0) && nc == 2 && names && strcmp(names + 2, "v") == 0);
  nn_free(ctx, names);
  nn_tensor_release(t);
  nn_free(ctx, NULL);                                    /* a no-op */
}

static void csv_errors(nn_ctx *ctx) {
  struct { const char *name, *text; char delim; bool header; nn_dtype dt; nn_status st;
           const char *msg; } cases[] = {
    {"bad1.csv", "1,2,3\n4,x5,6\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 2, column 2: 'x5' is not a number"},
    {"bad2.csv", "1,,3\n", ',', false, NN_F32, NN_ERR_FORMAT, "line 1, column 2: empty field"},
    {"bad3.csv", "h1,h2\n1,2\n3,4e\n", ',', true, NN_F64, NN_ERR_FORMAT,
     "line 3, column 2: '4e' is not a number"},
    {"bad4.csv", "1,2,3\n4,5\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 2 has 2 fields, expected 3 (as the first row)"},
    {"bad5.csv", "a,b\n1,2\n\n3,4,5,6\n", ',', true, NN_F32, NN_ERR_FORMAT,
     "line 4 has 4 fields, expected 2 (as the header)"},
    {"bad6.csv", "1,2.5\n", ',', false, NN_I64, NN_ERR_FORMAT,
     "line 1, column 2: '2.5' is not an int64"},
    {"bad7.csv", "1,1e30\n", ',', false, NN_I64, NN_ERR_FORMAT,
     "line 1, column 2: '1e30' is not an int64"},
    {"bad8.csv", "", ',', false, NN_F32, NN_ERR_FORMAT, "is empty: no rows"},
    {"bad9.csv", "\n \n", ',', true, NN_F32, NN_ERR_FORMAT, "is empty: no header row"},
    {"bad10.csv", "1 2,3\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 1, column 1: '1 2' is not a number"},
    /* only decimal numbers: strtod alone read these as 16, 0.5 and nan */
    {"hex1.csv", "1,0x10\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 1, column 2: '0x10' is not a decimal number"},
    {"hex2.csv", "a\n0x1p-1\n", ',', true, NN_F64, NN_ERR_FORMAT,
     "line 2, column 1: '0x1p-1' is not a decimal number"},
    {"hex3.csv", "0x10\n", ',', false, NN_I64, NN_ERR_FORMAT,
     "line 1, column 1: '0x10' is not a decimal number"},
    {"nanp.csv", "nan(1)\n", ',', false, NN_F64, NN_ERR_FORMAT,
     "line 1, column 1: 'nan(1)' is not a decimal number"},
    {"dot.csv", "1,.,3\n", ',', false, NN_F64, NN_ERR_FORMAT,
     "line 1, column 2: '.' is not a number"},
    /* out of range of the dtype loaded: strtod and the cast made inf */
    {"big32.csv", "1\n2\n1e39\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 3, column 1: '1e39' is out of the range of float32"},
    {"big32n.csv", "1,-3.4028236e38\n", ',', false, NN_F32, NN_ERR_FORMAT,
     "line 1, column 2: '-3.4028236e38' is out of the range of float32"},
    {"big64.csv", "1e400\n", ',', false, NN_F64, NN_ERR_FORMAT,
     "line 1, column 1: '1e400' is out of the range of float64"},
    {"inf64.csv", "inf\n", ',', false, NN_I64, NN_ERR_FORMAT,
     "line 1, column 1: 'inf' is not an int64"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *p = puts_(cases[i].name, cases[i].text);
    nn_csv_opts o = {cases[i].delim, cases[i].header, cases[i].dt};
    nn_tensor *t = (nn_tensor *)&o;                       /* must become NULL */
    char *names = (char *)&o;
    char want[512];
    snprintf(want, sizeof want, "read_csv: '%s' %s", p, cases[i].msg);
    CHECK(nn_read_csv(ctx, p, &o, &t, &names, NULL) == cases[i].st);
    CHECK(t == NULL && names == NULL);
    CHECK_MSG(ctx, want);
  }

  nn_tensor *t = (nn_tensor *)&t;
  char want[512];
  /* a NUL byte in a header name used to cut it short and shift the names after it */
  const char *p0 = put("nul.csv", "ab,c\0d,e\n1,2,3\n", 16);
  nn_csv_opts oh = {',', true, NN_F32};
  char *names = (char *)&oh;
  CHECK(nn_read_csv(ctx, p0, &oh, &t, &names, NULL) == NN_ERR_FORMAT && t == NULL && names == NULL);
  snprintf(want, sizeof want, "read_csv: '%s' line 1, column 2: NUL byte in header", p0);
  CHECK_MSG(ctx, want);
  p0 = put("nul2.csv", "1,2\n3,4\0\n", 10);
  t = (nn_tensor *)&t;
  CHECK(nn_read_csv(ctx, p0, NULL, &t, NULL, NULL) == NN_ERR_FORMAT && t == NULL);
  snprintf(want, sizeof want, "read_csv: '%s' line 2, column 2: '4' holds a NUL byte", p0);
  CHECK_MSG(ctx, want);
  t = (nn_tensor *)&t;
  const char *missing = file("no-such.csv");
  CHECK(nn_read_csv(ctx, missing, NULL, &t, NULL, NULL) == NN_ERR_IO && t == NULL);
  snprintf(want, sizeof want, "read_csv: cannot open '%s': No such file or directory", missing);
  CHECK_MSG(ctx, want);

  nn_csv_opts o = {'\n', false, NN_F32};
  CHECK(nn_read_csv(ctx, missing, &o, &t, NULL, NULL) == NN_ERR_ARG && t == NULL);
  CHECK_MSG(ctx, "read_csv: bad delimiter (byte 0x0a): it would split numbers or lines");
  o = (nn_csv_opts){',', false, (nn_dtype)7};
  CHECK(nn_read_csv(ctx, missing, &o, &t, NULL, NULL) == NN_ERR_DTYPE && t == NULL);
  CHECK_MSG(ctx, "read_csv: unknown dtype 7");
  CHECK(nn_read_csv(ctx, NULL, NULL, &t, NULL, NULL) == NN_ERR_ARG && t == NULL);
  CHECK_MSG(ctx, "read_csv: path is NULL");
  CHECK(nn_read_csv(ctx, dir, NULL, &t, NULL, NULL) == NN_ERR_IO && t == NULL);
  snprintf(want, sizeof want, "read_csv: '%s': read error: Is a directory", dir);
  CHECK_MSG(ctx, want);

  /* a truncated gzip stream */
  char big[4000];
  for (int i = 0; i < 1000; i++) memcpy(big + 4 * i, "1,2\n", 4);
  const char *p = putgz("trunc.csv.gz", big, sizeof big);
  FILE *f = fopen(p, "rb");
  unsigned char z[4096];
  size_t n = fread(z, 1, sizeof z, f);
  fclose(f);
  p = put("trunc.csv.gz", z, n - 12);                     /* drop the CRC and length */
  CHECK(nn_read_csv(ctx, p, NULL, &t, NULL, NULL) == NN_ERR_FORMAT && t == NULL);
  snprintf(want, sizeof want, "read_csv: '%s': read error: unexpected end of file", p);
  CHECK_MSG(ctx, want);
}

/* ---- IDX ------------------------------------------------------------------------------------ */

static size_t idx_bytes(unsigned char *b, int type, int ndim, const uint32_t *dims,
                        const void *data, size_t n) {
  size_t k = 0;
  b[k++] = 0; b[k++] = 0; b[k++] = (unsigned char)type; b[k++] = (unsigned char)ndim;
  for (int d = 0; d < ndim; d++) {
    b[k++] = dims[d] >> 24; b[k++] = dims[d] >> 16 & 255; b[k++] = dims[d] >> 8 & 255;
    b[k++] = dims[d] & 255;
  }
  memcpy(b + k, data, n);
  return k + n;
}

static void idx_values(nn_ctx *ctx) {
  unsigned char b[256], px[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
  uint32_t dims[3] = {2, 2, 3};
  size_t n = idx_bytes(b, 0x08, 3, dims, px, sizeof px);
  const char *paths[2] = {put("img.idx", b, n), putgz("img.idx.gz", b, n)};
  for (int k = 0; k < 2; k++) {
    nn_tensor *t;
    CHECK(nn_read_idx(ctx, paths[k], NN_F32, &t) == NN_OK);
    CHECK(shape_is(t, 3, 2, 2, 3) && nn_tensor_dtype(t) == NN_F32);
    if (t) {
      const float *v = nn_tensor_data(t);
      for (int i = 0; i < 12; i++) CHECK(v[i] == px[i]);
    }
    nn_tensor_release(t);
    CHECK(nn_read_idx(ctx, paths[k], NN_I64, &t) == NN_OK);
    CHECK(shape_is(t, 3, 2, 2, 3) && nn_tensor_dtype(t) == NN_I64);
    if (t) CHECK(((const int64_t *)nn_tensor_data(t))[11] == 255);
    nn_tensor_release(t);
  }

  /* signed byte, short, int, float, double: big-endian, negative values */
  struct { int type; unsigned char data[16]; size_t n; double want[2]; } ty[] = {
    {0x09, {0xFF, 0x80}, 2, {-1, -128}},
    {0x0B, {0x01, 0x02, 0xFF, 0xFE}, 4, {258, -2}},
    {0x0C, {0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00}, 8, {65536, -2147483648.0}},
    {0x0D, {0x3F, 0xC0, 0x00, 0x00, 0xC1, 0x20, 0x00, 0x00}, 8, {1.5, -10}},
    {0x0E, {0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A, 0xC0, 0, 0, 0, 0, 0, 0, 0}, 16,
     {0.1, -2}},
  };
  for (size_t i = 0; i < sizeof ty / sizeof *ty; i++) {
    uint32_t d1[1] = {2};
    n = idx_bytes(b, ty[i].type, 1, d1, ty[i].data, ty[i].n);
    nn_tensor *t;
    CHECK(nn_read_idx(ctx, put("t.idx", b, n), NN_F64, &t) == NN_OK);
    CHECK(shape_is(t, 1, 2, 0, 0));
    if (t) {
      const double *v = nn_tensor_data(t);
      CHECK(v[0] == ty[i].want[0] && v[1] == ty[i].want[1]);
    }
    nn_tensor_release(t);
  }
}

static void idx_errors(nn_ctx *ctx) {
  unsigned char b[256], px[12] = {0};
  uint32_t dims[3] = {2, 2, 3}, huge[8] = {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 2, 2, 2, 2, 2};
  const char *paths[9];
  char want[9][256];
  int k = 0;

  size_t n = idx_bytes(b, 0x08, 3, dims, px, 7);
  paths[k] = put("short.idx", b, n);
  snprintf(want[k], 256, "read_idx: '%s' is truncated: dims 2x2x3 of ubyte need 12 bytes of "
           "data, the file has 7", paths[k]);
  k++;
  n = idx_bytes(b, 0x08, 3, dims, px, 12);
  b[n++] = 9;
  paths[k] = putgz("long.idx.gz", b, n);
  snprintf(want[k], 256, "read_idx: '%s' is longer than its header says: dims 2x2x3 of ubyte "
           "need 12 bytes of data, the file has 13", paths[k]);
  k++;
  n = idx_bytes(b, 0x08, 3, dims, px, 0);
  paths[k] = put("hdr.idx", b, 10);
  snprintf(want[k], 256, "read_idx: '%s' is truncated: the header needs 16 bytes, the file has "
           "10", paths[k]);
  k++;
  paths[k] = put("magic.idx", "\x01\x00\x08\x01", 4);
  snprintf(want[k], 256, "read_idx: '%s' is not an IDX file (magic 0x01000801 does not start "
           "with two zero bytes)", paths[k]);
  k++;
  paths[k] = put("type.idx", "\x00\x00\x0a\x01\x00\x00\x00\x01\x05", 9);
  snprintf(want[k], 256, "read_idx: '%s': unknown element type 0x0a in the magic", paths[k]);
  k++;
  paths[k] = put("ndim.idx", "\x00\x00\x08\x09", 4);
  snprintf(want[k], 256, "read_idx: '%s': 9 dims in the magic (1..8 supported)", paths[k]);
  k++;
  n = idx_bytes(b, 0x08, 8, huge, px, 0);
  paths[k] = put("huge.idx", b, n);
  snprintf(want[k], 256, "read_idx: '%s': dims 4294967295x4294967295x4294967295x2x2x2x2x2 "
           "overflow the element count", paths[k]);
  k++;
  paths[k] = put("tiny.idx", "\x00\x00", 2);
  snprintf(want[k], 256, "read_idx: '%s' is truncated: 2 bytes, the magic needs 4", paths[k]);
  k++;
  {                                   /* a gzip stream cut short: zlib's message */
    unsigned char big[2000], z[2100];
    memset(big, 7, sizeof big);
    n = idx_bytes(b, 0x08, 1, (uint32_t[]){1000}, px, 0);
    memcpy(big, b, n);
    const char *p = putgz("cut.idx.gz", big, sizeof big);
    FILE *f = fopen(p, "rb");
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    paths[k] = put("cut.idx.gz", z, zn - 12);
    snprintf(want[k], 256, "read_idx: '%s': read error: unexpected end of file", paths[k]);
    k++;
  }
  for (int i = 0; i < k; i++) {
    nn_tensor *t = (nn_tensor *)&t;
    CHECK(nn_read_idx(ctx, paths[i], NN_F32, &t) == NN_ERR_FORMAT && t == NULL);
    CHECK_MSG(ctx, want[i]);
  }

  nn_tensor *t = (nn_tensor *)&t;
  char w[256];
  uint32_t d1[1] = {1};
  n = idx_bytes(b, 0x0D, 1, d1, "\0\0\0\0", 4);
  const char *p = put("float.idx", b, n);
  CHECK(nn_read_idx(ctx, p, NN_I64, &t) == NN_ERR_DTYPE && t == NULL);
  snprintf(w, sizeof w, "read_idx: '%s' holds float data, which cannot be read as int64", p);
  CHECK_MSG(ctx, w);
  p = file("missing.idx.gz");
  CHECK(nn_read_idx(ctx, p, NN_F32, &t) == NN_ERR_IO && t == NULL);
  snprintf(w, sizeof w, "read_idx: cannot open '%s': No such file or directory", p);
  CHECK_MSG(ctx, w);
  CHECK(nn_read_idx(ctx, p, (nn_dtype)9, &t) == NN_ERR_DTYPE && t == NULL);
  CHECK_MSG(ctx, "read_idx: unknown dtype 9");
  CHECK(nn_read_idx(ctx, NULL, NN_F32, &t) == NN_ERR_ARG && t == NULL);
  CHECK_MSG(ctx, "read_idx: path is NULL");
}

/* ---- out of memory at every allocation ----------------------------------------------------- */

static check_allocator heap;

static void oom(void) {
  unsigned char b[64], px[12] = {1};
  uint32_t dims[3] = {2, 2, 3};
  size_t n = idx_bytes(b, 0x08, 3, dims, px, sizeof px);
  const char *idx = putgz("oom.idx.gz", b, n);
  const char *csv = puts_("oom.csv", "a,b\n1,2\n3,4\n");
  for (int which = 0; which < 2; which++) {
    bool done = false;
    for (heap.fail_at = 1; !done && heap.fail_at < 200; heap.fail_at++) {
      heap.calls = 0;
      heap.live = 0;
      nn_ctx *ctx = nn_ctx_new(check_alloc, &heap);
      if (ctx == NULL) continue;                          /* failed inside nn_ctx_new */
      nn_tensor *t = (nn_tensor *)&t;
      char *names = (char *)&t;
      nn_csv_opts o = {',', true, NN_F32};
      nn_status s = which ? nn_read_idx(ctx, idx, NN_F32, &t)
                          : nn_read_csv(ctx, csv, &o, &t, &names, NULL);
      if (s == NN_OK) {
        done = true;
        nn_tensor_release(t);
        if (!which) nn_free(ctx, names);
      } else {
        CHECK(s == NN_ERR_MEM && t == NULL);
        CHECK(strstr(nn_ctx_errmsg(ctx), "out of memory") != NULL);
        if (!which) CHECK(names == NULL);
      }
      nn_ctx_free(ctx);
      CHECK(heap.live == 0);
    }
    CHECK(done);
  }
}

/* ---- Fashion-MNIST (skipped without the Debian package) ------------------------------------ */

static void fashion(nn_ctx *ctx) {
  const char *img = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  const char *lab = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) {
    printf("# Fashion-MNIST not installed: skipped\n");
    return;
  }
  nn_tensor *x, *y;
  CHECK(nn_read_idx(ctx, img, NN_F32, &x) == NN_OK);
  CHECK(shape_is(x, 3, 60000, 28, 28));
  CHECK(nn_read_idx(ctx, lab, NN_I64, &y) == NN_OK);
  CHECK(shape_is(y, 1, 60000, 0, 0));
  if (x && y) {
    const float *v = nn_tensor_data(x);
    double lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < 60000 * 784; i++) { lo = v[i] < lo ? v[i] : lo; hi = v[i] > hi ? v[i] : hi; }
    CHECK(lo == 0 && hi == 255);
    long count[10] = {0};
    const int64_t *l = nn_tensor_data(y);
    bool inrange = true;
    for (int64_t i = 0; i < 60000; i++) {
      if (l[i] < 0 || l[i] > 9) inrange = false;
      else count[l[i]]++;
    }
    CHECK(inrange);
    for (int c = 0; c < 10; c++) CHECK(count[c] == 6000);  /* the data set is balanced */
  }
  nn_tensor_release(x);
  nn_tensor_release(y);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/lunet-readers-XXXXXX");
  if (mkdtemp(dir) == NULL) { perror("mkdtemp"); return 2; }
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  if (!ctx) return 2;
  csv_values(ctx);
  csv_errors(ctx);
  idx_values(ctx);
  idx_errors(ctx);
  fashion(ctx);
  nn_ctx_free(ctx);
  oom();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_report("test_readers");
}
