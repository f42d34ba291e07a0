#!/usr/bin/env python3
"""dupstudy-svm against LIBSVM (scikit-learn's SVC), side by side, in one sitting.

The paper's 2-D Gaussian problem (means [0,0] and [1,1], covariance [[1,0.5],[0.5,1]],
balanced), C = 1, gamma = 0.5, tol 1e-3, 200 MB kernel cache, shrinking on, at
n = 380, 2,000, 20,000 and 100,000 training points, 20,000 test points. For each n it
reports fit time (LIBSVM; ours on all cores and on one), the dual objectives (LIBSVM's
own `obj`, read from its verbose output), peak memory of each process, and the predict
time of the n = 20,000 models on the test points.

    cargo build --release -p dupstudy-svm --example fit_csv
    python3 -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install scikit-learn numpy
    /tmp/venv-ref/bin/python scripts/svm_vs_libsvm.py [--sizes 380,2000,20000,100000]

Nothing else should run on the machine meanwhile.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LIBSVM_RUN = r"""
import json, sys, time, numpy as np
from sklearn.svm import SVC
train = np.loadtxt(sys.argv[1], delimiter=","); test = np.loadtxt(sys.argv[2], delimiter=",")
m = SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-3, cache_size=200, shrinking=True, verbose=True)
t = time.perf_counter(); m.fit(train[:, 1:], train[:, 0]); fit = time.perf_counter() - t
t = time.perf_counter(); p = m.predict(test[:, 1:]); predict = time.perf_counter() - t
sys.stdout.flush()
print("\nRESULT " + json.dumps({"fit_seconds": fit, "predict_seconds": predict,
      "n_sv": int(m.support_.size), "test_accuracy": float((p == test[:, 0]).mean())}))
"""


def run_measured(cmd):
    """Runs cmd with its peak RSS measured by wait4."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{cmd} failed with status {status}")
    return out, usage.ru_maxrss / 1024.0


def gaussian(rng, n):
    half = n // 2
    cov = [[1.0, 0.5], [0.5, 1.0]]
    x = np.vstack([rng.multivariate_normal([0, 0], cov, half), rng.multivariate_normal([1, 1], cov, n - half)])
    y = np.concatenate([-np.ones(half), np.ones(n - half)])
    return np.column_stack([y, x])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="380,2000,20000,100000")
    p.add_argument("--ours", default=os.path.join(ROOT, "target/release/examples/fit_csv"))
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    rng = np.random.default_rng(20_000)
    tmp = tempfile.mkdtemp(prefix="svm-vs-libsvm-")
    test_path = os.path.join(tmp, "test.csv")
    np.savetxt(test_path, gaussian(rng, 20_000), delimiter=",", fmt="%.17g")
    rows = []
    for n in sizes:
        train_path = os.path.join(tmp, f"train-{n}.csv")
        np.savetxt(train_path, gaussian(rng, n), delimiter=",", fmt="%.17g")
        out, libsvm_mb = run_measured([sys.executable, "-c", LIBSVM_RUN, train_path, test_path])
        obj = float(re.search(r"obj = (-?[0-9.eE+-]+)", out).group(1))
        libsvm = json.loads(out.split("RESULT ", 1)[1])
        libsvm["dual_objective"] = obj
        ours = {}
        for threads in (0, 1):
            o, mb = run_measured([a.ours, "--train", train_path, "--test", test_path, "--c", "1", "--gamma", "0.5",
                                  "--threads", str(threads)])
            ours[threads] = json.loads(o)
            ours[threads]["peak_mb"] = mb
        row = {"n": n, "libsvm": dict(libsvm, peak_mb=libsvm_mb), "ours_all_cores": ours[0], "ours_one_thread": ours[1]}
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    print("| n | LIBSVM fit (s) | ours, 2 threads (s) | ratio | ours, 1 thread (s) | ratio | LIBSVM objective | ours | rel. diff | peak MB LIBSVM / ours |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        l, o2, o1 = r["libsvm"], r["ours_all_cores"], r["ours_one_thread"]
        rel = abs(o2["dual_objective"] - l["dual_objective"]) / abs(l["dual_objective"])
        print(f"| {r['n']:,} | {l['fit_seconds']:.3f} | {o2['fit_seconds']:.3f} | {o2['fit_seconds'] / l['fit_seconds']:.2f}x "
              f"| {o1['fit_seconds']:.3f} | {o1['fit_seconds'] / l['fit_seconds']:.2f}x | {l['dual_objective']:.3f} "
              f"| {o2['dual_objective']:.3f} | {rel:.1e} | {l['peak_mb']:.0f} / {o2['peak_mb']:.0f} |")
    for r in rows:
        if r["n"] == 20_000:
            l, o2, o1 = r["libsvm"], r["ours_all_cores"], r["ours_one_thread"]
            print(f"\nPredict 20,000 test points with the n = 20,000 model ({l['n_sv']:,} support vectors in LIBSVM, "
                  f"{o2['n_sv']:,} in ours): LIBSVM {l['predict_seconds']:.3f} s, ours {o2['predict_seconds']:.3f} s "
                  f"on 2 threads ({o2['predict_seconds'] / l['predict_seconds']:.2f}x), {o1['predict_seconds']:.3f} s on one "
                  f"({o1['predict_seconds'] / l['predict_seconds']:.2f}x). Test accuracy: LIBSVM {l['test_accuracy']:.4f}, "
                  f"ours {o2['test_accuracy']:.4f}.")


if __name__ == "__main__":
    main()
