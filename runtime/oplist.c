/* oplist.c — every op descriptor of runtime/ops_*.c, walked by the gradient-check test
   (tests/c/test_grad.c fails for an op without a case) and by tools that list ops. Each ops file
   keeps its own NULL-terminated list (nn_ops_<family>, at its end), so a new op is listed where
   it is written; a new ops file adds its list here. */
#include "nn_impl.h"

static const nn_op *const *const families[] = {nn_ops_ewise, nn_ops_reduce, nn_ops_shape,
                                               nn_ops_index, nn_ops_linalg, nn_ops_nn, nn_ops_rnn,
                                               nn_ops_conv, nn_ops_pool, nn_ops_norm,
                                               nn_ops_resample};
#define NFAMILIES (int)(sizeof families / sizeof families[0])

int nn_op_count(void) {
  int n = 0;
  for (int f = 0; f < NFAMILIES; f++)
    for (const nn_op *const *o = families[f]; *o; o++) n++;
  return n;
}

const char *nn_op_name(int i) {
  if (i < 0) return NULL;
  for (int f = 0; f < NFAMILIES; f++)
    for (const nn_op *const *o = families[f]; *o; o++)
      if (i-- == 0) return (*o)->name;
  return NULL;
}
