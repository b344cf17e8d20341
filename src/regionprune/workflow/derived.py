"""The files derived from the settings classes: the config's schema, config.yaml, and
docs/configuration.md (``python -m regionprune settings --write``; a test checks them)."""

from __future__ import annotations

import difflib
import json
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from regionprune.workflow.config import (
    GRID_DOC,
    GRID_SECTIONS,
    ORDER,
    SECTIONS,
    DataSource,
    EvidenceSettings,
    FiguresSettings,
    Resources,
    expand_grid,
    runs_from_config,
    section_fields,
    top_level_fields,
)
from regionprune.workflow.declare import field_default, field_schema
from regionprune.workflow.settings import RunSettings

#: What a section holds, where its classes' docstrings do not say it (data: two classes).
SECTION_DOCS = {"data": "The data set: which one, where its files come from, how much of it."}


def section_doc(section: str) -> str:
    """One line on a config section: its class's docstring's first paragraph."""
    if section in SECTION_DOCS:
        return SECTION_DOCS[section]
    doc = (SECTIONS[section][0].__doc__ or "").split("\n\n")[0]
    return " ".join(doc.replace("``", "`").split())


def schema() -> dict[str, Any]:
    """The JSON schema of the config (what ``workflow/schemas/config.schema.yaml`` holds)."""
    top = top_level_fields()
    props: dict[str, Any] = {}
    for key in ORDER:
        if key in SECTIONS:
            props[key] = {
                "description": section_doc(key),
                "type": "object",
                "additionalProperties": False,
                "properties": {f.name: field_schema(f) for f in section_fields(key)},
                "default": {},
            }
        elif key == "grid":
            props[key] = {
                "description": GRID_DOC,
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **{s: {"$ref": "#/$defs/grid_section_or_alternatives"} for s in GRID_SECTIONS},
                    **{k: {"$ref": "#/$defs/grid_values"} for k in RunSettings.TOP_LEVEL},
                },
                "default": {},
            }
        else:
            props[key] = field_schema(top[key])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "configuration of the region-pruning workflow (config.yaml); generated"
        " from src/regionprune/workflow/settings.py and config.py by `python -m regionprune settings"
        " --write`: edit those, not this file",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "$defs": {
            "grid_values": {"type": "array", "minItems": 1},
            "grid_section": {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/grid_values"},
            },
            "grid_section_or_alternatives": {
                "description": "{key: [values]} varies each key on its own; a list of partial"
                " sections gives one run per entry, each merged over the base section",
                "oneOf": [
                    {"$ref": "#/$defs/grid_section"},
                    {"type": "array", "minItems": 1, "items": {"type": "object"}},
                ],
            },
        },
    }


def defaults() -> dict[str, Any]:
    """The config with every key at its default (what config.yaml holds)."""
    top = top_level_fields()
    out: dict[str, Any] = {}
    for key in ORDER:
        if key in SECTIONS:
            out[key] = {f.name: field_default(f) for f in section_fields(key)}
        elif key == "grid":
            out[key] = {}
        else:
            out[key] = field_default(top[key])
    return out


def _yaml_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, 98 - len(indent), initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


CONFIG_HEADER = """\
# The workflow's configuration: every key at its default, which reproduces the paper's experiment
# (Takehana & Ozaki, section 4.1). Where the paper is silent, our choice is marked "choice" and
# explained in README.md. Override keys with --config (snakemake --config 'region={rate: 0.3}'),
# or give a file of them with --configfile (workflow/presets/). Generated from the settings
# classes (src/regionprune/workflow/settings.py, config.py) by `python -m regionprune settings --write`.
"""


def config_yaml() -> str:
    """``config.yaml``: the defaults, each key under its meaning."""
    lines = [CONFIG_HEADER.rstrip("\n")]
    top = top_level_fields()
    values = defaults()
    for key in ORDER:
        lines.append("")
        if key in SECTIONS:
            lines += _comment(section_doc(key), "")
            lines.append(f"{key}:")
            for f in section_fields(key):
                lines += _comment(f.metadata["doc"], "  ")
                lines.append(f"  {f.name}: {_yaml_value(values[key][f.name])}")
        elif key == "grid":
            lines += _comment(GRID_DOC, "")
            lines.append("grid: {}")
        else:
            lines += _comment(top[key].metadata["doc"], "")
            lines.append(f"{key}: {_yaml_value(values[key])}")
    return "\n".join(lines) + "\n"


def _rules_text(rules: dict[str, Any]) -> str:
    words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    parts = [f"{w} {rules[k]}" for k, w in words.items() if k in rules]
    if "enum" in rules:
        parts.append(" or ".join(f"`{v}`" for v in rules["enum"]))
    return ", ".join(parts)


def _allowed(node: dict[str, Any]) -> str:
    """What a schema node allows, in words (its type, bounds, choices, pattern, default)."""
    if "$ref" in node:
        return _allowed(_config_validator().schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    if "oneOf" in node:
        return " or ".join(_allowed(alt) for alt in node["oneOf"])
    kind = node.get("type", "value")
    parts = [" or ".join(kind) if isinstance(kind, list) else kind]
    if rules := _rules_text(node):
        parts.append(rules)
    if "pattern" in node:
        parts.append(f"matching {node['pattern']}")
    if node.get("minItems"):
        parts.append(f"at least {node['minItems']} item(s)")
    text = ", ".join(parts)
    if "default" in node and node["default"] not in ({}, []):
        text += f" (default {json.dumps(node['default'])})"
    return text


@cache
def _config_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every way ``config`` breaks the schema, one line each: the key, the value, what is
    allowed, and for an unknown key the nearest known one (a mistyped key is the common case)."""
    problems = []
    errors = _config_validator().iter_errors(config)
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = [str(p) for p in error.absolute_path]
        where = ".".join(path)
        if error.validator == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            for key in (k for k in error.instance if k not in known):
                near = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean {'.'.join([*path, near[0]])}?" if near else ""
                problems.append(
                    f"{'.'.join([*path, key])}: unknown key.{hint} The keys of "
                    f"{where or 'the config'} are: {', '.join(known)}."
                )
        else:
            problems.append(
                f"{where or 'the config'}: {json.dumps(error.instance)} is not allowed "
                f"({error.message}). Allowed: {_allowed(error.schema)}."
            )
    return problems


def config_error(problems: list[str], where: str = "the config") -> str:
    """The message that refuses a config: its problems, and where the settings are described."""
    return (
        f"{where} is not valid:\n  "
        + "\n  ".join(problems)
        + "\nEvery setting, its default and allowed values: docs/configuration.md"
    )


@dataclass(frozen=True)
class Start:
    """What the workflow builds from its config at start, each part checked as the jobs will
    read it (``start``)."""

    runs: dict[str, RunSettings]
    data_source: DataSource
    figures: FiguresSettings
    evidence: EvidenceSettings
    resources: Resources
    device: str


def start(config: dict[str, Any]) -> Start:
    """The workflow's runs and settings from ``config`` (schema-checked, defaults filled): every
    combination of the grid checked like the base config, then the settings that depend on
    each other. ``ValueError`` with the one message that refuses the config."""
    for combination in expand_grid(config):
        if problems := config_problems(combination):
            raise ValueError(config_error(problems, "a combination of the grid"))
    try:
        runs = runs_from_config(config)
    except ValueError as err:
        raise ValueError(config_error([str(err)])) from None
    data_source = DataSource.pick(config["data"])
    figures = FiguresSettings.from_dict(config["figures"])
    evidence = EvidenceSettings.from_dict(config["evidence"])
    evidence.check_budget()
    resources = Resources.pick(config)
    device = resources.job_device()  # it decides the jobs' floats: a change reruns them
    return Start(runs, data_source, figures, evidence, resources, device)


def docs_table() -> str:
    """The Markdown table of every key: default, allowed values, meaning."""
    top = top_level_fields()
    values = defaults()
    rows = []
    for key in ORDER:
        if key in SECTIONS:
            rows += [(f"{key}.{f.name}", values[key][f.name], f) for f in section_fields(key)]
        elif key == "grid":
            rows.append(("grid", {}, None))
        else:
            rows.append((key, values[key], top[key]))
    lines = ["| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, default, f in rows:
        allowed = _rules_text(f.metadata["rules"]) if f else ""
        doc = (f.metadata["doc"] if f else GRID_DOC).replace("|", "\\|")
        lines.append(f"| `{name}` | `{_yaml_value(default)}` | {allowed} | {doc} |")
    return "\n".join(lines) + "\n"


DOCS_HEADER = """\
# Configuration

Every key of `config.yaml`, its default, the values it allows and what it means. The workflow
checks the config against the same rules when it starts (`workflow/schemas/config.schema.yaml`),
and every job checks its settings again when it reads them. This page, `config.yaml` and the
schema are generated from the settings classes (`src/regionprune/workflow/settings.py`, `config.py`) by
`python -m regionprune settings --write`; a test fails when they disagree.

Override keys on the command line: nested keys merge into their section, so the rest of it stays
as configured (`snakemake --config 'region={rate: 0.3, connectivity: 4}' iterations=10`), or give
a file of them with `--configfile` (the presets in `workflow/presets/`).

"""


def docs_page() -> str:
    return DOCS_HEADER + docs_table()


#: The files derived from the settings classes, relative to the repository root, and their text.
DERIVED = {
    "workflow/schemas/config.schema.yaml": lambda: _schema_yaml(),
    "config.yaml": config_yaml,
    "docs/configuration.md": docs_page,
}


def _schema_yaml() -> str:
    import yaml

    head = "# Generated by `python -m regionprune settings --write` from the settings classes.\n"
    plain = json.loads(json.dumps(schema()))  # no shared objects: no YAML anchors
    return head + yaml.safe_dump(plain, sort_keys=False, width=96, allow_unicode=True)


def stale_files(root: Path) -> list[str]:
    """The derived files under ``root`` whose text differs from what the classes give."""
    return [
        rel
        for rel, make in DERIVED.items()
        if not (root / rel).is_file() or (root / rel).read_text() != make()
    ]
