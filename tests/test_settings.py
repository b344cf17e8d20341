"""Typed settings: validation, folder names, JSON round trips, and the config coercion."""

import pytest

from regionprune.workflow.config import coerce_cli_strings, expand_grid, runs_from_config
from regionprune.workflow.settings import (
    MagnitudeSettings,
    RegionSettings,
    RunSettings,
    TrainSettings,
)

#: A run's training and magnitude settings at their defaults.
PARTS = {"train": TrainSettings(), "magnitude": MagnitudeSettings()}


def test_names_say_the_settings():
    assert TrainSettings().name == "mnist_sigmoid_default_e15_b100_lr0.1_s0"
    assert TrainSettings(train_limit=600).name.endswith("_n600-all")
    assert MagnitudeSettings(rate=0.5).name == "mag0.5"
    assert MagnitudeSettings(rate=0.5, drop_inactive=True).name == "mag0.5_dropinactive"
    assert TrainSettings(weight_decay=1e-3).name.endswith("_s0_wd0.001")
    assert RegionSettings().name == "reg0.4_c8_mean_abs_global_re1_lr0.1_b100"
    assert RegionSettings(score="size", scope="per_neuron").name.startswith(
        "reg0.4_c8_size_per_neuron"
    )
    run = RunSettings(
        train=TrainSettings(), magnitude=MagnitudeSettings(), region=RegionSettings(), iterations=8
    )
    assert run.path.endswith("/region") and run.id == f"{run.path}/iter8"
    assert run.row()["region_rate"] == 0.4 and run.row()["iterations"] == 8


def test_carving_names_and_variant():
    rs = RegionSettings()
    assert rs.variant == "paper" and rs.carving() == []
    carved = RegionSettings(rate=0, score="sum_abs", cut=0.1, max_regions=2)
    assert carved.variant == "cut0.1_cap2"
    assert carved.name == "reg0_c8_sum_abs_global_re1_lr0.1_b100_cut0.1_cap2"
    full = RegionSettings(pixel_cut=0.13, cut=0.2, cut_scope="global", min_size=3, max_regions=1)
    assert full.variant == "px0.13_cut0.2g_min3_cap1"
    # the variant is a column of every run's settings row, beside the settings themselves
    run = RunSettings(**PARTS, region=carved, iterations=8, method="magnitude")
    row = run.row()
    assert row["region_variant"] == "cut0.1_cap2" and row["region_max_regions"] == 2
    assert RunSettings(**PARTS, region=rs).row()["region_variant"] == "paper"
    assert RegionSettings.from_json(full.to_json()) == full


def test_json_round_trip_and_unknown_keys():
    ts = TrainSettings(activation="relu", seed=3)
    assert TrainSettings.from_json(ts.to_json()) == ts
    with pytest.raises(ValueError, match="activaton\n  Extra inputs are not permitted"):
        TrainSettings.from_dict({"activaton": "relu"})


@pytest.mark.parametrize(
    "make, key, said",
    [
        (lambda: TrainSettings(activation="gelu"), "activation", "'sigmoid', 'relu' or 'tanh'"),
        (lambda: TrainSettings(epochs=0), "epochs", "greater than or equal to 1"),
        (lambda: MagnitudeSettings(rate=1.5), "rate", "less than or equal to 1"),
        (lambda: RegionSettings(connectivity=6), "connectivity", "4 or 8"),
        (lambda: RegionSettings(retrain_epochs=-1), "retrain_epochs", "greater than or equal"),
        (lambda: RegionSettings(score="median"), "score", "'mean_abs'"),
        (lambda: RegionSettings(scope="layer"), "scope", "'global' or 'per_neuron'"),
        (lambda: RegionSettings(cut=1.0), "cut", "less than 1"),
        (lambda: RegionSettings(pixel_cut=-0.1), "pixel_cut", "greater than or equal to 0"),
        (lambda: RegionSettings(cut_scope="row"), "cut_scope", "'global' or 'per_neuron'"),
        (lambda: RegionSettings(min_size=0), "min_size", "greater than or equal to 1"),
        (lambda: RegionSettings(max_regions=0), "max_regions", "greater than or equal to 1"),
        (lambda: RegionSettings(rate="0.4"), "rate", "a valid number"),  # no quiet conversion
        (lambda: TrainSettings(epochs=2.5), "epochs", "a valid integer"),
        (lambda: TrainSettings(epochs=True), "epochs", "a valid integer"),
        (lambda: TrainSettings(dataset="CIFAR-10"), "dataset", "should match pattern"),
        (lambda: TrainSettings(hidden=[]), "hidden", "at least 1 item"),
        (lambda: TrainSettings(hidden=[100, 0]), "hidden.1", "greater than or equal to 1"),
        (lambda: RegionSettings(pixel_budget=100), "", "pixel_budget needs region.pixel_cut > 0"),
        (lambda: RegionSettings(pixel_cut=0.1, pixel_budget=0), "pixel_budget", "equal to 1"),
        (lambda: RunSettings(**PARTS, region=RegionSettings(), method="lth"), "method", "'random'"),
        (
            lambda: RunSettings(**PARTS, region=RegionSettings(), iterations=-2),
            "iterations",
            "greater than or equal to 0",
        ),
    ],
)
def test_bad_settings_say_what_is_wrong(make, key, said):
    """Each class refuses a bad value when it is made (as a job does), naming the key."""
    with pytest.raises(ValueError) as err:
        make()
    text = str(err.value)
    assert f"\n{key}\n" in text or not key, text
    assert said in text, text


def test_coerce_cli_strings():
    got = coerce_cli_strings({"a": {"rate": "0.3", "n": "2", "x": "null", "p": "../data"}})
    assert got == {"a": {"rate": 0.3, "n": 2, "x": None, "p": "../data"}}


BASE = {
    "data": {"dataset": "mnist"},
    "train": {"seed": 0, "epochs": 15},
    "magnitude": {"rate": 0.5},
    "region": {"rate": 0.4},
    "iterations": 8,
    "method": "region",
}


def test_empty_grid_is_the_base_config():
    assert expand_grid({**BASE, "grid": {}}) == [BASE]
    assert len(runs_from_config(BASE)) == 1


def test_grid_is_the_cartesian_product_in_order():
    grid = {
        "train": {"seed": [0, 1]},
        "region": {"rate": [0.2, 0.4, 0.6]},
        "method": ["region", "random"],
    }
    combos = expand_grid({**BASE, "grid": grid})
    assert len(combos) == 12
    assert [c["train"]["seed"] for c in combos[:6]] == [0] * 6
    assert combos[0]["train"]["epochs"] == 15  # the rest of a section stays
    assert {(c["region"]["rate"], c["method"]) for c in combos} == {
        (r, m) for r in (0.2, 0.4, 0.6) for m in ("region", "random")
    }
    runs = runs_from_config({**BASE, "grid": grid})
    assert len(runs) == 12 and len({r.train.name for r in runs.values()}) == 2


def test_grid_repeats_collapse_and_iterations_name_runs():
    runs = runs_from_config({**BASE, "grid": {"iterations": [4, 8, 8]}})
    assert [r.iterations for r in runs.values()] == [4, 8]
    assert len({r.path for r in runs.values()}) == 1  # iteration 4 is reused by the 8 run


def test_a_section_given_as_alternatives_varies_its_keys_together():
    grid = {
        "train": {"seed": [0, 1]},
        "region": [{}, {"rate": 0, "cut": 0.1, "max_regions": 2}],
        "method": ["region", "magnitude"],
    }
    combos = expand_grid({**BASE, "grid": grid})
    assert len(combos) == 2 * 2 * 2
    regions = [c["region"] for c in combos[:4:2]]
    assert regions == [{"rate": 0.4}, {"rate": 0, "cut": 0.1, "max_regions": 2}]
    runs = runs_from_config({**BASE, "grid": grid})
    variants = {(r.region.variant, r.method) for r in runs.values()}
    assert variants == {(v, m) for v in ("paper", "cut0.1_cap2") for m in ("region", "magnitude")}
    # the base config is untouched by the merge
    assert BASE["region"] == {"rate": 0.4}


def test_setting_columns_are_the_row_of_a_run():
    from regionprune.workflow.settings import setting_columns

    row = RunSettings(**PARTS, region=RegionSettings()).row()
    assert list(row) == ["run", *setting_columns()]
    assert "region_variant" in setting_columns() and "region_px_median" not in setting_columns()


def test_settings_know_the_data_sets_data_knows():
    from regionprune.io.data import SPECS
    from regionprune.workflow.settings import DATASET_NAMES

    assert tuple(SPECS) == DATASET_NAMES
