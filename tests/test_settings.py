"""Typed settings: validation, folder names, JSON round trips, and the config coercion."""

import pytest

from regionprune.settings import (
    MagnitudeSettings,
    RegionSettings,
    RunSettings,
    TrainSettings,
    coerce_cli_strings,
)


def test_names_say_the_settings():
    assert TrainSettings().name == "mnist_sigmoid_default_e15_b100_lr0.1_s0"
    assert TrainSettings(train_limit=600).name.endswith("_n600-all")
    assert MagnitudeSettings(0.5).name == "mag0.5"
    assert RegionSettings().name == "reg0.4_c8_re1_lr0.1_b100"
    run = RunSettings(TrainSettings(), MagnitudeSettings(), RegionSettings(), iterations=8)
    assert run.id == f"{run.path}/iter8"
    assert run.row()["region_rate"] == 0.4 and run.row()["iterations"] == 8


def test_json_round_trip_and_unknown_keys():
    ts = TrainSettings(activation="relu", seed=3)
    assert TrainSettings.from_json(ts.to_json()) == ts
    with pytest.raises(ValueError, match="unknown setting"):
        TrainSettings.from_dict({"activaton": "relu"})


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TrainSettings(activation="gelu"), "activation"),
        (lambda: TrainSettings(epochs=0), "epochs"),
        (lambda: MagnitudeSettings(1.5), r"\[0, 1\]"),
        (lambda: RegionSettings(connectivity=6), "4 or 8"),
        (lambda: RegionSettings(retrain_epochs=-1), "retrain_epochs"),
    ],
)
def test_bad_settings_say_what_is_wrong(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_coerce_cli_strings():
    got = coerce_cli_strings({"a": {"rate": "0.3", "n": "2", "x": "null", "p": "../data"}})
    assert got == {"a": {"rate": 0.3, "n": 2, "x": None, "p": "../data"}}
