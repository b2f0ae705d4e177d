# scripts/bench/digits.py: the Python original of scripts/digits.lua (scikit-learn's digits study),
# printing the same things and saving the same training curves (with matplotlib when installed).
#
#   /usr/bin/python3 scripts/bench/digits.py [plot.svg]
import sys

from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

plot_path = sys.argv[1] if len(sys.argv) > 1 else "digits_training.svg"

X, y = load_digits(return_X_y=True)
print(f"Dataset shape: {X.shape}")
print(f"Classes: {sorted(set(y))}")

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_test = scaler.transform(X_test)

mlp = MLPClassifier(hidden_layer_sizes=(128, 64), activation="relu", solver="adam", max_iter=500,
                    random_state=42, early_stopping=True, validation_fraction=0.1)
mlp.fit(X_train, y_train)
y_pred = mlp.predict(X_test)

print(f"Test Accuracy: {accuracy_score(y_test, y_pred):.4f}")
print(f"Training stopped at epoch: {mlp.n_iter_}")
print()
print("Classification Report:")
print(classification_report(y_test, y_pred))

print("Network architecture:")
print(f"Input neurons: {mlp.coefs_[0].shape[0]}")
for i, W in enumerate(mlp.coefs_[:-1]):
    print(f"Hidden layer {i + 1}: {W.shape[1]} neurons (ReLU)")
print(f"Output neurons: {mlp.coefs_[-1].shape[1]} (one per digit class)")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib not installed: no plot")
else:
    fig, ax = plt.subplots()
    ax.plot(mlp.loss_curve_, label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    ax2.plot(mlp.validation_scores_, color="tab:orange", label="validation accuracy")
    ax2.set_ylabel("validation accuracy")
    ax.set_title("MLPClassifier on digits")
    fig.savefig(plot_path)
    print(f"Training curves saved to {plot_path}")
