/* oplist.c — every op descriptor of runtime/ops_*.c in one NULL-terminated list, walked by
   the gradient-check test (tests/c/test_grad.c fails for an op without a case) and by tools
   that list ops. A new op adds its descriptor here; the rows of ops_unary.def are listed by
   being rows there. */
#include "nn_impl.h"
#include "ops_unary.def"

#define UNARY_EXTERN(op_, ...) extern const nn_op nn_op_##op_;
NN_UNARY_OPS(UNARY_EXTERN)
NN_UNARY_PARAM_OPS(UNARY_EXTERN)
#define UNARY_ENTRY(op_, ...) &nn_op_##op_,

extern const nn_op nn_op_add;
extern const nn_op nn_op_sub;
extern const nn_op nn_op_mul;
extern const nn_op nn_op_div;
extern const nn_op nn_op_pow;
extern const nn_op nn_op_maximum;
extern const nn_op nn_op_minimum;
extern const nn_op nn_op_adds;
extern const nn_op nn_op_muls;
extern const nn_op nn_op_rsubs;
extern const nn_op nn_op_rdivs;
extern const nn_op nn_op_pows;
extern const nn_op nn_op_where;
extern const nn_op nn_op_index_select;
extern const nn_op nn_op_cat;
extern const nn_op nn_op_stack;
extern const nn_op nn_op_matmul;
extern const nn_op nn_op_linear;
extern const nn_op nn_op_linear_relu;
extern const nn_op nn_op_addmm;
extern const nn_op nn_op_softmax;
extern const nn_op nn_op_log_softmax;
extern const nn_op nn_op_dropout;
extern const nn_op nn_op_binary_cross_entropy;
extern const nn_op nn_op_bce_with_logits;
extern const nn_op nn_op_cross_entropy;
extern const nn_op nn_op_nll_loss;
extern const nn_op nn_op_sum;
extern const nn_op nn_op_mean;
extern const nn_op nn_op_prod;
extern const nn_op nn_op_var;
extern const nn_op nn_op_std;
extern const nn_op nn_op_max;
extern const nn_op nn_op_min;
extern const nn_op nn_op_view;
extern const nn_op nn_op_transpose;
extern const nn_op nn_op_permute;
extern const nn_op nn_op_narrow;
extern const nn_op nn_op_select;
extern const nn_op nn_op_expand;
extern const nn_op nn_op_clone;
extern const nn_op nn_op_to;

const nn_op *const nn_all_ops[] = {
  NN_UNARY_OPS(UNARY_ENTRY) NN_UNARY_PARAM_OPS(UNARY_ENTRY)
  &nn_op_add, &nn_op_sub, &nn_op_mul, &nn_op_div, &nn_op_pow, &nn_op_maximum, &nn_op_minimum,
  &nn_op_adds, &nn_op_muls, &nn_op_rsubs, &nn_op_rdivs, &nn_op_pows, &nn_op_where,
  &nn_op_index_select, &nn_op_cat, &nn_op_stack, &nn_op_matmul, &nn_op_linear, &nn_op_linear_relu, &nn_op_addmm, &nn_op_softmax,
  &nn_op_log_softmax, &nn_op_dropout,
  &nn_op_binary_cross_entropy, &nn_op_bce_with_logits, &nn_op_cross_entropy, &nn_op_nll_loss,
  &nn_op_sum, &nn_op_mean, &nn_op_prod, &nn_op_var, &nn_op_std, &nn_op_max, &nn_op_min,
  &nn_op_view, &nn_op_transpose, &nn_op_permute, &nn_op_narrow, &nn_op_select, &nn_op_expand,
  &nn_op_clone, &nn_op_to, NULL};

int nn_op_count(void) {
  int n = 0;
  while (nn_all_ops[n]) n++;
  return n;
}

const char *nn_op_name(int i) {
  return i >= 0 && i < nn_op_count() ? nn_all_ops[i]->name : NULL;
}
