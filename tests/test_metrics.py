"""Stage measures and readability on hand-made masks."""

import numpy as np
import pandas as pd
import pytest

from regionprune.workflow.markdown import faithfulness_markdown, readability_markdown
from regionprune.core.metrics import (
    neuron_table,
    participation_ratio,
    pixel_usage,
    region_sizes,
    stage_metrics,
)
from regionprune.core.regions import label_neurons
from regionprune.workflow.tables import faithfulness_summary, run_row
from regionprune.core.network import Checkpoint


def _mask():
    m = np.zeros((3, 16), dtype=bool)
    m[0, [0, 1, 4, 15]] = True  # 2x1 + 1 below + far corner: 8-conn regions {0,1,4}, {15}
    m[2, :] = True  # one region of 16
    return m  # neuron 1 is dead


def test_neuron_table():
    weight = np.ones((3, 16))
    weight[0, 0] = 3.0
    t = neuron_table(label_neurons(_mask(), (4, 4), 8), weight)
    assert t["weights"].tolist() == [4, 0, 16]
    assert t["regions"].tolist() == [2, 0, 1]
    np.testing.assert_allclose(t["pruning_ratio"], [0.75, 1.0, 0.0])
    assert t["largest_region_share"][0] == pytest.approx(0.75)
    assert np.isnan(t["largest_region_share"][1])
    # IPR over the surviving weights only: neuron 0 keeps 3, 1, 1, 1
    assert t["ipr"][0] == pytest.approx((81 + 3) / 12**2)
    assert np.isnan(t["ipr"][1]) and t["ipr"][2] == pytest.approx(1 / 16)


def test_participation_ratio_known_values():
    w = np.array([[1.0, 1, 1, 1], [0, -2.5, 0, 0], [0, 0, 0, 0], [3, -4, 0, 0]])
    ipr = participation_ratio(w)
    assert ipr[0] == pytest.approx(1 / 4)  # n equal weights: 1/n
    assert ipr[1] == pytest.approx(1.0)  # a single weight: 1, whatever its sign and size
    assert np.isnan(ipr[2])
    assert ipr[3] == pytest.approx((81 + 256) / 25**2)
    # scale-free
    np.testing.assert_allclose(participation_ratio(7 * w)[[0, 1, 3]], ipr[[0, 1, 3]])


def test_region_sizes_in_table_order():
    labels = label_neurons(_mask(), (4, 4), 8)
    assert region_sizes(labels).tolist() == [3, 1, 16]
    assert region_sizes(np.zeros((2, 4, 4), dtype=np.int32)).tolist() == []


def test_pixel_usage():
    p = pixel_usage(_mask(), (4, 4))
    assert not p["inactive"].any()
    blank = np.zeros(16, dtype=bool)
    blank[[3, 15]] = True
    assert pixel_usage(_mask(), (4, 4), blank)["inactive"].tolist() == blank.tolist()
    assert p.loc[0, "neurons"] == 2 and p.loc[2, "neurons"] == 1
    assert p.loc[15, ["row", "col"]].tolist() == [3, 3]


def test_stage_metrics_and_run_row():
    mask = _mask()
    params = {"fc1.weight": np.where(mask, 1.0, 0.0).astype(np.float32), "fc1.bias": np.ones(3)}
    ck = Checkpoint(
        params=params,
        masks={"fc1.weight": mask},
        attrs={"stage": "region", "iteration": 1, "test_acc": 0.9, "test_loss": 0.3},
    )
    labels = label_neurons(mask, (4, 4), 8)
    m = stage_metrics(ck, labels)
    assert m["w1_nonzero"] == 20 and m["w1_density"] == pytest.approx(20 / 48)
    assert m["total_params"] == 51 and m["nonzero_params"] == 23
    assert m["alive_neurons"] == 2 and m["neurons_dead"] == 1
    assert m["regions_per_neuron"] == pytest.approx(1.5)
    assert m["largest_region_share"] == pytest.approx((0.75 + 1.0) / 2)
    # regions of 3, 1 and 16 pixels; equal weights: IPR 1/4 and 1/16
    assert m["region_px_median"] == 3 and m["region_px_p90"] == pytest.approx(13.4)
    assert m["ipr_median"] == pytest.approx((1 / 4 + 1 / 16) / 2)
    assert m["neurons_ge90_pruned"] == pytest.approx(1 / 3)
    assert m["neurons_le40_pruned"] == pytest.approx(1 / 3)
    assert m["pixels_used"] == 16
    assert m["inactive_pixels_used"] == 0 and m["inactive_weights"] == 0
    inactive = np.zeros(16, dtype=bool)
    inactive[[0, 5, 15]] = True  # used by neuron 0 and 2, by 2 only, by 0 and 2
    m_in = stage_metrics(ck, labels, inactive)
    with pytest.raises(ValueError, match="do not cover"):
        stage_metrics(ck, label_neurons(~mask, (4, 4), 8))
    assert m_in["inactive_pixels_used"] == 3 and m_in["inactive_weights"] == 5
    base = {**m, "stage": "baseline", "iteration": -1, "test_acc": 0.95}
    mag = {**m, "stage": "magnitude", "iteration": 0, "test_acc": 0.94}
    row = run_row({"run": "r", "train_seed": 0}, pd.DataFrame([base, mag, m]))
    assert row["baseline_acc"] == 0.95 and row["final_acc"] == 0.9 and row["final_iteration"] == 1


def test_grid_table_mean_and_sd_over_seeds():
    from regionprune.workflow.markdown import count, grid_markdown
    from regionprune.workflow.tables import GRID_MEASURES, grid_table

    rows = []
    for method, accs in (("region", [0.90, 0.92]), ("random", [0.80, 0.80])):
        for seed, acc in enumerate(accs):
            row = {m: 1.0 for m in GRID_MEASURES}
            row.update(
                run=f"{method}{seed}",
                train_seed=seed,
                region_rate=0.4,
                train_train_limit=None,  # a null setting must not drop the group
                iterations=8,
                method=method,
                final_acc=acc,
            )
            rows.append(row)
    t = grid_table(pd.DataFrame(rows))
    assert t["method"].tolist() == ["region", "random"] and t["seeds"].tolist() == [2, 2]
    assert t["final_acc_mean"].tolist() == pytest.approx([0.91, 0.80])
    assert t["final_acc_std"][0] == pytest.approx(np.std([0.90, 0.92], ddof=1))
    md = grid_markdown(t)
    assert md.startswith("| method | seeds | final acc (%) | W1 density |")
    assert "| region | 2 | 91.0 +- 1.4 |" in md  # rounded as the runs table rounds it
    one = grid_markdown(grid_table(pd.DataFrame(rows[:1])))  # one seed: no "+- 0.0"
    assert "| region | 1 | 90.0 |" in one and "+-" not in one
    # counts print as integers (alive neurons: 1, not 1.0), a mean of counts with a decimal
    assert "| 1.000 | 100.0 | 1 | 1.00 | 1.00 | 1 | 1 | 1 |" in one, one
    assert count(35.0) == "35" and count(35.5) == "35.5" and count(np.float64(774)) == "774"


def test_faithfulness_summary_means_over_classes():
    faithful = pd.DataFrame(
        {
            "run": "r",
            "iteration": 3,
            "class": [0, 1, 0, 1],
            "budget": [0.05, 0.05, 0.1, 0.1],
            "drop_region": [0.2, 0.0, 0.3, 0.3],
            "drop_random": [0.05, 0.01, 0.1, 0.1],
            "drop_input_x_gradient": 0.5,
            "drop_integrated_gradients": 0.4,
            "drop_random_sd": 0.01,
        }
    )
    s = faithfulness_summary(faithful, 0.05)
    assert len(s) == 1 and s.loc[0, "classes"] == 2
    assert s.loc[0, "drop_region"] == pytest.approx(0.1)
    assert s.loc[0, "drop_random"] == pytest.approx(0.03)
    assert s.loc[0, "ratio_vs_random"] == pytest.approx(0.1 / 0.03)
    assert s.loc[0, "classes_2x_random"] == 1  # class 1 lost nothing to its regions
    assert s.loc[0, "ratio_vs_ig"] == pytest.approx(0.1 / 0.4)
    assert (
        "| r · iteration 3 | 10.0 | 3.0 | 3.3 | 1/2 | 50.0 | 40.0 | 0.25 | yes |"
        in faithfulness_markdown(faithful, 0.05)
    )
    assert faithfulness_markdown(faithful.iloc[:0], 0.05) == ""


def test_readability_markdown_has_a_row_per_run():
    runs = pd.DataFrame(
        {
            "run": ["a", "b"],
            "region_variant": ["paper", "cut0.1_cap2"],
            "alive_neurons": [40, 100],
            "regions_per_neuron": [1.0, 3.25],
            "region_px_median": [300.0, 12.5],
            "region_px_p90": [400.0, 30.0],
            "ipr_median": [0.008, 0.05],
            "largest_region_share": [1.0, 0.5],
            "pixels_used": [500, 784],
            "inactive_pixels_used": [3, 67],
            "inactive_weights": [4, 3000],
        }
    )
    md = readability_markdown(runs)
    assert "| a | paper | 40 | 1.00 | 300, 400 | 0.0080 | 1.00 | 500 | 3 | 4 |" in md
    assert "| b | cut0.1_cap2 | 100 | 3.25 | 12.5, 30 | 0.0500 | 0.50 | 784 | 67 | 3000 |" in md


def test_grid_keys_name_a_variant_by_its_name_and_skip_measures():
    from regionprune.workflow.tables import grid_keys

    runs = pd.DataFrame(
        {
            "run": list("abcdef"),
            "train_seed": [0, 1, 0, 1, 0, 1],
            "train_activation": ["relu"] * 3 + ["sigmoid"] * 3,
            "region_rate": [0.4, 0.4, 0.0, 0.0, 0.4, 0.4],
            "region_cut": [0.0, 0.0, 0.1, 0.1, 0.0, 0.0],
            "region_variant": ["paper", "paper", "cut0.1", "cut0.1", "paper", "paper"],
            "region_px_median": [300.0, 310.0, 30.0, 31.0, 290.0, 305.0],  # a measure
            "method": "region",
            "iterations": 8,
        }
    )
    # rate and cut are told by the variant; activation varies on its own; seeds are averaged
    assert grid_keys(runs) == ["train_activation", "region_variant"]
    runs.loc[0, "region_rate"] = 0.2  # now the rate varies within the paper variant
    assert grid_keys(runs) == ["train_activation", "region_rate", "region_variant"]
