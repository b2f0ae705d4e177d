/*
** nn_internal.h — entry points the core shares with the bindings and the tests but keeps out of
** the installed nn.h: fusions, lazy zeroing, allocator diagnostics and the optimizers' option
** struct. They may change with any release; hosts use nn.h only (this file is not installed).
*/
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* calls made to the context's allocator so far (tests of the block cache) */
NN_API uint64_t nn_ctx_alloc_calls(const nn_ctx *ctx);
/* OpenBLAS runs one of its generic pre-AVX kernels ("Prescott", …): what Debian's OpenBLAS 0.3.21
   falls back to on CPUs it does not recognise */
NN_API bool nn_blas_generic_kernel(void);

/* y = max(x w^T + b, 0): a Linear and a ReLU as one op (what a Sequential runs for the pair) */
NN_API nn_status nn_linear_relu(nn_ctx *ctx, nn_tensor *x, nn_tensor *w, nn_tensor *b,
                                nn_tensor **out);

/* nn_tensor_zero_grad, but when nothing else holds a reference to the grad the fill waits: the
   grad reads as zeros through nn_tensor_grad, and the next backward writes it instead of adding
   to zeros (no pass over the grads each step). A pointer to the grad kept from before, not
   retained, still sees the old values: safe for the Lua bindings, where a grad is reached only
   through them. */
NN_API void nn_tensor_zero_grad_deferred(nn_tensor *t);
NN_API void nn_optim_zero_grad_deferred(nn_optim *o);   /* the same on each parameter */

/* ---- the gradient-ready hook (lunet.distributed's DDP, bindings/ldist.c) ---------------------
   While a hook is set, backward calls fn(ctx, leaf, ud) for each leaf that requires grad as
   soon as the walk has added its last contribution (its grad is final for this backward), in
   the order that happens, then fn(ctx, NULL, ud) once when the walk has finished without error.
   It runs on the thread that called backward. fn NULL removes the hook. Without memory for its
   list of leaves, backward makes only the final call: the hook then counts every leaf ready. */
typedef void (*nn_grad_ready_fn)(nn_ctx *ctx, nn_tensor *leaf, void *ud);
NN_API void nn_set_grad_ready_hook(nn_ctx *ctx, nn_grad_ready_fn fn, void *ud);
/* the default thread count before LUNET_NUM_THREADS: the CPUs this process may use (affinity,
   cgroup quota) divided by the MPI ranks on the host its launcher reports (runtime/pool.c) */
NN_API int nn_cpus_usable(void);

/* ---- optimizers: the option struct behind nn_optim_set/nn_optim_get ------------------------ */
typedef enum { NN_SGD, NN_ADAM, NN_ADAMW, NN_RMSPROP, NN_ADAGRAD } nn_optim_kind; /* nn_optim_kind_name order */
typedef struct nn_optim_opts {
  double lr;            /* SGD/Adam/AdamW/RMSprop/Adagrad */
  double momentum;      /* SGD, RMSprop */
  double dampening;     /* SGD */
  double weight_decay;  /* all: L2 added to the gradient; AdamW: decoupled */
  bool nesterov;        /* SGD */
  double beta1, beta2;  /* Adam(W) */
  double eps;           /* Adam(W), RMSprop, Adagrad */
  bool amsgrad;         /* Adam(W) */
  bool eps_inside;      /* Adam(W): scikit-learn's rule, eps added to the uncorrected sqrt(v) */
  double alpha;         /* RMSprop smoothing */
  bool centered;        /* RMSprop */
  double lr_decay;      /* Adagrad */
  double initial_accumulator_value; /* Adagrad */
  bool maximize;
} nn_optim_opts;
NN_API void nn_optim_defaults(nn_optim_kind kind, nn_optim_opts *o); /* PyTorch's defaults */
/* Checks o as the optimizer's constructor would (lr >= 0, betas in [0, 1), …): NN_ERR_ARG if bad. */
NN_API nn_status nn_optim_check_opts(nn_ctx *ctx, nn_optim_kind kind, const nn_optim_opts *o);
NN_API nn_optim_kind nn_optim_kind_of(const nn_optim *o);
NN_API nn_optim_opts *nn_optim_group_opts(nn_optim *o, int g); /* modifiable; g -1: the defaults */
/* nn_optim_add_group with the group's options given whole */
NN_API nn_status nn_optim_add_group_opts(nn_ctx *ctx, nn_optim *o, int n, nn_tensor *const *params,
                                         const nn_optim_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
