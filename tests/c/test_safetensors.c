/*
** test_safetensors.c — nn_save_safetensors / nn_load_safetensors / nn_parse_safetensors.
**
** The bytes we write are compared with a file built by hand from the specification as the
** reference writer (safetensors/src/tensor.rs, `prepare`) lays it out: descending dtype then
** name, compact JSON with __metadata__ first, space padding to 8 bytes. Round trips are exact
** for F32, F64 and I64 (including a non-contiguous view, a 0-d tensor and an empty one). Every
** malformed file is an NN_ERR_FORMAT (or NN_ERR_DTYPE) with *out == NULL and a message naming
** the problem; every allocation failure is a clean NN_ERR_MEM.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "nn.h"

static char dir[] = "/tmp/test_safetensors.XXXXXX";

/* ---- byte helpers ------------------------------------------------------------------------ */

typedef struct { unsigned char *p; size_t n, cap; } buf;

static void put(buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) { perror("realloc"); exit(2); }
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void put_u64(buf *b, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> (8 * i));
  put(b, le, 8);
}
/* a file: header text (length field = its length, no padding added) then datalen bytes */
static buf file_of(const char *header, size_t datalen) {
  buf b = {0};
  put_u64(&b, strlen(header));
  put(&b, header, strlen(header));
  for (size_t i = 0; i < datalen; i++) put(&b, "\x11", 1);
  return b;
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)len + 1);
  *n = fread(p, 1, (size_t)len, f);
  fclose(f);
  return p;
}

static int count_dir_entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static nn_tensor *from(nn_ctx *ctx, nn_dtype dt, int nd, const int64_t *shape, const void *v) {
  nn_tensor *t = NULL;
  if (nn_tensor_from_data(ctx, dt, nd, shape, v, &t) != NN_OK) {
    fprintf(stderr, "from_data: %s\n", nn_ctx_errmsg(ctx));
    exit(2);
  }
  return t;
}

/* ---- the bytes of a written file --------------------------------------------------------- */

static void test_exact_bytes(nn_ctx *ctx) {
  float b[2] = {1.0f, 2.0f}, a[2] = {3.0f, -4.5f};
  int64_t z[1] = {7};
  double w = 0.5;
  int64_t sb[1] = {2}, sa[2] = {2, 1}, sz[1] = {1};
  nn_tensor *tb = from(ctx, NN_F32, 1, sb, b), *ta = from(ctx, NN_F32, 2, sa, a),
            *tz = from(ctx, NN_I64, 1, sz, z), *tw = from(ctx, NN_F64, 0, NULL, &w);
  nn_named ts[4] = {{"b", tb}, {"a", ta}, {"z", tz}, {"w", tw}};
  nn_meta meta[2] = {{"format", "pt"}, {"author", "a \"quoted\"\n name"}};
  char path[256];
  snprintf(path, sizeof path, "%s/exact.safetensors", dir);
  OK(nn_save_safetensors(ctx, path, 4, ts, 2, meta));

  /* I64 before F64 before F32 (the reference's descending dtype order), then by name */
  const char *json =
      "{\"__metadata__\":{\"author\":\"a \\\"quoted\\\"\\n name\",\"format\":\"pt\"},"
      "\"z\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"w\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[8,16]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[16,24]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
  size_t jl = strlen(json), pad = (8 - jl % 8) % 8;
  buf want = {0};
  put_u64(&want, jl + pad);
  put(&want, json, jl);
  put(&want, "        ", pad);
  unsigned char le[8];
  uint64_t zz = 7;
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(zz >> (8 * i));
  put(&want, le, 8);
  uint64_t wb;
  memcpy(&wb, &w, 8);
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(wb >> (8 * i));
  put(&want, le, 8);
  for (int k = 0; k < 2; k++) {
    float v[2] = {a[0], a[1]};
    if (k) { v[0] = b[0]; v[1] = b[1]; }
    for (int e = 0; e < 2; e++) {
      uint32_t u;
      memcpy(&u, &v[e], 4);
      for (int i = 0; i < 4; i++) le[i] = (unsigned char)(u >> (8 * i));
      put(&want, le, 4);
    }
  }
  size_t n = 0;
  unsigned char *got = read_all(path, &n);
  CHECK(got != NULL && n == want.n && memcmp(got, want.p, n) == 0);
  CHECK((8 + jl + pad) % 8 == 0);
  if (got && (n != want.n || memcmp(got, want.p, n) != 0)) {
    fprintf(stderr, "got  %zu bytes: %.*s\n", n, (int)(n > 8 ? n - 8 : 0), (const char *)got + 8);
    fprintf(stderr, "want %zu bytes: %.*s\n", want.n, (int)want.n - 8, (const char *)want.p + 8);
  }
  /* the file reads back: tensors in file order, metadata as written */
  nn_stfile *f = NULL;
  OK(nn_load_safetensors(ctx, path, &f));
  CHECK(nn_stfile_count(f) == 4);
  CHECK(strcmp(nn_stfile_name(f, 0), "z") == 0 && strcmp(nn_stfile_name(f, 3), "b") == 0);
  CHECK(nn_stfile_meta_count(f) == 2);
  const char *k, *v;
  nn_stfile_meta(f, 0, &k, &v);
  CHECK(strcmp(k, "author") == 0 && strcmp(v, "a \"quoted\"\n name") == 0);
  CHECK(nn_stfile_name(f, 4) == NULL && nn_stfile_tensor(f, -1) == NULL);
  nn_stfile_meta(f, 2, &k, &v);
  CHECK(k == NULL && v == NULL);
  nn_stfile_free(f);
  /* no metadata: no __metadata__ key; an empty file is "{}" padded */
  OK(nn_save_safetensors(ctx, path, 0, NULL, 0, NULL));
  free(got);
  got = read_all(path, &n);
  CHECK(n == 16 && memcmp(got, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
  free(got);
  free(want.p);
  /* one tensor without metadata: the header PyTorch's save_file({"x": ...}) writes */
  nn_named one = {"x", tb};
  OK(nn_save_safetensors(ctx, path, 1, &one, 0, NULL));
  got = read_all(path, &n);
  const char *j1 = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  CHECK(n == 8 + 56 + 8 && got[0] == 56 && memcmp(got + 8, j1, strlen(j1)) == 0 &&
        memcmp(got + 8 + strlen(j1), "   ", 56 - strlen(j1)) == 0);
  free(got);
  CHECK(count_dir_entries() == 1);   /* no temporary file left behind */
  nn_tensor_release(ta); nn_tensor_release(tb); nn_tensor_release(tz); nn_tensor_release(tw);
}

/* ---- round trips --------------------------------------------------------------------------- */

static void test_round_trip(nn_ctx *ctx) {
  float f32[6] = {1.5f, -2.25f, 3e-38f, 1e38f, -0.0f, 7.0f};
  double f64[3] = {3.141592653589793, -1e-300, 1e300};
  int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
  int64_t s23[2] = {2, 3}, s3[1] = {3}, s4[1] = {4}, s0[2] = {0, 5};
  nn_tensor *a = from(ctx, NN_F32, 2, s23, f32), *b = from(ctx, NN_F64, 1, s3, f64),
            *c = from(ctx, NN_I64, 1, s4, i64), *e = NULL, *at = NULL;
  OK(nn_zeros(ctx, NN_F32, 2, s0, &e));
  OK(nn_transpose(ctx, a, 0, 1, &at));          /* non-contiguous: written contiguous */
  CHECK(!nn_tensor_is_contiguous(at));
  nn_named ts[5] = {{"model.a", a}, {"b", b}, {"c", c}, {"empty", e}, {"\xc3\xa9t\xc3\xa9", at}};
  char path[256];
  snprintf(path, sizeof path, "%s/rt.safetensors", dir);
  OK(nn_save_safetensors(ctx, path, 5, ts, 0, NULL));
  nn_stfile *f = NULL;
  OK(nn_load_safetensors(ctx, path, &f));
  CHECK(nn_stfile_count(f) == 5 && nn_stfile_meta_count(f) == 0);
  for (int i = 0; i < nn_stfile_count(f); i++) {
    const char *name = nn_stfile_name(f, i);
    nn_tensor *t = nn_stfile_tensor(f, i);
    if (strcmp(name, "model.a") == 0) {
      CHECK(nn_tensor_dtype(t) == NN_F32 && nn_tensor_ndim(t) == 2);
      CHECK(memcmp(nn_tensor_data(t), f32, sizeof f32) == 0);
    } else if (strcmp(name, "b") == 0) {
      CHECK(nn_tensor_dtype(t) == NN_F64 && memcmp(nn_tensor_data(t), f64, sizeof f64) == 0);
    } else if (strcmp(name, "c") == 0) {
      CHECK(nn_tensor_dtype(t) == NN_I64 && memcmp(nn_tensor_data(t), i64, sizeof i64) == 0);
    } else if (strcmp(name, "empty") == 0) {
      CHECK(nn_tensor_numel(t) == 0 && nn_tensor_ndim(t) == 2 && nn_tensor_shape(t)[1] == 5);
    } else {
      CHECK(strcmp(name, "\xc3\xa9t\xc3\xa9") == 0);
      CHECK(nn_tensor_shape(t)[0] == 3 && nn_tensor_shape(t)[1] == 2);
      float want[6] = {f32[0], f32[3], f32[1], f32[4], f32[2], f32[5]};
      CHECK(memcmp(nn_tensor_data(t), want, sizeof want) == 0);
    }
  }
  nn_stfile_free(f);
  /* the same bytes parse from memory */
  size_t n;
  unsigned char *bytes = read_all(path, &n);
  OK(nn_parse_safetensors(ctx, bytes, n, &f));
  CHECK(nn_stfile_count(f) == 5);
  nn_stfile_free(f);
  free(bytes);
  /* overwriting replaces the file atomically and leaves no temporary */
  OK(nn_save_safetensors(ctx, path, 1, ts, 0, NULL));
  OK(nn_load_safetensors(ctx, path, &f));
  CHECK(nn_stfile_count(f) == 1);
  nn_stfile_free(f);
  nn_tensor_release(a); nn_tensor_release(b); nn_tensor_release(c); nn_tensor_release(e);
  nn_tensor_release(at);
}

/* ---- malformed files ---------------------------------------------------------------------- */

typedef struct { const char *header; size_t datalen; nn_status status; const char *msg; } bad;

static void test_malformed(nn_ctx *ctx) {
  static const bad cases[] = {
    {"", 0, NN_ERR_FORMAT, "parse_safetensors: the header does not start with '{'"},
    {"[]", 0, NN_ERR_FORMAT, "parse_safetensors: the header does not start with '{'"},
    {"{\"a\":", 0, NN_ERR_FORMAT, "parse_safetensors: the header is not valid JSON (error at byte 4)"},
    {"{} x", 0, NN_ERR_FORMAT, "parse_safetensors: the header has bytes after its JSON object (byte 3)"},
    {"{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, NN_ERR_DTYPE,
     "parse_safetensors: tensor 'a' has dtype F16; Lunet reads F32, F64 and I64"},
    {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a' has unknown dtype 'Q4'"},
    {"{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': dtype is not a string"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a' has no \"dtype\" field"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     NN_ERR_FORMAT, "parse_safetensors: tensor 'a' has two \"dtype\" fields"},
    {"{\"a\":[1]}", 0, NN_ERR_FORMAT, "parse_safetensors: tensor 'a' is not a JSON object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape[0] = -1 is not an integer in [0, 2^53)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape[0] = 1.5 is not an integer in [0, 2^53)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape[0] = 1e+300 is not an integer in [0, 2^53)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape[0] is not a number"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
     NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape [4294967296, 4294967296] overflows the element count"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     NN_ERR_FORMAT, "parse_safetensors: tensor 'a' has 9 dims (at most 8)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': shape [2] of F32 needs 8 bytes but data_offsets [0, 4] span 4"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': data_offsets [0, 8] out of range of the 4-byte data buffer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': data_offsets [4, 0] out of range of the 4-byte data buffer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': data_offsets is not a pair of integers in [0, 2^53)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a': data_offsets is not a pair of integers in [0, 2^53)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'b' starts at byte 2 but the data before it ends at 4 (an overlap)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'b' starts at byte 8 but the data before it ends at 4 (a gap)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, NN_ERR_FORMAT,
     "parse_safetensors: tensor 'a' starts at byte 4 but the data before it ends at 0 (a gap)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, NN_ERR_FORMAT,
     "parse_safetensors: the tensors cover 4 bytes of the 6-byte data buffer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, NN_ERR_FORMAT,
     "parse_safetensors: tensor name 'a' appears twice"},
    {"{\"__metadata__\":{\"k\":1}}", 0, NN_ERR_FORMAT,
     "parse_safetensors: metadata value of 'k' is not a string"},
    {"{\"__metadata__\":[]}", 0, NN_ERR_FORMAT,
     "parse_safetensors: \"__metadata__\" is not a JSON object"},
    {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, NN_ERR_FORMAT,
     "parse_safetensors: metadata key 'k' appears twice"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, NN_ERR_FORMAT,
     "parse_safetensors: two \"__metadata__\" entries"},
    {"{\"a\xff\":{}}", 0, NN_ERR_FORMAT, "parse_safetensors: the header is not valid UTF-8 (byte 3)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    buf b = file_of(cases[i].header, cases[i].datalen);
    nn_stfile *f = (nn_stfile *)&b;   /* must be overwritten with NULL */
    nn_status s = nn_parse_safetensors(ctx, b.p, b.n, &f);
    CHECK(s == cases[i].status);
    CHECK(f == NULL);
    CHECK_MSG(ctx, cases[i].msg);
    if (s != cases[i].status) fprintf(stderr, "  case %zu: %s\n", i, cases[i].header);
    free(b.p);
  }

  /* the length field */
  nn_stfile *f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, "", 0, &f) == NN_ERR_FORMAT && f == NULL);
  CHECK_MSG(ctx, "parse_safetensors: 0 bytes is too short for the 8-byte header length");
  f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, "\x02\0\0", 3, &f) == NN_ERR_FORMAT && f == NULL);
  CHECK_MSG(ctx, "parse_safetensors: 3 bytes is too short for the 8-byte header length");
  buf b = {0};
  put_u64(&b, 100);
  put(&b, "{}", 2);
  f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, b.p, b.n, &f) == NN_ERR_FORMAT && f == NULL);
  CHECK_MSG(ctx, "parse_safetensors: header length 100 runs past the end of the data (10 bytes in all)");
  b.n = 0;
  put_u64(&b, (uint64_t)1 << 40);
  put(&b, "{}", 2);
  f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, b.p, b.n, &f) == NN_ERR_FORMAT && f == NULL);
  CHECK_MSG(ctx, "parse_safetensors: header length 1099511627776 exceeds the limit of 100000000 bytes");
  b.n = 0;
  put_u64(&b, UINT64_MAX);
  f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, b.p, b.n, &f) == NN_ERR_FORMAT && f == NULL);
  free(b.p);

  /* a truncated file on disk: every prefix of a valid file fails cleanly */
  float v[3] = {1, 2, 3};
  int64_t s3[1] = {3};
  nn_tensor *t = from(ctx, NN_F32, 1, s3, v);
  nn_named one = {"v", t};
  char path[256], cut[300];
  snprintf(path, sizeof path, "%s/whole.safetensors", dir);
  snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
  OK(nn_save_safetensors(ctx, path, 1, &one, 0, NULL));
  size_t n;
  unsigned char *whole = read_all(path, &n);
  int bad_prefixes = 0;
  for (size_t len = 0; len < n; len++) {
    FILE *fp = fopen(cut, "wb");
    fwrite(whole, 1, len, fp);
    fclose(fp);
    f = (nn_stfile *)&f;
    nn_status s = nn_load_safetensors(ctx, cut, &f);
    if (s == NN_ERR_FORMAT && f == NULL) bad_prefixes++;
  }
  CHECK(bad_prefixes == (int)n);
  FILE *fp = fopen(cut, "wb");
  fwrite(whole, 1, n - 1, fp);
  fclose(fp);
  CHECK(nn_load_safetensors(ctx, cut, &f) == NN_ERR_FORMAT && f == NULL);
  CHECK(strstr(nn_ctx_errmsg(ctx), "out of range of the 11-byte data buffer") != NULL);
  unlink(cut);
  free(whole);
  nn_tensor_release(t);
}

/* ---- bad arguments and the environment ---------------------------------------------------- */

static void test_errors(nn_ctx *ctx) {
  float v[2] = {1, 2};
  int64_t s2[1] = {2};
  nn_tensor *t = from(ctx, NN_F32, 1, s2, v);
  char path[256], missing[300];
  snprintf(path, sizeof path, "%s/e.safetensors", dir);
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", dir);
  nn_named dup[2] = {{"x", t}, {"x", t}};
  CHECK(nn_save_safetensors(ctx, path, 2, dup, 0, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: tensor name 'x' appears twice");
  nn_named reserved = {"__metadata__", t};
  CHECK(nn_save_safetensors(ctx, path, 1, &reserved, 0, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: '__metadata__' is reserved, not a tensor name");
  nn_named nul = {"x", NULL};
  CHECK(nn_save_safetensors(ctx, path, 1, &nul, 0, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: tensor 'x' is NULL");
  nn_named badutf = {"\xff", t};
  CHECK(nn_save_safetensors(ctx, path, 1, &badutf, 0, NULL) == NN_ERR_ARG);
  nn_meta mdup[2] = {{"k", "a"}, {"k", "b"}};
  nn_named ok1 = {"x", t};
  CHECK(nn_save_safetensors(ctx, path, 1, &ok1, 2, mdup) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: metadata key 'k' appears twice");
  nn_meta mnull = {"k", NULL};
  CHECK(nn_save_safetensors(ctx, path, 1, &ok1, 1, &mnull) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: metadata entry 0 has a NULL value");
  CHECK(nn_save_safetensors(ctx, NULL, 1, &ok1, 0, NULL) == NN_ERR_ARG);
  CHECK_MSG(ctx, "save_safetensors: path is NULL");
  CHECK(nn_save_safetensors(ctx, path, -1, &ok1, 0, NULL) == NN_ERR_ARG);
  CHECK(nn_save_safetensors(ctx, path, 1, NULL, 0, NULL) == NN_ERR_ARG);
  CHECK(count_dir_entries() == 0);                    /* nothing was written */
  CHECK(nn_save_safetensors(ctx, missing, 1, &ok1, 0, NULL) == NN_ERR_IO);
  CHECK(strstr(nn_ctx_errmsg(ctx), "save_safetensors: cannot create a temporary file next to '") ==
        nn_ctx_errmsg(ctx));
  CHECK(strstr(nn_ctx_errmsg(ctx), "No such file or directory") != NULL);
  /* a failed save leaves the old file as it was */
  OK(nn_save_safetensors(ctx, path, 1, &ok1, 0, NULL));
  CHECK(nn_save_safetensors(ctx, path, 2, dup, 0, NULL) == NN_ERR_ARG);
  nn_stfile *f = NULL;
  OK(nn_load_safetensors(ctx, path, &f));
  CHECK(nn_stfile_count(f) == 1);
  nn_stfile_free(f);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~(mode_t)umask(022)));
  unlink(path);
  /* loading */
  f = (nn_stfile *)&f;
  CHECK(nn_load_safetensors(ctx, missing, &f) == NN_ERR_IO && f == NULL);
  CHECK(strstr(nn_ctx_errmsg(ctx), "No such file or directory") != NULL);
  f = (nn_stfile *)&f;
  CHECK(nn_load_safetensors(ctx, dir, &f) == NN_ERR_IO && f == NULL);
  f = (nn_stfile *)&f;
  CHECK(nn_load_safetensors(ctx, NULL, &f) == NN_ERR_ARG && f == NULL);
  CHECK_MSG(ctx, "load_safetensors: path is NULL");
  f = (nn_stfile *)&f;
  CHECK(nn_parse_safetensors(ctx, NULL, 8, &f) == NN_ERR_ARG && f == NULL);
  CHECK_MSG(ctx, "parse_safetensors: bytes is NULL");
  CHECK(nn_load_safetensors(ctx, path, NULL) == NN_ERR_ARG);
  nn_stfile_free(NULL);
  CHECK(nn_stfile_count(NULL) == 0 && nn_stfile_meta_count(NULL) == 0);
  nn_tensor_release(t);
}

/* ---- replacing a file: mode, symlinks, interrupted saves ---------------------------------- */

static int load_count(nn_ctx *ctx, const char *path) {   /* tensors in a file, -1 if unreadable */
  nn_stfile *f = NULL;
  if (nn_load_safetensors(ctx, path, &f) != NN_OK) return -1;
  int n = nn_stfile_count(f);
  nn_stfile_free(f);
  return n;
}

static void test_replace(nn_ctx *ctx) {
  float v[2] = {1, 2};
  int64_t s2[1] = {2};
  nn_tensor *t = from(ctx, NN_F32, 1, s2, v);
  nn_named one = {"x", t}, two[2] = {{"x", t}, {"y", t}};
  char path[256], link[256], tmp[256];
  struct stat st;
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  snprintf(link, sizeof link, "%s/link.safetensors", dir);
  snprintf(tmp, sizeof tmp, "%s/.m.safetensors.lunet-tmp", dir);

  /* a private file stays private: the save used to give it 0644 */
  OK(nn_save_safetensors(ctx, path, 1, &one, 0, NULL));
  CHECK(chmod(path, 0600) == 0);
  OK(nn_save_safetensors(ctx, path, 2, two, 0, NULL));
  CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
  CHECK(load_count(ctx, path) == 2);
  CHECK(chmod(path, 0640) == 0);
  OK(nn_save_safetensors(ctx, path, 1, &one, 0, NULL));
  CHECKF(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "mode %o", (unsigned)st.st_mode);

  /* through a symlink (relative, as ln -s writes them): the link stays, its target changes */
  CHECK(symlink("m.safetensors", link) == 0);
  OK(nn_save_safetensors(ctx, link, 2, two, 0, NULL));
  CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
  CHECK(load_count(ctx, path) == 2);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
  CHECK(count_dir_entries() == 2);
  unlink(link);

  /* a directory that does not exist: an error naming it, and nothing written anywhere */
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope/x.safetensors", dir);
  CHECK(nn_save_safetensors(ctx, missing, 1, &one, 0, NULL) == NN_ERR_IO);
  static const char pre[] = "save_safetensors: cannot create a temporary file next to '";
  CHECKF(strncmp(nn_ctx_errmsg(ctx), pre, sizeof pre - 1) == 0 &&
         strstr(nn_ctx_errmsg(ctx), "/nope/x.safetensors': No such file or directory") != NULL,
         "message: %s", nn_ctx_errmsg(ctx));
  CHECK(count_dir_entries() == 1);
  snprintf(missing, sizeof missing, "%s/", dir);
  CHECK(nn_save_safetensors(ctx, missing, 1, &one, 0, NULL) == NN_ERR_ARG);
  CHECK(strstr(nn_ctx_errmsg(ctx), "names a directory, not a file") != NULL);

  /* a save killed mid-write (SIGXFSZ at a 64 KB file size limit, 4 MB to write) leaves the
     old file whole and no temporary file: each kill used to leave a full-size orphan */
  int64_t big = 1 << 20;
  nn_tensor *b = NULL;
  OK(nn_zeros(ctx, NN_F32, 1, &big, &b));
  nn_named bn = {"big", b};
  for (int kill = 0; kill < 3; kill++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      struct rlimit fs = {1 << 16, 1 << 16}, core = {0, 0};
      setrlimit(RLIMIT_CORE, &core);
      setrlimit(RLIMIT_FSIZE, &fs);
      nn_save_safetensors(ctx, path, 1, &bn, 0, NULL);
      _exit(0);                                   /* not reached: the limit kills it */
    }
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid);
    CHECKF(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGXFSZ, "the child was not killed (status %d)", ws);
  }
  CHECKF(count_dir_entries() == 1, "%d files after the killed saves", count_dir_entries());
  CHECK(load_count(ctx, path) == 2);
  /* a temp left by a kill between link and rename (or where O_TMPFILE is missing) is
     replaced by the next save to that path */
  FILE *f = fopen(tmp, "wb");
  CHECK(f != NULL && fputs("partial", f) >= 0 && fclose(f) == 0);
  CHECK(count_dir_entries() == 2);
  OK(nn_save_safetensors(ctx, path, 1, &bn, 0, NULL));
  CHECK(count_dir_entries() == 1);
  CHECK(stat(path, &st) == 0 && st.st_size > 4 << 20 && (st.st_mode & 07777) == 0640);
  /* a planted symlink at the temp name is never written through */
  char victim[256];
  snprintf(victim, sizeof victim, "%s/victim", dir);
  f = fopen(victim, "wb");
  CHECK(f != NULL && fputs("keep", f) >= 0 && fclose(f) == 0);
  CHECK(symlink(victim, tmp) == 0);
  OK(nn_save_safetensors(ctx, path, 1, &one, 0, NULL));
  size_t n = 0;
  unsigned char *kept = read_all(victim, &n);
  CHECK(kept && n == 4 && memcmp(kept, "keep", 4) == 0);
  free(kept);
  unlink(tmp);
  unlink(victim);
  unlink(path);
  CHECK(count_dir_entries() == 0);
  nn_tensor_release(b);
  nn_tensor_release(t);
}

/* ---- out of memory ---------------------------------------------------------------------- */

static void test_oom(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/oom.safetensors", dir);
  int ok_at = 0;
  for (long k = 1; k < 400 && !ok_at; k++) {
    check_allocator fl = {0, k, 0};
    nn_ctx *ctx = nn_ctx_new(check_alloc, &fl);
    if (!ctx) continue;
    float v[4] = {1, 2, 3, 4};
    int64_t sh[2] = {2, 2};
    nn_tensor *a = NULL, *b = NULL;
    nn_stfile *f = NULL;
    nn_status s = nn_tensor_from_data(ctx, NN_F32, 2, sh, v, &a);
    if (s == NN_OK) s = nn_transpose(ctx, a, 0, 1, &b);
    nn_meta m = {"k", "v"};
    nn_named ts[2] = {{"a", a}, {"b", b}};
    if (s == NN_OK) s = nn_save_safetensors(ctx, path, 2, ts, 1, &m);
    if (s == NN_OK) s = nn_load_safetensors(ctx, path, &f);
    if (s == NN_OK) {
      ok_at = (int)k;
      CHECK(nn_stfile_count(f) == 2);
    } else {
      CHECK(s == NN_ERR_MEM);
      CHECK(f == NULL);
    }
    nn_stfile_free(f);
    nn_tensor_release(a);
    nn_tensor_release(b);
    CHECK(nn_ctx_bytes_in_use(ctx) == 0);
    nn_ctx_free(ctx);
  }
  CHECK(ok_at > 3);
  unlink(path);
}

int main(void) {
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
  nn_ctx *ctx = nn_ctx_new(NULL, NULL);
  if (!ctx) return 2;
  test_exact_bytes(ctx);
  char p[300];
  snprintf(p, sizeof p, "%s/exact.safetensors", dir);
  unlink(p);
  test_round_trip(ctx);
  snprintf(p, sizeof p, "%s/rt.safetensors", dir);
  unlink(p);
  test_malformed(ctx);
  snprintf(p, sizeof p, "%s/whole.safetensors", dir);
  unlink(p);
  test_errors(ctx);
  test_replace(ctx);
  CHECK(nn_ctx_bytes_in_use(ctx) == 0);
  nn_ctx_free(ctx);
  test_oom();
  rmdir(dir);
  return check_report("test_safetensors");
}
