"""Every `extra=` key our code logs is emitted; none is dropped silently, none slips in unreviewed.

The JSON formatter emits the keys in bot.core.telemetry.LOG_FIELDS. A logging call with a key not
listed there would lose that field (as "digest not built" once lost its error type), so this test
reads every `extra=` dictionary in the code and refuses unlisted keys.
"""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

from bot.app.telemetry import LOG_FIELDS, JsonFormatter

ROOT = Path(__file__).resolve().parent.parent


def extra_keys() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in ("bot", "adapters", "flows", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                        for key in keyword.value.keys:
                            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                                found.setdefault(key.value, []).append(where)
    return found


def test_every_extra_key_in_the_code_is_one_the_formatter_emits() -> None:
    keys = extra_keys()
    assert keys, "the scan found no logging call at all"
    unlisted = {k: where for k, where in keys.items() if k not in LOG_FIELDS}
    assert unlisted == {}


def test_the_formatter_keeps_each_listed_field_and_drops_other_libraries_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("medpuls.test_logs_fields")
    log.addHandler(handler)
    try:
        log.warning("digest not built", extra={"error": "OperationalError", "unit": 7})
        log.warning("library line", extra={"body": "a request body"})
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["error"] == "OperationalError" and first["unit"] == 7
    assert "body" not in second
