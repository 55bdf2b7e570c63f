"""What outlives a refactor: the outbox dedupe keys and the packed button data are stored by
value, so moving code must leave them byte for byte (job names: tests/test_flow_names.py)."""

from __future__ import annotations

import datetime as dt

from flows.actions import ActionMark, ActionOpen
from flows.actions.keys import committee_key, due_key, plan_key, reminder_key
from flows.keys import dialogue_channel_key, dialogue_guide_key, home_welcome_key
from flows.replies import ReplyRead, ReplyStart
from flows.replies.keys import notice_key_prefix, replier_key


def test_dedupe_keys_are_those_already_in_outboxes() -> None:
    due = dt.date(2026, 3, 9)
    assert plan_key(4, 17, 2) == "actions:plan:4:17:v2"
    assert reminder_key(17, due, 1, 8) == "actions:17:2026-03-09:r1:m8"
    assert due_key(17, due, 8) == "actions:17:2026-03-09:due:m8"
    assert committee_key(3) == "actions:med:3"
    assert notice_key_prefix("ab12", 3) == "replies:ab12:3:m"
    assert replier_key("ab12", 3) == "replies:ab12:3:replier"
    assert dialogue_guide_key(5, 9) == "dialogue:5:guide:9"
    assert dialogue_channel_key(5) == "dialogue:5:channel"
    assert home_welcome_key(9) == "home:9:welcome"


def test_buttons_already_posted_still_decode() -> None:
    assert ActionOpen(u=4).pack() == 'actions.open|{"u":4}'
    assert ActionMark(a=17, s="done").pack() == 'actions.mark|{"a":17,"s":"done"}'
    assert ReplyRead(t="ab12").pack() == 'replies.read|{"t":"ab12"}'
    assert ReplyStart(r=1, q="q1", k="k").pack() == 'replies.start|{"k":"k","q":"q1","r":1}'
