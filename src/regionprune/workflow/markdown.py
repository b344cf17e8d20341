"""The Markdown tables of ``summary.md``, from the summary tables (pure: tables in, text out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regionprune.core.explain.deletion import METHODS
from regionprune.workflow.tables import GRID_MEASURES, faithfulness_summary

#: The paper's reported numbers (section 4.2), for the comparison table.
PAPER = {
    "baseline_acc": 0.945,
    "final_acc": 0.941,
    "neurons_ge90_pruned": 0.54,
    "neurons_le40_pruned": 0.46,
}


def _pct(x: float) -> str:
    """A share as percent (or points), one decimal."""
    return f"{100 * x:.1f}"


def _section(title: str, caption: str, head: list[str], rows: list[list[str]]) -> str:
    """One summary.md section: a heading, its caption and a table."""
    lines = [
        f"\n## {title}\n",
        caption + "\n",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def paper_table(runs: pd.DataFrame) -> str:
    """Markdown: each run beside the paper's reported numbers."""
    pct = lambda x: f"{_pct(x)}%"  # noqa: E731
    papers = ((runs["train_dataset"] == "mnist") & (runs["train_hidden"] == "100-50")).all()
    # runs on other data or shapes are told that the paper's numbers are MNIST's at 784-100-50-10
    paper = (
        "paper (Takehana & Ozaki, 4.2)"
        if papers
        else ("paper (Takehana & Ozaki, 4.2: MNIST, 784-100-50-10)")
    )
    lines = [
        "| run | baseline acc | final acc | W1 density | neurons >=90% pruned | neurons <=40% pruned |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {paper} | {pct(PAPER['baseline_acc'])} | {pct(PAPER['final_acc'])}"
        f" | not reported | {pct(PAPER['neurons_ge90_pruned'])} | {pct(PAPER['neurons_le40_pruned'])} |",
    ]
    for r in runs.itertuples():
        lines.append(
            f"| {r.run} (iterations={r.iterations}) | {pct(r.baseline_acc)} | {pct(r.final_acc)}"
            f" | {r.w1_density:.3f} | {pct(r.neurons_ge90_pruned)} | {pct(r.neurons_le40_pruned)} |"
        )
    return "\n".join(lines) + "\n"


def readability_markdown(runs: pd.DataFrame) -> str:
    """Markdown: how readable each run's maps are after its last iteration."""
    lines = [
        "| run | variant | alive neurons | regions per neuron | region px (median, p90) |"
        " IPR (median) | largest-region share | pixels used | never-inked pixels used |"
        " weights on never-inked pixels |",
        "|" + " --- |" * 10,
    ]
    for r in runs.itertuples():
        lines.append(
            f"| {r.run} | {r.region_variant} | {r.alive_neurons} | {r.regions_per_neuron:.2f}"
            f" | {r.region_px_median:g}, {r.region_px_p90:g} | {r.ipr_median:.4f}"
            f" | {r.largest_region_share:.2f} | {r.pixels_used} | {r.inactive_pixels_used}"
            f" | {r.inactive_weights} |"
        )
    return "\n".join(lines) + "\n"


#: Column headers of the grid table, in words (others: the column's name with spaces).
GRID_HEADERS = {
    "final_acc": "final acc (%)",
    "w1_density": "W1 density",
    "neurons_ge90_pruned": "neurons >=90% pruned (%)",
    "inactive_pixels_used": "never-inked pixels used",
    "region_px_median": "median region (px)",
    "ipr_median": "IPR (median)",
    "largest_region_share": "largest-region share",
}


def count(x: float) -> str:
    """A count as an integer (35, not 35.0); a mean of counts over seeds with one decimal."""
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def grid_markdown(table: pd.DataFrame) -> str:
    """The grid table as Markdown, each measure as mean +- sd over seeds (the mean alone for a
    setting with one seed)."""
    shown = [c for c in table.columns if not c.endswith(("_mean", "_std"))]
    # each measure rounded as the other tables round it; counts as integers where they are
    fmt = {
        "final_acc": lambda x: f"{100 * x:.1f}",
        "neurons_ge90_pruned": lambda x: f"{100 * x:.1f}",
        "w1_density": lambda x: f"{x:.3f}",
        "regions_per_neuron": lambda x: f"{x:.2f}",
        "largest_region_share": lambda x: f"{x:.2f}",
        "ipr_median": lambda x: f"{x:.4f}",
    }
    head = [GRID_HEADERS.get(c, c.replace("_", " ")) for c in (*shown, *GRID_MEASURES)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in table.itertuples(index=False):
        d = r._asdict()
        cells = [str(d[c]) for c in shown]
        for m in GRID_MEASURES:
            f = fmt.get(m, count)
            mean = f(d[f"{m}_mean"])  # one seed has no spread to show
            cells.append(mean if d.get("seeds", 2) < 2 else f"{mean} +- {f(d[f'{m}_std'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def faithfulness_markdown(faithful: pd.DataFrame, budget: float) -> str:
    """The deletion test's verdicts as a Markdown section ('' when no stage was explained)."""
    if faithful.empty:
        return ""
    table = faithfulness_summary(faithful, budget)
    if table.empty:
        return (
            f"\n## Deletion test\n\nNo stage was tested at budget {budget}: evidence.budget"
            " must be one of evidence.budgets.\n"
        )
    others = [m for m in METHODS if m not in ("region", "random") and f"drop_{m}" in table]
    head = [
        "stage",
        "regions",
        "random",
        "ratio",
        "classes >= 2x",
        *(METHODS[m].label for m in others),
        "regions / IG",
        "faithful",
    ]
    caption = (
        f"Drop in class accuracy (points, mean over classes) when {100 * budget:g}% of the"
        " surviving W1 weights are deleted: the regions most important for the class, random"
        " regions of the same size (mean of the draws), and the pixels that the other"
        " methods rank highest. Ranked on training images, measured on the test images."
        " Faithful: regions >= 2x random. Regions / IG: the regions' drop over integrated"
        " gradients'."
    )
    rows = [
        [
            f"{r['run']} · iteration {r['iteration']}",
            _pct(r["drop_region"]),
            _pct(r["drop_random"]),
            f"{r['ratio_vs_random']:.1f}",
            f"{r['classes_2x_random']}/{r['classes']}",
            *(_pct(r[f"drop_{m}"]) for m in others),
            f"{r['ratio_vs_ig']:.2f}",
            "yes" if r["ratio_vs_random"] >= 2 else "no",
        ]
        for r in table.to_dict("records")
    ]
    return _section("Deletion test: do the maps tell the truth?", caption, head, rows)


def retrain_markdown(faithful: pd.DataFrame, budget: float) -> str:
    """Insertion and remove-and-retrain at the judged budget, per stage ('' without them)."""
    if faithful.empty:
        return ""
    at = faithful[np.isclose(faithful["budget"].astype(float), budget)]
    kept = [m for m in METHODS if f"insert_{m}" in at.columns]
    roar = [m for m in METHODS if f"roar_{m}" in at.columns and at[f"roar_{m}"].notna().any()]
    if at.empty or not (kept or roar):
        return ""
    head = [
        "stage",
        *(f"kept: {METHODS[m].label}" for m in kept),
        *(f"retrained: {METHODS[m].label}" for m in roar),
    ]
    caption = (
        f"Kept: class accuracy (%, mean over classes) with only the {100 * budget:g}% of the"
        " surviving W1 weights that each method ranks highest kept (higher: the method found"
        " what the class needs). Retrained: the drop in class accuracy (points) after deleting"
        " them and retraining with them held at zero (evidence.roar_epochs), against the same"
        " network retrained with nothing deleted (higher: what was deleted cannot be replaced"
        " by what remains; Hooker et al. 2019)."
    )
    rows = [
        [
            f"{run} · iteration {it}",
            *(_pct(g[f"insert_{m}"].mean()) for m in kept),
            *(_pct(g[f"roar_{m}"].mean()) for m in roar),
        ]
        for (run, it), g in at.groupby(["run", "iteration"], sort=False)
    ]
    return _section("Insertion and remove-and-retrain", caption, head, rows)


def sanity_markdown(sanity: pd.DataFrame) -> str:
    """The sanity check per stage and method: each randomisation step's rank correlation and
    SSIM with the trained network's class maps, mean over classes ('' without it)."""
    if sanity.empty:
        return ""
    steps = sanity.drop_duplicates("layers").sort_values("layers")["randomised"].tolist()
    head = ["stage", "maps", *(f"{s} randomised" for s in steps)]
    caption = (
        "Cascading model-parameter randomisation (Adebayo et al. 2018), top layer first:"
        " Spearman rank correlation / SSIM between the class maps of the trained and the"
        " randomised network, mean over classes. Near 0: the maps depend on the weights, as"
        " an explanation must; near 1: they would look the same for any network."
    )
    means = sanity.groupby(["run", "iteration", "maps", "randomised"], sort=False)[
        ["spearman", "ssim"]
    ].mean()
    rows = []
    for (run, it, method), g in means.groupby(level=[0, 1, 2], sort=False):
        g = g.droplevel([0, 1, 2])
        rows.append(
            [
                f"{run} · iteration {it}",
                METHODS[method].label,
                *(f"{g.loc[s, 'spearman']:.2f} / {g.loc[s, 'ssim']:.2f}" for s in steps),
            ]
        )
    return _section(
        "Sanity check: do the maps change when the network is randomised?", caption, head, rows
    )


def yardstick_markdown(yardstick: pd.DataFrame) -> str:
    """Quantus's metrics per stage and maps: pixel flipping's mean class probability along its
    curve, ROAD's surviving accuracy at each fraction, MPRT's correlation after each
    randomisation step ('' without it)."""
    if yardstick.empty:
        return ""
    road = sorted(yardstick.loc[yardstick["metric"] == "road", "fraction"].unique())
    mprt = yardstick[yardstick["metric"] == "mprt"]
    steps = mprt.drop_duplicates("layers").sort_values("layers")["randomised"].tolist()
    head = [
        "stage",
        "maps",
        "pixel flipping",
        *(f"ROAD {100 * f:g}%" for f in road),
        *(f"MPRT {s}" for s in steps),
    ]
    caption = (
        "Each method's map of each of the first evidence.yardstick_images test images, scored"
        " by Quantus (lower is better in every column). Pixel flipping: the image's class"
        " probability, mean along the curve as pixels are set to black most relevant first."
        " ROAD: the share of images still classified correctly with that fraction of the"
        " most relevant pixels replaced by a noisy imputation of their neighbours. MPRT: the"
        " Spearman correlation of |map| with the trained network's after Quantus re-draws the"
        " layers, top first. Region maps: each pixel gets its regions' per-image ablation"
        " effects; random: a uniform draw, the control."
    )
    rows = []
    for (run, it, maps), g in yardstick.groupby(["run", "iteration", "maps"], sort=False):
        flips = g.loc[g["metric"] == "pixel_flipping", "value"]
        r = g[g["metric"] == "road"].set_index("fraction")["value"]
        m = g[g["metric"] == "mprt"].set_index("randomised")["value"]
        label = "random map" if maps == "random" else METHODS[maps].label
        rows.append(
            [
                f"{run} · iteration {it}",
                label,
                f"{flips.mean():.3f}",
                *(f"{r.get(f, float('nan')):.2f}" for f in road),
                *(f"{m.get(s, float('nan')):.2f}" for s in steps),
            ]
        )
    return _section("A standard yardstick: Quantus on per-image maps", caption, head, rows)


#: The HTML page's style: readable tables in Snakemake's report (which shows HTML inline, in a
#: frame about 1050 px wide at a 1400 px window). A table takes the page's width and its cells
#: wrap at spaces (a word longer than its column, anywhere), so that no table scrolls sideways.
HTML_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; max-width: 100%; font-size: 13px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: right; overflow-wrap: break-word; }
th { background: #eee; font-weight: 600; vertical-align: bottom; }
td { white-space: normal; } td:not(:first-child) { overflow-wrap: normal; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #f7f7f7; }
"""


def to_html(text: str, title: str = "Results") -> str:
    """A Markdown page (``summary.md``) as a standalone HTML page with its tables as tables."""
    import markdown

    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
