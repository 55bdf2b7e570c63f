"""The social-capital and relational-coordination indices: from shown figures only, with a point
in most of the 12 weeks once the rotation has come round (flows.indices)."""

from __future__ import annotations

from flows.digest import load_picture
from flows.indices import (
    RELATIONAL_COORDINATION,
    ROTATION_WEEKS,
    SOCIAL_CAPITAL,
    carried,
    index_points,
    index_series,
    picture_index_series,
)
from flows.question_bank import default_bank
from tests.test_digest_data import MONDAY, Org, org_at, weeks_ago


def test_the_index_dimensions_are_the_seed_banks() -> None:
    bank = default_bank().dimensions
    social = [d for dims in SOCIAL_CAPITAL.values() for d in dims]
    assert sorted(social) == sorted(d for d in bank if bank[d].group == "social_capital")
    assert sorted(RELATIONAL_COORDINATION) == sorted(
        d for d in bank if bank[d].group == "relational_coordination"
    )


def test_a_score_stands_for_one_rotation_and_no_longer() -> None:
    weekly: list[float | None] = [50.0] + [None] * 9
    assert carried(weekly) == [50.0] * ROTATION_WEEKS + [None, None]


def test_social_capital_needs_each_component_and_averages_them() -> None:
    weeks = 3
    scores: dict[str, list[float | None]] = {
        "trust_vertical": [60.0, None, None],
        "trust_horizontal": [None, 80.0, None],
        "justice_voice": [None, 40.0, None],
        "bonding": [None, None, 90.0],
    }
    points = index_points(scores)
    social = points["social_capital"]
    assert len(social) == weeks
    # Week 0: no justice nor cooperation yet; week 1: no cooperation yet.
    assert social[0] is None and social[1] is None
    # Week 2: trust (60+80)/2 = 70, justice 40, cooperation 90 -> 200/3.
    assert social[2] is not None and abs(social[2] - 200 / 3) < 1e-9


def test_relational_coordination_needs_half_its_dimensions() -> None:
    three = {d: [70.0] for d in RELATIONAL_COORDINATION[:3]}
    assert index_points(three)["relational_coordination"] == [None]
    four = {d: [70.0] for d in RELATIONAL_COORDINATION[:4]}
    assert index_points(four)["relational_coordination"] == [70.0]


def _rotate(org: Org, path: str, size: int, weeks: int) -> None:
    """Weekly rounds over the bank's 16 dimensions, two a week, as the calendar rotation asks."""
    dims = list(default_bank().dimensions)
    for n in range(weeks, 0, -1):
        w = weeks - n
        picked = [dims[(2 * w) % 16], dims[(2 * w + 1) % 16]]
        org.round(path, weeks_ago(n), {f"{d}.1": [4] * size for d in picked})


def test_index_has_a_point_in_most_of_twelve_weeks(db_url: str) -> None:
    with org_at(db_url) as (org, settings):
        s = org.session
        # Two organisations side by side: no roll-up, so no complementary suppression here
        # (tests/test_digest_coherence.py has that).
        team = org.unit("Hjemmeplejen", members=8)
        _rotate(org, "Hjemmeplejen", 8, 20)
        small = org.unit("Lille", members=3)
        _rotate(org, "Lille", 3, 20)
        s.flush()
        picture = load_picture(s, settings, MONDAY)
        series = picture_index_series(picture, team.id)
        assert len(series["social_capital"]) == 12
        assert all(v is not None for v in series["social_capital"])
        assert all(v is not None for v in series["relational_coordination"])
        # Answers all 4: score 75 everywhere.
        assert {round(v or 0) for v in series["social_capital"]} == {75}
        # A group under the threshold has no shown figure, so no index either.
        lone = picture_index_series(picture, small.id)
        assert all(v is None for v in lone.get("social_capital", [None]))
        assert (
            index_series(s, team.id, settings=settings, now=MONDAY)["social_capital"]
            == (series["social_capital"])
        )
