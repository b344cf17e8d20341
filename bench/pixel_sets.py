"""Pixel sets judged alike: the project's pixel stage against LassoNet, the top-variance pixels and
random pixels, each set of k pixels by the same network trained the same way on those k pixels only.

    .venv/bin/snakemake --configfile workflow/presets/pixel-budgets.yaml --config 'data={local_dir: ../shared/data/mnist}'
    .venv/bin/pip install lassonet
    .venv/bin/python bench/pixel_sets.py --data-dir ../shared/data/mnist --out bench/out/pixel_sets

The sets, for each k (``--ks``) and seed (``--seeds``):

- ``regions``: the input pixels still in use after the last iteration of the preset's run with
  ``region.pixel_budget: k`` (``--variant``: which carving; the budget can leave a few fewer);
- ``lassonet``: the reference implementation's path (``lassonet.LassoNetClassifier`` with its
  defaults: one hidden layer of 100, M = 10, full-batch Adam then SGD, path multiplier 1.02,
  early stopping on 10% of the images; fitted on the first ``--lasso-images`` training images
  in [0, 1], its ``random_state`` and ``torch_seed`` the seed), the k pixels of largest
  ``feature_importances_`` (the penalty at which a pixel leaves the path). The path starts at
  ``--lasso-start`` (1.0): the automatic start (0.82 here) is found by a loop of proximal steps
  that took minutes, and no pixel leaves the path below a penalty of about 40;
- ``variance``: the k pixels of largest variance over the training images;
- ``random``: k pixels drawn at random (numpy, the seed).

The judge of every set: the workflow's baseline network and training with ReLU (``TrainSettings``
with ``activation: relu``: hidden [100, 50], 15 epochs of SGD at lr 0.1, batch 100), its first
layer k wide, trained from the seed's initialisation and data order on the k pixels and tested on
the test images' same k pixels. ``pruned`` is the preset's own pruned network's final accuracy.
Writes ``pixel_sets.parquet`` (one row per set, k and seed), ``pixel_sets.md`` (mean +- s.d.
over seeds) and ``pixel_sets.png``/``.pdf`` in ``--out``; LassoNet's importances are kept there
(``lassonet_s<seed>_n<images>_start<penalty>.npy``) and reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from regionprune.io.data import load_split, unit_pixels  # noqa: E402
from regionprune.core.network import W1
from regionprune.workflow.settings import TrainSettings, stream_seed  # noqa: E402

METHODS = ("regions", "lassonet", "variance", "random")
_DATA: dict = {}


def project_sets(results: Path, variant: str, ks: list[int], seeds: list[int]) -> pd.DataFrame:
    """The pixels each budget run of the preset reads after its last iteration, with its own
    final accuracy."""
    from regionprune.io.storage import load_checkpoint

    runs = pd.read_parquet(results / "summary" / "runs.parquet")
    runs = runs[runs["method"] == "region"]
    rows = []
    for k in ks:
        for seed in seeds:
            pick = runs[
                (runs["region_pixel_budget"] == k)
                & (runs["train_seed"] == seed)
                & (runs["region_variant"].str.replace(f"_pb{k}", "") == variant)
            ]
            if len(pick) != 1:
                raise SystemExit(
                    f"{len(pick)} runs of variant {variant} with pixel_budget {k}, seed {seed} in"
                    f" {results}. Fix: run workflow/presets/pixel-budgets.yaml first, or pick"
                    f" --variant from {sorted(runs['region_variant'].unique())}"
                )
            run = pick.iloc[0]
            mask = load_checkpoint(results / "runs" / run["run_path"] / "model.h5").mask(W1)
            rows.append(
                {
                    "k": k,
                    "seed": seed,
                    "pixels": np.flatnonzero(mask.any(axis=0)),
                    "pruned_acc": run["final_acc"],
                    "baseline_acc": run["baseline_acc"],
                }
            )
    return pd.DataFrame(rows)


def lassonet_importance(
    x: np.ndarray, y: np.ndarray, seed: int, cache: Path, lambda_start: float
) -> np.ndarray:
    """LassoNet's feature importances on a path from the dense model to none (cached)."""
    if cache.is_file():
        return np.load(cache)
    import torch
    from lassonet import LassoNetClassifier

    torch.set_num_threads(1)
    start = time.perf_counter()
    model = LassoNetClassifier(
        hidden_dims=(100,),
        M=10,
        lambda_start=lambda_start,
        random_state=seed,
        torch_seed=seed,
        device="cpu",
        verbose=0,
    )
    path = model.path(x, y)
    importance = model.feature_importances_.numpy()
    print(
        f"LassoNet seed {seed}: a path of {len(path)} penalties on {len(y)} images in"
        f" {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    np.save(cache, importance)
    return importance


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """The k largest scores' indices (ties: lower index first), sorted."""
    return np.sort(np.argsort(-scores, kind="stable")[:k])


def _load(data_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    _DATA["train"] = load_split(Path(data_dir), "mnist", "train")
    _DATA["test"] = load_split(Path(data_dir), "mnist", "test")


def judge(pixels: np.ndarray, seed: int) -> float:
    """Test accuracy of the baseline ReLU network trained on ``pixels`` only."""
    import torch

    from regionprune.core import training
    from regionprune.core.model import build_model

    ts = TrainSettings(activation="relu", seed=seed)
    (xtr, ytr), (xte, yte) = _DATA["train"], _DATA["test"]
    cpu = torch.device("cpu")
    train = training.to_split(np.ascontiguousarray(xtr[:, pixels]), ytr, cpu)
    test = training.to_split(np.ascontiguousarray(xte[:, pixels]), yte, cpu)
    net = build_model(ts.activation, ts.init, seed, (len(pixels), *ts.hidden, 10))
    training.train(
        net,
        train,
        test,
        epochs=ts.epochs,
        lr=ts.lr,
        batch_size=ts.batch_size,
        seed=stream_seed(seed, 0),
        weight_decay=ts.weight_decay,
    )
    return training.evaluate(net, test)[0]


def figure(table: pd.DataFrame, out: Path) -> None:
    from regionprune.workflow.figures.run import save_figure
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    styles = {
        "regions": ("tab:red", "o", "-"),
        "lassonet": ("tab:blue", "s", "--"),
        "variance": ("tab:green", "^", ":"),
        "random": ("tab:gray", "v", ":"),
        "pruned": ("black", "D", "-."),
    }
    names = {
        "regions": "the pixel stage's pixels",
        "lassonet": "LassoNet's top k",
        "variance": "top-variance pixels",
        "random": "random pixels",
        "pruned": "the pruned network itself",
    }
    for method, g in table.groupby("method", sort=False):
        stats = g.groupby("k")["acc"].agg(["mean", "std"])
        colour, marker, line = styles[method]
        ax.errorbar(
            stats.index,
            100 * stats["mean"],
            yerr=100 * stats["std"],
            color=colour,
            marker=marker,
            linestyle=line,
            capsize=3,
            label=names[method],
        )
    base = table["baseline_acc"].dropna().mean()
    ax.axhline(100 * base, color="black", lw=0.8, alpha=0.5)
    ax.text(
        table["k"].min(),
        100 * base + 0.2,
        "the unpruned network, all 784 pixels",
        va="bottom",
        fontsize=8,
        color="0.3",
    )
    ax.set_xlabel("pixels k")
    ax.set_ylabel("test accuracy (%), mean +- s.d. over seeds")
    ax.set_title("k pixels, each set judged by the same ReLU network and training", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    save_figure(fig, out, "pixel_sets")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--data-dir", type=Path, required=True, help="the MNIST IDX files")
    ap.add_argument("--out", type=Path, default=Path("bench/out/pixel_sets"))
    ap.add_argument(
        "--variant",
        default="px0.2_cap2",
        help="the preset's carving, as region_variant without _pb<k>",
    )
    ap.add_argument("--ks", type=int, nargs="+", default=[50, 100, 150, 250])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--lasso-images",
        type=int,
        default=10_000,
        help="training images LassoNet's path is fitted on (the first N)",
    )
    ap.add_argument("--lasso-start", type=float, default=1.0, help="LassoNet's first penalty")
    ap.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    ap.add_argument(
        "--lasso-only",
        action="store_true",
        help="compute (and keep) LassoNet's importances, then stop",
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    xtr, ytr = load_split(args.data_dir, "mnist", "train")
    xl, yl = unit_pixels(xtr[: args.lasso_images]), ytr[: args.lasso_images].astype(np.int64)
    cache = (
        lambda s: args.out / f"lassonet_s{s}_n{len(yl)}_start{args.lasso_start:g}.npy"
    )  # noqa: E731
    lassos = {s: lassonet_importance(xl, yl, s, cache(s), args.lasso_start) for s in args.seeds}
    if args.lasso_only:
        return
    ours = project_sets(args.results, args.variant, args.ks, args.seeds)
    variance = unit_pixels(xtr).var(axis=0)
    sets = []
    for seed in args.seeds:
        lasso = lassos[seed]
        for k in args.ks:
            own = ours[(ours["k"] == k) & (ours["seed"] == seed)].iloc[0]
            rng = np.random.default_rng(seed)
            sets += [
                ("regions", k, seed, own["pixels"]),
                ("lassonet", k, seed, top(lasso, k)),
                ("variance", k, seed, top(variance, k)),
                ("random", k, seed, np.sort(rng.choice(xtr.shape[1], k, replace=False))),
            ]
    with ProcessPoolExecutor(args.jobs, initializer=_load, initargs=(str(args.data_dir),)) as pool:
        accs = list(pool.map(judge, [s[3] for s in sets], [s[2] for s in sets]))
    table = pd.DataFrame(
        [
            {"method": m, "k": k, "seed": s, "pixels": len(p), "acc": a, "baseline_acc": np.nan}
            for (m, k, s, p), a in zip(sets, accs)
        ]
    )
    pruned = ours.assign(method="pruned", pixels=ours["pixels"].map(len), acc=ours["pruned_acc"])
    table = pd.concat([table, pruned[table.columns]], ignore_index=True)
    table.to_parquet(args.out / "pixel_sets.parquet")
    stats = table.groupby(["method", "k"], sort=False).agg(
        acc=("acc", "mean"), sd=("acc", "std"), pixels=("pixels", "mean")
    )
    rows = [
        "| k | "
        + " | ".join(["the pixel stage", "LassoNet", "top variance", "random", "pruned network"])
        + " |",
        "| --- " * 6 + "|",
    ]
    for k in args.ks:
        cells = []
        for m in (*METHODS, "pruned"):
            r = stats.loc[(m, k)]
            px = (
                f" ({r['pixels']:.0f} px)"
                if m in ("regions", "pruned") and r["pixels"] != k
                else ""
            )
            cells.append(f"{100 * r['acc']:.2f} +- {100 * r['sd']:.2f}{px}")
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    text = "\n".join(rows) + "\n"
    (args.out / "pixel_sets.md").write_text(text)
    print(text)
    figure(table, args.out)
    print(f"{len(sets)} sets judged in {time.perf_counter() - start:.0f} s; {args.out}")


if __name__ == "__main__":
    main()
