"""How far two results folders of the same configuration differ: another commit, another
``train_threads``, another machine.

    .venv/bin/python bench/compare_results.py A/results B/results

Prints the masks and region labels that differ (by file), the largest absolute difference of any
weight, the table columns whose values differ (by name; text, integer and boolean columns must
be equal) and the largest absolute difference of each float column. Columns of seconds are
skipped. Columns that only B has are listed and not compared: a newer commit's new settings
(``train_hidden``) add columns to every table. Exit status 1 if a file of A is missing from B, a
column of A from B's table, or a mask, label or non-float column differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd


def _pairs(a: Path, b: Path, suffix: str, missing: list[Path]) -> list[tuple[Path, Path]]:
    """A's files ending in ``suffix`` beside B's of the same relative path; those B lacks are
    printed and added to ``missing``."""
    pairs = []
    for pa in sorted(a.rglob(f"*{suffix}")):
        pb = b / pa.relative_to(a)
        if pb.exists():
            pairs.append((pa, pb))
        else:
            print(f"missing in {b}: {pa.relative_to(a)}")
            missing.append(pa)
    return pairs


def compare(a: Path, b: Path) -> bool:
    missing: list[Path] = []
    same = True
    arrays, weights = 0, 0.0
    for ha, hb in _pairs(a, b, ".h5", missing):
        with h5py.File(ha) as fa, h5py.File(hb) as fb:
            for group in ("masks", "regions"):
                for key in fa.get(group, {}):
                    arrays += 1
                    x, y = fa[f"{group}/{key}"][()], fb[f"{group}/{key}"][()]
                    if x.shape != y.shape:
                        print(f"{group} differ in shape: {ha.relative_to(a)} {key}")
                        same = False
                    elif not np.array_equal(x, y):
                        print(
                            f"{group} differ: {ha.relative_to(a)} {key},"
                            f" {int((x != y).sum())} of {x.size} entries"
                        )
                        same = False
            for key in fa.get("params", {}):
                diff = np.abs(fa[f"params/{key}"][()] - fb[f"params/{key}"][()])
                weights = max(weights, float(diff.max()))
    print(f"{arrays} masks and label arrays compared; largest weight difference {weights:.3g}")
    floats: dict[str, float] = {}
    added: set[str] = set()
    tables = 0
    for pa, pb in _pairs(a, b, ".parquet", missing):
        ta, tb = pd.read_parquet(pa), pd.read_parquet(pb)
        tables += 1
        added |= set(tb.columns) - set(ta.columns)
        tb = tb[[c for c in tb.columns if c in ta.columns]]
        if list(ta.columns) != list(tb.columns) or len(ta) != len(tb):
            print(f"columns or rows differ: {pa.relative_to(a)}")
            same = False
            continue
        for col in ta.columns:
            if "second" in col:
                continue
            if pd.api.types.is_float_dtype(ta[col]):
                x, y = ta[col].to_numpy(), tb[col].to_numpy()
                if not np.array_equal(np.isnan(x), np.isnan(y)):
                    print(f"missing values differ: {pa.relative_to(a)} {col}")
                    same = False
                    continue
                differ = ~np.isnan(x) & (x != y)  # equal infinities are no difference
                diff = float(np.abs(x[differ] - y[differ]).max()) if differ.any() else 0.0
                floats[col] = max(floats.get(col, 0.0), diff)
            elif not ta[col].equals(tb[col]):
                print(
                    f"values differ: {pa.relative_to(a)} {col},"
                    f" {int((ta[col] != tb[col]).sum())} of {len(ta)} rows"
                )
                same = False
    moved = {k: v for k, v in sorted(floats.items(), key=lambda kv: -kv[1]) if v > 0}
    print(f"{tables} tables compared; float columns that differ, largest absolute difference:")
    for col, diff in moved.items():
        print(f"  {col}: {diff:.2g}")
    if not moved:
        print("  none")
    if added:
        print(f"columns only in B (not compared): {', '.join(sorted(added))}")
    return same and not missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    sys.exit(0 if compare(args.a, args.b) else 1)


if __name__ == "__main__":
    main()
