"""The configuration form, derived from the agent's own pydantic models.

Every field of every `agent.config.BotConfig` block becomes one input, described by a `Field`
spec taken from the model (type, enum choices, description), so a field added to the agent
shows up here without a console change. Values are kept as text and handed to
`agent.config.parse_config` unchanged (pydantic reads "0.25" as an exact Decimal), and its
'field.path: rule' lines are mapped back onto the inputs.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from agent.config import BotConfig, ConfigError, parse_config

# Blocks in the order the form shows them (notifications is nested one level deeper).
BLOCKS: tuple[tuple[str, str], ...] = (
    ("bot", "Bot"),
    ("market_making", "Market making"),
    ("volume", "Volume program"),
    ("risk", "Risk"),
    ("pricing", "Pricing"),
    ("notifications", "Notifications"),
)
# Identity of an existing bot: the service layer refuses changes, so the form shows them read-only.
READ_ONLY = frozenset({"bot.name", "bot.venue", "bot.symbol"})


@dataclass(frozen=True)
class Field:
    path: str  # dotted, as in the YAML and in error lines
    kind: str  # "text" | "number" | "bool" | "enum" | "list" | "map" | "optional_model"
    label: str
    help: str = ""
    choices: tuple[str, ...] = ()
    optional: bool = False  # empty text means "not set" (None)
    group: str = ""  # set for the fields of an optional sub-model such as pricing.external

    @property
    def block(self) -> str:
        return self.path.split(".")[0]


def unwrap(tp: Any) -> tuple[Any, bool]:
    """(inner type, is-optional) of `X | None` and Annotated types."""
    optional = False
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            inner, _ = unwrap(args[0])
            return inner, optional
    return tp, optional


def fields(model: type[BaseModel] = BotConfig, prefix: str = "") -> list[Field]:
    out: list[Field] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        tp, optional = unwrap(info.annotation)
        label = name.replace("_", " ")
        help_text = info.description or ""
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if optional:  # e.g. pricing.external: all sub-fields empty means "none"
                out.extend(
                    Field(f.path, f.kind, f"{name} {f.label}", f.help, f.choices, True, path)
                    for f in fields(tp, path)
                )
            else:
                out.extend(fields(tp, path))
        elif isinstance(tp, type) and issubclass(tp, enum.Enum):
            out.append(Field(path, "enum", label, help_text, tuple(str(m.value) for m in tp)))
        elif tp is bool:
            out.append(Field(path, "bool", label, help_text))
        elif tp in (int, Decimal, float):
            out.append(Field(path, "number", label, help_text, optional=optional))
        elif origin is list:
            out.append(Field(path, "list", label, help_text or "comma separated"))
        elif origin is dict:
            out.append(Field(path, "map", label, help_text or "key=value, comma separated"))
        else:
            out.append(Field(path, "text", label, help_text, optional=optional))
    return out


FIELDS: list[Field] = fields()
BY_PATH: dict[str, Field] = {f.path: f for f in FIELDS}


def _get(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for p in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(p)
    return node


def to_form(config: dict[str, Any]) -> dict[str, Any]:
    """Form values (text, bool) for a stored config (Decimals arrive as strings)."""
    values: dict[str, Any] = {}
    for f in FIELDS:
        v = _get(config, f.path)
        if f.kind == "bool":
            values[f.path] = bool(v)
        elif f.kind == "list":
            values[f.path] = ", ".join(str(x) for x in v or [])
        elif f.kind == "map":
            values[f.path] = ", ".join(f"{k}={x}" for k, x in (v or {}).items())
        else:
            values[f.path] = "" if v is None else str(v)
    return values


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def to_config(values: dict[str, Any]) -> dict[str, Any]:
    """A config document from form values; parsing is left to `parse_config`."""
    doc: dict[str, Any] = {}
    optional_groups: dict[str, list[str]] = {}
    for f in FIELDS:
        raw = values.get(f.path)
        if f.kind == "bool":
            _set(doc, f.path, bool(raw))
            continue
        text = "" if raw is None else str(raw).strip()
        if f.group:
            optional_groups.setdefault(f.group, []).append(f.path)
        if f.kind == "list":
            _set(doc, f.path, [x.strip() for x in text.split(",") if x.strip()])
        elif f.kind == "map":
            m: dict[str, str] = {}
            for item in (x.strip() for x in text.split(",") if x.strip()):
                k, _, v = item.partition("=")
                m[k.strip()] = v.strip()
            _set(doc, f.path, m)
        elif text == "" and f.optional:
            _set(doc, f.path, None)
        else:
            _set(doc, f.path, text)
    # an optional sub-model (pricing.external) with every field empty is "not set"
    for group, paths in optional_groups.items():
        if all(not str(values.get(p) or "").strip() for p in paths):
            _set(doc, group, None)
    return doc


def validate(values: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """(normalised config, {}) when valid, else (None, {field path: rule})."""
    try:
        cfg = parse_config(to_config(values))
    except ConfigError as exc:
        return None, errors_by_field(exc.errors)
    return cfg.dump(), {}


def errors_by_field(lines: list[str]) -> dict[str, str]:
    """'field.path: rule' lines onto the form's fields. A line for a list item
    ('volume.active_windows.0') or a whole sub-model ('pricing.external') lands on the nearest
    field the form has; anything else under the empty key (shown above the form)."""
    out: dict[str, str] = {}
    for line in lines:
        path, sep, rule = line.partition(": ")
        if not sep:
            path, rule = "", line
        target = _nearest(path)
        out[target] = f"{out[target]}; {rule}" if target in out else rule
    return out


def _nearest(path: str) -> str:
    parts = [p for p in path.split(".") if p and not p.startswith("(")]
    while parts:
        p = ".".join(parts)
        if p in BY_PATH:
            return p
        under = [f.path for f in FIELDS if f.path.startswith(p + ".")]
        if under:
            return under[0]
        parts.pop()
    return ""


def loc_to_path(loc: tuple[str | int, ...]) -> str:
    """A service-layer FieldError location ('body', 'config', ...) as a form path."""
    parts = [str(p) for p in loc]
    if parts[:2] == ["body", "config"]:
        parts = parts[2:]
    return ".".join(parts)
