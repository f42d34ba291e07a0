#!/usr/bin/env python3
"""Reference answers from LIBSVM (through scikit-learn's SVC) for dupstudy-svm's tests.

Writes fixtures/svm/<name>.json: the training points and labels, the parameters, test points,
and LIBSVM's dual objective, bias (intercept), support-vector count and decision values.

Run from the repository root:

    python3 -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install scikit-learn numpy
    /tmp/venv-ref/bin/python scripts/libsvm_fixtures.py

The data are drawn with numpy's PCG64 generator from fixed seeds; the Rust tests read the
points from the files and never regenerate them.
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.svm import SVC

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "svm")
PAPER_MEANS = (np.array([0.0, 0.0]), np.array([1.0, 1.0]))
PAPER_COV = np.array([[1.0, 0.5], [0.5, 1.0]])


def gaussian(rng, n_per_class, means=PAPER_MEANS, cov=PAPER_COV):
    x = np.vstack([rng.multivariate_normal(m, cov, n_per_class) for m in means])
    y = np.repeat([-1, 1], n_per_class)
    return x, y


def dual_objective(model, x_train, gamma):
    """1/2 a^T Q a - e^T a from the support vectors and y_i a_i."""
    sv = model.support_vectors_
    coef = model.dual_coef_[0]
    d2 = ((sv[:, None, :] - sv[None, :, :]) ** 2).sum(-1)
    k = np.exp(-gamma * d2)
    return 0.5 * coef @ k @ coef - np.abs(coef).sum()


def write(name, x, y, x_test, c, gamma, note):
    model = SVC(C=c, kernel="rbf", gamma=gamma, tol=1e-3, cache_size=200, shrinking=True)
    model.fit(x, y)
    assert list(model.classes_) == [-1, 1]
    decision = model.decision_function(x_test)
    record = {
        "name": name,
        "note": note,
        "generator": "scripts/libsvm_fixtures.py",
        "sklearn_version": sklearn.__version__,
        "c": c,
        "gamma": gamma,
        "tol": 1e-3,
        "train_x": x.round(12).tolist(),
        "train_y": y.astype(int).tolist(),
        "test_x": x_test.round(12).tolist(),
        "libsvm": {
            "dual_objective": float(dual_objective(model, x, gamma)),
            "bias": float(model.intercept_[0]),
            "n_sv": int(model.support_.size),
            "n_sv_per_class": [int(v) for v in model.n_support_],
            "decision": [float(v) for v in decision],
        },
    }
    path = os.path.join(OUT, f"{name}.json")
    with open(path, "w") as f:
        json.dump(record, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: n={len(y)} n_sv={record['libsvm']['n_sv']} obj={record['libsvm']['dual_objective']:.6f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    # The paper's problem: 100 points a class, C = 1, gamma = auto = 1/2.
    rng = np.random.default_rng(2504_00638)
    x, y = gaussian(rng, 100)
    x_test, _ = gaussian(rng, 500)
    write("paper_gauss", x, y, x_test, 1.0, 0.5, "paper setting, no duplicates")

    # Uniform heavy duplication: D-rate 90 drawn with replacement.
    idx = rng.integers(0, 200, size=180)
    write("uniform_dup90", np.vstack([x, x[idx]]), np.concatenate([y, y[idx]]), x_test, 1.0, 0.5,
          "paper data plus 180 uniform duplicates (with replacement)")

    # Biased duplication: class +1 picked with p = 0.8, D-rate 90.
    plus = np.flatnonzero(y == 1)
    minus = np.flatnonzero(y == -1)
    pick_plus = rng.random(180) < 0.8
    idx = np.where(pick_plus, rng.choice(plus, 180), rng.choice(minus, 180))
    write("weighted_dup90", np.vstack([x, x[idx]]), np.concatenate([y, y[idx]]), x_test, 1.0, 0.5,
          "paper data plus 180 duplicates, class +1 with probability 0.8")

    # Extreme duplication: 12 distinct points, each repeated 25 times, overlapping classes.
    base, base_y = gaussian(rng, 6)
    reps = np.repeat(np.arange(12), 25)
    write("extreme_dup", base[reps], base_y[reps], x_test[:200], 1.0, 0.5,
          "12 distinct points, each 25 times: nothing but zero-curvature pairs")

    # Many identical copies across classes: the same point labelled both ways.
    x_conf = np.vstack([x[:40], x[:10]])
    y_conf = np.concatenate([y[:40], -y[:10]])
    y_conf[20:40] = 1
    write("conflicting_dup", x_conf, y_conf, x_test[:200], 2.0, 1.0,
          "identical points carrying opposite labels")

    # Higher dimension, larger C, separable-ish data.
    rng5 = np.random.default_rng(5)
    means5 = (np.zeros(5), np.full(5, 0.8))
    x5, y5 = gaussian(rng5, 150, means5, np.eye(5))
    x5_test, _ = gaussian(rng5, 250, means5, np.eye(5))
    write("dim5_c10", x5, y5, x5_test, 10.0, 0.2, "5-D, C = 10, gamma = 0.2")

    # Wide kernel, small C: most points bounded.
    write("paper_c01_g5", x, y, x_test, 0.1, 5.0, "paper data, C = 0.1, gamma = 5")
    print(f"sklearn {sklearn.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
