/* ops_sort.c — sorting and selection along a dim: sort, argsort, topk, kthvalue, median, mode;
   and over the flattened tensor: unique, nonzero.

   Every selection works on keys: each element becomes a uint64 whose unsigned order is the
   value order (floats by their bits, NaN above +inf as PyTorch sorts it, -0 as 0; int64 with the
   sign bit flipped), complemented for a descending order, and paired with its position. Pairs
   compare by (key, position), so any order they are put in is the stable one, and ties resolve
   the same on every run. The ops compute indices only; the values are gather(t, dim, indices),
   so their gradient is gather's. Rows run in lanes, each with its scratch from one block. */
#include "nn_impl.h"

typedef struct { uint64_t key; int64_t pos; } pair;

static inline bool before(pair a, pair b) { return a.key < b.key || (a.key == b.key && a.pos < b.pos); }

static inline uint64_t key_f(double d) {
  uint64_t b;
  if (d != d) return UINT64_MAX;
  if (d == 0) d = 0.0;
  memcpy(&b, &d, sizeof b);
  return b >> 63 ? ~b : b | (1ull << 63);
}
static inline uint64_t key_at(const char *p, nn_dtype dt, int64_t i) {
  return dt == NN_I64 ? (uint64_t)((const int64_t *)p)[i] ^ (1ull << 63) : key_f(nn_load_f(p, dt, i));
}

/* Bottom-up merge sort of a[0..n) by before(), tmp of n: no recursion. The result is in a. */
static void sort_pairs(pair *a, pair *tmp, int64_t n) {
  pair *src = a, *dst = tmp;
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
      while (i < mid && j < hi) dst[k++] = before(src[j], src[i]) ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    pair *t = src; src = dst; dst = t;
  }
  if (src != a) memcpy(a, src, sizeof *a * (size_t)n);
}

/* The k first pairs of a[0..n) in order, into a[0..k): a max-heap of the k best so far
   (O(n log k)), then sorted; a full sort when k is a large part of n */
static void heap_down(pair *h, int64_t k, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < k && before(h[m], h[l])) m = l;
    if (r < k && before(h[m], h[r])) m = r;
    if (m == i) return;
    pair t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
}
static void select_pairs(pair *a, pair *tmp, int64_t n, int64_t k) {
  if (k * 4 >= n) { sort_pairs(a, tmp, n); return; }
  for (int64_t i = k / 2; i-- > 0;) heap_down(a, k, i);
  for (int64_t i = k; i < n; i++)
    if (before(a[i], a[0])) { a[0] = a[i]; heap_down(a, k, 0); }
  sort_pairs(a, tmp, k);
}

/* ---- the row job ---------------------------------------------------------------------------- */
typedef enum { S_SORT, S_TOPK, S_KTH, S_MEDIAN, S_MODE } sel_kind;

typedef struct {
  sel_kind kind;
  const char *x; nn_dtype dt;           /* contiguous input as [outer, n, inner] */
  int64_t outer, n, inner, k;           /* k: results per row (sort: n; topk: k; others: 1) */
  int64_t kth;                          /* S_KTH: the k-th smallest (1-based) */
  bool desc;
  int64_t *out;                         /* [outer, k, inner] indices */
  pair *scratch;                        /* 2 n pairs per lane part */
} sel_job;

/* mode: the most frequent value (the smallest of equally frequent ones), its last position */
static int64_t row_mode(const pair *a, int64_t n) {
  int64_t best = 0, bestc = 0, i = 0;
  while (i < n) {
    int64_t j = i;
    while (j + 1 < n && a[j + 1].key == a[i].key) j++;
    if (j - i + 1 > bestc) { bestc = j - i + 1; best = a[j].pos; }
    i = j + 1;
  }
  return best;
}

static void sel_rows(void *arg, int part, int64_t lo, int64_t hi) {
  const sel_job *s = arg;
  pair *a = s->scratch + (size_t)part * 2 * (size_t)s->n, *tmp = a + s->n;
  uint64_t flip = s->desc ? UINT64_MAX : 0;
  for (int64_t r = lo; r < hi; r++) {
    int64_t o = r / s->inner, j = r % s->inner, base = o * s->n * s->inner + j, nan = -1;
    for (int64_t i = 0; i < s->n; i++) {
      a[i].key = key_at(s->x, s->dt, base + i * s->inner) ^ flip;
      a[i].pos = i;
      if (nan < 0 && s->dt != NN_I64 && a[i].key == UINT64_MAX) nan = i;
    }
    int64_t *y = s->out + o * s->k * s->inner + j;
    switch (s->kind) {
      case S_SORT: sort_pairs(a, tmp, s->n); break;
      case S_TOPK: select_pairs(a, tmp, s->n, s->k); break;
      case S_KTH: select_pairs(a, tmp, s->n, s->kth); a[0] = a[s->kth - 1]; break;
      case S_MEDIAN:   /* the lower median; a NaN in the row is the median, as PyTorch's */
        select_pairs(a, tmp, s->n, (s->n - 1) / 2 + 1);
        a[0] = nan >= 0 ? (pair){0, nan} : a[(s->n - 1) / 2];
        break;
      case S_MODE: sort_pairs(a, tmp, s->n); a[0].pos = row_mode(a, s->n); break;
    }
    for (int64_t i = 0; i < s->k; i++) y[i * s->inner] = a[i].pos;
  }
}

/* Runs kind along dim of t; *idx gets [.., k, ..] 0-based indices (dim squeezed unless keepdim
   when k is 1 and kind is not topk) and *values (optional) gather(t, dim, idx). */
static nn_status select_run(nn_ctx *ctx, const char *op, sel_kind kind, nn_tensor *t, int dim, int64_t k,
                            bool desc, bool keepdim, nn_tensor **values, nn_tensor **indices) {
  if (!ctx) return NN_ERR_ARG;
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (!values && !indices) return nn_fail(ctx, NN_ERR_ARG, "%s: values and indices are both NULL", op);
  NN_ARG_AS(ctx, op, t, "tensor");
  char b[NN_SHAPE_BUF];
  int d = dim;
  nn_tensor *c = NULL, *ix = NULL, *v = NULL, *sq = NULL;
  nn_status s = NN_OK;
  if (t->ndim == 0 && (dim == 0 || dim == -1)) d = 0;
  else if ((s = nn_check_dim(ctx, op, &d, t->ndim))) return s;
  int64_t n = t->ndim ? t->shape[d] : 1, outer = 1, inner = 1, sh[NN_MAX_DIMS];
  int64_t want = kind == S_SORT ? n : kind == S_TOPK ? k : 1;
  if ((kind == S_TOPK || kind == S_KTH) && (k < (kind == S_KTH) || k > n))
    return nn_fail(ctx, NN_ERR_ARG, "%s: k = %lld is out of range for dimension %d of size %lld (shape %s)", op,
                   (long long)k, d + 1, (long long)n, nn_shape_fmt(t->ndim, t->shape, b));
  if (n == 0 && kind >= S_KTH)
    return nn_fail(ctx, NN_ERR_SHAPE, "%s: cannot reduce over dimension %d of size 0 (shape %s)", op, d + 1,
                   nn_shape_fmt(t->ndim, t->shape, b));
  for (int i = 0; i < t->ndim; i++) {
    sh[i] = i == d ? want : t->shape[i];
    if (i < d) outer *= t->shape[i];
    if (i > d) inner *= t->shape[i];
  }
  if ((s = nn_contig(ctx, t, &c)) || (s = nn_new(ctx, NN_I64, t->ndim, sh, false, &ix))) goto done;
  int64_t rows = outer * inner, bytes;
  int parts = nn_lane_count(ctx, rows, rows * n * 8);
  if (!nn_size_mul(n, (int64_t)(2 * sizeof(pair)) * parts, &bytes)) { s = nn_fail(ctx, NN_ERR_SHAPE, "%s: size overflow", op); goto done; }
  sel_job j = {kind, nn_ptr(c), t->dtype, outer, n, inner, want, k, desc, (int64_t *)nn_ptr(ix), NULL};
  if (n > 0 && rows > 0) {
    if (!(j.scratch = nn_block_get(ctx, (size_t)bytes))) { s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op); goto done; }
    nn_lanes(ctx, rows, rows * n * 8, sel_rows, &j);
    nn_block_put(ctx, j.scratch, (size_t)bytes);
  }
  if (values && (s = nn_gather(ctx, t, d, ix, &v))) goto done;
  if (kind >= S_KTH && !keepdim && t->ndim) {      /* the reduced dim goes */
    if (values) {
      if ((s = nn_squeeze(ctx, v, d, &sq))) goto done;
      nn_tensor_release(v); v = sq; sq = NULL;
    }
    if ((s = nn_squeeze(ctx, ix, d, &sq))) goto done;
    nn_tensor_release(ix); ix = sq; sq = NULL;
  }
  if (values) { *values = v; v = NULL; }
  if (indices) { *indices = ix; ix = NULL; }
done:
  nn_tensor_release(c); nn_tensor_release(ix); nn_tensor_release(v);
  return s;
}

nn_status nn_sort(nn_ctx *ctx, nn_tensor *t, int dim, bool descending, nn_tensor **values, nn_tensor **indices) {
  return select_run(ctx, "sort", S_SORT, t, dim, 0, descending, false, values, indices);
}
nn_status nn_topk(nn_ctx *ctx, nn_tensor *t, int64_t k, int dim, bool largest, nn_tensor **values,
                  nn_tensor **indices) {
  return select_run(ctx, "topk", S_TOPK, t, dim, k, largest, false, values, indices);
}
nn_status nn_kthvalue(nn_ctx *ctx, nn_tensor *t, int64_t k, int dim, bool keepdim, nn_tensor **values,
                      nn_tensor **indices) {
  return select_run(ctx, "kthvalue", S_KTH, t, dim, k, false, keepdim, values, indices);
}
nn_status nn_mode(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values, nn_tensor **indices) {
  return select_run(ctx, "mode", S_MODE, t, dim, 0, false, keepdim, values, indices);
}
/* median: dim NN_ALL is over the flattened tensor (a 0-d value; the index into the flattened) */
nn_status nn_median(nn_ctx *ctx, nn_tensor *t, int dim, bool keepdim, nn_tensor **values, nn_tensor **indices) {
  if (dim != NN_ALL || !ctx || !t) return select_run(ctx, "median", S_MEDIAN, t, dim, 0, false, keepdim, values, indices);
  int64_t all = -1;
  nn_tensor *f = NULL;
  nn_status s = nn_reshape(ctx, t, 1, &all, &f);
  if (!s) s = select_run(ctx, "median", S_MEDIAN, f, 0, 0, false, false, values, indices);
  else { if (values) *values = NULL; if (indices) *indices = NULL; }
  nn_tensor_release(f);
  return s;
}

/* ---- unique: the sorted distinct values of the flattened tensor, with each element's place
   among them (inverse, t's shape) and their counts; no gradient ------------------------------ */
nn_status nn_unique(nn_ctx *ctx, nn_tensor *t, nn_tensor **out, nn_tensor **inverse, nn_tensor **counts) {
  NN_ARG(ctx, "unique", out);
  *out = NULL;
  if (inverse) *inverse = NULL;
  if (counts) *counts = NULL;
  NN_ARG_AS(ctx, "unique", t, "tensor");
  nn_tensor *c = NULL, *u = NULL, *inv = NULL, *cnt = NULL;
  int64_t n = t->numel, m = 0, bytes;
  pair *a = NULL;
  nn_status s = nn_contig(ctx, t, &c);
  if (s) return s;
  if (!nn_size_mul(n, (int64_t)(2 * sizeof(pair)), &bytes) || !(a = nn_block_get(ctx, (size_t)bytes + 1))) {
    nn_tensor_release(c);
    return nn_fail(ctx, NN_ERR_MEM, "unique: out of memory for %lld elements", (long long)n);
  }
  for (int64_t i = 0; i < n; i++) a[i] = (pair){key_at(nn_ptr(c), t->dtype, i), i};
  sort_pairs(a, a + n, n);
  for (int64_t i = 0; i < n; i++) m += i == 0 || a[i].key != a[i - 1].key;
  if (!(s = nn_new(ctx, t->dtype, 1, &m, false, &u)) && !(s = nn_new(ctx, NN_I64, t->ndim, t->shape, false, &inv)) &&
      !(s = nn_new(ctx, NN_I64, 1, &m, true, &cnt))) {
    size_t es = nn_dtype_size(t->dtype);
    int64_t r = -1, *ip = (int64_t *)nn_ptr(inv), *cp = (int64_t *)nn_ptr(cnt);
    for (int64_t i = 0; i < n; i++) {
      if (i == 0 || a[i].key != a[i - 1].key) memcpy(nn_ptr(u) + (size_t)++r * es, nn_ptr(c) + (size_t)a[i].pos * es, es);
      ip[a[i].pos] = r;
      cp[r]++;
    }
    *out = u; u = NULL;
    if (inverse) { *inverse = inv; inv = NULL; }
    if (counts) { *counts = cnt; cnt = NULL; }
  }
  nn_block_put(ctx, a, (size_t)bytes + 1);
  nn_tensor_release(c); nn_tensor_release(u); nn_tensor_release(inv); nn_tensor_release(cnt);
  return s;
}

/* ---- nonzero: [count, ndim] 0-based coordinates of the nonzero elements, row-major order ---- */
nn_status nn_nonzero(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "nonzero", out);
  *out = NULL;
  NN_ARG_AS(ctx, "nonzero", t, "tensor");
  nn_tensor *c = NULL, *y = NULL;
  nn_status s = nn_contig(ctx, t, &c);
  if (s) return s;
  int64_t cnt = 0, nd = t->ndim, sh[2];
  const char *p = nn_ptr(c);
  for (int64_t i = 0; i < t->numel; i++)
    cnt += t->dtype == NN_I64 ? ((const int64_t *)p)[i] != 0 : nn_load_f(p, t->dtype, i) != 0;
  sh[0] = cnt; sh[1] = nd;
  if (!(s = nn_new(ctx, NN_I64, 2, sh, false, &y))) {
    int64_t *q = (int64_t *)nn_ptr(y), co[NN_MAX_DIMS] = {0};
    for (int64_t i = 0; i < t->numel; i++) {
      bool nz = t->dtype == NN_I64 ? ((const int64_t *)p)[i] != 0 : nn_load_f(p, t->dtype, i) != 0;
      if (nz) { memcpy(q, co, sizeof(int64_t) * (size_t)nd); q += nd; }
      for (int64_t d = nd - 1; d >= 0 && ++co[d] == t->shape[d]; d--) co[d] = 0;
    }
    *out = y;
  }
  nn_tensor_release(c);
  return s;
}
