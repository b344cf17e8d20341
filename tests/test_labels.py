"""Short run labels and the tidy summary tables, on hand-made settings rows."""

import pandas as pd
import pytest

from regionprune.workflow.config import runs_from_config
from regionprune.workflow.labels import (
    Labels,
    folder_labels,
    part,
    run_labels,
    settings_by_run,
    tidy,
)
from regionprune.workflow.settings import split_stage, stage_path


def _rows(grid):
    import yaml

    config = yaml.safe_load(open("config.yaml"))
    config["grid"] = grid
    return [r.row() for r in runs_from_config(config).values()]


def test_part_names_each_setting_shortly():
    assert part("train_seed", 3) == "s3"
    assert part("method", "random") == "random"
    assert part("region_rate", 0.4) == "rate 0.4"
    assert part("magnitude_rate", 0.5) == "mag rate 0.5"
    assert part("train_lr", 1e-05) == "lr 1e-05"
    assert part("region_retrain_epochs", 2) == "retrain epochs 2"
    assert part("train_train_limit", None) == "train limit none"
    assert part("iterations", 4) == "4 iterations"
    assert part("train_hidden", "300-100") == "hidden 300-100"


def test_a_grid_over_shapes_is_labelled_by_the_widths():
    rows = _rows({"train": {"hidden": [[100, 50], [300, 100], [100, 100, 50]]}})
    assert list(run_labels(pd.DataFrame(rows))) == [
        "s0 · hidden 100-50 · region",
        "s0 · hidden 300-100 · region",
        "s0 · hidden 100-100-50 · region",
    ]
    # only a shape other than the paper's names its folder, so the paper's folders stay
    assert [r["run"].split("/")[0].split("_s0")[1] for r in rows] == [
        "",
        "_h300-100",
        "_h100-100-50",
    ]


def test_a_label_names_the_seed_what_varies_and_the_method():
    rows = _rows(
        {"train": {"seed": [0, 1]}, "region": {"rate": [0.2, 0.4]}, "method": ["region", "random"]}
    )
    labels = run_labels(pd.DataFrame(rows))
    assert labels.iloc[0] == "s0 · rate 0.2 · region"
    assert set(labels) == {
        f"s{s} · rate {r} · {m}" for s in (0, 1) for r in (0.2, 0.4) for m in ("region", "random")
    }
    # one run: the seed and the method only
    assert list(run_labels(pd.DataFrame(_rows({})))) == ["s0 · region"]


def test_folder_labels_name_each_level_by_its_own_settings_and_those_above():
    rows = _rows({"train": {"seed": [0, 1]}, "region": {"rate": [0.2, 0.4]}})
    labels = folder_labels(rows)
    run = rows[-1]["run"]  # s1, rate 0.4
    levels = run.split("/")
    assert labels[levels[0]] == "s1"  # the baseline: no region setting yet
    assert labels["/".join(levels[:2])] == "s1"
    assert labels["/".join(levels[:3])] == "s1 · rate 0.4"
    assert labels["/".join(levels[:4])] == "s1 · rate 0.4 · region"
    assert labels[run] == "s1 · rate 0.4 · region"


def test_labels_as_a_format_spec_as_snakemake_messages_use_them():
    rows = _rows({"iterations": [2, 3]})
    book = Labels(rows)
    path = "/".join(rows[0]["run"].split("/")[:3])
    from snakemake.utils import format as snakemake_format  # what formats a rule's message

    message = snakemake_format("retrain {LABEL:" + path + "@{k}u}", LABEL=book, k=2)
    assert message == "retrain s0 · iteration 2/3"
    assert format(book, path) == "s0"
    assert format(book, rows[1]["run"]) == "s0 · region · 3 iterations"
    assert format(book, "not/a/key") == "not/a/key"  # unknown keys pass through


def test_split_stage_inverts_stage_path():
    assert split_stage(stage_path("a/b/c/region", 7)) == ("a/b/c/region", 7)
    with pytest.raises(ValueError, match="no iteration folder"):
        split_stage("a/b/c/region")


def test_tidy_tables_carry_label_path_and_settings():
    rows = _rows({"train": {"seed": [0, 1]}, "iterations": [1, 2]})
    runs = pd.DataFrame(rows).assign(final_acc=[0.9, 0.91, 0.92, 0.93])
    keyed = settings_by_run(runs)
    tidy_runs = tidy(runs, keyed)
    assert list(tidy_runs.columns[:2]) == ["run", "run_path"]
    assert tidy_runs["run"].iloc[0] == "s0 · region · 1 iteration"
    assert list(tidy_runs["run_path"]) == list(runs["run"])
    # a per-run table: its rows keep their order and gain every setting
    per_run = pd.DataFrame(
        {
            "run": [rows[1]["run"]] * 2 + [rows[0]["run"]],
            "epoch": [1, 2, 1],
            "train_loss": [0.5, 0.4, 0.6],
        }
    )
    t = tidy(per_run, keyed)
    assert list(t.columns[:4]) == ["run", "run_path", "epoch", "train_loss"]
    assert list(t["epoch"]) == [1, 2, 1] and (t["train_seed"] == 0).all()
    assert t.groupby("iterations")["train_loss"].mean().to_dict() == {1: 0.6, 2: 0.45}
    # an evidence table keyed by iteration folder: one row per run that reaches the iteration
    path = split_stage(rows[0]["run"])[0]
    faith = pd.DataFrame(
        {
            "run": [stage_path(path, 1), stage_path(path, 2)],
            "iteration": [1, 2],
            "drop_region": [0.1, 0.2],
        }
    )
    f = tidy(faith, keyed, per_stage=True)
    assert sorted(zip(f["run"], f["iteration"])) == [
        ("s0 · region · 1 iteration", 1),
        ("s0 · region · 2 iterations", 1),
        ("s0 · region · 2 iterations", 2),
    ]
    # a table column named as a setting would be overwritten by the run's value: refused
    clash = faith.assign(method="integrated_gradients")
    with pytest.raises(ValueError, match=r"\['method'\] clash with the run settings"):
        tidy(clash, keyed, per_stage=True)
