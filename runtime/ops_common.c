/* ops_common.c — the small steps every ops_*.c file takes: a contiguous or converted operand,
   a second header on a result, the floating-dtype check. */
#include "nn_impl.h"

nn_status nn_contig(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  if (nn_is_contig(t)) { nn_tensor_retain(t); *out = t; return NN_OK; }
  nn_status s = nn_new(ctx, t->dtype, t->ndim, t->shape, false, out);
  if (!s) nn_copy_raw(*out, t);
  return s;
}

nn_status nn_as_dtype(nn_ctx *ctx, nn_tensor *t, nn_dtype dt, nn_tensor **out) {
  if (t->dtype == dt) { nn_tensor_retain(t); *out = t; return NN_OK; }
  nn_status s = nn_new(ctx, dt, t->ndim, t->shape, false, out);
  if (!s) nn_copy_raw(*out, t);
  return s;
}

nn_status nn_same_view(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  return nn_alias(ctx, t, t->ndim, t->shape, t->stride, t->offset, out);
}

nn_status nn_need_float(nn_ctx *ctx, const char *op, const nn_tensor *t) {
  NN_ARG_AS(ctx, op, t, "tensor");
  if (t->dtype == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "%s: needs a floating dtype (float32 or float64), got int64", op);
  return NN_OK;
}
