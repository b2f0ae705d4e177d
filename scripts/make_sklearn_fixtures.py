# scripts/make_sklearn_fixtures.py: the reference numbers of tests/lua/sklearn_spec.lua, from
# NumPy and scikit-learn themselves (Debian 12: scikit-learn 1.2.1, NumPy 1.24). Run once when the
# reference changes; the tests read the committed output and need no Python.
#
#   /usr/bin/python3 scripts/make_sklearn_fixtures.py > tests/fixtures/sklearn.lua
import sys
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def lua(v, indent=""):
    """A Python value as a Lua literal (floats by repr, which round-trips)."""
    if isinstance(v, dict):
        inner = indent + "  "
        items = [f"{inner}{k} = {lua(x, inner)}," for k, x in v.items()]
        return "{\n" + "\n".join(items) + "\n" + indent + "}"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(lua(x, indent) for x in v) + "}"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def ints(a):
    """An integer array as one string of numbers (compact for long index lists)."""
    return " ".join(str(int(x)) for x in a)


def draws():
    out = {}
    for seed in (0, 1, 42, 12345, 2**32 - 1):
        rs = np.random.RandomState(seed)
        d = {"seed": seed}
        d["random_sample"] = rs.random_sample(6)
        d["uniform"] = rs.uniform(-0.5, 2.0, 4)
        d["randint10"] = rs.randint(0, 10, 6)
        d["randint_neg"] = rs.randint(-7, 300, 4)
        d["randint_big"] = rs.randint(0, 2**40, 3)   # 64-bit draws (two words, high first)
        d["after"] = rs.random_sample()
        out[f"s{seed}"] = d
    return out


def permutations():
    out = {}
    for seed, n in ((0, 1), (0, 2), (1, 7), (42, 50), (7, 1293), (2**32 - 1, 300)):
        rs = np.random.RandomState(seed)
        p = rs.permutation(n)
        out[f"s{seed}_n{n}"] = {"seed": seed, "n": n, "perm": ints(p),
                                "after": rs.random_sample()}
    # shuffle of an array in place composes with the previous order
    rs = np.random.RandomState(5)
    a = np.arange(10) * 3
    rs.shuffle(a)
    rs.shuffle(a)
    out["shuffle_twice"] = {"seed": 5, "values": a}
    return out


def splits(X, y):
    out = {}
    for rs in (0, 1, 42):
        for strat in (False, True):
            tr, te = train_test_split(np.arange(len(y)), test_size=0.2, random_state=rs,
                                      stratify=y if strat else None)
            out[f"r{rs}_{'strat' if strat else 'plain'}"] = {
                "random_state": rs, "stratify": strat, "train": ints(tr), "test": ints(te)}
    # a tie in the stratified allocation (_approximate_mode draws among equal remainders)
    yy = np.repeat(np.arange(5), [3, 3, 3, 3, 4])
    tr, te = train_test_split(np.arange(len(yy)), test_size=7, random_state=3, stratify=yy)
    out["ties"] = {"y": yy, "test_size": 7, "random_state": 3, "train": ints(tr), "test": ints(te)}
    return out


def study(X, y, seed, dtype=np.float64):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42,
                                                        stratify=y)
    scaler = StandardScaler()
    X_train = scaler.fit_transform(X_train).astype(dtype)
    X_test = scaler.transform(X_test).astype(dtype)
    mlp = MLPClassifier(hidden_layer_sizes=(128, 64), activation="relu", solver="adam",
                        max_iter=500, random_state=seed, early_stopping=True,
                        validation_fraction=0.1)
    mlp.fit(X_train, y_train)
    pred = mlp.predict(X_test)
    return mlp, pred, float((pred == y_test).mean())


def small_runs(X, y):
    """Short runs on the first 400 digits scaled to [0, 1] (exact in float64)."""
    Xs = X[:400] / 16.0
    ys = y[:400]
    runs = {}
    cases = {
        # binary targets: a logistic output and the stratified early-stopping split
        "binary_es": dict(y=ys % 2, params=dict(hidden_layer_sizes=(20,), activation="tanh",
                                                random_state=3, early_stopping=True,
                                                max_iter=40)),
        # multiclass, logistic hidden units (Glorot factor 2), batches of 64, no early stopping
        "multi_logistic": dict(y=ys, params=dict(hidden_layer_sizes=(16, 12),
                                                 activation="logistic", random_state=11,
                                                 batch_size=64, max_iter=12)),
        # plain SGD with Nesterov momentum, no shuffling
        "sgd_noshuffle": dict(y=ys, params=dict(hidden_layer_sizes=(10,), solver="sgd",
                                                learning_rate_init=0.05, shuffle=False,
                                                random_state=0, max_iter=8)),
    }
    for name, c in cases.items():
        mlp = MLPClassifier(**c["params"])
        mlp.fit(Xs, c["y"])
        p = {k: (list(v) if isinstance(v, tuple) else v) for k, v in c["params"].items()}
        runs[name] = {"params": p, "y": c["y"], "n_iter": mlp.n_iter_,
                      "loss_curve": mlp.loss_curve_,
                      "validation_scores": mlp.validation_scores_ or [],
                      "predict": mlp.predict(Xs)}
    return runs


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    fx = {"versions": {"sklearn": sklearn.__version__, "numpy": np.__version__},
          "draws": draws(), "permutations": permutations(), "splits": splits(X, y),
          "small": small_runs(X, y)}
    mlp, pred, acc = study(X, y, 42)
    fx["study"] = {"n_iter": mlp.n_iter_, "loss_curve": mlp.loss_curve_,
                   "validation_scores": mlp.validation_scores_, "predict": ints(pred),
                   "accuracy": acc}
    seeds = {}
    for seed in range(10):
        m, _, a = study(X, y, seed)
        seeds[f"s{seed}"] = {"n_iter": m.n_iter_, "accuracy": a}
    fx["seeds"] = seeds
    sys.stdout.write("-- tests/fixtures/sklearn.lua: written by scripts/make_sklearn_fixtures.py "
                     f"(scikit-learn {sklearn.__version__}, NumPy {np.__version__}); do not edit.\n")
    sys.stdout.write("return " + lua(fx) + "\n")


if __name__ == "__main__":
    main()
