"""The config's one source: schema, config.yaml and docs/configuration.md come from the settings
classes, and the schema refuses what the classes refuse."""

import shutil

import jsonschema
import pytest
import yaml

from conftest import REPO
from test_faults import BAD_SETTINGS, bad_local_dir
from regionprune.workflow.config import DataSource, EvidenceSettings, FiguresSettings
from regionprune.workflow.config import schema
from regionprune.workflow.derived import DERIVED, defaults, stale_files
from regionprune.workflow.settings import RegionSettings


def test_derived_files_are_current():
    assert stale_files(REPO) == [], "Fix: python -m regionprune settings --write"
    assert yaml.safe_load((REPO / "config.yaml").read_text()) == defaults()


def test_a_changed_default_or_a_hand_edit_is_caught(tmp_path):
    """A copy of the repository's derived files, then one of them out of step."""
    for rel in DERIVED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, tmp_path / rel)
    assert stale_files(tmp_path) == []
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("  rate: 0.4\n", "  rate: 0.3\n"))
    schema_file = tmp_path / "workflow" / "schemas" / "config.schema.yaml"
    schema_file.write_text(schema_file.read_text().replace("- 8\n", "- 8\n        - 6\n", 1))
    assert stale_files(tmp_path) == ["workflow/schemas/config.schema.yaml", "config.yaml"]


def test_defaults_pass_the_schema_and_every_section_is_strict():
    jsonschema.Draft202012Validator(schema()).validate(defaults())
    for key, section in schema()["properties"].items():
        if section.get("type") == "object":
            assert section["additionalProperties"] is False, key


@pytest.mark.parametrize(
    "path, value",
    [
        (("region", "cut"), 1.0),
        (("region", "connectivity"), 6),
        (("region", "max_regions"), 0),
        (("train", "activation"), "gelu"),
        (("evidence", "budgets"), []),
        (("evidence", "iterations"), ["last"]),
        (("figures", "neuron"), -1),
        (("train", "hidden"), []),
        (("region", "pixel_budget"), 0),
        (("data", "local_dir"), 3),
        (("device",), "gpu"),
        (("iterations",), -1),
    ],
)
def test_schema_and_classes_refuse_the_same_values(path, value):
    config = defaults()
    target = config
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(config)
    section = path[0]
    classes = {
        "region": RegionSettings,
        "evidence": EvidenceSettings,
        "figures": FiguresSettings,
        "data": DataSource,
    }
    if section in classes:
        cls = classes[section]  # its own keys of the section (data holds TrainSettings' too)
        with pytest.raises(ValueError, match=path[-1]):
            cls.from_dict({k: v for k, v in config[section].items() if k in cls.model_fields})


def test_evidence_budget_must_be_a_budget():
    with pytest.raises(ValueError, match="Fix: add it to the budgets"):
        EvidenceSettings(budget=0.3).check_budget()


def test_a_job_gets_only_the_keys_it_reads():
    es = EvidenceSettings(budgets=[0.1, 0.3], budget=0.3)
    assert es.to_json("budgets", "ig_steps") == '{"budgets": [0.1, 0.3], "ig_steps": 32}'
    job_view = EvidenceSettings.from_json(es.to_json("budgets", "ig_steps"))
    assert job_view.budgets == [0.1, 0.3] and job_view.random_draws == 10
    with pytest.raises(ValueError, match="no setting"):
        es.to_json("budget_list")


def test_job_device_resolves_auto_here_and_refuses_a_missing_gpu():
    from regionprune.workflow.config import Resources

    no_gpu, gpu = (lambda: False), (lambda: True)
    assert Resources(device="auto").job_device(no_gpu) == "cpu"  # the same as device: cpu
    assert Resources(device="auto").job_device(gpu) == "auto"  # the job picks the freest GPU
    assert Resources(device="cpu").job_device(gpu) == "cpu"
    assert Resources(device="cuda:1").job_device(gpu) == "cuda:1"
    assert Resources(device="cuda", gpus=1).job_device(no_gpu) == "cuda"  # the nodes have GPUs
    with pytest.raises(ValueError, match="device: cuda asked for, but this machine has no CUDA"):
        Resources(device="cuda").job_device(no_gpu)


@pytest.mark.parametrize(
    "caption", sorted((REPO / "workflow" / "report").glob("*.rst")), ids=lambda p: p.name
)
def test_report_captions_render_without_docutils_messages(caption):
    """Snakemake's report renders each caption with docutils; any warning or error shows up in
    the report as a "Docutils System Messages" block (a bare ``|w|`` is a substitution)."""
    import io

    import docutils.core

    stream = io.StringIO()
    docutils.core.publish_parts(
        caption.read_text(), writer_name="html", settings_overrides={"warning_stream": stream}
    )
    assert stream.getvalue() == "", f"{caption.name}: {stream.getvalue()}"


def refusal(overrides: dict) -> str:
    """What the workflow says at start about the README test config with ``overrides``, made
    in-process by the same call as the Snakefile (``start``). "" where the config is accepted."""
    import json

    from regionprune.workflow.config import coerce_cli_strings, start
    from test_workflow import SMALL

    config = json.loads(json.dumps(SMALL))
    for key, value in overrides.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    try:
        start(coerce_cli_strings(config))
    except ValueError as err:
        return str(err)
    return ""


def test_the_readme_test_config_is_accepted():
    assert refusal({}) == ""


#: BAD_SETTINGS split by where the workflow refuses them: its data-folder check, or the config
BAD_DATA_FOLDERS = [c for c in BAD_SETTINGS if "local_dir" in c[1].get("data", {})]
BAD_CONFIGS = [c for c in BAD_SETTINGS if c not in BAD_DATA_FOLDERS]


@pytest.mark.parametrize(
    ("overrides", "words"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_a_bad_setting_is_refused_in_process(overrides, words):
    """Each bad setting of test_faults.BAD_SETTINGS but the data folder's (below): the message
    names the key, the value and what is allowed."""
    said = refusal(overrides)
    assert said, overrides
    for word in words:
        assert word in said, said


@pytest.mark.parametrize(
    ("local_dir", "words"),
    [(c[1]["data"]["local_dir"], c[2]) for c in BAD_DATA_FOLDERS],
    ids=[c[0] for c in BAD_DATA_FOLDERS],
)
def test_a_bad_data_folder_is_refused_in_process(tmp_path, mnist_dir, local_dir, words):
    """Each bad data folder of test_faults.BAD_SETTINGS, by the check the workflow makes at
    start (common.smk calls check_local_dir; one case runs end to end in test_faults): the
    message names the file, the problem and the fix."""
    from regionprune.io.data import DataError, check_local_dir

    if isinstance(local_dir, tuple):
        local_dir = bad_local_dir(tmp_path, mnist_dir, local_dir)
    with pytest.raises(DataError) as refused:
        check_local_dir("mnist", local_dir)
    for word in words:
        assert word in str(refused.value), refused.value
