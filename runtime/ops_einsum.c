/* ops_einsum.c — einsum of one or two operands, any PyTorch equation: implicit or explicit
   output, repeated indices (diagonals, traces), summed indices, broadcasting "..." and size-1
   dims. A plan is the parsed equation (parsed once: the binding keeps plans by their string);
   running it lowers the equation to differentiable ops — a diagonal is a product with an
   identity and a sum, a label only one operand has and the output lacks is summed away, and
   what remains is one batched matrix product: each operand permuted to [batch, free,
   contracted] and reshaped to 3-D (views when the strides allow), matmul, then the result
   viewed as its labels and permuted to the output. So it runs at BLAS speed and its gradient
   is the gradient of those ops. */
#include <stdio.h>
#include "nn_impl.h"

#define LBL_ELL 52          /* label ids: A-Z 0..25, a-z 26..51, ellipsis dims 52.. */
#define LBL_COUNT (LBL_ELL + NN_MAX_DIMS)
#define ELL_MARK (-1)       /* the ellipsis' place in a term */

struct nn_einsum_plan {
  int nops;                             /* operands (1 or 2) */
  int nterm[2];                         /* entries of each input term (the ellipsis is one) */
  signed char term[2][NN_MAX_DIMS + 1]; /* label ids, ELL_MARK at the ellipsis */
  bool explicit_out;
  int nout;
  signed char out[NN_MAX_DIMS + 1];
  char eq[64];                          /* the equation (cut short) for messages */
};

/* ---- parsing -------------------------------------------------------------------------------- */

static int label_id(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  return -1;
}

/* One term starting at *p: labels and at most one "...", up to ',', '-' or the end. */
static nn_status parse_term(nn_ctx *ctx, const char *eq, const char **p, signed char *term, int *n) {
  bool ell = false;
  int named = 0;
  *n = 0;
  for (; **p && **p != ',' && **p != '-'; (*p)++) {
    char c = **p;
    if (c == ' ') continue;
    int id = label_id(c);
    if (c == '.') {
      if (strncmp(*p, "...", 3) != 0 || ell)
        return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": a term has %s at position %d", eq,
                       ell ? "a second ellipsis" : "a '.' that is not part of \"...\"", (int)(*p - eq) + 1);
      ell = true;
      *p += 2;
      id = ELL_MARK;
    } else if (id < 0)
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": invalid character '%c' at position %d (labels "
                     "are letters a-z, A-Z)", eq, c, (int)(*p - eq) + 1);
    if (id != ELL_MARK && named++ == NN_MAX_DIMS)
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": a term has more than %d labels", eq, NN_MAX_DIMS);
    term[(*n)++] = (signed char)id;
  }
  return NN_OK;
}

static nn_status parse(nn_ctx *ctx, const char *eq, struct nn_einsum_plan *pl) {
  const char *p = eq;
  memset(pl, 0, sizeof *pl);
  size_t len = strlen(eq);
  if (len < sizeof pl->eq) memcpy(pl->eq, eq, len + 1);
  else snprintf(pl->eq, sizeof pl->eq, "%.*s...", (int)sizeof pl->eq - 4, eq);
  nn_status s;
  for (;;) {
    if (pl->nops == 2)
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": more than two operands (einsum takes one or two)", eq);
    if ((s = parse_term(ctx, eq, &p, pl->term[pl->nops], &pl->nterm[pl->nops]))) return s;
    pl->nops++;
    if (*p != ',') break;
    p++;
  }
  if (*p == '-') {
    if (p[1] != '>')
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": '-' at position %d is not part of \"->\"", eq,
                     (int)(p - eq) + 1);
    p += 2;
    pl->explicit_out = true;
    if ((s = parse_term(ctx, eq, &p, pl->out, &pl->nout))) return s;
    if (*p)
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": unexpected '%c' in the output at position %d",
                     eq, *p, (int)(p - eq) + 1);
  }
  return NN_OK;
}

nn_status nn_einsum_plan_new(nn_ctx *ctx, const char *eq, nn_einsum_plan **out) {
  NN_ARG(ctx, "einsum", out);
  *out = NULL;
  NN_ARG(ctx, "einsum", eq);
  struct nn_einsum_plan pl, *r;
  nn_status s = parse(ctx, eq, &pl);
  if (s) return s;
  if (!(r = nn_block_get(ctx, sizeof *r))) return nn_fail(ctx, NN_ERR_MEM, "einsum: out of memory");
  *r = pl;
  *out = r;
  return NN_OK;
}

void nn_einsum_plan_free(nn_ctx *ctx, nn_einsum_plan *p) {
  if (ctx && p) nn_block_put(ctx, p, sizeof *p);
}

/* ---- running: the labels of each operand's dims ------------------------------------------ */

typedef struct {
  nn_tensor *t[2];                   /* the operands as they are reduced (owned references) */
  int nl[2];
  int lab[2][NN_MAX_DIMS];           /* the label of each dim of t[i] */
  int nout, out[NN_MAX_DIMS];
  int64_t size[LBL_COUNT];           /* each label's size (the largest; 1 broadcasts) */
  bool in_out[LBL_COUNT];
  const char *eq;
} ein;

static int find(const int *lab, int n, int l) {
  for (int i = 0; i < n; i++) if (lab[i] == l) return i;
  return -1;
}

/* The operands' dims as labels, the ellipsis expanded (right-aligned across operands) */
static nn_status bind_labels(nn_ctx *ctx, const struct nn_einsum_plan *pl, nn_tensor *const *ops, ein *e) {
  char b1[NN_SHAPE_BUF];
  int ne = 0, nei[2] = {0, 0};
  for (int i = 0; i < pl->nops; i++) {
    bool ell = false;
    for (int j = 0; j < pl->nterm[i]; j++) ell = ell || pl->term[i][j] == ELL_MARK;
    int named = pl->nterm[i] - (ell ? 1 : 0), nd = ops[i]->ndim;
    if (nd < named || (!ell && nd != named))
      return nn_fail(ctx, NN_ERR_SHAPE, "einsum: \"%s\": operand %d has %d labels for %s dimensions of shape %s",
                     e->eq, i + 1, named, ell ? "at least as many" : "its", nn_shape_fmt(nd, ops[i]->shape, b1));
    nei[i] = nd - named;
    if (nei[i] > ne) ne = nei[i];
  }
  for (int i = 0; i < pl->nops; i++) {
    int k = 0;
    for (int j = 0; j < pl->nterm[i]; j++)
      if (pl->term[i][j] != ELL_MARK) e->lab[i][k++] = pl->term[i][j];
      else for (int d = 0; d < nei[i]; d++) e->lab[i][k++] = LBL_ELL + ne - nei[i] + d;
    e->nl[i] = k;
  }
  return NN_OK;
}

/* The output's labels: the explicit ones, or the implicit rule (ellipsis dims first, then the
   labels seen once, in ASCII order: uppercase first) */
static nn_status bind_output(nn_ctx *ctx, const struct nn_einsum_plan *pl, ein *e) {
  int count[LBL_COUNT] = {0}, ne = 0;
  for (int i = 0; i < pl->nops; i++)
    for (int j = 0; j < e->nl[i]; j++) {
      count[e->lab[i][j]]++;
      if (e->lab[i][j] >= LBL_ELL && e->lab[i][j] - LBL_ELL + 1 > ne) ne = e->lab[i][j] - LBL_ELL + 1;
    }
  e->nout = 0;
  if (!pl->explicit_out) {
    for (int k = 0; k < LBL_COUNT; k++) {
      int l = (k + LBL_ELL) % LBL_COUNT;     /* the ellipsis' labels first */
      if ((l >= LBL_ELL && count[l]) || (l < LBL_ELL && count[l] == 1)) {
        if (e->nout == NN_MAX_DIMS) goto toomany;
        e->out[e->nout++] = l;
      }
    }
    return NN_OK;
  }
  for (int j = 0; j < pl->nout; j++) {
    int l = pl->out[j];
    for (int d = 0; l == ELL_MARK && d < ne; d++) {
      if (e->nout == NN_MAX_DIMS) goto toomany;
      e->out[e->nout++] = LBL_ELL + d;
    }
    if (l == ELL_MARK) continue;
    if (!count[l])
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": output label '%c' is in no operand", e->eq,
                     l < 26 ? 'A' + l : 'a' + l - 26);
    if (find(e->out, e->nout, l) >= 0)
      return nn_fail(ctx, NN_ERR_ARG, "einsum: \"%s\": output label '%c' appears twice", e->eq,
                     l < 26 ? 'A' + l : 'a' + l - 26);
    if (e->nout == NN_MAX_DIMS) goto toomany;
    e->out[e->nout++] = l;
  }
  return NN_OK;
toomany:
  return nn_fail(ctx, NN_ERR_SHAPE, "einsum: \"%s\": the output would have more than %d dimensions",
                 e->eq, NN_MAX_DIMS);
}

/* Each label's size: dims of one label agree, or are 1 where another operand's is not */
static nn_status bind_sizes(nn_ctx *ctx, int nops, nn_tensor *const *ops, ein *e) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  for (int l = 0; l < LBL_COUNT; l++) e->size[l] = -1;
  for (int i = 0; i < nops; i++)
    for (int j = 0; j < e->nl[i]; j++) {
      int l = e->lab[i][j];
      int64_t n = ops[i]->shape[j], *sz = &e->size[l];
      int first = find(e->lab[i], e->nl[i], l);
      if (first < j && ops[i]->shape[first] != n)
        return nn_fail(ctx, NN_ERR_SHAPE, "einsum: \"%s\": a repeated label of operand %d spans dims of "
                       "sizes %lld and %lld (shape %s)", e->eq, i + 1, (long long)ops[i]->shape[first],
                       (long long)n, nn_shape_fmt(ops[i]->ndim, ops[i]->shape, b1));
      if (*sz >= 0 && *sz != n && *sz != 1 && n != 1)
        return nn_fail(ctx, NN_ERR_SHAPE, "einsum: \"%s\": operands of shapes %s and %s disagree on a "
                       "label's size (%lld vs %lld)", e->eq, nn_shape_fmt(ops[0]->ndim, ops[0]->shape, b1),
                       nn_shape_fmt(ops[nops - 1]->ndim, ops[nops - 1]->shape, b2), (long long)*sz, (long long)n);
      if (*sz < 0 || *sz == 1) *sz = n;
    }
  for (int j = 0; j < e->nout; j++) e->in_out[e->out[j]] = true;
  return NN_OK;
}

/* ---- running: the reductions of one operand ------------------------------------------------ */

/* after an op made *r from operand i: *r replaces it (the old one released) */
static nn_status swap_in(ein *e, int i, nn_status s, nn_tensor **r) {
  if (s) return s;
  nn_tensor_release(e->t[i]);
  e->t[i] = *r;
  return NN_OK;
}

static void drop_label(ein *e, int i, int d) {
  for (int k = d; k + 1 < e->nl[i]; k++) e->lab[i][k] = e->lab[i][k + 1];
  e->nl[i]--;
}

/* The diagonal over dims d1 < d2 of operand i (same size n): x · I (I [n, n] placed on d1, d2,
   size 1 elsewhere) summed over d2. Linear in x, so its gradient is the same product. */
static nn_status take_diagonal(nn_ctx *ctx, ein *e, int i, int d1, int d2) {
  nn_tensor *x = e->t[i], *eye = NULL, *ev = NULL, *m = NULL, *r = NULL;
  int64_t n = x->shape[d1], sh[NN_MAX_DIMS];
  for (int k = 0; k < x->ndim; k++) sh[k] = k == d1 || k == d2 ? n : 1;
  nn_status s = nn_eye(ctx, x->dtype, n, n, &eye);
  if (!s && !(s = nn_view(ctx, eye, x->ndim, sh, &ev)) && !(s = nn_mul(ctx, x, ev, &m)))
    s = nn_sum(ctx, m, d2, false, &r);
  nn_tensor_release(eye); nn_tensor_release(ev); nn_tensor_release(m);
  if ((s = swap_in(e, i, s, &r))) return s;
  drop_label(e, i, d2);
  return NN_OK;
}

/* Operand i alone: its diagonals taken, a size-1 dim whose label the other operand has at a
   larger size dropped (it broadcasts: the label becomes the other's alone), and the labels
   that neither the other operand nor the output has summed away. */
static nn_status reduce_operand(nn_ctx *ctx, ein *e, int i, int nops) {
  nn_status s = NN_OK;
  for (int d2 = e->nl[i] - 1; d2 > 0 && !s; d2--) {
    int d1 = find(e->lab[i], d2, e->lab[i][d2]);
    if (d1 >= 0) s = take_diagonal(ctx, e, i, d1, d2);
  }
  int o = 1 - i;
  for (int d = e->nl[i] - 1; d >= 0 && !s; d--) {
    int l = e->lab[i][d];
    bool other = nops == 2 && find(e->lab[o], e->nl[o], l) >= 0;
    nn_tensor *r = NULL;
    if (other && e->t[i]->shape[d] == 1 && e->size[l] > 1) {
      s = nn_squeeze(ctx, e->t[i], d, &r);
      s = swap_in(e, i, s, &r);
      if (!s) drop_label(e, i, d);
    } else if (!other && !e->in_out[l]) {
      s = nn_sum(ctx, e->t[i], d, false, &r);
      s = swap_in(e, i, s, &r);
      if (!s) drop_label(e, i, d);
    }
  }
  return s;
}

/* ---- running: the product ------------------------------------------------------------------- */

/* Operand i permuted to the label groups g[0..ng) in order and reshaped to one dim per group */
static nn_status group_view(nn_ctx *ctx, ein *e, int i, const int *order, int n, const int *gsz,
                            int ng, nn_tensor **out) {
  int perm[NN_MAX_DIMS];
  int64_t sh[3];
  for (int k = 0; k < n; k++) perm[k] = find(e->lab[i], e->nl[i], order[k]);
  for (int g = 0, k = 0; g < ng; g++) {   /* (products of an existing tensor's dims: no overflow) */
    int64_t c = 1;
    for (int j = 0; j < gsz[g]; j++, k++) c *= e->t[i]->shape[perm[k]];
    sh[g] = c;
  }
  nn_tensor *t = NULL;
  nn_status s = nn_permute(ctx, e->t[i], perm, &t);
  if (!s) s = nn_reshape(ctx, t, ng, sh, out);
  nn_tensor_release(t);
  return s;
}

/* y = A B over the remaining labels: batch (both, kept), contracted (both, summed), left (A
   only), right (B only), as [batch, left, contracted]·[batch, contracted, right] */
static nn_status contract(nn_ctx *ctx, ein *e, nn_tensor **out, int *lab, int *nl) {
  int bl[NN_MAX_DIMS], nb = 0, cl[NN_MAX_DIMS], nc = 0, ll[NN_MAX_DIMS], nlft = 0, rl[NN_MAX_DIMS], nr = 0;
  for (int d = 0; d < e->nl[0]; d++) {
    int l = e->lab[0][d];
    if (find(e->lab[1], e->nl[1], l) < 0) ll[nlft++] = l;
    else if (e->in_out[l]) bl[nb++] = l;
    else cl[nc++] = l;
  }
  for (int d = 0; d < e->nl[1]; d++)
    if (find(e->lab[0], e->nl[0], e->lab[1][d]) < 0) rl[nr++] = e->lab[1][d];
  int oa[NN_MAX_DIMS], ob[NN_MAX_DIMS], k = 0;
  for (int j = 0; j < nb; j++) oa[k++] = bl[j];
  for (int j = 0; j < nlft; j++) oa[k++] = ll[j];
  for (int j = 0; j < nc; j++) oa[k++] = cl[j];
  k = 0;
  for (int j = 0; j < nb; j++) ob[k++] = bl[j];
  for (int j = 0; j < nc; j++) ob[k++] = cl[j];
  for (int j = 0; j < nr; j++) ob[k++] = rl[j];
  nn_tensor *a3 = NULL, *b3 = NULL, *y = NULL;
  nn_status s = group_view(ctx, e, 0, oa, e->nl[0], (const int[]){nb, nlft, nc}, 3, &a3);
  if (!s) s = group_view(ctx, e, 1, ob, e->nl[1], (const int[]){nb, nc, nr}, 3, &b3);
  if (!s) s = nn_matmul(ctx, a3, b3, &y);
  /* y [batch, left, right] viewed as its labels */
  int64_t sh[NN_MAX_DIMS];
  *nl = 0;
  for (int j = 0; j < nb; j++) { lab[*nl] = bl[j]; sh[(*nl)++] = e->t[0]->shape[find(e->lab[0], e->nl[0], bl[j])]; }
  for (int j = 0; j < nlft; j++) { lab[*nl] = ll[j]; sh[(*nl)++] = e->t[0]->shape[find(e->lab[0], e->nl[0], ll[j])]; }
  for (int j = 0; j < nr; j++) { lab[*nl] = rl[j]; sh[(*nl)++] = e->t[1]->shape[find(e->lab[1], e->nl[1], rl[j])]; }
  if (!s) s = nn_reshape(ctx, y, *nl, sh, out);
  nn_tensor_release(a3); nn_tensor_release(b3); nn_tensor_release(y);
  return s;
}

/* t (dims labelled lab) permuted to the output's order */
static nn_status to_output(nn_ctx *ctx, ein *e, nn_tensor *t, const int *lab, int nl, nn_tensor **out) {
  int perm[NN_MAX_DIMS];
  for (int j = 0; j < e->nout; j++) perm[j] = find(lab, nl, e->out[j]);
  bool same = true;
  for (int j = 0; j < e->nout; j++) same = same && perm[j] == j;
  if (same) { nn_tensor_retain(t); *out = t; return NN_OK; }
  return nn_permute(ctx, t, perm, out);
}

nn_status nn_einsum_run(nn_ctx *ctx, const nn_einsum_plan *pl, int n, nn_tensor *const *ops,
                        nn_tensor **out) {
  NN_ARG(ctx, "einsum", out);
  *out = NULL;
  NN_ARG_AS(ctx, "einsum", pl, "plan");
  if (n > 0) NN_ARG_AS(ctx, "einsum", ops, "operands");
  for (int i = 0; i < n; i++) NN_ARG_AS(ctx, "einsum", ops[i], "tensor");
  if (n != pl->nops)
    return nn_fail(ctx, NN_ERR_ARG, "einsum: the equation has %d operand%s, got %d tensor%s", pl->nops,
                   pl->nops == 1 ? "" : "s", n, n == 1 ? "" : "s");
  if (n == 2 && ops[0]->dtype != ops[1]->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "einsum: operands of dtypes %s and %s (convert one: :to(dtype))",
                   nn_dtype_name(ops[0]->dtype), nn_dtype_name(ops[1]->dtype));
  ein e = {.eq = pl->eq};
  nn_status s;
  if ((s = bind_labels(ctx, pl, ops, &e)) || (s = bind_output(ctx, pl, &e)) ||
      (s = bind_sizes(ctx, n, ops, &e)))
    return s;
  for (int i = 0; i < n; i++) { nn_tensor_retain(ops[i]); e.t[i] = ops[i]; }
  /* twice: a size-1 dim the second operand drops can leave the first one's label to sum */
  for (int pass = 0; pass < 2 && !s; pass++)
    for (int i = 0; i < n && !s; i++) s = reduce_operand(ctx, &e, i, n);
  nn_tensor *y = NULL;
  int lab[NN_MAX_DIMS], nl = 0;
  if (!s && n == 2) s = contract(ctx, &e, &y, lab, &nl);
  else if (!s) {
    nn_tensor_retain(e.t[0]);
    y = e.t[0];
    nl = e.nl[0];
    memcpy(lab, e.lab[0], sizeof(int) * (size_t)nl);
  }
  if (!s) s = to_output(ctx, &e, y, lab, nl, out);
  nn_tensor_release(y);
  for (int i = 0; i < n; i++) nn_tensor_release(e.t[i]);
  return s;
}

nn_status nn_einsum(nn_ctx *ctx, const char *eq, int n, nn_tensor *const *ops, nn_tensor **out) {
  NN_ARG(ctx, "einsum", out);
  *out = NULL;
  NN_ARG(ctx, "einsum", eq);
  struct nn_einsum_plan pl;
  nn_status s = parse(ctx, eq, &pl);
  return s ? s : nn_einsum_run(ctx, &pl, n, ops, out);
}
