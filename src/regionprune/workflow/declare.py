"""How a setting is declared: ``setting(default, doc, **rules)`` and the ``Settings`` base.

A field's JSON-schema ``rules`` are the only statement of what its value may be: ``config``
builds the workflow's schema from them, and every settings object checks itself against the same
rules when it is made (``check``, with jsonschema), in the workflow and in every job.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, field, fields
from functools import cache
from typing import Any, ClassVar, TypeVar

S = TypeVar("S", bound="Settings")

#: JSON-schema types of the annotations settings use (``from __future__`` keeps them as text).
_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "int | None": ["integer", "null"],
    "float | None": ["number", "null"],
    "list[str]": "array",
    "list[float]": "array",
    "list[int]": "array",
    "list[int | str]": "array",
}


def setting(default: Any, doc: str, *, section: str | None = None, **rules: Any) -> Any:
    """A settings field: its default, what it means (the schema's description, the comment in
    config.yaml, the docs' table), and its JSON-schema ``rules`` (enum, minimum, maximum,
    exclusiveMinimum, exclusiveMaximum, items, oneOf, pattern...). ``section`` puts the key in
    another config section than its class's (the data set and its limits live under ``data``)."""
    meta = {"doc": doc, "rules": rules, "section": section}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: json.loads(json.dumps(default)), metadata=meta)
    return field(default=default, metadata=meta)


def field_default(f: Any) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def field_schema(f: Any) -> dict[str, Any]:
    """The JSON schema of one settings field, from its rules, type, doc and default."""
    rules = dict(f.metadata["rules"])
    if "type" not in rules and "oneOf" not in rules:
        rules["type"] = _TYPES[str(f.type)]
    return {"description": f.metadata["doc"], **rules, "default": field_default(f)}


class Settings:
    """Shared by every settings class (frozen dataclasses): checks against its own schema on
    creation, JSON round trip, flat table columns."""

    #: The config section (and table-column prefix) of the class's fields.
    prefix: ClassVar[str]

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """JSON schema of the class's fields (all of them, whatever their config section)."""
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {f.name: field_schema(f) for f in fields(cls)},  # type: ignore[arg-type]
        }

    def __post_init__(self) -> None:
        check(type(self), self.prefix, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self, *only: str) -> str:
        """The settings as JSON; ``only`` some of them (what a job reads: a rule passes no more,
        so that a change to another key reruns nothing)."""
        d = self.to_dict()
        unknown = set(only) - set(d)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no setting(s) {sorted(unknown)}")
        return json.dumps({k: d[k] for k in only} if only else d, sort_keys=True)

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**d)

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        return cls.from_dict(json.loads(text))

    @classmethod
    def pick(cls: type[S], section: dict[str, Any]) -> S:
        """Made from a config section that also holds other classes' keys (``data``)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls.from_dict({k: v for k, v in section.items() if k in names})

    def row(self) -> dict[str, Any]:
        """Flat columns for the summary tables, prefixed by level (``train_seed``...)."""
        return {f"{self.prefix}_{k}": v for k, v in self.to_dict().items()}


@cache
def _validator(cls: type) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(cls.schema())


def check(cls: type, section: str, values: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the key, the value and what is allowed, where ``values``
    break ``cls``'s schema (the rules of its fields: the workflow's schema says the same)."""
    error = next(iter(_validator(cls).iter_errors(values)), None)
    if error is not None:
        key = ".".join(filter(None, [section, *map(str, error.absolute_path)]))
        raise ValueError(f"{key}: {error.message}")
