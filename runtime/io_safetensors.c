/*
** io_safetensors.c — reading and writing safetensors files.
**
** The format (huggingface/safetensors, README "Format"):
**   8 bytes   N, a little-endian u64: the length of the header
**   N bytes   a UTF-8 JSON object {"name": {"dtype": "F32", "shape": [2, 3],
**             "data_offsets": [begin, end]}, …, "__metadata__": {"key": "value", …}},
**             padded with spaces so that 8 + N is a multiple of 8
**   the rest  the byte buffer; offsets are relative to its start, tensors are row-major
**             little-endian and tile the buffer exactly (no gaps, no overlaps).
**
** Writing follows the reference writer (safetensors/src/tensor.rs, `prepare`) byte for byte:
** tensors sorted by descending dtype (I64, F64, F32 — its enum order) then by name, compact
** JSON with "__metadata__" first (our metadata keys sorted, since the reference's HashMap order
** is arbitrary), fields in the order dtype, shape, data_offsets, padding with spaces.
**
** Reading trusts nothing: the header length is checked against the file size and a 100 MB cap
** (the reference's MAX_HEADER_SIZE), the JSON must be an object of known shape, numbers must be
** integral, non-negative and below 2^53 (cJSON holds them as doubles), byte sizes are computed
** with overflow checks, offsets must tile the buffer, names must be unique. Only then are
** tensors allocated, and the file can hold no more data than it claims, so a hostile file cannot
** make us allocate more than its own size.
**
** cJSON allocates its trees with malloc (its hooks are process-global, so we leave them alone);
** everything we keep goes through the context.
*/
#define _GNU_SOURCE   /* O_TMPFILE and linkat's AT_SYMLINK_FOLLOW (Linux), guarded below */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nn_impl.h"

#define ST_MAX_HEADER 100000000u        /* as the reference implementation */
#define ST_MAX_INT 9007199254740992.0   /* 2^53: integers above are not exact in a double */

/* ---- helpers ------------------------------------------------------------------------------ */

static bool little_endian(void) {
  uint32_t x = 1;
  unsigned char c;
  memcpy(&c, &x, 1);
  return c == 1;
}

static uint64_t get_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). Returns the
   offset of the first bad byte, or len if all is well. */
static size_t utf8_check(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) { i++; continue; }
    else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return i;
    if (len - i <= n) return i;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return len;
}

static bool utf8_ok(const char *s) {
  size_t n = strlen(s);
  return utf8_check((const unsigned char *)s, n) == n;
}

/* The safetensors name of a dtype, and its place in the reference's sort (descending enum
   order: U64 > I64 > F64 > F32 > …). */
static const char *st_dtype_name(nn_dtype dt) {
  switch (dt) {
    case NN_F32: return "F32";
    case NN_F64: return "F64";
    case NN_I64: return "I64";
  }
  return NULL;
}
static int st_dtype_rank(nn_dtype dt) { return dt == NN_I64 ? 0 : dt == NN_F64 ? 1 : 2; }

static bool st_dtype_parse(const char *s, nn_dtype *dt) {
  if (strcmp(s, "F32") == 0) *dt = NN_F32;
  else if (strcmp(s, "F64") == 0) *dt = NN_F64;
  else if (strcmp(s, "I64") == 0) *dt = NN_I64;
  else return false;
  return true;
}

/* The other dtypes of the specification: named in the error so the user knows the file is
   valid but holds a type Lunet does not have. */
static bool st_dtype_known_elsewhere(const char *s) {
  static const char *const others[] = {
    "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "U64", "F8_E5M2",
    "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", NULL};
  for (int i = 0; others[i]; i++)
    if (strcmp(s, others[i]) == 0) return true;
  return false;
}

/* a JSON number that is an exact integer in [0, 2^53) */
static bool json_uint(const cJSON *j, uint64_t *v) {
  if (!cJSON_IsNumber(j)) return false;
  double d = j->valuedouble;
  if (!(d >= 0.0 && d < ST_MAX_INT) || d != (double)(uint64_t)d) return false;
  *v = (uint64_t)d;
  return true;
}

/* ---- the loaded file ---------------------------------------------------------------------- */

struct nn_stfile {
  nn_ctx *ctx;
  int n, nmeta;
  char **names;                 /* n, pointing into strs */
  nn_tensor **ts;               /* n */
  char **keys, **values;        /* nmeta, pointing into strs */
  char *strs;                   /* every string, NUL-terminated */
  size_t strs_size;
};

/* What the header says about one tensor. */
typedef struct {
  const char *name;
  nn_dtype dt;
  int ndim;
  int64_t shape[NN_MAX_DIMS];
  uint64_t begin, end;
} stentry;

int nn_stfile_count(const nn_stfile *f) { return f ? f->n : 0; }

const char *nn_stfile_name(const nn_stfile *f, int i) {
  return f && i >= 0 && i < f->n ? f->names[i] : NULL;
}

nn_tensor *nn_stfile_tensor(const nn_stfile *f, int i) {
  return f && i >= 0 && i < f->n ? f->ts[i] : NULL;
}

int nn_stfile_meta_count(const nn_stfile *f) { return f ? f->nmeta : 0; }

void nn_stfile_meta(const nn_stfile *f, int i, const char **key, const char **value) {
  bool ok = f && i >= 0 && i < f->nmeta;
  if (key) *key = ok ? f->keys[i] : NULL;
  if (value) *value = ok ? f->values[i] : NULL;
}

void nn_stfile_free(nn_stfile *f) {
  if (f == NULL) return;
  nn_ctx *ctx = f->ctx;
  if (f->ts)
    for (int i = 0; i < f->n; i++) nn_tensor_release(f->ts[i]);
  if (f->names) nn_block_put(ctx, f->names, (size_t)f->n * sizeof *f->names);
  if (f->ts) nn_block_put(ctx, f->ts, (size_t)f->n * sizeof *f->ts);
  if (f->keys) nn_block_put(ctx, f->keys, (size_t)f->nmeta * sizeof *f->keys);
  if (f->values) nn_block_put(ctx, f->values, (size_t)f->nmeta * sizeof *f->values);
  if (f->strs) nn_block_put(ctx, f->strs, f->strs_size);
  nn_block_put(ctx, f, sizeof *f);
  nn_ctx_unref(ctx);
}

/* ---- header validation -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_offsets(const void *a, const void *b) {
  const stentry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* One tensor entry of the header into *e (name borrowed from the cJSON tree). */
static nn_status parse_entry(nn_ctx *ctx, const char *op, const cJSON *item, uint64_t buflen,
                             stentry *e) {
  const char *name = item->string;
  e->name = name;
  if (!cJSON_IsObject(item))
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", op, name);
  const cJSON *jd = NULL, *js = NULL, *jo = NULL, *f;
  cJSON_ArrayForEach(f, item) {
    const cJSON **slot = strcmp(f->string, "dtype") == 0 ? &jd
                       : strcmp(f->string, "shape") == 0 ? &js
                       : strcmp(f->string, "data_offsets") == 0 ? &jo : NULL;
    if (slot == NULL) continue;               /* unknown fields are ignored, as serde does */
    if (*slot)
      return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' has two \"%s\" fields", op, name,
                     f->string);
    *slot = f;
  }
  if (!jd || !js || !jo)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' has no \"%s\" field", op, name,
                   !jd ? "dtype" : !js ? "shape" : "data_offsets");
  if (!cJSON_IsString(jd))
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", op, name);
  if (!st_dtype_parse(jd->valuestring, &e->dt)) {
    if (st_dtype_known_elsewhere(jd->valuestring))
      return nn_fail(ctx, NN_ERR_DTYPE,
                     "%s: tensor '%s' has dtype %s; Lunet reads F32, F64 and I64", op, name,
                     jd->valuestring);
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%.40s'", op, name,
                   jd->valuestring);
  }
  if (!cJSON_IsArray(js))
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s': shape is not an array", op, name);
  int nd = cJSON_GetArraySize(js);
  if (nd > NN_MAX_DIMS)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' has %d dims (at most %d)", op, name, nd,
                   NN_MAX_DIMS);
  e->ndim = nd;
  /* numel * size in bytes, checked against overflow at every step */
  uint64_t bytes = nn_dtype_size(e->dt);
  bool overflow = false;
  int k = 0;
  cJSON_ArrayForEach(f, js) {
    uint64_t d;
    if (!json_uint(f, &d)) {
      if (cJSON_IsNumber(f))
        return nn_fail(ctx, NN_ERR_FORMAT,
                       "%s: tensor '%s': shape[%d] = %g is not an integer in [0, 2^53)", op,
                       name, k, f->valuedouble);
      return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a number", op, name,
                     k);
    }
    e->shape[k++] = (int64_t)d;
    if (d != 0 && bytes > (uint64_t)INT64_MAX / d) overflow = true;
    else bytes *= d;
  }
  bool empty = false;
  for (int i = 0; i < nd; i++) empty |= e->shape[i] == 0;
  if (empty) bytes = 0;
  else if (overflow) {
    char sb[NN_SHAPE_BUF];
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s': shape %s overflows the element count",
                   op, name, nn_shape_fmt(nd, e->shape, sb));
  }
  if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 ||
      !json_uint(jo->child, &e->begin) || !json_uint(jo->child->next, &e->end))
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "%s: tensor '%s': data_offsets is not a pair of integers in [0, 2^53)", op,
                   name);
  if (e->begin > e->end || e->end > buflen)
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "%s: tensor '%s': data_offsets [%llu, %llu] out of range of the %llu-byte "
                   "data buffer", op, name, (unsigned long long)e->begin,
                   (unsigned long long)e->end, (unsigned long long)buflen);
  if (e->end - e->begin != bytes) {
    char sb[NN_SHAPE_BUF];
    return nn_fail(ctx, NN_ERR_FORMAT,
                   "%s: tensor '%s': shape %s of %s needs %llu bytes but data_offsets [%llu, "
                   "%llu] span %llu", op, name, nn_shape_fmt(nd, e->shape, sb),
                   jd->valuestring, (unsigned long long)bytes, (unsigned long long)e->begin,
                   (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
  }
  return NN_OK;
}

/* Where tensor bytes come from: memory (mem != NULL) or a file at byte offset base. */
typedef struct { const unsigned char *mem; FILE *f; uint64_t base; const char *path; } stsrc;

static nn_status fill(nn_ctx *ctx, const char *op, const stsrc *src, const stentry *e,
                      nn_tensor *t) {
  size_t n = (size_t)(e->end - e->begin);
  if (n == 0) return NN_OK;
  if (src->mem) {
    memcpy(nn_tensor_data(t), src->mem + e->begin, n);
    return NN_OK;
  }
  uint64_t at = src->base + e->begin;
  if (at > (uint64_t)INT64_MAX || fseeko(src->f, (off_t)at, SEEK_SET) != 0 ||
      fread(nn_tensor_data(t), 1, n, src->f) != n)
    return nn_fail(ctx, NN_ERR_IO, "%s: '%s': read error in tensor '%s': %s", op, src->path,
                   e->name, ferror(src->f) ? strerror(errno) : "unexpected end of file");
  return NN_OK;
}

/* Sorts names (n of them) and returns the first that appears twice, or NULL. */
static const char *first_repeat(const char **names, int n) {
  if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 1; i < n; i++)
    if (strcmp(names[i - 1], names[i]) == 0) return names[i];
  return NULL;
}

/* The header's text (n bytes) as JSON: it starts with '{', is valid UTF-8 and holds one JSON
   object with only white space after it. *root is new on NN_OK (cJSON_Delete). */
static nn_status parse_header(nn_ctx *ctx, const char *op, const char *hdr, size_t n, cJSON **root) {
  if (n == 0 || hdr[0] != '{')
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: the header does not start with '{'", op);
  size_t bad = utf8_check((const unsigned char *)hdr, n);
  if (bad != n)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: the header is not valid UTF-8 (byte %zu)", op,
                   bad);
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
  if (j == NULL)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: the header is not valid JSON (error at byte %lld)",
                   op, end ? (long long)(end - hdr) : -1LL);
  for (const char *p = end; p < hdr + n; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      cJSON_Delete(j);
      return nn_fail(ctx, NN_ERR_FORMAT, "%s: the header has bytes after its JSON object (byte %lld)",
                     op, (long long)(p - hdr));
    }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: the header is not a JSON object", op);
  }
  *root = j;
  return NN_OK;
}

/* The header's entries counted: *nt tensors, *nm metadata entries in the one "__metadata__"
   object (*meta, or NULL), whose values must be strings; *strbytes for every name, key and
   value with its NUL. */
static nn_status count_entries(nn_ctx *ctx, const char *op, const cJSON *root, const cJSON **meta,
                               int *nt, int *nm, size_t *strbytes) {
  const cJSON *it, *m;
  *meta = NULL;
  *nt = *nm = 0;
  *strbytes = 0;
  cJSON_ArrayForEach(it, root) {
    if (strcmp(it->string, "__metadata__") != 0) {
      if (*nt == INT_MAX) return nn_fail(ctx, NN_ERR_FORMAT, "%s: too many tensors", op);
      ++*nt;
      *strbytes += strlen(it->string) + 1;
      continue;
    }
    if (*meta) return nn_fail(ctx, NN_ERR_FORMAT, "%s: two \"__metadata__\" entries", op);
    *meta = it;
    if (!cJSON_IsObject(it))
      return nn_fail(ctx, NN_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", op);
    cJSON_ArrayForEach(m, it) {
      if (!cJSON_IsString(m))
        return nn_fail(ctx, NN_ERR_FORMAT, "%s: metadata value of '%s' is not a string", op,
                       m->string);
      if (*nm == INT_MAX) return nn_fail(ctx, NN_ERR_FORMAT, "%s: too many metadata entries", op);
      ++*nm;
      *strbytes += strlen(m->string) + strlen(m->valuestring) + 2;
    }
  }
  return NN_OK;
}

/* The metadata's nm keys are unique. */
static nn_status unique_keys(nn_ctx *ctx, const char *op, const cJSON *meta, int nm) {
  if (nm < 2) return NN_OK;
  const char **keys = nn_block_get(ctx, (size_t)nm * sizeof *keys);
  if (keys == NULL) return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op);
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, meta) keys[i++] = m->string;
  const char *dup = first_repeat(keys, nm);
  nn_status s = dup ? nn_fail(ctx, NN_ERR_FORMAT, "%s: metadata key '%s' appears twice", op, dup)
                    : NN_OK;
  nn_block_put(ctx, keys, (size_t)nm * sizeof *keys);
  return s;
}

/* The offsets must tile the buffer: sorted by offset (es is sorted here), each entry begins
   where the last ended, and the last ends at buflen. */
static nn_status check_tiling(nn_ctx *ctx, const char *op, stentry *es, int nt, uint64_t buflen) {
  if (nt > 1) qsort(es, (size_t)nt, sizeof *es, cmp_offsets);
  uint64_t at = 0;
  for (int i = 0; i < nt; i++) {
    if (es[i].begin != at)
      return nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor '%s' starts at byte %llu but the data before "
                     "it ends at %llu (%s)", op, es[i].name, (unsigned long long)es[i].begin,
                     (unsigned long long)at, es[i].begin > at ? "a gap" : "an overlap");
    at = es[i].end;
  }
  if (at != buflen)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: the tensors cover %llu bytes of the %llu-byte data "
                   "buffer", op, (unsigned long long)at, (unsigned long long)buflen);
  return NN_OK;
}

/* Copies the names, then the metadata's keys and values, into f->strs. */
static void copy_strings(nn_stfile *f, const stentry *es, const cJSON *meta) {
  char *sp = f->strs;
  for (int i = 0; i < f->n; i++) {
    size_t len = strlen(es[i].name) + 1;
    memcpy(sp, es[i].name, len);
    f->names[i] = sp;
    sp += len;
  }
  int i = 0;
  const cJSON *m;
  if (meta) cJSON_ArrayForEach(m, meta) {
    size_t kl = strlen(m->string) + 1, vl = strlen(m->valuestring) + 1;
    memcpy(sp, m->string, kl);
    f->keys[i] = sp;
    sp += kl;
    memcpy(sp, m->valuestring, vl);
    f->values[i] = sp;
    sp += vl;
    i++;
  }
}

/* The file object from checked entries (es, in file order), its tensors filled from src. */
static nn_status make_file(nn_ctx *ctx, const char *op, const stentry *es, int nt, const cJSON *meta,
                           int nm, size_t strbytes, const stsrc *src, nn_stfile **out) {
  nn_status s = NN_OK;
  nn_stfile *f = nn_block_get_zeroed(ctx, sizeof *f);
  if (f == NULL) return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op);
  f->ctx = ctx;
  ctx->live++;
  f->n = nt;       /* the arrays are calloc'ed: nn_stfile_free copes with a partial build */
  f->nmeta = nm;
  f->strs_size = strbytes ? strbytes : 1;
  f->strs = nn_block_get(ctx, f->strs_size);
  if (nt) {
    f->names = nn_block_get_zeroed(ctx, (size_t)nt * sizeof *f->names);
    f->ts = nn_block_get_zeroed(ctx, (size_t)nt * sizeof *f->ts);
  }
  if (nm) {
    f->keys = nn_block_get_zeroed(ctx, (size_t)nm * sizeof *f->keys);
    f->values = nn_block_get_zeroed(ctx, (size_t)nm * sizeof *f->values);
  }
  if (!f->strs || (nt && (!f->names || !f->ts)) || (nm && (!f->keys || !f->values)))
    s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op);
  else
    copy_strings(f, es, meta);
  for (int i = 0; s == NN_OK && i < nt; i++)
    if ((s = nn_tensor_new(ctx, es[i].dt, es[i].ndim, es[i].shape, &f->ts[i])) == NN_OK)
      s = fill(ctx, op, src, &es[i], f->ts[i]);
  if (s != NN_OK) nn_stfile_free(f);
  else *out = f;
  return s;
}

/* Validates the header (hdr, n bytes) of a file whose data buffer has buflen bytes, then builds
   the file object and fills the tensors from src. */
static nn_status build(nn_ctx *ctx, const char *op, const char *hdr, size_t n, uint64_t buflen,
                       const stsrc *src, nn_stfile **out) {
  cJSON *root = NULL;
  nn_status s = parse_header(ctx, op, hdr, n, &root);
  if (s != NN_OK) return s;
  const cJSON *meta = NULL, *it;
  stentry *es = NULL;
  const char **names = NULL;
  int nt = 0, nm = 0, k = 0;
  size_t strbytes = 0;
  if ((s = count_entries(ctx, op, root, &meta, &nt, &nm, &strbytes)) != NN_OK) goto done;
  es = nt ? nn_block_get(ctx, (size_t)nt * sizeof *es) : NULL;
  names = nt ? nn_block_get(ctx, (size_t)nt * sizeof *names) : NULL;
  if (nt && (es == NULL || names == NULL)) {
    s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory for %d tensor entries", op, nt);
    goto done;
  }
  cJSON_ArrayForEach(it, root) {
    if (it == meta) continue;
    if ((s = parse_entry(ctx, op, it, buflen, &es[k])) != NN_OK) goto done;
    names[k++] = it->string;
  }
  const char *dup = first_repeat(names, nt);
  if (dup) {
    s = nn_fail(ctx, NN_ERR_FORMAT, "%s: tensor name '%s' appears twice", op, dup);
    goto done;
  }
  if ((s = unique_keys(ctx, op, meta, nm)) != NN_OK) goto done;
  if ((s = check_tiling(ctx, op, es, nt, buflen)) != NN_OK) goto done;
  s = make_file(ctx, op, es, nt, meta, nm, strbytes, src, out);
done:
  if (es) nn_block_put(ctx, es, (size_t)nt * sizeof *es);
  if (names) nn_block_put(ctx, names, (size_t)nt * sizeof *names);
  cJSON_Delete(root);
  return s;
}

/* The 8-byte prefix: header length n checked against the cap and the total size. */
static nn_status check_prefix(nn_ctx *ctx, const char *op, const unsigned char *p8,
                              uint64_t total, uint64_t *n) {
  if (total < 8)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: %llu bytes is too short for the 8-byte header "
                   "length", op, (unsigned long long)total);
  *n = get_le64(p8);
  if (*n > ST_MAX_HEADER)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: header length %llu exceeds the limit of %u bytes",
                   op, (unsigned long long)*n, ST_MAX_HEADER);
  if (*n > total - 8)
    return nn_fail(ctx, NN_ERR_FORMAT, "%s: header length %llu runs past the end of the data "
                   "(%llu bytes in all)", op, (unsigned long long)*n, (unsigned long long)total);
  return NN_OK;
}

nn_status nn_parse_safetensors(nn_ctx *ctx, const void *bytes, size_t len, nn_stfile **out) {
  static const char op[] = "parse_safetensors";
  NN_ARG(ctx, op, out);
  *out = NULL;
  if (bytes == NULL && len > 0) return nn_fail(ctx, NN_ERR_ARG, "%s: bytes is NULL", op);
  if (!little_endian())
    return nn_fail(ctx, NN_ERR_STATE, "%s: big-endian hosts are not supported", op);
  uint64_t n;
  nn_status s = check_prefix(ctx, op, bytes, len, &n);
  if (s != NN_OK) return s;
  const unsigned char *b = bytes;
  stsrc src = {b + 8 + n, NULL, 0, NULL};
  return build(ctx, op, (const char *)b + 8, (size_t)n, len - 8 - n, &src, out);
}

nn_status nn_load_safetensors(nn_ctx *ctx, const char *path, nn_stfile **out) {
  static const char op[] = "load_safetensors";
  NN_ARG(ctx, op, out);
  *out = NULL;
  if (path == NULL) return nn_fail(ctx, NN_ERR_ARG, "%s: path is NULL", op);
  if (!little_endian())
    return nn_fail(ctx, NN_ERR_STATE, "%s: big-endian hosts are not supported", op);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot open '%s': %s", op, path, strerror(errno));
  char opbuf[600];
  snprintf(opbuf, sizeof opbuf, "%s: '%s'", op, path);
  nn_status s = NN_OK;
  char *hdr = NULL;
  uint64_t n = 0;
  struct stat st;
  unsigned char p8[8];
  if (fstat(fileno(fp), &st) != 0) {
    s = nn_fail(ctx, NN_ERR_IO, "%s: cannot stat '%s': %s", op, path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    s = nn_fail(ctx, NN_ERR_IO, "%s: '%s' is not a regular file", op, path);
    goto done;
  }
  uint64_t total = (uint64_t)st.st_size;
  size_t got = fread(p8, 1, total < 8 ? (size_t)total : 8, fp);
  if (got != (total < 8 ? total : 8)) {
    s = nn_fail(ctx, NN_ERR_IO, "%s: read error in '%s'", op, path);
    goto done;
  }
  if ((s = check_prefix(ctx, opbuf, p8, total, &n)) != NN_OK) goto done;
  hdr = nn_block_get(ctx, n ? (size_t)n : 1);
  if (hdr == NULL) {
    s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory for a %llu-byte header", op,
                (unsigned long long)n);
    goto done;
  }
  if (fread(hdr, 1, (size_t)n, fp) != (size_t)n) {
    s = nn_fail(ctx, NN_ERR_IO, "%s: read error in the header of '%s'", op, path);
    goto done;
  }
  stsrc src = {NULL, fp, 8 + n, path};
  s = build(ctx, opbuf, hdr, (size_t)n, total - 8 - n, &src, out);
done:
  if (hdr) nn_block_put(ctx, hdr, n ? (size_t)n : 1);
  fclose(fp);
  return s;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* qsort has no user pointer: sort an array of pointers to the entries instead. */
static int cmp_named(const void *a, const void *b) {
  const nn_named *x = *(const nn_named *const *)a, *y = *(const nn_named *const *)b;
  int rx = st_dtype_rank(nn_tensor_dtype(x->t)), ry = st_dtype_rank(nn_tensor_dtype(y->t));
  if (rx != ry) return rx - ry;
  return strcmp(x->name, y->name);
}

static int cmp_meta(const void *a, const void *b) {
  const nn_meta *x = *(const nn_meta *const *)a, *y = *(const nn_meta *const *)b;
  return strcmp(x->key, y->key);
}

static cJSON *json_u64(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
  return cJSON_CreateRaw(buf);
}

/* The header JSON (unpadded) for the sorted entries; NULL when cJSON runs out of memory. */
static char *make_header(const nn_named *const *ts, int n, const nn_meta *const *meta,
                         int nmeta) {
  cJSON *root = cJSON_CreateObject();
  if (root == NULL) return NULL;
  if (nmeta > 0) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    if (m == NULL) goto fail;
    for (int i = 0; i < nmeta; i++)
      if (cJSON_AddStringToObject(m, meta[i]->key, meta[i]->value) == NULL) goto fail;
  }
  uint64_t at = 0;
  for (int i = 0; i < n; i++) {
    nn_tensor *t = ts[i]->t;
    cJSON *e = cJSON_AddObjectToObject(root, ts[i]->name), *shape, *offs, *v;
    if (e == NULL || cJSON_AddStringToObject(e, "dtype", st_dtype_name(nn_tensor_dtype(t))) == NULL)
      goto fail;
    if ((shape = cJSON_AddArrayToObject(e, "shape")) == NULL) goto fail;
    for (int d = 0; d < nn_tensor_ndim(t); d++) {
      if ((v = json_u64((uint64_t)nn_tensor_shape(t)[d])) == NULL) goto fail;
      cJSON_AddItemToArray(shape, v);
    }
    uint64_t bytes = (uint64_t)nn_tensor_numel(t) * nn_dtype_size(nn_tensor_dtype(t));
    if ((offs = cJSON_AddArrayToObject(e, "data_offsets")) == NULL) goto fail;
    if ((v = json_u64(at)) == NULL) goto fail;
    cJSON_AddItemToArray(offs, v);
    if ((v = json_u64(at + bytes)) == NULL) goto fail;
    cJSON_AddItemToArray(offs, v);
    at += bytes;
  }
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
fail:
  cJSON_Delete(root);
  return NULL;
}

/* Permissions of a new file, as open(2) with 0666 would give: mkstemp makes 0600. The umask is
   read from /proc (umask(2) would change it for every thread); 022 if that fails. */
static mode_t new_file_mode(void) {
  mode_t mask = 022;
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[128];
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "Umask:", 6) == 0) {
        mask = (mode_t)strtoul(line + 6, NULL, 8) & 0777;
        break;
      }
    fclose(f);
  }
  return 0666 & ~mask;
}

/* ---- replacing a file safely ---------------------------------------------------------------
   A save must never leave a half-written file under the name, nor a full-size orphan when it
   is killed, nor change what stands at the name other than its bytes:
   - the data go to an unnamed file (O_TMPFILE) in the target's directory, which the kernel
     frees if the process dies before it is linked; once written and fsynced it is linked as
     ".<name>.lunet-tmp" and renamed over the target (link cannot replace a file). Only a kill
     between those two calls leaves a temp, and the fixed name means the next save replaces it.
   - where O_TMPFILE is not supported (other systems, some file systems) the data go straight
     to ".<name>.lunet-tmp": a kill leaves that one file, which the next save removes first. A
     unique mkstemp name would pile up one orphan per kill instead. The name is unlinked and
     made with O_EXCL | O_NOFOLLOW, so a link planted there is never written through.
   - the target's mode is kept (a 0600 checkpoint stays private); a new file gets 0666 less the
     umask, as fopen would give it.
   - a symlink is followed (realpath) and its target replaced, so the link stays a link. */
typedef struct {
  char target[PATH_MAX];        /* the file to replace: path, through any symlinks */
  char tmp[PATH_MAX + 32];      /* its temp name in the same directory */
  int fd;
  bool named;                   /* tmp exists in the directory (to be removed on failure) */
} save_file;

/* Fills target and tmp from path; an error names what is wrong with the path. */
static nn_status save_names(nn_ctx *ctx, const char *op, const char *path, save_file *sf) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    if (realpath(path, sf->target) == NULL)
      return nn_fail(ctx, NN_ERR_IO, "%s: cannot follow the symlink '%s': %s", op, path,
                     strerror(errno));
  } else if (snprintf(sf->target, sizeof sf->target, "%s", path) >= (int)sizeof sf->target) {
    return nn_fail(ctx, NN_ERR_ARG, "%s: path '%.64s...' is too long", op, path);
  }
  const char *slash = strrchr(sf->target, '/'), *base = slash ? slash + 1 : sf->target;
  if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s: '%s' names a directory, not a file", op, path);
  int dirlen = slash ? (int)(slash - sf->target) + 1 : 0;
  snprintf(sf->tmp, sizeof sf->tmp, "%.*s.%s.lunet-tmp", dirlen, sf->target, base);
  return NN_OK;
}

/* Opens the file to write (see above); sf->fd is -1 on failure. */
static nn_status save_open(nn_ctx *ctx, const char *op, const char *path, save_file *sf) {
  sf->fd = -1;
  sf->named = false;
  nn_status s = save_names(ctx, op, path, sf);
  if (s != NN_OK) return s;
#ifdef O_TMPFILE
  char dir[PATH_MAX];
  const char *slash = strrchr(sf->target, '/');
  if (slash == sf->target) snprintf(dir, sizeof dir, "/");
  else if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - sf->target), sf->target);
  else snprintf(dir, sizeof dir, ".");
  sf->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (sf->fd >= 0) return NN_OK;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot create a temporary file next to '%s': %s", op, path,
                   strerror(errno));
#endif
  if (unlink(sf->tmp) != 0 && errno != ENOENT)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot remove the old temporary file '%s': %s", op,
                   sf->tmp, strerror(errno));
  sf->fd = open(sf->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (sf->fd < 0)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot create a temporary file next to '%s': %s", op, path,
                   strerror(errno));
  sf->named = true;
  return NN_OK;
}

/* Gives the written, fsynced file the target's mode and puts it in the target's place. */
static nn_status save_commit(nn_ctx *ctx, const char *op, save_file *sf) {
  struct stat st;
  mode_t mode = stat(sf->target, &st) == 0 ? st.st_mode & 07777 : new_file_mode();
  if (fchmod(sf->fd, mode) != 0)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot set the mode of '%s': %s", op, sf->tmp, strerror(errno));
  if (!sf->named) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", sf->fd);
    for (int tries = 0; !sf->named; tries++) {
      if (linkat(AT_FDCWD, proc, AT_FDCWD, sf->tmp, AT_SYMLINK_FOLLOW) == 0) sf->named = true;
      else if (errno != EEXIST || tries > 0 || unlink(sf->tmp) != 0)
        return nn_fail(ctx, NN_ERR_IO, "%s: cannot link '%s': %s", op, sf->tmp, strerror(errno));
    }
  }
  if (rename(sf->tmp, sf->target) != 0)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot rename '%s' to '%s': %s", op, sf->tmp, sf->target,
                   strerror(errno));
  sf->named = false;
  return NN_OK;
}

static nn_status write_all(nn_ctx *ctx, const char *op, FILE *f, const char *tmp,
                           const void *p, size_t n) {
  if (n && fwrite(p, 1, n, f) != n)
    return nn_fail(ctx, NN_ERR_IO, "%s: write error on '%s': %s", op, tmp, strerror(errno));
  return NN_OK;
}

/* Save's arguments: a non-empty path, counts, named tensors of known dtypes holding less than
   2^63 bytes together, names that are UTF-8 and not "__metadata__", UTF-8 metadata. */
static nn_status save_check(nn_ctx *ctx, const char *op, const char *path, int n, const nn_named *ts,
                            int nmeta, const nn_meta *meta) {
  if (path[0] == '\0') return nn_fail(ctx, NN_ERR_ARG, "%s: path is empty", op);
  if (n < 0 || nmeta < 0)
    return nn_fail(ctx, NN_ERR_ARG, "%s: negative count (%d tensors, %d metadata entries)", op,
                   n, nmeta);
  if ((n > 0 && ts == NULL) || (nmeta > 0 && meta == NULL))
    return nn_fail(ctx, NN_ERR_ARG, "%s: %s array is NULL", op, n > 0 && !ts ? "tensor" : "metadata");
  if (!little_endian())
    return nn_fail(ctx, NN_ERR_STATE, "%s: big-endian hosts are not supported", op);
  uint64_t total = 0;
  for (int i = 0; i < n; i++) {
    const char *name = ts[i].name;
    if (name == NULL) return nn_fail(ctx, NN_ERR_ARG, "%s: tensor %d has no name", op, i);
    if (ts[i].t == NULL) return nn_fail(ctx, NN_ERR_ARG, "%s: tensor '%s' is NULL", op, name);
    if (!utf8_ok(name))
      return nn_fail(ctx, NN_ERR_ARG, "%s: tensor name '%s' is not valid UTF-8", op, name);
    if (strcmp(name, "__metadata__") == 0)
      return nn_fail(ctx, NN_ERR_ARG, "%s: '__metadata__' is reserved, not a tensor name", op);
    if (st_dtype_name(nn_tensor_dtype(ts[i].t)) == NULL)
      return nn_fail(ctx, NN_ERR_DTYPE, "%s: tensor '%s' has an unknown dtype", op, name);
    uint64_t b = (uint64_t)nn_tensor_numel(ts[i].t) * nn_dtype_size(nn_tensor_dtype(ts[i].t));
    if (b > (uint64_t)INT64_MAX - total)
      return nn_fail(ctx, NN_ERR_ARG, "%s: the tensors hold more than 2^63 bytes", op);
    total += b;
  }
  for (int i = 0; i < nmeta; i++) {
    if (meta[i].key == NULL || meta[i].value == NULL)
      return nn_fail(ctx, NN_ERR_ARG, "%s: metadata entry %d has a NULL %s", op, i,
                     meta[i].key ? "value" : "key");
    if (!utf8_ok(meta[i].key) || !utf8_ok(meta[i].value))
      return nn_fail(ctx, NN_ERR_ARG, "%s: metadata %s of '%s' is not valid UTF-8", op,
                     utf8_ok(meta[i].key) ? "value" : "key", meta[i].key);
  }
  return NN_OK;
}

/* The file's bytes into f (tmp is what messages name): the header's length, the header padded
   with spaces to a multiple of 8, then the tensors' data in the header's order (sorted). */
static nn_status save_write(nn_ctx *ctx, const char *op, FILE *f, const char *tmp, const char *text,
                            const nn_named *const *sorted, int n) {
  static const char spaces[] = "        ";
  size_t hlen = strlen(text), pad = (8 - hlen % 8) % 8;
  unsigned char p8[8];
  nn_status s;
  put_le64(p8, hlen + pad);
  if ((s = write_all(ctx, op, f, tmp, p8, 8)) != NN_OK) return s;
  if ((s = write_all(ctx, op, f, tmp, text, hlen)) != NN_OK) return s;
  if ((s = write_all(ctx, op, f, tmp, spaces, pad)) != NN_OK) return s;
  for (int i = 0; i < n; i++) {
    nn_tensor *t = sorted[i]->t, *c = NULL;
    size_t bytes = (size_t)nn_tensor_numel(t) * nn_dtype_size(nn_tensor_dtype(t));
    if (bytes == 0) continue;
    if ((s = nn_contiguous(ctx, t, &c)) != NN_OK) return s;
    s = write_all(ctx, op, f, tmp, nn_tensor_data(c), bytes);
    nn_tensor_release(c);
    if (s != NN_OK) return s;
  }
  if (fflush(f) != 0 || fsync(fileno(f)) != 0)
    return nn_fail(ctx, NN_ERR_IO, "%s: cannot flush '%s': %s", op, tmp, strerror(errno));
  return NN_OK;
}

nn_status nn_save_safetensors(nn_ctx *ctx, const char *path, int n, const nn_named *ts,
                              int nmeta, const nn_meta *meta) {
  static const char op[] = "save_safetensors";
  NN_ARG(ctx, op, path);
  nn_status s = save_check(ctx, op, path, n, ts, nmeta, meta);
  if (s != NN_OK) return s;
  const nn_named **sorted = NULL;
  const nn_meta **msorted = NULL;
  const char **names = NULL, *dup = NULL;
  char *text = NULL;
  save_file *sf = NULL;
  FILE *f = NULL;
  bool grad = nn_set_grad_enabled(ctx, false);
  sorted = nn_block_get(ctx, (size_t)(n ? n : 1) * sizeof *sorted);
  msorted = nn_block_get(ctx, (size_t)(nmeta ? nmeta : 1) * sizeof *msorted);
  names = nn_block_get(ctx, (size_t)(n ? n : 1) * sizeof *names);
  sf = nn_block_get(ctx, sizeof *sf);
  if (sf) sf->fd = -1, sf->named = false;
  if (!sorted || !msorted || !names || !sf) { s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op); goto done; }
  for (int i = 0; i < n; i++) sorted[i] = &ts[i], names[i] = ts[i].name;
  for (int i = 0; i < nmeta; i++) msorted[i] = &meta[i];
  if (n > 1) qsort(sorted, (size_t)n, sizeof *sorted, cmp_named);
  if (nmeta > 1) qsort(msorted, (size_t)nmeta, sizeof *msorted, cmp_meta);
  if ((dup = first_repeat(names, n)) != NULL) {
    s = nn_fail(ctx, NN_ERR_ARG, "%s: tensor name '%s' appears twice", op, dup);
    goto done;
  }
  for (int i = 1; i < nmeta; i++)
    if (strcmp(msorted[i - 1]->key, msorted[i]->key) == 0) {
      s = nn_fail(ctx, NN_ERR_ARG, "%s: metadata key '%s' appears twice", op, msorted[i]->key);
      goto done;
    }
  text = make_header(sorted, n, msorted, nmeta);
  if (text == NULL) { s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory for the header", op); goto done; }
  size_t hlen = strlen(text), pad = (8 - hlen % 8) % 8;
  if (hlen + pad > ST_MAX_HEADER) {
    s = nn_fail(ctx, NN_ERR_ARG, "%s: the header would be %zu bytes, past the %u-byte limit", op,
                hlen + pad, ST_MAX_HEADER);
    goto done;
  }
  if ((s = save_open(ctx, op, path, sf)) != NN_OK) goto done;
  f = fdopen(sf->fd, "wb");
  if (f == NULL) {                  /* (messages name path: the temp may have no name yet) */
    s = nn_fail(ctx, NN_ERR_IO, "%s: cannot open '%s': %s", op, path, strerror(errno));
    goto done;
  }
  if ((s = save_write(ctx, op, f, path, text, sorted, n)) != NN_OK) goto done;
  if ((s = save_commit(ctx, op, sf)) != NN_OK) goto done;
  int rc = fclose(f);               /* (flushed and synced above: a failure here loses nothing) */
  f = NULL;
  sf->fd = -1;
  if (rc != 0) s = nn_fail(ctx, NN_ERR_IO, "%s: cannot close '%s': %s", op, sf->target, strerror(errno));
done:
  if (f) fclose(f);                 /* (it owns sf->fd) */
  else if (sf && sf->fd >= 0) close(sf->fd);
  if (sf && sf->named) unlink(sf->tmp);
  nn_set_grad_enabled(ctx, grad);
  cJSON_free(text);
  if (sf) nn_block_put(ctx, sf, sizeof *sf);
  if (sorted) nn_block_put(ctx, sorted, (size_t)(n ? n : 1) * sizeof *sorted);
  if (names) nn_block_put(ctx, names, (size_t)(n ? n : 1) * sizeof *names);
  if (msorted) nn_block_put(ctx, msorted, (size_t)(nmeta ? nmeta : 1) * sizeof *msorted);
  return s;
}
