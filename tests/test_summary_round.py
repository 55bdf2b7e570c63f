"""The round summary: distribution, change since last time, comments where allowed (scrubbed,
hidden ones never), pooled comments for small units, the Bring to MED button."""

from __future__ import annotations

from bot.core.actions import decode
from bot.core.config import Settings
from bot.core.i18n import translator
from bot.core.messages import Buttons, Message
from flows.agenda import BringToMed
from flows.summary import pooled_comment_messages, round_summary
from storage.db import Database
from tests.fake_platform import plain
from tests.test_digest_data import MONDAY, Org, weeks_ago

Q = "trust_vertical.1"


def test_figures_distribution_change_comments_and_button(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K")
        org.unit("K/Nord", members=10)
        org.member(org.units["K/Nord"], "Mette Nielsen")
        earlier = org.round("K/Nord", weeks_ago(2), {Q: [3, 3, 3, 3, 3, 3]})
        # The change line reveals the earlier figure, so it needs it shown (its summary).
        round_summary(s, earlier, translator("da"))
        r = org.round(
            "K/Nord",
            weeks_ago(1),
            {Q: [5, 4, 4, 3, 2, 4], "bonding.1": [4, 4, 4, 4]},
            comments=["Mette Nielsen holder os sammen, ring 12 34 56 78", "Mere tid, tak"],
            hidden=["skjult kommentar"],
        )
        message = round_summary(s, r, translator("da"))
        en = round_summary(s, r, translator("en"))
        text = plain(message)
    assert "6 af 10 svarede" in text
    assert "3,7 af 5 (score 67) · 6 svar" in text
    assert "Positive (4-5) 67" in text and "neutrale (3) 17" in text
    assert "↑ +17 siden" in text
    # Four answered the second question: too few to show.
    assert "For få svar til at vise" in text
    assert "Mere tid, tak" in text
    assert "Mette" not in text and "12 34 56 78" not in text
    assert "skjult" not in text
    [button_row] = [p for p in message.parts if isinstance(p, Buttons)]
    [button] = button_row.buttons
    assert decode(button.data) == BringToMed(u=r.unit_id, q=Q, r=r.id)
    assert "6 of 10 answered" in plain(en)
    db.dispose()


def test_too_few_shows_no_figure_and_no_comment(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=8)
        r = org.round("K", weeks_ago(1), {Q: [1, 2, 1, 2]}, comments=["hemmelig"])
        text = plain(round_summary(s, r, translator("da")))
    assert "For få svarede" in text and "hemmelig" not in text and "score" not in text
    db.dispose()


def test_small_units_comments_are_pooled_with_the_parent_once_all_closed(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=6)
        org.unit("K/Lille", members=6)
        parent = org.round(
            "K",
            weeks_ago(1),
            {Q: [4] * 6},
            comments=["fra toppen"],
            min_comment_group_size=10,
            period="2026-W08",
        )
        small = org.round(
            "K/Lille",
            weeks_ago(1),
            {Q: [3] * 6},
            comments=["fra den lille"],
            min_comment_group_size=10,
            period="2026-W08",
        )
        small_text = plain(round_summary(s, small, translator("da")))
        parent_text = plain(round_summary(s, parent, translator("da")))
        [pooled] = pooled_comment_messages(s, settings, MONDAY)
        pooled_text = plain(Message.model_validate(pooled.message))
        assert pooled.address == str(org.units["K"].id)
    # Neither summary shows comments on its own: subtracting one from the pool would
    # isolate the small unit's.
    for text in (small_text, parent_text):
        assert "fra den lille" not in text and "fra toppen" not in text
        assert "vises samlet for K" in text
    assert "fra den lille" in pooled_text and "fra toppen" in pooled_text
    db.dispose()
