"""Typed callback data packed into buttons and forms.

One pydantic model per action kind. `pack()` gives a compact string that fits a Slack
`action_id`/`value` (255 / 2,000 characters), a Teams card's `data` and an HTML form field;
`decode()` turns any of those back into the model, or raises `BadAction`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core.errors import BadAction

_REGISTRY: dict[str, type[ActionData]] = {}
MAX_PACKED = 255


class ActionData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if isinstance(kind, str):
            if kind in _REGISTRY and _REGISTRY[kind] is not cls:
                raise RuntimeError(f"action kind {kind!r} registered twice")
            _REGISTRY[kind] = cls

    def pack(self) -> str:
        body = json.dumps(self.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)
        packed = f"{self.kind}|{body}"
        if len(packed) > MAX_PACKED:
            raise ValueError(f"packed action {self.kind} is {len(packed)} characters")
        return packed


A = TypeVar("A", bound=ActionData)


def decode(packed: str) -> ActionData:
    kind, sep, body = packed.partition("|")
    cls = _REGISTRY.get(kind)
    if not sep or cls is None:
        raise BadAction(f"unknown action {kind[:40]!r}")
    try:
        return cls.model_validate(json.loads(body))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise BadAction(f"malformed {kind} action") from exc


def decode_as(packed: str, cls: type[A]) -> A:
    data = decode(packed)
    if not isinstance(data, cls):
        raise BadAction(f"expected {cls.kind}, got {data.kind}")
    return data


def kinds() -> list[str]:
    return sorted(_REGISTRY)
