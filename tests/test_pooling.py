"""Pooling over weeks by distinct people (issue 17, point 2): a unit with enough members but too
few respondents each week is shown over 4-8 weeks once enough *different* people answered,
counted from participation; the same few people answering every week never make a pool."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messages import Message
from flows.digest import load_picture, queue_leader_digests
from flows.indices import picture_index_series
from flows.pooling import POOLED_PATH, pool_dimensions
from flows.question_bank import default_bank
from storage.models import (
    OutboxMessage,
    Participation,
    Publication,
    PulseRound,
    RoundQuestion,
)
from tests.test_digest_data import MONDAY, Org, all_fours, org_at, weeks_ago


def _round(
    org: Org, path: str, closed: dt.datetime, dims: Sequence[str], who: Sequence[int]
) -> None:
    """A closed round answered (value 4) by the unit's members at positions `who`."""
    session: Session = org.session
    unit = org.units[path]
    r = PulseRound(
        unit_id=unit.id,
        opened_at=closed - dt.timedelta(days=3),
        closes_at=closed,
        closed_at=closed,
        min_group_size=5,
        min_comment_group_size=5,
    )
    for pos, dim in enumerate(dims):
        r.questions.append(RoundQuestion(question_id=f"{dim}.1", position=pos))
    session.add(r)
    session.flush()
    for i, m in enumerate(org.members[path]):
        session.add(Participation(round_id=r.id, member_id=m.id, answered=i in who))
    for dim in dims:
        session.add(all_fours(r.id, f"{dim}.1", dim, len(who)))
    session.flush()


def _rotation(org: Org, path: str, weeks: int, who_of_week: Sequence[Sequence[int]]) -> None:
    dims = list(default_bank().dimensions)
    for n in range(weeks, 0, -1):
        w = weeks - n
        _round(
            org,
            path,
            weeks_ago(n),
            [dims[(2 * w) % 16], dims[(2 * w + 1) % 16]],
            who_of_week[w % len(who_of_week)],
        )


def _pooled_rows(s: Session) -> list[Publication]:
    return list(s.scalars(select(Publication).where(Publication.path == POOLED_PATH)))


def test_different_people_each_week_make_a_pool(db_url: str) -> None:
    with org_at(db_url) as (org, settings):
        s = org.session
        team = org.unit("Hjemmeplejen", members=8)
        # Three answer each week, but not the same three: six different people in two weeks.
        _rotation(org, "Hjemmeplejen", 12, [[0, 1, 2], [3, 4, 5]])
        picture = load_picture(s, settings, MONDAY)
        # No week's own figure is shown (three answers) ...
        assert not picture.shown_scores(team.id)
        # ... but the pools over weeks are, and the index has points from them.
        series = picture_index_series(picture, team.id)
        points = [v for v in series["social_capital"] if v is not None]
        assert len(points) >= 6
        assert {round(v) for v in points} == {75}
        rows = _pooled_rows(s)
        assert rows and all(r.people >= 5 for r in rows if r.shown)
        # The leader's digest shows the pools, saying what they hold.
        leader = org.leader("Hjemmeplejen", "Lise Leder")
        queue_leader_digests(s, settings, MONDAY, due_only=False, image_ids=lambda: "c1")
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.address == str(leader.id)))
        assert row is not None
        text = " ".join(
            getattr(p, "text", "")
            + " ".join(f"{f.label} {f.value}" for f in getattr(p, "facts", []))
            for p in Message.model_validate(row.payload).parts
        )
    assert "Over flere uger samlet (svar fra mindst 5 forskellige)" in text
    assert re.search(r"Social kapital 75 · \d uger samlet, til og med ugen fra", text)


def test_the_same_few_people_every_week_never_make_a_pool(db_url: str) -> None:
    with org_at(db_url) as (org, settings):
        s = org.session
        team = org.unit("Hjemmeplejen", members=8)
        _rotation(org, "Hjemmeplejen", 12, [[0, 1, 2]])
        picture = load_picture(s, settings, MONDAY)
        series = picture_index_series(picture, team.id)
        assert all(v is None for v in series["social_capital"])
        assert not [p for p in picture.pooled.values() if p]
        assert not [r for r in _pooled_rows(s) if r.shown]


def test_pools_are_the_seed_banks_groups() -> None:
    pools = pool_dimensions()
    assert set(pools) == {"social_capital", "relational_coordination"}
    assert len(pools["social_capital"]) == 9 and len(pools["relational_coordination"]) == 7


def test_a_pool_opens_no_difference_with_everything_else_published(db_url: str) -> None:
    """Real rounds, summaries, digests and results views; then the auditor's adversary
    (tests/test_ledger_auditor.py) tries every small set of cells against all that was shown,
    pools over weeks included."""
    from tests.pulse_world import day, world_at
    from tests.test_ledger_auditor import exposures

    with world_at(db_url) as world:
        s = world.session
        world.unit("K")
        world.unit("K/A", members=8)
        world.unit("K/B", members=6)
        qs = ["trust_vertical.1", "justice_voice.1", "bonding.1", "trust_horizontal.1"]
        people: dict[str, frozenset[int]] = {}
        groups = [[0, 1, 2], [3, 4, 5], [5, 6, 7], [0, 3, 6]]
        for back in range(4, 0, -1):
            q = qs[back - 1]
            for path, who in (("K/A", groups[back - 1]), ("K/B", range(6))):
                members = world.members[path]
                values = [4 if i in who else None for i in range(len(members))]
                r = world.round(path, day(back, 1), {q: values}, hours=20)
                answered = frozenset(m.id for i, m in enumerate(members) if i in who)
                people[f"{r.id}:{q}"] = answered
                people[f"{r.id}:"] = answered
        world.digest()
        world.results("K")
        recorded = [
            frozenset(cells)
            for p in world.publications()
            if p.shown and p.path != "comments"
            for cells in p.cells
        ]
        pooled = [p for p in world.publications() if p.path == POOLED_PATH and p.shown]
        s.rollback()
    assert pooled, "A's pool over weeks was let out"
    found = next(exposures([p for p in recorded if p], people), None)
    assert found is None, f"derivable: {sorted(found)}"


def test_the_closed_dm_says_where_a_small_groups_answers_count(db_url: str) -> None:
    """Point 4: at close, everyone asked in a unit whose figures are not shown alone learns
    where the answers count; never how many answered (a figure of fewer than five)."""
    from flows.pulse import queue_closed_rewrites
    from tests.pulse_world import day, world_at

    with world_at(db_url) as world:
        s = world.session
        world.unit("Kommune")
        world.unit("Kommune/Social og Sundhed")
        world.unit("Kommune/Social og Sundhed/Syd", members=5)
        world.unit("Kommune/Social og Sundhed/Nord", members=6)
        syd = world.round(
            "Kommune/Social og Sundhed/Syd", day(1, 1), {"bonding.1": [4, 4, 4, 4]}, close=False
        )
        nord = world.round(
            "Kommune/Social og Sundhed/Nord", day(1, 1), {"bonding.1": [4] * 6}, close=False
        )
        # The question DMs went out (the platform gave each a reference) before the close.
        for row in s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "pulse.ask")):
            row.status, row.message_ref = "sent", f"local|dm-{row.address}|m{row.id}"
        for r in (syd, nord):
            world.close(r, day(1, 3))
            queue_closed_rewrites(s, r, "da")
        texts = {
            r.id: {
                " ".join(getattr(p, "text", "") for p in Message.model_validate(o.payload).parts)
                for o in s.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.purpose == "pulse.closed", OutboxMessage.round_id == r.id
                    )
                )
            }
            for r in (syd, nord)
        }
    [syd_text] = texts[syd.id]  # one text for everyone asked
    assert "Der vises ingen tal for *Syd* alene fra denne runde" in syd_text
    assert "Svarene tæller med i tallene for *Social og Sundhed*" in syd_text
    assert not re.search(r"\b4\b", syd_text)
    [nord_text] = texts[nord.id]
    assert "Der vises ingen tal" not in nord_text


def test_results_say_where_the_answers_count_at_the_top(db_url: str) -> None:
    from bot.core.i18n import translator
    from flows.access import results_message, results_view
    from tests.pulse_world import day, world_at

    with world_at(db_url) as world:
        s = world.session
        top = world.unit("Lille Kommune", members=4)
        world.round("Lille Kommune", day(1, 1), {"bonding.1": [4, 4, 4]})
        view = results_view(s, top)
        assert view is not None
        message = results_message(view, s, translator("da"))
        text = " ".join(getattr(p, "text", "") for p in message.parts)
    assert "Der vises ingen tal for *Lille Kommune* alene" in text
    assert "Svarene tæller med i tal over flere uger, når mindst 5 forskellige har svaret" in text
    assert "ovenover" not in text
