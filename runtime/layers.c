/* layers.c — built-in layers (nn_module): Linear, the activations, Softmax/LogSoftmax,
   Identity, Dropout, Flatten and Sequential.

   A module is a refcounted object of one context. Its forward composes the public ops of
   nn.h (nn_linear, nn_relu, …), so autograd comes from them and a module needs no backward.
   Parameters are leaf tensors with requires_grad; they are enumerated in PyTorch's
   state_dict order with PyTorch's names ("weight", "bias"; "0.weight" inside a Sequential,
   0-based as PyTorch). */
#include <math.h>
#include <stdio.h>
#include "nn_impl.h"

struct nn_module {
  int refs;
  nn_module_kind kind;
  nn_ctx *ctx;
  double arg;               /* slope, softmax dim, dropout p, flatten start */
  double arg2;              /* flatten end */
  bool training;            /* true after construction, as PyTorch */
  nn_rng *rng;              /* Dropout's generator (borrowed; NULL: the context's) */
  int64_t in, out;          /* Linear */
  nn_tensor *weight, *bias; /* Linear (bias may be NULL) */
  nn_module **child;        /* Sequential */
  int nchild, cap;
};

static const char *const kind_names[] = {
  "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
  "Identity", "Dropout", "Flatten", "Sequential"
};
#define NKINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

/* ---- construction and lifetime ---------------------------------------------------- */

static nn_status module_alloc(nn_ctx *ctx, nn_module_kind kind, const char *op, nn_module **m) {
  nn_module *p = nn_block_get_zeroed(ctx, sizeof *p);
  if (!p) return nn_fail(ctx, NN_ERR_MEM, "%s: out of memory", op);
  p->refs = 1;
  p->kind = kind;
  p->ctx = ctx;
  p->training = true;
  p->in = p->out = -1;
  ctx->live++;
  *m = p;
  return NN_OK;
}

void nn_module_retain(nn_module *m) {
  if (m) m->refs++;
}

void nn_module_release(nn_module *m) {
  if (!m || --m->refs > 0) return;
  nn_ctx *ctx = m->ctx;
  nn_tensor_release(m->weight);
  nn_tensor_release(m->bias);
  for (int i = 0; i < m->nchild; i++) nn_module_release(m->child[i]);
  if (m->child) nn_block_put(ctx, m->child, (size_t)m->cap * sizeof *m->child);
  nn_block_put(ctx, m, sizeof *m);
  nn_ctx_unref(ctx);
}

/* A leaf parameter of shape [n0(, n1)] drawn from U(-bound, bound), then set to need grad. */
static nn_status init_param(nn_ctx *ctx, nn_rng *r, nn_dtype dt, int ndim, const int64_t *shape,
                            double bound, nn_tensor **out) {
  nn_tensor *t;
  nn_status s = nn_tensor_new(ctx, dt, ndim, shape, &t);
  if (s != NN_OK) return s;
  if ((s = nn_uniform_(ctx, r, t, -bound, bound)) != NN_OK ||
      (s = nn_tensor_set_requires_grad(ctx, t, true)) != NN_OK) {
    nn_tensor_release(t);
    return s;
  }
  *out = t;
  return NN_OK;
}

/* PyTorch's Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)) on the weight reduces to
   U(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound. Weight first, then bias, so a
   seed gives the same numbers as the same draws in that order. */
nn_status nn_linear_new(nn_ctx *ctx, nn_rng *r, int64_t in, int64_t out, bool bias, nn_dtype dt,
                        nn_module **m) {
  NN_ARG(ctx, "Linear", m);
  *m = NULL;
  if (in < 1 || out < 1)
    return nn_fail(ctx, NN_ERR_ARG,
                   "Linear: in_features and out_features must be positive, got %lld and %lld",
                   (long long)in, (long long)out);
  if (dt != NN_F32 && dt != NN_F64)
    return nn_fail(ctx, NN_ERR_DTYPE, "Linear: dtype must be float32 or float64, got %s",
                   nn_dtype_name(dt));
  nn_module *p = NULL;
  nn_status s = module_alloc(ctx, NN_LINEAR, "Linear", &p);
  if (s != NN_OK) return s;
  p->in = in;
  p->out = out;
  double bound = 1.0 / sqrt((double)in);
  int64_t wshape[2] = {out, in};
  if ((s = init_param(ctx, r, dt, 2, wshape, bound, &p->weight)) != NN_OK ||
      (bias && (s = init_param(ctx, r, dt, 1, &out, bound, &p->bias)) != NN_OK)) {
    nn_module_release(p);
    return s;
  }
  *m = p;
  return NN_OK;
}

static bool integral(double v) { return v == floor(v) && fabs(v) < 1e9; }

nn_status nn_layer_new(nn_ctx *ctx, nn_module_kind kind, double arg, nn_module **m) {
  NN_ARG(ctx, "layer_new", m);
  *m = NULL;
  if ((int)kind < 0 || (int)kind >= NKINDS)
    return nn_fail(ctx, NN_ERR_ARG, "layer_new: unknown layer kind %d", (int)kind);
  const char *name = kind_names[kind];
  switch (kind) {
  case NN_LINEAR:
    return nn_fail(ctx, NN_ERR_ARG, "layer_new: Linear has parameters: use nn_linear_new");
  case NN_SEQUENTIAL:
    return nn_fail(ctx, NN_ERR_ARG, "layer_new: use nn_sequential_new for Sequential");
  case NN_LEAKY_RELU:
    if (!isfinite(arg))
      return nn_fail(ctx, NN_ERR_ARG, "LeakyReLU: negative_slope must be finite, got %g", arg);
    break;
  case NN_DROPOUT:
    if (!(arg >= 0.0 && arg <= 1.0))
      return nn_fail(ctx, NN_ERR_ARG,
                     "Dropout: probability has to be between 0 and 1, but got %g", arg);
    break;
  case NN_SOFTMAX: case NN_LOG_SOFTMAX: case NN_FLATTEN:
    if (!integral(arg))
      return nn_fail(ctx, NN_ERR_ARG, "%s: dim must be an integer, got %g", name, arg);
    break;
  default:
    arg = 0.0;
    break;
  }
  nn_status s = module_alloc(ctx, kind, name, m);
  if (s != NN_OK) return s;
  (*m)->arg = arg;
  (*m)->arg2 = -1.0;
  return NN_OK;
}

nn_status nn_flatten_new(nn_ctx *ctx, int start, int end, nn_module **m) {
  NN_ARG(ctx, "Flatten", m);
  nn_status s = nn_layer_new(ctx, NN_FLATTEN, (double)start, m);
  if (s == NN_OK) (*m)->arg2 = (double)end;
  return s;
}

nn_status nn_sequential_new(nn_ctx *ctx, nn_module **m) {
  NN_ARG(ctx, "Sequential", m);
  *m = NULL;
  return module_alloc(ctx, NN_SEQUENTIAL, "Sequential", m);
}

static bool contains(const nn_module *m, const nn_module *target) {
  if (m == target) return true;
  for (int i = 0; i < m->nchild; i++)
    if (contains(m->child[i], target)) return true;
  return false;
}

nn_status nn_sequential_add(nn_ctx *ctx, nn_module *seq, nn_module *child) {
  NN_ARG_AS(ctx, "Sequential.add", seq && child, "module");
  if (seq->kind != NN_SEQUENTIAL)
    return nn_fail(ctx, NN_ERR_ARG, "Sequential.add: %s is not a Sequential",
                   kind_names[seq->kind]);
  if (contains(child, seq))
    return nn_fail(ctx, NN_ERR_ARG, "Sequential.add: a Sequential cannot contain itself");
  if (seq->nchild == seq->cap) {
    int cap = seq->cap ? 2 * seq->cap : 4;
    nn_module **c = nn_block_get(ctx, (size_t)cap * sizeof *c);
    if (!c) return nn_fail(ctx, NN_ERR_MEM, "Sequential.add: out of memory");
    for (int i = 0; i < seq->nchild; i++) c[i] = seq->child[i];
    if (seq->child) nn_block_put(ctx, seq->child, (size_t)seq->cap * sizeof *c);
    seq->child = c;
    seq->cap = cap;
  }
  nn_module_retain(child);
  seq->child[seq->nchild++] = child;
  return NN_OK;
}

/* ---- inspection --------------------------------------------------------------------- */

nn_module_kind nn_module_kind_of(const nn_module *m) { return m ? m->kind : NN_IDENTITY; }
const char *nn_module_name(const nn_module *m) { return m ? kind_names[m->kind] : "(null)"; }
double nn_module_arg(const nn_module *m) { return m ? m->arg : 0.0; }
double nn_module_arg2(const nn_module *m) { return m ? m->arg2 : 0.0; }
int nn_module_num_children(const nn_module *m) { return m ? m->nchild : 0; }
nn_module *nn_module_child(const nn_module *m, int i) {
  return (m && i >= 0 && i < m->nchild) ? m->child[i] : NULL;
}
int64_t nn_module_in_features(const nn_module *m) {
  return (m && m->kind == NN_LINEAR) ? m->in : -1;
}
int64_t nn_module_out_features(const nn_module *m) {
  return (m && m->kind == NN_LINEAR) ? m->out : -1;
}
bool nn_module_is_training(const nn_module *m) { return m && m->training; }

void nn_module_train(nn_module *m, bool on) {
  if (!m) return;
  m->training = on;
  for (int i = 0; i < m->nchild; i++) nn_module_train(m->child[i], on);
}

void nn_module_set_rng(nn_module *m, nn_rng *r) {
  if (!m) return;
  m->rng = r;
  for (int i = 0; i < m->nchild; i++) nn_module_set_rng(m->child[i], r);
}

/* ---- parameters: enumeration in state_dict order ------------------------------------ */

int nn_module_num_params(const nn_module *m) {
  if (!m) return 0;
  if (m->kind == NN_LINEAR) return m->bias ? 2 : 1;
  int n = 0;
  for (int i = 0; i < m->nchild; i++) n += nn_module_num_params(m->child[i]);
  return n;
}

/* The slot holding parameter i, its name written into name[size] (prefixed by the path of
   Sequential indices). NULL when i is out of range. */
static nn_tensor **param_slot(nn_module *m, int i, char *name, size_t size) {
  if (i < 0) return NULL;
  if (m->kind == NN_LINEAR) {
    const char *pname = i == 0 ? "weight" : (i == 1 && m->bias) ? "bias" : NULL;
    if (!pname) return NULL;
    if (name && size) snprintf(name, size, "%s", pname);
    return i == 0 ? &m->weight : &m->bias;
  }
  for (int c = 0; c < m->nchild; c++) {
    int n = nn_module_num_params(m->child[c]);
    if (i < n) {
      size_t len = 0;
      if (name && size) {
        int w = snprintf(name, size, "%d.", c);
        len = w < 0 ? 0 : (size_t)w < size ? (size_t)w : size - 1;
      }
      return param_slot(m->child[c], i, name ? name + len : NULL, size - len);
    }
    i -= n;
  }
  return NULL;
}

nn_tensor *nn_module_param(const nn_module *m, int i, char *name, size_t namesize) {
  if (name && namesize) name[0] = '\0';
  if (!m) return NULL;
  nn_tensor **slot = param_slot((nn_module *)m, i, name, namesize);
  return slot ? *slot : NULL;
}

/* Replaces a parameter by a leaf sharing t's storage (as nn.Parameter(t) does), so the
   caller's tensor keeps its own requires_grad flag and history. */
nn_status nn_module_set_param(nn_ctx *ctx, nn_module *m, const char *name, nn_tensor *t) {
  NN_ARG_AS(ctx, "set_param", m, "module");
  NN_ARG(ctx, "set_param", name);
  nn_status s = nn_check_open(ctx, "set_param", t);
  if (s != NN_OK) return s;
  char buf[256];
  int n = nn_module_num_params(m);
  for (int i = 0; i < n; i++) {
    nn_tensor **slot = param_slot(m, i, buf, sizeof buf);
    if (strcmp(buf, name) != 0) continue;
    char sa[NN_SHAPE_BUF], sb[NN_SHAPE_BUF];
    if (!nn_same_shape(*slot, t))
      return nn_fail(ctx, NN_ERR_SHAPE, "%s: parameter %s has shape %s, got a tensor of shape %s",
                     nn_module_name(m), name, nn_shape_fmt((*slot)->ndim, (*slot)->shape, sa),
                     nn_shape_fmt(t->ndim, t->shape, sb));
    if ((*slot)->dtype != t->dtype)
      return nn_fail(ctx, NN_ERR_DTYPE, "%s: parameter %s is %s, got a %s tensor",
                     nn_module_name(m), name, nn_dtype_name((*slot)->dtype),
                     nn_dtype_name(t->dtype));
    nn_tensor *leaf;
    if ((s = nn_detach(ctx, t, &leaf)) != NN_OK) return s;
    if ((s = nn_tensor_set_requires_grad(ctx, leaf, true)) != NN_OK) {
      nn_tensor_release(leaf);
      return s;
    }
    nn_tensor_release(*slot);
    *slot = leaf;
    return NN_OK;
  }
  return nn_fail(ctx, NN_ERR_ARG, "%s: no parameter named '%s'", nn_module_name(m), name);
}

/* ---- forward -------------------------------------------------------------------------- */

/* Linear takes [in], [N, in] or [..., in] (leading dims flattened and restored). */
static nn_status linear_forward(nn_ctx *ctx, nn_module *m, nn_tensor *x, bool relu,
                               nn_tensor **out) {
  char sx[NN_SHAPE_BUF];
  int64_t got = x->ndim ? x->shape[x->ndim - 1] : 0;
  if (x->ndim == 0 || got != m->in)
    return nn_fail(ctx, NN_ERR_SHAPE,
                   "Linear: expected input with %lld features, got %lld (input shape %s)",
                   (long long)m->in, (long long)got, nn_shape_fmt(x->ndim, x->shape, sx));
  if (x->dtype != m->weight->dtype)
    return nn_fail(ctx, NN_ERR_DTYPE, "Linear: input is %s but the layer's weight is %s",
                   nn_dtype_name(x->dtype), nn_dtype_name(m->weight->dtype));
  nn_status (*f)(nn_ctx *, nn_tensor *, nn_tensor *, nn_tensor *, nn_tensor **) =
      relu ? nn_linear_relu : nn_linear;
  if (x->ndim <= 2) return f(ctx, x, m->weight, m->bias, out);
  int64_t flat[2] = {-1, m->in}, shape[NN_MAX_DIMS];
  nn_tensor *x2, *y2;
  nn_status s = nn_reshape(ctx, x, 2, flat, &x2);
  if (s != NN_OK) return s;
  s = f(ctx, x2, m->weight, m->bias, &y2);
  nn_tensor_release(x2);
  if (s != NN_OK) return s;
  for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = m->out;
  s = nn_reshape(ctx, y2, x->ndim, shape, out);
  nn_tensor_release(y2);
  return s;
}

nn_status nn_module_forward(nn_ctx *ctx, nn_module *m, nn_tensor *x, nn_tensor **out) {
  NN_ARG(ctx, "forward", out);
  *out = NULL;
  NN_ARG_AS(ctx, "forward", m, "module");
  nn_status s = nn_check_open(ctx, kind_names[m->kind], x);
  if (s != NN_OK) return s;
  switch (m->kind) {
  case NN_LINEAR: return linear_forward(ctx, m, x, false, out);
  case NN_RELU: return nn_relu(ctx, x, out);
  case NN_LEAKY_RELU: return nn_leaky_relu(ctx, x, m->arg, out);
  case NN_SIGMOID: return nn_sigmoid(ctx, x, out);
  case NN_TANH: return nn_tanh(ctx, x, out);
  case NN_GELU: return nn_gelu(ctx, x, out);
  case NN_SOFTMAX: return nn_softmax(ctx, x, (int)m->arg, out);
  case NN_LOG_SOFTMAX: return nn_log_softmax(ctx, x, (int)m->arg, out);
  case NN_IDENTITY:
    nn_tensor_retain(x);
    *out = x;
    return NN_OK;
  case NN_DROPOUT: return nn_dropout(ctx, m->rng, x, m->arg, m->training, out);
  case NN_FLATTEN: return nn_flatten(ctx, x, (int)m->arg, (int)m->arg2, out);
  case NN_SEQUENTIAL: return nn_module_chain_forward(ctx, m->child, m->nchild, x, out);
  }
  return nn_fail(ctx, NN_ERR_ARG, "forward: corrupt module");
}

/* A Linear followed by a ReLU runs as one op (nn_linear_relu): the same values and gradients,
   one pass over the activations fewer each way */
nn_status nn_module_chain_forward(nn_ctx *ctx, nn_module *const *m, int n, nn_tensor *x,
                                  nn_tensor **out) {
  NN_ARG(ctx, "forward", out);
  *out = NULL;
  if (n < 0 || (n > 0 && !m)) return nn_fail(ctx, NN_ERR_ARG, "forward: no modules");
  nn_status s = nn_check_open(ctx, "forward", x);
  if (s != NN_OK) return s;
  nn_tensor *h = x, *next;
  nn_tensor_retain(h);
  for (int i = 0; i < n; i++) {
    if (!m[i]) s = nn_fail(ctx, NN_ERR_ARG, "forward: module %d is NULL", i + 1);
    else if (m[i]->kind == NN_LINEAR && i + 1 < n && m[i + 1] && m[i + 1]->kind == NN_RELU &&
             (s = nn_check_open(ctx, "Linear", h)) == NN_OK)
      s = linear_forward(ctx, m[i++], h, true, &next);
    else s = nn_module_forward(ctx, m[i], h, &next);
    nn_tensor_release(h);
    if (s != NN_OK) return s;
    h = next;
  }
  *out = h;
  return NN_OK;
}
