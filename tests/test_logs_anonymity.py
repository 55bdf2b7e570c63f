"""No log record, ours or a library's, at any level, puts a person next to an answer.

Real signed Slack clicks go through the whole stack (Bolt, slack_sdk, the adapter, the core,
the pulse flow) with every logger at DEBUG. No record may carry an answer at all: even without
a name, a DM channel id is a person.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.slack_demo import answer_button, click, question_post, round_at_debug


async def test_no_log_record_links_a_member_to_an_answer(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with round_at_debug(sqlite_url, caplog) as (ws, people):
        fake = ws.fake
        for member, value in zip(people[:5], (1, 2, 4, 5, 3), strict=True):
            post = question_post(fake, member)
            await ws.interact(click(member, post, answer_button(post.blocks(), 0, value)))
        await ws.drain()
        records = list(caplog.records)
    assert records, "the click path logs something at DEBUG"
    # slack_sdk's own request logging was on the path, cut down to method and URL.
    assert any(r.getMessage().startswith("Sending a request") for r in records)
    for record in records:
        line = (
            record.getMessage()
            + " "
            + json.dumps(
                {k: str(v) for k, v in record.__dict__.items() if k not in ("msg", "args")}
            )
        )
        assert not re.search(r'pulse\.answer|\\?"v\\?":\s*\d', line), line[:400]
