# scripts/bench/digits_fit.py: the peers of digits_fit.lua.
#
#   /usr/bin/python3 digits_fit.py sklearn REPS   -> fit_s t1 t2 ..., n_iter n, accuracy a
#   /usr/bin/python3 digits_fit.py torch REPS N EPOCHS
#        -> epoch_s (per-epoch seconds of each run), the 64-128-64-10 Adam loop, batch 200, float32,
#           one thread, on the first N rows of the standardized training split
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def study_data():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42,
                                                        stratify=y)
    scaler = StandardScaler()
    return scaler.fit_transform(X_train), scaler.transform(X_test), y_train, y_test


def bench_sklearn(reps):
    from sklearn.neural_network import MLPClassifier
    X_train, X_test, y_train, y_test = study_data()
    times = []
    for rep in range(reps + 1):  # the first fit is a warm-up, not timed
        mlp = MLPClassifier(hidden_layer_sizes=(128, 64), activation="relu", solver="adam",
                            max_iter=500, random_state=42, early_stopping=True,
                            validation_fraction=0.1)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp.fit(X_train, y_train)
        if rep > 0:
            times.append(time.perf_counter() - t0)
    print("fit_s", *times)
    print("n_iter", mlp.n_iter_)
    print("accuracy", mlp.score(X_test, y_test))


def bench_torch(reps, n, epochs):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    X_train, _, y_train, _ = study_data()
    X = torch.tensor(X_train[:n], dtype=torch.float32)
    y = torch.tensor(y_train[:n], dtype=torch.int64)
    per_epoch = []
    for rep in range(reps + 1):  # the first run is a warm-up, not timed
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(n)
            for i in range(0, n, 200):
                idx = perm[i:i + 200]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
        if rep > 0:
            per_epoch.append((time.perf_counter() - t0) / epochs)
    print("epoch_s", *per_epoch)
    print("final_loss", loss.item())


if __name__ == "__main__":
    if sys.argv[1] == "sklearn":
        bench_sklearn(int(sys.argv[2]))
    else:
        bench_torch(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
