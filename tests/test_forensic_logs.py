"""Issue 12, logs and metrics: at any level, no log record and no metric puts a member next to
a question or a value, also when Slack re-delivers a click four times or a member double-clicks
(the de-duplication path logs too). Every logger at DEBUG, real signed Slack payloads.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from prometheus_client import generate_latest

from bot.core.metrics import METRICS
from tests.fakes.slack_api import interaction_body, signed_headers
from tests.slack_demo import answer_button, click, question_post, round_at_debug, slack_id


def line_of(record: logging.LogRecord) -> str:
    extras = {k: str(v) for k, v in record.__dict__.items() if k not in ("msg", "args")}
    return record.getMessage() + " " + json.dumps(extras)


async def test_no_log_record_or_metric_pairs_a_member_with_a_question_or_value(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with round_at_debug(sqlite_url, caplog) as (ws, people):
        fake = ws.fake
        pressed: list[dict[str, Any]] = []
        for member, value in zip(people[:4], (1, 2, 4, 5), strict=True):
            post = question_post(fake, member)
            button = answer_button(post.blocks(), 0, value)
            pressed.append(button)
            payload = click(member, post, button)
            body, ctype = interaction_body(payload)
            headers = signed_headers(ws.secret, body, ctype)
            for retry in range(4):  # re-delivered: the duplicates are logged
                await ws.post(body, ctype, headers={**headers, "X-Slack-Retry-Num": str(retry)})
            await ws.interact(click(member, post, button))  # a double click
        await ws.drain()
        records = list(caplog.records)
    assert any("duplicate delivery" in r.getMessage() for r in records)
    question_ids = {
        json.loads(b["value"].split("|", 1)[1])["q"] for b in pressed if "|" in b["value"]
    }
    for record in records:
        line = line_of(record)
        for member, button in zip(people, pressed, strict=False):
            if slack_id(member.id) in line:
                assert button["action_id"] not in line, line[:300]
                assert not any(q in line for q in question_ids), line[:300]
                assert '"v":' not in line and "pulse.answer" not in line, line[:300]
    metrics = generate_latest(METRICS.registry).decode()
    assert not any(slack_id(m.id) in metrics for m in people)
    assert not any(q in metrics for q in question_ids)
