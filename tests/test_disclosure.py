from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flows.disclosure import (
    BELOW_THRESHOLD,
    COMPLEMENTARY,
    MIN_COMMENT_GROUP_FLOOR,
    MIN_GROUP_FLOOR,
    Cell,
    check_threshold,
    comment_home,
    decide,
)


def tree(*rows: tuple[str, int, str | None]) -> list[Cell]:
    return [Cell(key, n, parent) for key, n, parent in rows]


# --- the worked example and plain cases ---------------------------------------------------------


def test_worked_example_23_10_7_5_1() -> None:
    cells = tree(("p", 23, None), ("a", 10, "p"), ("b", 7, "p"), ("c", 5, "p"), ("d", 1, "p"))
    decision = decide(cells, 5)
    assert decision.shown == {"p", "a", "b"}
    assert decision.withheld == {"d": BELOW_THRESHOLD, "c": COMPLEMENTARY}


def test_everything_large_is_shown() -> None:
    cells = tree(("p", 30, None), ("a", 10, "p"), ("b", 15, "p"))
    assert decide(cells, 5).shown == {"p", "a", "b"}


def test_small_parent_remainder_withholds_a_child() -> None:
    # 12 - 5 - 5 = 2 people answered directly in the parent.
    cells = tree(("p", 12, None), ("a", 5, "p"), ("b", 5, "p"))
    decision = decide(cells, 5)
    assert decision.withheld == {"a": COMPLEMENTARY}
    assert decision.shown == {"p", "b"}


def test_parent_is_withheld_when_cheaper_than_children() -> None:
    # Withholding c alone leaves 12 - 5 - 5 = 2 visible; withholding c and a child costs 15,
    # withholding the top costs 12.
    cells = tree(("p", 12, None), ("c", 10, "p"), ("c1", 5, "c"), ("c2", 5, "c"))
    decision = decide(cells, 5)
    assert decision.withheld == {"p": COMPLEMENTARY}


def test_unit_by_role_cells_are_children_of_the_unit() -> None:
    cells = tree(
        ("unit:3", 14, None),
        ("unit:3|role:leader", 2, "unit:3"),
        ("unit:3|role:member", 12, "unit:3"),
    )
    decision = decide(cells, 5)
    assert decision.withheld == {
        "unit:3|role:leader": BELOW_THRESHOLD,
        "unit:3|role:member": COMPLEMENTARY,
    }


def test_cell_shown_last_round_cannot_be_the_complement_now() -> None:
    # Last round p, a and b were all shown. Now b has 3: showing p with a withheld would let
    # p(now) - a(last round) give b away, so nothing in this family can be shown.
    cells = tree(("p", 13, None), ("a", 10, "p"), ("b", 3, "p"))
    assert decide(cells, 5).shown == {"p"}
    assert decide(cells, 5, history=[{"p", "a", "b"}]).shown == frozenset()


def test_history_accepts_counts_mapping_and_previous_decision() -> None:
    cells = tree(("p", 20, None), ("a", 10, "p"), ("b", 10, "p"))
    last = decide(cells, 5)
    assert decide(cells, 5, history=[last.shown, {"p": 19}]).shown == {"p", "a", "b"}


def test_zero_respondents_is_withheld_but_reveals_nothing() -> None:
    cells = tree(("p", 10, None), ("a", 10, "p"), ("b", 0, "p"))
    decision = decide(cells, 5)
    assert decision.shown == {"p", "a"}
    assert decision.withheld == {"b": BELOW_THRESHOLD}


@pytest.mark.parametrize("min_size", [-1, 0, 1, 2])
def test_min_size_below_floor_is_refused(min_size: int) -> None:
    with pytest.raises(ValueError):
        decide(tree(("p", 10, None)), min_size)


@pytest.mark.parametrize(
    "cells",
    [
        tree(("p", 5, None), ("a", 4, "p"), ("b", 4, "p")),  # children overlap
        tree(("p", 5, None), ("a", 4, "x")),  # unknown parent
        tree(("p", 5, None), ("p", 4, None)),  # duplicate key
        tree(("a", 5, "b"), ("b", 5, "a")),  # cycle
        tree(("p", -1, None)),
    ],
)
def test_malformed_trees_are_refused(cells: list[Cell]) -> None:
    with pytest.raises(ValueError):
        decide(cells, 3)


def test_check_threshold() -> None:
    assert MIN_GROUP_FLOOR == 3 and MIN_COMMENT_GROUP_FLOOR == 5
    assert check_threshold(3, "score") == 3
    assert check_threshold(5, "comment") == 5
    with pytest.raises(ValueError):
        check_threshold(2, "score")
    with pytest.raises(ValueError):
        check_threshold(4, "comment")
    with pytest.raises(ValueError):
        check_threshold(True, "score")


# --- comment_home --------------------------------------------------------------------------------

PARENTS: dict[str, str | None] = {"top": None, "mid": "top", "a": "mid", "b": "mid", "c": "top"}


def test_comment_home_is_the_unit_itself_when_it_clears() -> None:
    assert comment_home("a", {"a": 10}, PARENTS, 5) == "a"


def test_comment_home_rolls_up_to_the_nearest_ancestor_that_clears() -> None:
    counts = {"a": 2, "b": 2, "mid": 1, "c": 9, "top": 0}
    assert comment_home("a", counts, PARENTS, 5) == "mid"


def test_comment_home_does_not_count_descendants_that_have_their_own_home() -> None:
    # c keeps its 9 comments; top has only a..mid's 4 + own 0 left, which is too few.
    counts = {"a": 2, "b": 1, "mid": 1, "c": 9, "top": 0}
    assert comment_home("a", counts, PARENTS, 5) is None
    assert comment_home("c", counts, PARENTS, 5) == "c"


def test_comment_home_refuses_a_threshold_below_the_comment_floor() -> None:
    with pytest.raises(ValueError):
        comment_home("a", {"a": 10}, PARENTS, 4)


# --- property: no small group is derivable ------------------------------------------------------

MAX_CELLS = 10


@st.composite
def org_trees(draw: st.DrawFn) -> list[Cell]:
    """Random org trees (depth <= 3, fan-out <= 5), counts built from own respondents 0..30."""
    parents: list[str | None] = [None]
    depth = [0]
    i = 0
    while i < len(parents) and len(parents) < MAX_CELLS:
        if depth[i] < 3:
            for _ in range(draw(st.integers(0, 5))):
                if len(parents) >= MAX_CELLS:
                    break
                parents.append(str(i))
                depth.append(depth[i] + 1)
        i += 1
    small_or_any = st.one_of(st.integers(0, 6), st.integers(0, 30))
    own = [draw(small_or_any) for _ in parents]
    total = list(own)
    for node in range(len(parents) - 1, 0, -1):
        parent = parents[node]
        assert parent is not None
        total[int(parent)] += total[node]
    return [Cell(str(n), total[n], parents[n]) for n in range(len(parents))]


def _atoms(cells: Sequence[Cell]) -> tuple[list[str], dict[str, int], dict[str, np.ndarray]]:
    keys = [c.key for c in cells]
    index = {k: i for i, k in enumerate(keys)}
    parent = {c.key: c.parent for c in cells}
    own = {c.key: c.respondents for c in cells}
    for c in cells:
        if c.parent is not None:
            own[c.parent] -= c.respondents
    vectors: dict[str, np.ndarray] = {}
    for k in keys:
        vec = np.zeros(len(keys), dtype=np.int64)
        for j in keys:
            node: str | None = j
            while node is not None and node != k:
                node = parent[node]
            if node == k:
                vec[index[j]] = 1
        vectors[k] = vec
    return keys, own, vectors


def disclosures(
    cells: Sequence[Cell], shown: Collection[str], prior: Collection[str], min_size: int
) -> list[tuple[dict[str, int], int]]:
    """Brute force: every {-1,0,1} combination of known figures that pins down a group of
    1..min_size-1 respondents using a figure of this round, which no part of the same combination
    made of earlier figures alone already pins down."""
    keys, own, vectors = _atoms(cells)
    known = sorted(set(shown) | (set(prior) & set(keys)))
    if not known:
        return []
    owns = np.array([own[k] for k in keys])
    matrix = np.array([vectors[k] for k in known])
    combos = np.array(list(itertools.product((-1, 0, 1), repeat=len(known))), dtype=np.int64)
    sums = combos @ matrix
    zero_one = np.all((sums == 0) | (sums == 1), axis=1)
    people = sums @ owns
    current = np.array([k in shown for k in known])
    uses_now = np.any((combos != 0) & current, axis=1)
    found: list[tuple[dict[str, int], int]] = []
    for row in np.nonzero(zero_one & uses_now & (people >= 1) & (people < min_size))[0]:
        group = tuple(np.nonzero((sums[row] == 1) & (owns > 0))[0])
        support = [i for i in range(len(known)) if combos[row][i] != 0]
        if not _old_figures_alone_suffice(combos[row], support, known, shown, matrix, owns, group):
            coefficients = {known[i]: int(combos[row][i]) for i in support}
            found.append((coefficients, int(people[row])))
    return found


def _old_figures_alone_suffice(
    combo: np.ndarray,
    support: list[int],
    known: list[str],
    shown: Collection[str],
    matrix: np.ndarray,
    owns: np.ndarray,
    group: tuple[int, ...],
) -> bool:
    old = [i for i in support if known[i] not in shown]
    for size in range(1, len(old) + 1):
        for part in itertools.combinations(old, size):
            sub = sum(int(combo[i]) * matrix[i] for i in part)
            if (
                np.all((sub == 0) | (sub == 1))
                and tuple(np.nonzero((sub == 1) & (owns > 0))[0]) == group
            ):
                return True
    return False


def test_brute_force_finds_the_attacks_it_is_meant_to_find() -> None:
    cells = tree(("p", 23, None), ("a", 10, "p"), ("b", 7, "p"), ("c", 5, "p"), ("d", 1, "p"))
    assert ({"p": 1, "a": -1, "b": -1, "c": -1}, 1) in disclosures(
        cells, {"p", "a", "b", "c"}, (), 5
    )
    stale = tree(("p", 13, None), ("a", 10, "p"), ("b", 3, "p"))
    assert ({"p": 1, "a": -1}, 3) in disclosures(stale, {"p"}, {"p", "a", "b"}, 5)
    # A history-only figure next to an unrelated current one is not an attack.
    apart = tree(("p", 20, None), ("a", 10, "p"), ("b", 10, "p"), ("b1", 3, "b"), ("b2", 7, "b"))
    assert disclosures(apart, {"a"}, {"b1"}, 5) == []


@settings(max_examples=200, deadline=None)
@given(cells=org_trees(), min_size=st.integers(3, 7))
@example(
    cells=tree(("0", 23, None), ("1", 10, "0"), ("2", 7, "0"), ("3", 5, "0"), ("4", 1, "0")),
    min_size=5,
)
def test_no_small_group_is_derivable_within_a_round(cells: list[Cell], min_size: int) -> None:
    decision = decide(cells, min_size)
    assert set(decision.shown) | set(decision.withheld) == {c.key for c in cells}
    assert all(c.respondents >= min_size for c in cells if c.key in decision.shown)
    assert disclosures(cells, decision.shown, (), min_size) == []


@settings(max_examples=200, deadline=None)
@given(
    cells=org_trees(),
    min_size=st.integers(3, 7),
    drift=st.lists(st.integers(-3, 3), min_size=MAX_CELLS, max_size=MAX_CELLS),
    extra=st.sets(st.integers(0, MAX_CELLS - 1)),
)
@example(
    cells=tree(("0", 13, None), ("1", 10, "0"), ("2", 3, "0")),
    min_size=5,
    drift=[0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
    extra=set(),
)
def test_no_small_group_is_derivable_with_last_round(
    cells: list[Cell], min_size: int, drift: list[int], extra: set[int]
) -> None:
    last_round = _drifted(cells, drift)
    # Last round's shown keys, plus some keys shown by other means (an export, a chart).
    prior = set(decide(last_round, min_size).shown) | {str(i) for i in extra if i < len(cells)}
    decision = decide(cells, min_size, history=[prior])
    assert disclosures(cells, decision.shown, prior, min_size) == []


def _drifted(cells: Sequence[Cell], drift: Sequence[int]) -> list[Cell]:
    _, own, _ = _atoms(cells)
    moved = {c.key: max(0, own[c.key] + drift[i]) for i, c in enumerate(cells)}
    total = dict(moved)
    for c in reversed(cells):  # children come after their parents in org_trees
        if c.parent is not None:
            total[c.parent] += total[c.key]
    return [Cell(c.key, total[c.key], c.parent) for c in cells]
