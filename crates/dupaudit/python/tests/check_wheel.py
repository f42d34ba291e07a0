"""Checks an installed dupaudit wheel on the generated tree (examples/make_tree.rs):

    python check_wheel.py FOLDER     # FOLDER holds tree/ and expected.json

The console script and the Python function both find every planted pair and nothing
else, list every bad file as skipped, and agree with each other; drop.txt is exactly the
surplus.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

import dupaudit


def rel(root: str, path: str) -> str:
    return os.path.relpath(path, root)


def main() -> None:
    folder = sys.argv[1]
    root = os.path.join(folder, "tree")
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    planted = {tuple(sorted(p)) for p in expected["planted"]}

    out = tempfile.mkdtemp()
    subprocess.run(["dupaudit", "scan", root, "--out", out], check=True)
    with open(os.path.join(out, "pairs.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    cli_pairs = {tuple(sorted((rel(root, r["path_a"]), rel(root, r["path_b"])))) for r in rows}
    assert cli_pairs == planted, (cli_pairs, planted)

    with open(os.path.join(out, "skipped.csv"), newline="") as f:
        skipped = {rel(root, r["path"]) for r in csv.DictReader(f)}
    assert skipped == set(expected["bad"]), skipped

    with open(os.path.join(out, "drop.txt")) as f:
        dropped = {rel(root, line.rstrip("\n")) for line in f if line.strip()}
    assert dropped == set(expected["surplus"]), dropped

    result = dupaudit.audit(root)
    py_pairs = {tuple(sorted((rel(root, p.a.path), rel(root, p.b.path)))) for p in result.pairs}
    assert py_pairs == cli_pairs, (py_pairs, cli_pairs)
    assert [(p.a.set, p.a.index, p.b.set, p.b.index, f"{p.score:.4f}", p.kind) for p in result.pairs] == [
        (r["split_a"], int(r["index_a"]), r["split_b"], int(r["index_b"]), r["score"], r["kind"])
        for r in rows
    ]
    assert {rel(root, s.path) for s in result.skipped} == skipped
    py_dropped = {rel(root, m.path) for g in result.groups for m in g.surplus}
    assert py_dropped == dropped, py_dropped
    try:
        dupaudit.audit(root, strict=True)
    except ValueError as e:
        assert "README.md" in str(e), e
    else:
        raise AssertionError("strict=True did not raise on the bad files")
    print(f"wheel ok: dupaudit {dupaudit.__version__}, {len(result.pairs)} pairs, "
          f"{len(result.skipped)} skipped, {len(dropped)} to drop")


if __name__ == "__main__":
    main()
