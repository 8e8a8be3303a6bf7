"""docs/config.md lists every configuration field (and only real ones)."""

from __future__ import annotations

import re

from pydantic import BaseModel

from agent.config import BotConfig
from tests.conftest import ROOT


def _fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and name not in ("on_breach",):
            out |= _fields(ann, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_every_config_field_is_documented() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    documented = set()
    for sec in sections:
        title, body = sec.split("\n", 1)
        block = title.strip().strip("`")
        for name in re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)?", body, flags=re.M):
            documented |= {f"{block}.{n}" for n in name if n}
    expected = _fields(BotConfig)
    assert expected - documented == set(), "undocumented fields"
    assert documented - expected == set(), "documented fields that do not exist"
