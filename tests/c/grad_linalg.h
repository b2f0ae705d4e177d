/* grad_linalg.h — test_grad.c's cases for issue 13's linear algebra (included by test_grad.c
   after its helpers: mk, MK, gradcheck, release_all, A). The LAPACK ops (inv, det, solve,
   cholesky) are ops of the list; bmm, baddbmm, mv, addmv, outer, cross, einsum and the norms
   are made of listed ops and are checked here too, through their own entry points. */

static nn_status f_inv(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_linalg_inv(C, in[0], out); }
static nn_status f_det(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_linalg_det(C, in[0], out); }
static nn_status f_solve(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_linalg_solve(C, in[0], in[1], out); }
/* cholesky of S = X X^T + n I: positive-definite for any X, and symmetric, so the check moves
   both triangles together (the op reads only the lower one) */
static nn_status f_cholesky(nn_tensor **in, const A *a, nn_tensor **out) {
  (void)a;
  nn_tensor *xt = NULL, *p = NULL, *eye = NULL, *sp = NULL;
  int64_t n = nn_tensor_shape(in[0])[nn_tensor_ndim(in[0]) - 1];
  nn_status s = nn_transpose(C, in[0], -1, -2, &xt);
  if (!s && !(s = nn_matmul(C, in[0], xt, &p)) && !(s = nn_eye(C, NN_F64, n, n, &eye)) &&
      !(s = nn_add(C, p, eye, &sp)))
    s = nn_linalg_cholesky(C, sp, out);
  nn_tensor_release(xt); nn_tensor_release(p); nn_tensor_release(eye); nn_tensor_release(sp);
  return s;
}
static nn_status f_svdvals(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_linalg_svdvals(C, in[0], out); }
static nn_status f_bmm(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_bmm(C, in[0], in[1], out); }
static nn_status f_mv(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_mv(C, in[0], in[1], out); }
static nn_status f_outer(nn_tensor **in, const A *a, nn_tensor **out) { (void)a; return nn_outer(C, in[0], in[1], out); }
static nn_status f_baddbmm(nn_tensor **in, const A *a, nn_tensor **out) { return nn_baddbmm(C, in[2], in[0], in[1], a->s0, a->s1, out); }
static nn_status f_addmv(nn_tensor **in, const A *a, nn_tensor **out) { return nn_addmv(C, in[2], in[0], in[1], a->s0, a->s1, out); }
static nn_status f_cross(nn_tensor **in, const A *a, nn_tensor **out) { return nn_cross(C, in[0], in[1], a->d0, out); }
static const char *einsum_eq;
static nn_status f_einsum(nn_tensor **in, const A *a, nn_tensor **out) { return nn_einsum(C, einsum_eq, a->n, in, out); }
static nn_status f_vnorm(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_linalg_vector_norm(C, in[0], a->s0, a->nd, a->dims, a->keep, out);
}
static const char *mnorm_ord;
static nn_status f_mnorm(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_linalg_matrix_norm(C, in[0], mnorm_ord, a->d0, a->d1, a->keep, out);
}

/* a well-conditioned matrix batch: random entries plus 4 on the diagonal */
static nn_tensor *mk_square(int nd, const int64_t *shape) {
  nn_tensor *t = mk(nd, shape, 0.1, 1, true);
  int64_t n = shape[nd - 1];
  double *p = nn_tensor_data(t);
  for (int64_t k = 0; k < nn_tensor_numel(t); k += n * n)
    for (int64_t i = 0; i < n; i++) p[k + i * n + i] += 4;
  return t;
}

static void c_inv(void) {
  A a = {.f = f_inv};
  nn_tensor *in[2] = {mk_square(2, SH(3, 3)), mk_square(3, SH(2, 4, 4))};
  gradcheck("inv", &a, 1, &in[0], 1);
  gradcheck("inv, batched", &a, 1, &in[1], 1);
  release_all(2, in);
}
static void c_det(void) {
  A a = {.f = f_det};
  nn_tensor *in[2] = {mk_square(2, SH(3, 3)), mk_square(3, SH(2, 4, 4))};
  gradcheck("det", &a, 1, &in[0], 1);
  gradcheck("det, batched", &a, 1, &in[1], 1);
  release_all(2, in);
}
static void c_solve(void) {
  A a = {.f = f_solve};
  nn_tensor *in[2] = {mk_square(2, SH(3, 3)), MK(2, 0.1, 2, true, 3, 2)};
  gradcheck("solve", &a, 2, in, 3);
  gradcheck("solve (B only)", &a, 2, in, 2);
  nn_tensor *v[2] = {mk_square(2, SH(3, 3)), MK(1, 0.1, 2, true, 3)};
  gradcheck("solve, vector B", &a, 2, v, 3);
  nn_tensor *b[2] = {mk_square(3, SH(2, 3, 3)), MK(3, 0.1, 2, true, 2, 3, 4)};
  gradcheck("solve, batched", &a, 2, b, 3);
  release_all(2, in); release_all(2, v); release_all(2, b);
}
static void c_cholesky(void) {
  A a = {.f = f_cholesky};
  nn_tensor *in[2] = {MK(2, 0.1, 1, true, 3, 3), MK(3, 0.1, 1, true, 2, 4, 4)};
  gradcheck("cholesky", &a, 1, &in[0], 1);
  gradcheck("cholesky, batched", &a, 1, &in[1], 1);
  release_all(2, in);
}

/* random matrices have distinct singular values (where the gradient is defined) */
static void c_svdvals(void) {
  A a = {.f = f_svdvals};
  nn_tensor *in[3] = {MK(2, 0.1, 1, true, 3, 3), MK(2, 0.1, 1, true, 4, 2), MK(3, 0.1, 1, true, 2, 2, 3)};
  gradcheck("svdvals", &a, 1, &in[0], 1);
  gradcheck("svdvals, tall", &a, 1, &in[1], 1);
  gradcheck("svdvals, batched wide", &a, 1, &in[2], 1);
  release_all(3, in);
}

/* the products made of listed ops, and einsum's lowerings */
static void linalg_composites(void) {
  A a = {.f = f_bmm};
  nn_tensor *bm[3] = {MK(3, 0.1, 2, true, 2, 3, 4), MK(3, 0.1, 2, true, 2, 4, 5), MK(3, 0.1, 2, true, 2, 1, 5)};
  gradcheck("bmm", &a, 2, bm, 3);
  A ab = {.f = f_baddbmm, .s0 = 0.5, .s1 = -2};
  gradcheck("baddbmm", &ab, 3, bm, 7);
  A mv = {.f = f_mv}, amv = {.f = f_addmv, .s0 = 2, .s1 = 0.5}, ou = {.f = f_outer};
  nn_tensor *m[3] = {MK(2, 0.1, 2, true, 3, 4), MK(1, 0.1, 2, true, 4), MK(1, 0.1, 2, true, 3)};
  gradcheck("mv", &mv, 2, m, 3);
  gradcheck("addmv", &amv, 3, m, 7);
  gradcheck("outer", &ou, 2, &m[1], 3);
  A cr = {.f = f_cross, .d0 = 1};
  nn_tensor *c[2] = {MK(2, 0.1, 2, true, 4, 3), MK(2, 0.1, 2, true, 1, 3)};
  gradcheck("cross (broadcast)", &cr, 2, c, 3);
  release_all(3, bm); release_all(3, m); release_all(2, c);
  static const struct { const char *eq; int n, nd[2]; int64_t sh[2][4]; } eqs[] = {
    {"bhqd,bhkd->bhqk", 2, {4, 4}, {{2, 2, 3, 4}, {2, 2, 5, 4}}},
    {"ij,jk", 2, {2, 2}, {{3, 4}, {4, 2}}},
    {"ii->i", 1, {2, 0}, {{3, 3}}},
    {"ii", 1, {2, 0}, {{3, 3}}},
    {"bii,bi->b", 2, {3, 2}, {{2, 3, 3}, {2, 3}}},
    {"...ij,...jk->...ik", 2, {3, 2}, {{2, 3, 4}, {4, 2}}},
    {"ij,kj->", 2, {2, 2}, {{3, 4}, {1, 4}}},
    {"i,j->ji", 2, {1, 1}, {{3}, {2}}},
    {"abc->cb", 1, {3, 0}, {{2, 3, 4}}},
  };
  for (size_t k = 0; k < sizeof eqs / sizeof eqs[0]; k++) {
    nn_tensor *in[2] = {mk(eqs[k].nd[0], eqs[k].sh[0], 0.1, 2, true),
                        eqs[k].n > 1 ? mk(eqs[k].nd[1], eqs[k].sh[1], 0.1, 2, true) : NULL};
    A e = {.f = f_einsum, .n = eqs[k].n};
    char label[64];
    snprintf(label, sizeof label, "einsum %s", eqs[k].eq);
    einsum_eq = eqs[k].eq;
    gradcheck(label, &e, eqs[k].n, in, eqs[k].n > 1 ? 3 : 1);
    release_all(eqs[k].n, in);
  }
  nn_tensor *x = MK(2, 0.5, 2, true, 3, 4);
  A vn = {.f = f_vnorm, .s0 = 3, .nd = 1, .dims = {1}};
  gradcheck("vector_norm p=3, dim 2", &vn, 1, &x, 1);
  A v2 = {.f = f_vnorm, .s0 = 2, .nd = 0, .keep = true};
  gradcheck("vector_norm p=2, all, keepdim", &v2, 1, &x, 1);
  A vi = {.f = f_vnorm, .s0 = INFINITY, .nd = 1, .dims = {0}};
  gradcheck("vector_norm inf", &vi, 1, &x, 1);
  A mn = {.f = f_mnorm, .d0 = 0, .d1 = 1};
  static const char *const ords[] = {"fro", "1", "-1", "inf", "-inf", "2", "-2", "nuc"};
  for (int k = 0; k < 8; k++) {
    char label[64];
    snprintf(label, sizeof label, "matrix_norm %s", ords[k]);
    mnorm_ord = ords[k];
    gradcheck(label, &mn, 1, &x, 1);
  }
  nn_tensor_release(x);
}
