"""The Markdown tables of ``summary.md``, from the summary tables (pure: tables in, text out)."""

from __future__ import annotations

import pandas as pd

from regionprune.explain.deletion import METHODS
from regionprune.metrics import GRID_MEASURES, faithfulness_summary

#: The paper's reported numbers (section 4.2), for the comparison table.
PAPER = {
    "baseline_acc": 0.945,
    "final_acc": 0.941,
    "neurons_ge90_pruned": 0.54,
    "neurons_le40_pruned": 0.46,
}


def paper_table(runs: pd.DataFrame) -> str:
    """Markdown: each run beside the paper's reported numbers."""
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    papers = ((runs["train_dataset"] == "mnist") & (runs["train_hidden"] == "100-50")).all()
    # runs on other data or shapes are told that the paper's numbers are MNIST's at 784-100-50-10
    paper = "paper (Takehana & Ozaki, 4.2)" if papers else (
        "paper (Takehana & Ozaki, 4.2: MNIST, 784-100-50-10)")  # fmt: skip
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


def grid_markdown(table: pd.DataFrame) -> str:
    """The grid table as Markdown, each measure as mean +- sd over seeds (the mean alone for a
    setting with one seed)."""
    shown = [c for c in table.columns if not c.endswith(("_mean", "_std"))]
    fmt = {
        "final_acc": lambda x: f"{100 * x:.2f}",
        "neurons_ge90_pruned": lambda x: f"{100 * x:.1f}",
        "w1_density": lambda x: f"{x:.3f}",
        "largest_region_share": lambda x: f"{x:.2f}",
        "ipr_median": lambda x: f"{x:.4f}",
    }
    head = [GRID_HEADERS.get(c, c.replace("_", " ")) for c in (*shown, *GRID_MEASURES)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in table.itertuples(index=False):
        d = r._asdict()
        cells = [str(d[c]) for c in shown]
        for m in GRID_MEASURES:
            f = fmt.get(m, lambda x: f"{x:.1f}")
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
        return (f"\n## Deletion test\n\nNo stage was tested at budget {budget}: evidence.budget"
                " must be one of evidence.budgets.\n")  # fmt: skip
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    others = [m for m in METHODS if m not in ("region", "random") and f"drop_{m}" in table]
    head = ["stage", "regions", "random", "ratio", "classes >= 2x",
            *(METHODS[m].label for m in others), "regions / IG", "faithful"]  # fmt: skip
    lines = [
        "\n## Deletion test: do the maps tell the truth?\n",
        (
            f"Drop in class accuracy (points, mean over classes) when {100 * budget:g}% of the"
            " surviving W1 weights are deleted: the regions most important for the class, random"
            " regions of the same size (mean of the draws), and the pixels that the other"
            " methods rank highest. Ranked on training images, measured on the test images."
            " Faithful: regions >= 2x random. Regions / IG: the regions' drop over integrated"
            " gradients'.\n"
        ),
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for r in table.to_dict("records"):
        cells = [f"{r['run']} · iteration {r['iteration']}", pct(r["drop_region"]), pct(r["drop_random"]),
                 f"{r['ratio_vs_random']:.1f}", f"{r['classes_2x_random']}/{r['classes']}",
                 *(pct(r[f"drop_{m}"]) for m in others), f"{r['ratio_vs_ig']:.2f}",
                 "yes" if r["ratio_vs_random"] >= 2 else "no"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: The HTML page's style: readable tables in Snakemake's report (which shows HTML inline).
HTML_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
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
