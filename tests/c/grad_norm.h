/* grad_norm.h — gradient cases for normalization (ops_norm.c) and average/adaptive pooling and
   interpolation (ops_resample.c); included by test_grad.c, whose helpers it uses. */

/* batch_norm: in = x, weight, bias, running_mean, running_var; keep: training; d0: running
   stats given; n: 1 no affine, 3 weight and bias */
static nn_status f_batch_norm(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_batch_norm(C, in[0], a->d0 ? in[3] : NULL, a->d0 ? in[4] : NULL, a->n > 1 ? in[1] : NULL,
                       a->n > 2 ? in[2] : NULL, a->keep, 0.1, 1e-5, out);
}
static void c_batch_norm(void) {
  static const struct { const char *label; int nd; int64_t shape[4]; bool train; int run, n; } rows[] = {
    {"batch_norm [N,C,L] training", 3, {3, 2, 4}, true, 1, 3},
    {"batch_norm [N,C] training, no running stats", 2, {5, 3}, true, 0, 3},
    {"batch_norm [N,C,H,W] training, no affine", 4, {2, 2, 2, 3}, true, 1, 1},
    {"batch_norm [N,C,L] eval", 3, {3, 2, 4}, false, 1, 3},
  };
  for (int r = 0; r < 4; r++) {
    int64_t c = rows[r].shape[1];
    nn_tensor *in[5] = {mk(rows[r].nd, rows[r].shape, 0.1, 2, true), MK(1, 0.5, 2, true, c), MK(1, 0.1, 1, true, c),
                        MK(1, 0.1, 1, true, c), MK(1, 0.5, 2, false, c)};
    A a = {.f = f_batch_norm, .keep = rows[r].train, .d0 = rows[r].run, .n = rows[r].n};
    gradcheck(rows[r].label, &a, 5, in, rows[r].n > 1 ? 7u : 1u);
    release_all(5, in);
  }
}

/* layer_norm over the last a->nd dims of in[0] (shape a->shape); n > 1: weight and bias */
static nn_status f_layer_norm(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_layer_norm(C, in[0], a->nd, a->shape, a->n > 1 ? in[1] : NULL, a->n > 1 ? in[2] : NULL, 1e-5, out);
}
static void c_layer_norm(void) {
  nn_tensor *in[3] = {MK(3, 0.1, 2, true, 3, 4, 5), MK(2, 0.5, 2, true, 4, 5), MK(2, 0.1, 1, true, 4, 5)};
  A a = {.f = f_layer_norm, .nd = 2, .shape = {4, 5}, .n = 3};
  gradcheck("layer_norm [3,4,5] over [4,5] with weight and bias", &a, 3, in, 7);
  a.n = 1; a.nd = 1; a.shape[0] = 5;
  gradcheck("layer_norm [3,4,5] over [5]", &a, 1, in, 1);
  release_all(3, in);
}

/* group_norm into a->n groups; keep: weight and bias */
static nn_status f_group_norm(nn_tensor **in, const A *a, nn_tensor **out) {
  return nn_group_norm(C, in[0], a->n, a->keep ? in[1] : NULL, a->keep ? in[2] : NULL, 1e-5, out);
}
static void c_group_norm(void) {
  nn_tensor *in[3] = {MK(4, 0.1, 2, true, 2, 4, 2, 3), MK(1, 0.5, 2, true, 4), MK(1, 0.1, 1, true, 4)};
  A a = {.f = f_group_norm, .n = 2, .keep = true};
  gradcheck("group_norm [2,4,2,3] in 2 groups with weight and bias", &a, 3, in, 7);
  a.n = 4; a.keep = false;
  gradcheck("group_norm [2,4,2,3] in 4 groups", &a, 1, in, 1);
  release_all(3, in);
}

/* avg pooling: nd spatial dims; shape = kernel[2], stride[2], padding[2]; keep: ceil_mode;
   d1: count_include_pad; n: divisor_override */
static nn_status f_avg_pool(nn_tensor **in, const A *a, nn_tensor **out) {
  if (a->nd == 1) return nn_avg_pool1d(C, in[0], a->shape[0], a->shape[2], a->shape[4], a->keep, a->d1, out);
  return nn_avg_pool2d(C, in[0], a->shape, a->shape + 2, a->shape + 4, a->keep, a->d1, a->n, out);
}
static void c_avg_pool(void) {
  nn_tensor *x = MK(4, 0.1, 2, true, 2, 2, 5, 6), *x1 = MK(3, 0.1, 2, true, 2, 3, 7);
  A a = {.f = f_avg_pool, .nd = 2, .shape = {3, 2, 2, 2, 1, 1}, .keep = true, .d1 = false};
  gradcheck("avg_pool2d k 3x2 s 2 p 1 ceil_mode, padding not counted", &a, 1, &x, 1);
  a.d1 = true;
  gradcheck("avg_pool2d k 3x2 s 2 p 1 ceil_mode, padding counted", &a, 1, &x, 1);
  a.n = 5; a.keep = false;
  gradcheck("avg_pool2d divisor_override 5", &a, 1, &x, 1);
  A b = {.f = f_avg_pool, .nd = 1, .shape = {3, 0, 2, 0, 1, 0}, .keep = true, .d1 = false};
  gradcheck("avg_pool1d k 3 s 2 p 1 ceil_mode", &b, 1, &x1, 1);
  nn_tensor_release(x); nn_tensor_release(x1);
}

static nn_status f_adaptive(nn_tensor **in, const A *a, nn_tensor **out) {
  return a->keep ? nn_adaptive_max_pool2d(C, in[0], a->shape, out, NULL) : nn_adaptive_avg_pool2d(C, in[0], a->shape, out);
}
static void adaptive_cases(bool max) {
  nn_tensor *x = MK(4, 0.1, 2, true, 1, 2, 5, 7);
  A a = {.f = f_adaptive, .keep = max, .shape = {3, 4}};
  gradcheck(max ? "adaptive_max_pool2d 5x7 -> 3x4" : "adaptive_avg_pool2d 5x7 -> 3x4", &a, 1, &x, 1);
  a.shape[0] = 7; a.shape[1] = 3;
  gradcheck(max ? "adaptive_max_pool2d 5x7 -> 7x3" : "adaptive_avg_pool2d 5x7 -> 7x3", &a, 1, &x, 1);
  nn_tensor_release(x);
}
static void c_adaptive_avg_pool(void) { adaptive_cases(false); }
static void c_adaptive_max_pool(void) { adaptive_cases(true); }

/* interpolate: d0 mode, keep align_corners; n: 1 scale factors (s0, s1), else sizes (shape) */
static nn_status f_interpolate(nn_tensor **in, const A *a, nn_tensor **out) {
  double sc[2] = {a->s0, a->s1};
  return nn_interpolate(C, in[0], a->n ? NULL : a->shape, a->n ? sc : NULL, (nn_interp_mode)a->d0, a->keep, out);
}
static void c_interpolate(void) {
  nn_tensor *x = MK(4, 0.1, 2, true, 1, 2, 3, 4), *x1 = MK(3, 0.1, 2, true, 2, 2, 5);
  A a = {.f = f_interpolate, .d0 = NN_INTERP_NEAREST, .shape = {5, 7}};
  gradcheck("interpolate nearest 3x4 -> 5x7", &a, 1, &x, 1);
  a.d0 = NN_INTERP_LINEAR; a.n = 1; a.s0 = 1.5; a.s1 = 2;
  gradcheck("interpolate bilinear scale 1.5x2", &a, 1, &x, 1);
  a.n = 0; a.keep = true; a.shape[0] = 2;
  gradcheck("interpolate bilinear align_corners 3x4 -> 2x7", &a, 1, &x, 1);
  a.shape[0] = 8;
  gradcheck("interpolate linear align_corners 5 -> 8", &a, 1, &x1, 1);
  nn_tensor_release(x); nn_tensor_release(x1);
}
