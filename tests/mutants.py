"""Deliberate bugs in the faithfulness evaluation: each is patched into the source in turn, the
fast evaluation tests run, the source restored. Every bug must make a test fail (and each finds
its line exactly once: test_faithfulness checks that, so a reformatting cannot lose one).

    .venv/bin/python tests/mutants.py      # about 3 minutes; exit status 1 if a bug goes unseen
"""

import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
D = "src/regionprune/core/explain/deletion.py"
I = "src/regionprune/core/explain/importance.py"
A = "src/regionprune/core/explain/attribution.py"
S = "src/regionprune/core/explain/sanity.py"
Y = "src/regionprune/core/explain/yardstick.py"
MUTANTS = [
    (
        "random control draws the regions' order",
        D,
        "orders = [rng.permutation(n_units[method.unit]) for _ in range(random_draws)]",
        "orders = [ranking(METHODS['region'].scores(ranked)[c]) for _ in range(random_draws)]",
    ),
    (
        "random control: one order for every draw",
        D,
        "orders = [rng.permutation(n_units[method.unit]) for _ in range(random_draws)]",
        "orders = [rng.permutation(n_units[method.unit])] * random_draws",
    ),
    (
        "remove-and-retrain: the random control's last draw, not its first",
        D,
        "to_retrain.append((c, name, laid_out[0]))",
        "to_retrain.append((c, name, laid_out[-1]))",
    ),
    (
        "least important first",
        I,
        'return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")',
        'return np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")',
    ),
    (
        "within a unit, the weakest weight first",
        D,
        "weights = alive[np.lexsort((-np.abs(np.asarray(magnitude).ravel()[alive]), unit))]",
        "weights = alive[np.lexsort((np.abs(np.asarray(magnitude).ravel()[alive]), unit))]",
    ),
    (
        "budget counted from the removed weights",
        D,
        'counts = budget_counts(int((groups["region"] >= 0).sum()), budgets)',
        'counts = budget_counts(int((groups["region"] < 0).sum()) + 1, budgets)',
    ),
    (
        "insertion keeps the deleted complement",
        D,
        "kept = np.add(bias, part, out=np.empty(part.shape, np.float32))",
        "kept = np.subtract(z1[None], part, out=np.empty(part.shape, np.float32))",
    ),
    (
        "region gradients from a grey baseline",
        A,
        "ones, baseline = torch.ones(n_regions), 0.0",
        "ones, baseline = torch.ones(n_regions), 0.5",
    ),
    (
        "integrated gradients from a grey baseline",
        D,
        "lambda r: r.integrated_gradients(baselines=0.0),",
        "lambda r: r.integrated_gradients(baselines=0.5),",
    ),
    (
        "integrated gradients: the path's start left out",
        A,
        "z1 = (start + alpha * F.linear(delta[i : i + batch], w1))",
        "z1 = (b1 + alpha * F.linear(delta[i : i + batch], w1))",
    ),
    (
        "integrated gradients: Gauss-Legendre's weights dropped",
        A,
        'torch.einsum("s,snh->nh", weights, grad)',
        "grad.mean(0)",
    ),
    (
        "yardstick: integrated gradients from a grey baseline",
        Y,
        "x, y, steps, baselines=0.0)",
        "x, y, steps, baselines=0.5)",
    ),
    (
        "occlusion sets the pixel to 0.5",
        I,
        "z1p = torch.addcmul(z1t[it], ink[start : start + chunk, None], w1_rows[pt], value=-1.0)",
        "z1p = torch.addcmul(z1t[it], ink[start : start + chunk, None] - 0.5, w1_rows[pt], value=-1.0)",
    ),
    (
        "ROAR: one weight short of the budget",
        D,
        "m[order[:k]] = False",
        "m[order[: k - 1]] = False",
    ),
    (
        "ROAR: another batch order",
        D,
        "seeds=[retrain.seed] * len(masks)",
        "seeds=[retrain.seed + 1] * len(masks)",
    ),
    (
        "yardstick: region maps on class 0's log-probability",
        I,
        "out[:, g] = (logp0[None] - own_logprob(logits, y)).T",
        "out[:, g] = (logp0[None] - own_logprob(logits, 0 * y)).T",
    ),
    (
        "yardstick: the maps' sign flipped",
        Y,
        "a4 = explain(net, labels, x, y, ig_steps, draw)",
        "a4 = -explain(net, labels, x, y, ig_steps, draw)",
    ),
    (
        "sanity: randomise keeps the trained weights",
        S,
        'params[f"{name}.weight"] = new_w',
        'params[f"{name}.weight"] = w',
    ),
    ("sanity: W1's zeros filled", S, "new_w = new_w * (w != 0)", "new_w = new_w"),
    (
        "ROAD: a diagonal neighbour weighs as one beside",
        Y,
        "_ROAD_WEIGHTS = np.array([1, 2, 1, 1, 2, 1, 2, 2]) / 12",
        "_ROAD_WEIGHTS = np.array([2, 2, 1, 1, 2, 1, 2, 2]) / 12",
    ),
    ("ROAD: its noise unseeded", Y, "rng=np.random.RandomState([seed, k])", "rng=None"),
    (
        "ROAD: images in batches of 10 (Quantus then scores the first only)",
        Y,
        '"batch_size": len(y),',
        '"batch_size": 10,',
    ),
]
TESTS = ["tests/test_faithfulness.py", "tests/test_evidence.py"]


def main() -> None:
    out = []
    for name, path, old, new in MUTANTS:
        f = ROOT / path
        src = f.read_text()
        assert src.count(old) == 1, (name, src.count(old))
        f.write_text(src.replace(old, new))
        try:
            t = time.time()
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-n0",
                    "-p",
                    "no:cacheprovider",
                    *TESTS,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            fails = [
                l.split(" - ")[0].replace("FAILED ", "")
                for l in r.stdout.splitlines()
                if l.startswith("FAILED")
            ]
            out.append((name, r.returncode != 0, fails, time.time() - t))
            print(
                f"{'caught' if r.returncode else 'MISSED'} {time.time()-t:5.1f}s  {name}: {fails}",
                flush=True,
            )
        finally:
            f.write_text(src)
    missed = [name for name, caught, _, _ in out if not caught]
    print(
        f"{len(out) - len(missed)} of {len(out)} bugs caught"
        + (f"; missed: {missed}" if missed else "")
    )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
