# scripts/bench/char_rnn.py: the PyTorch peer of char_rnn.lua — char-rnn's model and training
# on Tiny Shakespeare: one-hot input (an identity Embedding), nn.LSTM(65, 128, 2 layers,
# batch_first), Linear(128, 65), RMSprop lr 2e-3 alpha 0.95, gradients clamped to [-5, 5], the
# state carried across batches; parameters uniform ±0.08, the forget gates' input bias 1.
#
#   /usr/bin/python3 char_rnn.py CORPUS ITERS THREADS   (THREADS 0: PyTorch's default)
#   -> threads n, iter_s t1 t2 ... (every iteration), val_loss v, train_loss l
import gzip
import sys
import time

import torch

B, S, H, LAYERS = 50, 50, 128, 2


def batches(path):
    with gzip.open(path) as f:
        text = f.read()
    vocab = sorted(set(text))
    ids = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([ids[c] for c in text], dtype=torch.int64)
    per = B * S
    n = len(data) - len(data) % per
    x = data[:n]
    y = torch.cat([data[1:n], data[:1]])
    nb = n // per
    ntrain = int(nb * 0.95)
    return len(vocab), x.view(B, -1), y.view(B, -1), ntrain, nb - ntrain


class CharRNN(torch.nn.Module):
    def __init__(self, v):
        super().__init__()
        self.onehot = torch.nn.Embedding(v, v)
        with torch.no_grad():
            self.onehot.weight.copy_(torch.eye(v))
        self.onehot.weight.requires_grad_(False)
        self.rnn = torch.nn.LSTM(v, H, LAYERS, batch_first=True)
        self.decoder = torch.nn.Linear(H, v)

    def forward(self, x, state):
        y, state = self.rnn(self.onehot(x), state)
        return self.decoder(y.reshape(-1, H)), state


def main():
    corpus, iters, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(123)
    v, X, Y, ntrain, nval = batches(corpus)
    model = CharRNN(v)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("rnn.") or name.startswith("decoder."):
                p.uniform_(-0.08, 0.08)
            if name.startswith("rnn.bias_ih_l"):
                p[H:2 * H] = 1
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.RMSprop(params, lr=2e-3, alpha=0.95, eps=1e-8)

    def get(k):
        return X[:, k * S:(k + 1) * S].contiguous(), Y[:, k * S:(k + 1) * S].reshape(-1)

    state, times, loss = None, [], None
    for it in range(iters):
        t0 = time.perf_counter()
        k = it % ntrain
        if k == 0:
            state = None
        x, y = get(k)
        opt.zero_grad()
        logits, state = model(x, state)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 5)
        opt.step()
        state = tuple(s.detach() for s in state)
        times.append(time.perf_counter() - t0)
    model.eval()
    total, state = 0.0, None
    with torch.no_grad():
        for k in range(ntrain, ntrain + nval):
            x, y = get(k)
            logits, state = model(x, state)
            total += torch.nn.functional.cross_entropy(logits, y).item()
    print("threads", torch.get_num_threads())
    print("iter_s", *times)
    print("val_loss", total / nval)
    print("train_loss", loss.item())


main()
