/* autograd.c — recording nodes, accumulating gradients, and the backward walk.

   Each op that sees an input needing a gradient attaches a node to its output. A node holds
   its inputs, so the graph lives exactly as long as the tensors that can still reach it.
   Nodes carry a sequence number taken from the context when they are made: ops run in
   order, so sorting the reachable nodes by decreasing number is a topological order and
   backward is one reverse loop over an array (kann's kad_grad), no graph compiler. */
#include <stdlib.h>
#include "nn_impl.h"

/* The tail of a node: the args first (max_align_t-aligned), then in[] and in_version[]. */
static size_t args_room(const nn_op *op) {
  size_t a = sizeof(max_align_t);
  return (op->args_size + a - 1) / a * a;
}

nn_status nn_record(nn_ctx *ctx, const nn_op *op, nn_tensor **out, int n, nn_tensor *const *in,
                    nn_tensor *saved, const void *args) {
  nn_tensor *y = *out;
  if (!nn_needs_grad(ctx, n, in) || y->dtype == NN_I64) return NN_OK;
  size_t room = args_room(op);
  size_t bytes = sizeof(nn_node) + room + (size_t)n * (sizeof(nn_tensor *) + sizeof(uint64_t));
  nn_tensor *own = NULL;            /* the output's second header, when the op saves it */
  nn_status s = op->saves_output ? nn_same_view(ctx, y, &own) : NN_OK;
  nn_node *node = s ? NULL : nn_block_get(ctx, bytes);
  if (!node) {
    if (!s) s = nn_fail(ctx, NN_ERR_MEM, "%s: out of memory recording the graph", op->name);
    nn_tensor_release(own);
    nn_tensor_release(y);
    *out = NULL;
    return s;
  }
  memset(node, 0, sizeof *node);
  node->refs = 1;
  node->op = op;
  node->seq = ++ctx->seq;
  node->nin = n;
  node->ctx = ctx;
  node->bytes = bytes;
  node->args = node->tail;
  if (op->args_size) memcpy(node->args, args, op->args_size);
  node->in = (nn_tensor **)((char *)node->tail + room);
  node->in_version = (uint64_t *)(node->in + n);
  for (int i = 0; i < n; i++) {
    node->in[i] = in[i];
    nn_tensor_retain(in[i]);
    node->in_version[i] = in[i] ? in[i]->st->version : 0;
  }
  if (own) saved = own;
  else nn_tensor_retain(saved);
  if (saved) { node->saved = saved; node->saved_version = saved->st->version; }
  ctx->live++;
  y->node = node;
  y->requires_grad = true;
  return NN_OK;
}

static void node_drop_graph(nn_node *n) {
  for (int i = 0; i < n->nin; i++) { nn_tensor_release(n->in[i]); n->in[i] = NULL; }
  nn_tensor_release(n->saved); n->saved = NULL;
  nn_tensor_release(n->gout); n->gout = NULL;
}

/* Releasing a graph that backward never ran (a `total = total + loss` loop keeps a chain as
   long as the loop) must not recurse once per node: 200,000 nodes overflowed the C stack. The
   dying nodes form a list through their own next_dead field, so the walk takes no stack and
   no memory, whatever the graph's depth or width. */
void nn_nodes_free(nn_node *dead) {
  while (dead) {
    nn_node *n = dead;
    dead = n->next_dead;
    for (int i = 0; i < n->nin; i++) nn_tensor_unref(n->in[i], &dead);
    nn_tensor_unref(n->saved, &dead);
    nn_tensor_unref(n->gout, &dead);
    nn_ctx *ctx = n->ctx;
    nn_block_put(ctx, n, n->bytes);
    nn_ctx_unref(ctx);
  }
}

void nn_node_release(nn_node *n) {
  if (!n || --n->refs > 0) return;
  n->next_dead = NULL;
  nn_nodes_free(n);
}

bool nn_input_needs_grad(const nn_node *n, int i) {
  return i < n->nin && n->in[i] && n->in[i]->requires_grad;
}

/* dst[...] += src[...] over src's shape, dst seen through broadcast strides (zeros where the
   gradient sums over a broadcast dim). Sequential, so repeated dst elements add up. */
typedef struct { nn_dtype d, s; } acc_arg;
static void acc_row(int64_t n, char *o, int64_t so, char *a, int64_t sa, char *u, int64_t us,
                    void *arg) {
  (void)u; (void)us;
  const acc_arg *c = arg;
  if (c->d == NN_F32 && c->s == NN_F32) {
    float *y = (float *)o; const float *x = (const float *)a;
    if (so == 1 && sa == 1) for (int64_t i = 0; i < n; i++) y[i] += x[i];
    else if (so == 0) { float s = 0; for (int64_t i = 0; i < n; i++) s += x[i * sa]; *y += s; }
    else for (int64_t i = 0; i < n; i++) y[i * so] += x[i * sa];
  } else if (c->d == NN_F64 && c->s == NN_F64) {
    double *y = (double *)o; const double *x = (const double *)a;
    if (so == 1 && sa == 1) for (int64_t i = 0; i < n; i++) y[i] += x[i];
    else if (so == 0) { double s = 0; for (int64_t i = 0; i < n; i++) s += x[i * sa]; *y += s; }
    else for (int64_t i = 0; i < n; i++) y[i * so] += x[i * sa];
  } else if (c->d == NN_F32) {
    float *y = (float *)o; const double *x = (const double *)a;
    for (int64_t i = 0; i < n; i++) y[i * so] += (float)x[i * sa];
  } else {
    double *y = (double *)o; const float *x = (const float *)a;
    for (int64_t i = 0; i < n; i++) y[i * so] += x[i * sa];
  }
}

static void add_reduced(nn_tensor *dst, const nn_tensor *g) {
  int64_t dst_st[NN_MAX_DIMS];
  nn_broadcast_strides(dst, g->ndim, g->shape, dst_st);
  acc_arg c = {dst->dtype, g->dtype};
  char *base[2] = {nn_ptr(dst), nn_ptr(g)};
  const int64_t *strides[2] = {dst_st, g->stride};
  size_t es[2] = {nn_dtype_size(dst->dtype), nn_dtype_size(g->dtype)};
  nn_loop(2, g->ndim, g->shape, base, strides, es, acc_row, &c);
}

/* zero_grad leaves a leaf's gradient buffer as it is and marks it stale when nothing else
   holds it (the training loop's case): the next backward's products write it with beta = 0
   instead of adding to zeros (nn_grad_slot's fresh), and every other reader gets the zeros
   written first (materialize): the fill of every parameter's gradient is a visible part of a
   small training step. */
static void materialize(nn_tensor *t) {
  if (!t->grad_stale) return;
  t->grad_stale = false;
  memset(nn_ptr(t->grad), 0, (size_t)t->grad->numel * nn_dtype_size(t->grad->dtype));
}

nn_status nn_grad_accum(nn_ctx *ctx, nn_node *n, int i, nn_tensor *g) {
  nn_tensor *in = n->in[i];
  if (!in || !in->requires_grad) return NN_OK;
  if (!in->node) materialize(in);
  nn_tensor **slot = in->node ? &in->node->gout : &in->grad;
  if (!*slot) {
    if (g->refs == 1 && g->st->refs == 1 && !g->node && !g->grad && g->dtype == in->dtype &&
        nn_same_shape(g, in) && nn_is_contig(g) && g->offset == 0) {
      nn_tensor_retain(g);           /* a fresh temporary: adopt it instead of copying */
      *slot = g;
      return NN_OK;
    }
    nn_status s = nn_new(ctx, in->dtype, in->ndim, in->shape, true, slot);
    if (s) return s;
  }
  add_reduced(*slot, g);
  return NN_OK;
}

/* Accumulates t, a temporary an op just made with status s, into input i and releases it */
static nn_status accum_made(nn_ctx *ctx, nn_node *n, int i, nn_status s, nn_tensor *t) {
  if (s) return s;
  s = nn_grad_accum(ctx, n, i, t);
  nn_tensor_release(t);
  return s;
}

nn_status nn_grad_accum_scaled(nn_ctx *ctx, nn_node *n, int i, nn_tensor *g, double scale) {
  if (!nn_input_needs_grad(n, i)) return NN_OK;
  if (scale == 1.0) return nn_grad_accum(ctx, n, i, g);
  nn_tensor *t = NULL;
  nn_status s = nn_muls(ctx, g, scale, &t);
  return accum_made(ctx, n, i, s, t);
}

nn_status nn_grad_accum_mul(nn_ctx *ctx, nn_node *n, int i, nn_tensor *x, nn_tensor *y) {
  if (!nn_input_needs_grad(n, i)) return NN_OK;
  nn_tensor *t = NULL;
  nn_status s = nn_mul(ctx, x, y, &t);
  return accum_made(ctx, n, i, s, t);
}

nn_status nn_grad_slot(nn_ctx *ctx, nn_node *n, int i, nn_tensor **slot, bool *fresh) {
  *slot = NULL;
  if (fresh) *fresh = false;
  nn_tensor *in = n->in[i];
  if (!in || !in->requires_grad) return NN_OK;
  nn_tensor **p = in->node ? &in->node->gout : &in->grad;
  if (!in->node && in->grad_stale) {      /* zeros owed: a product may simply overwrite */
    if (!fresh) { materialize(in); *slot = *p; return NN_OK; }
    in->grad_stale = false;
    *fresh = true;
  }
  if (!*p) {
    nn_status s = nn_new(ctx, in->dtype, in->ndim, in->shape, fresh == NULL, p);
    if (s) return s;
    if (fresh) *fresh = true;
  }
  *slot = *p;
  return NN_OK;
}

/* ---- backward ------------------------------------------------------------------------ */

static int by_seq_desc(const void *x, const void *y) {
  const nn_node *a = *(nn_node *const *)x, *b = *(nn_node *const *)y;
  return a->seq < b->seq ? 1 : a->seq > b->seq ? -1 : 0;
}

static nn_status push_node(nn_ctx *ctx, size_t *n, nn_node *node) {
  if (*n == ctx->order_cap) {
    size_t cap = ctx->order_cap ? ctx->order_cap * 2 : 256;
    nn_node **p = ctx->alloc(ctx->ud, ctx->order, ctx->order_cap * sizeof *p, cap * sizeof *p);
    ctx->alloc_calls++;
    if (!p) return nn_fail(ctx, NN_ERR_MEM, "backward: out of memory");
    ctx->order = p;
    ctx->order_cap = cap;
  }
  ctx->order[(*n)++] = node;
  return NN_OK;
}

static const char *FREED_MSG =
    "backward: trying to backward through the graph a second time (its saved tensors were "
    "freed by the first backward; run the forward pass again)";

/* NN_ERR_STATE if a tensor node's backward reads was changed in place after the forward */
static nn_status check_saved(nn_ctx *ctx, const nn_node *node) {
  for (int i = 0; i < node->nin; i++)
    if ((node->op->saves >> i & 1) && node->in[i] && node->in[i]->st->version != node->in_version[i])
      return nn_fail(ctx, NN_ERR_STATE,
                     "backward: an input of %s was modified by an in-place operation after it "
                     "was used (version %llu, expected %llu); its gradient would be wrong",
                     node->op->name, (unsigned long long)node->in[i]->st->version,
                     (unsigned long long)node->in_version[i]);
  if (node->saved && node->saved->st->version != node->saved_version)
    return nn_fail(ctx, NN_ERR_STATE,
                   "backward: a tensor saved by %s was modified by an in-place operation after "
                   "it was used; its gradient would be wrong", node->op->name);
  return NN_OK;
}

/* ---- the gradient-ready hook ----------------------------------------------------------- */

void nn_set_grad_ready_hook(nn_ctx *ctx, nn_grad_ready_fn fn, void *ud) {
  if (!ctx) return;
  ctx->grad_ready = fn;
  ctx->grad_ready_ud = fn ? ud : NULL;
}

/* A leaf and the walk step after which its grad is final (the last node, in walk order, that
   takes it as an input). */
typedef struct nn_ready { size_t step; nn_tensor *leaf; } nn_ready;

/* The leaves of order[0..n) with their last steps, the latest step first (so the walk takes
   them from the end). Made only while a hook is set: a block of the cache, NULL with *m = 0 if
   there is none or no memory (then only the final call comes: nn_set_grad_ready_hook). */
static nn_ready *ready_list(nn_ctx *ctx, size_t n, size_t *m, size_t *bytes) {
  *m = 0;
  *bytes = 0;
  size_t cap = 0;
  for (size_t k = 0; k < n; k++) cap += (size_t)ctx->order[k]->nin;
  if (cap == 0 || cap > SIZE_MAX / sizeof(nn_ready)) return NULL;
  nn_ready *r = nn_block_get(ctx, cap * sizeof *r);
  if (!r) return NULL;
  *bytes = cap * sizeof *r;
  uint64_t stamp = ++ctx->seq;
  for (size_t k = n; k-- > 0;) {
    nn_node *node = ctx->order[k];
    for (int i = 0; i < node->nin; i++) {
      nn_tensor *in = node->in[i];
      if (!in || in->node || !in->requires_grad || in->ready_mark == stamp) continue;
      in->ready_mark = stamp;
      r[(*m)++] = (nn_ready){k, in};
    }
  }
  return r;
}

/* Reports the leaves whose last step is k (all that are left when k is SIZE_MAX) */
static void ready_upto(nn_ctx *ctx, const nn_ready *r, size_t *m, size_t k) {
  while (*m > 0 && (k == SIZE_MAX || r[*m - 1].step <= k)) {
    (*m)--;
    ctx->grad_ready(ctx, r[*m].leaf, ctx->grad_ready_ud);
  }
}

/* What a failed backward leaves. Every failure that can be seen before the walk (a saved tensor
   modified in place, a graph already freed, no memory for the work list) is found while the
   nodes are collected, before any gradient moves: the leaves' grads and the graph stay as they
   were, so catching the error, running the forward again and calling backward counts each
   gradient once. Checking there costs nothing extra: the collection visits every node anyway,
   and the walk keeps writing the leaves' buffers directly (nn_grad_slot's beta = 0/1 products).
   Two failures can only happen during the walk: an interrupt (nn_ctx_interrupt) and running
   out of memory for a gradient buffer. Then the leaves the walk already reached hold a partial
   sum and the graph is freed: zero the grads and run the forward again. */
nn_status nn_backward(nn_ctx *ctx, nn_tensor *t, nn_tensor *grad) {
  char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
  NN_ARG(ctx, "backward", t);
  if (!t->requires_grad)
    return nn_fail(ctx, NN_ERR_STATE,
                   "backward: the tensor does not require grad and has no grad_fn");
  if (!grad && t->numel != 1)
    return nn_fail(ctx, NN_ERR_SHAPE,
                   "backward: grad can be implicitly created only for one-element outputs "
                   "(got shape %s)", nn_shape_fmt(t->ndim, t->shape, b1));
  if (grad && !nn_same_shape(grad, t))
    return nn_fail(ctx, NN_ERR_SHAPE, "backward: grad of shape %s does not match the output's %s",
                   nn_shape_fmt(grad->ndim, grad->shape, b1), nn_shape_fmt(t->ndim, t->shape, b2));
  if (grad && grad->dtype == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE, "backward: grad must be floating point, got int64");
  if (t->node && t->node->freed) return nn_fail(ctx, NN_ERR_STATE, "%s", FREED_MSG);

  /* collect every node reachable from t, checking each (breadth-first, iterative: order[]
     is the queue and the result) */
  size_t n = 0;
  nn_status s = NN_OK;
  if (t->node) {
    uint64_t stamp = ++ctx->seq;       /* unique per walk */
    s = push_node(ctx, &n, t->node);
    t->node->mark = stamp;
    for (size_t k = 0; !s && k < n; k++) {
      nn_node *node = ctx->order[k];
      if (node->freed) { s = nn_fail(ctx, NN_ERR_STATE, "%s", FREED_MSG); break; }
      if ((s = check_saved(ctx, node))) break;
      for (int i = 0; i < node->nin && !s; i++) {
        nn_tensor *in = node->in[i];
        if (in && in->requires_grad && in->node && in->node->mark != stamp) {
          in->node->mark = stamp;
          s = push_node(ctx, &n, in->node);
        }
      }
    }
    if (s) return s;
  }
  nn_tensor *seed;
  if ((s = nn_new_like(ctx, t, false, &seed))) return s;
  if (grad) nn_copy_raw(seed, grad);
  else if (t->dtype == NN_F32) *(float *)nn_ptr(seed) = 1.0f;   /* one element */
  else *(double *)nn_ptr(seed) = 1.0;

  if (!t->node) {                  /* a leaf: its grad is the seed */
    materialize(t);
    if (!t->grad) t->grad = seed;
    else {
      add_reduced(t->grad, seed);
      nn_tensor_release(seed);
    }
    if (ctx->grad_ready) {
      ctx->grad_ready(ctx, t, ctx->grad_ready_ud);
      ctx->grad_ready(ctx, NULL, ctx->grad_ready_ud);
    }
    return NN_OK;
  }
  qsort(ctx->order, n, sizeof *ctx->order, by_seq_desc);
  size_t nready = 0, ready_bytes = 0;
  nn_ready *ready = ctx->grad_ready ? ready_list(ctx, n, &nready, &ready_bytes) : NULL;
  for (size_t k = 0; k < n; k++) ctx->order[k]->refs++;   /* pinned while we walk */

  bool was = ctx->grad_enabled;
  ctx->grad_enabled = false;
  nn_tensor_release(t->node->gout);
  t->node->gout = seed;
  for (size_t k = 0; k < n && !s; k++) {
    nn_node *node = ctx->order[k];
    if (!node->gout) continue;
    if ((s = nn_check_interrupt(ctx, "backward"))) break;
    double t0 = ctx->profiling ? nn_now() : 0;
    s = node->op->backward(ctx, node);
    if (ctx->profiling) nn_prof_add(ctx, node->op->name, nn_now() - t0);
    nn_tensor_release(node->gout);
    node->gout = NULL;
    if (ready && !s) ready_upto(ctx, ready, &nready, k);
  }
  ctx->grad_enabled = was;
  if (ctx->grad_ready && !s) {
    if (ready) ready_upto(ctx, ready, &nready, SIZE_MAX);
    ctx->grad_ready(ctx, NULL, ctx->grad_ready_ud);
  }
  if (ready) nn_block_put(ctx, ready, ready_bytes);
  /* free the graph: saved tensors and inputs go now, nodes when their outputs go */
  for (size_t k = 0; k < n; k++) { node_drop_graph(ctx->order[k]); ctx->order[k]->freed = true; }
  for (size_t k = 0; k < n; k++) nn_node_release(ctx->order[k]);
  return s;
}

/* ---- the autograd face of tensors ------------------------------------------------------- */

bool nn_tensor_requires_grad(const nn_tensor *t) { return t && t->requires_grad; }
bool nn_tensor_is_leaf(const nn_tensor *t) { return t && t->node == NULL; }
nn_tensor *nn_tensor_grad(nn_tensor *t) {
  if (!t) return NULL;
  if (t->grad_stale) materialize(t);   /* writes the zeros a deferred zero_grad stands for */
  return t->grad;
}
const char *nn_tensor_grad_fn(const nn_tensor *t) { return t && t->node ? t->node->op->name : NULL; }

nn_status nn_tensor_set_requires_grad(nn_ctx *ctx, nn_tensor *t, bool on) {
  NN_ARG(ctx, "set_requires_grad", t);
  if (t->node) {
    if (on) return NN_OK;
    return nn_fail(ctx, NN_ERR_STATE,
                   "set_requires_grad: only leaf tensors can change requires_grad (this one was "
                   "made by %s; use detach())", t->node->op->name);
  }
  if (on && t->dtype == NN_I64)
    return nn_fail(ctx, NN_ERR_DTYPE,
                   "set_requires_grad: only floating-point tensors can require gradients (got int64)");
  t->requires_grad = on;
  return NN_OK;
}

/* t.grad = g stores a new header over g's storage, not g itself: in-place writes through g
   and through t's grad are seen by both (as PyTorch's .grad = g), but the header holds no node
   and no grad. So a grad never leads back to a tensor: storages hold no tensors, and every
   grad is a header made when it is stored (here, or a fresh buffer in backward), which nothing
   pointed to before. No reference cycle can form through grads (t.grad = t held t forever). */
nn_status nn_tensor_set_grad(nn_ctx *ctx, nn_tensor *t, nn_tensor *g) {
  NN_ARG(ctx, "set_grad", t);
  nn_tensor *a = NULL;
  if (g) {
    char b1[NN_SHAPE_BUF], b2[NN_SHAPE_BUF];
    if (!nn_same_shape(g, t))
      return nn_fail(ctx, NN_ERR_SHAPE, "set_grad: assigned grad has shape %s, the tensor has "
                     "shape %s", nn_shape_fmt(g->ndim, g->shape, b1),
                     nn_shape_fmt(t->ndim, t->shape, b2));
    if (g->dtype != t->dtype)
      return nn_fail(ctx, NN_ERR_DTYPE, "set_grad: assigned grad has dtype %s, the tensor has "
                     "dtype %s", nn_dtype_name(g->dtype), nn_dtype_name(t->dtype));
    if (!nn_is_contig(g))
      return nn_fail(ctx, NN_ERR_ARG, "set_grad: the grad must be contiguous");
    nn_status s = nn_alias(ctx, g, g->ndim, g->shape, g->stride, g->offset, &a);
    if (s) return s;
  }
  nn_tensor_release(t->grad);
  t->grad = a;
  t->grad_stale = false;
  return NN_OK;
}

void nn_tensor_zero_grad_deferred(nn_tensor *t) {
  nn_tensor *g = t ? t->grad : NULL;
  /* held only here (no view, no reference that should see the zeros): the fill waits */
  if (g && g->refs == 1 && g->st->refs == 1 && nn_is_contig(g)) t->grad_stale = true;
  else nn_tensor_zero_grad(t);
}

void nn_tensor_zero_grad(nn_tensor *t) {
  nn_tensor *g = t ? t->grad : NULL;
  if (!g) return;
  t->grad_stale = false;
  if (nn_is_contig(g)) memset(nn_ptr(g), 0, (size_t)g->numel * nn_dtype_size(g->dtype));
  else { nn_tensor *z; int64_t one = 1;
    if (nn_new(t->ctx, g->dtype, 0, &one, true, &z) == NN_OK) { nn_copy_raw(g, z); nn_tensor_release(z); } }
}

nn_status nn_detach(nn_ctx *ctx, nn_tensor *t, nn_tensor **out) {
  NN_ARG(ctx, "detach", out);
  *out = NULL;
  NN_ARG(ctx, "detach", t);
  return nn_alias(ctx, t, t->ndim, t->shape, t->stride, t->offset, out);
}
