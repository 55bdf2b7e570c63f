"""The pulse question bank: dimensions and questions in Danish and English, and their rotation.

The bank ships as YAML files in flows/questions/. Every file has two lists, `dimensions` and
`questions`; a question's id is "<dimension>.<n>" and never changes, because answers and
results are stored against it. Committees may add their own questions ("custom.<...>"); those
are validated here with `custom_question` and kept in the database by the caller.

A broken data file is reported as `BankError` naming the file, the line and the reason, so the
person editing YAML is pointed at the exact spot rather than at a pydantic traceback.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.core.config import Settings
from bot.core.errors import BankError

__all__ = [
    "BANK_DIR",
    "BANK_ID_PATTERN",
    "CUSTOM_DIMENSION",
    "CUSTOM_ID_PATTERN",
    "DIALOGUE_MAX",
    "DIALOGUE_MIN",
    "BankError",
    "Dimension",
    "Group",
    "Lang",
    "Question",
    "QuestionBank",
    "ScaleEnd",
    "Texts",
    "custom_question",
    "default_bank",
    "load_bank",
    "pick_questions",
    "question_bank",
]

BANK_DIR = Path(__file__).parent / "questions"
BANK_ID_PATTERN = re.compile(r"^[a-z_]+\.[0-9]+$")
CUSTOM_ID_PATTERN = re.compile(r"^custom\.[a-z0-9_.-]+$")
# A committee's own question need not fit a research dimension; it rotates under this one.
CUSTOM_DIMENSION = "custom"

Lang = Literal["da", "en"]
Group = Literal["social_capital", "relational_coordination", "custom"]

# Lengths follow the columns of storage.models.Question, so a valid question always fits.
_Id = Annotated[str, StringConstraints(min_length=1, max_length=80)]
_Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$", max_length=80)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
_End = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Texts(_Frozen):
    """The same short text in both languages."""

    da: _Text
    en: _Text

    def get(self, lang: Lang) -> str:
        return self.da if lang == "da" else self.en


class ScaleEnd(Texts):
    da: _End
    en: _End


# A team meeting has time for a few open questions per dimension, and one is too few to choose.
DIALOGUE_MIN = 2
DIALOGUE_MAX = 3


class Dimension(_Frozen):
    id: _Slug
    label: Texts
    group: Group
    # Open questions for the team's dialogue about this dimension (the leader's meeting guide);
    # none, or DIALOGUE_MIN to DIALOGUE_MAX of them, each in Danish and English.
    dialogue: tuple[Texts, ...] = ()

    @field_validator("dialogue")
    @classmethod
    def _dialogue_count(cls, value: tuple[Texts, ...]) -> tuple[Texts, ...]:
        if value and not DIALOGUE_MIN <= len(value) <= DIALOGUE_MAX:
            raise ValueError(
                f"a dimension has {DIALOGUE_MIN}-{DIALOGUE_MAX} dialogue questions,"
                f" not {len(value)}"
            )
        return value

    def dialogue_questions(self, lang: Lang) -> tuple[str, ...]:
        """The dimension's open dialogue questions in `lang`, in file order."""
        return tuple(text.get(lang) for text in self.dialogue)


class Question(_Frozen):
    """One 1-5 question; `low` and `high` label the ends of the scale."""

    id: _Id
    dimension: _Slug
    da: _Text
    en: _Text
    low: ScaleEnd
    high: ScaleEnd
    # True when agreeing is the unfavourable answer; summaries flip it so 5 is always good.
    reverse: bool = False

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not (BANK_ID_PATTERN.match(value) or CUSTOM_ID_PATTERN.match(value)):
            raise ValueError(
                f"id {value!r} must look like 'dimension.1' (bank) or 'custom.name' (committee)"
            )
        return value

    @property
    def is_custom(self) -> bool:
        return self.id.startswith("custom.")

    def text(self, lang: Lang) -> str:
        return self.da if lang == "da" else self.en

    def ends(self, lang: Lang) -> tuple[str, str]:
        return self.low.get(lang), self.high.get(lang)


class _BankQuestion(Question):
    @field_validator("id")
    @classmethod
    def _bank_id(cls, value: str) -> str:
        if not BANK_ID_PATTERN.match(value):
            raise ValueError(f"bank question id {value!r} must match {BANK_ID_PATTERN.pattern}")
        return value


class _BankDimension(Dimension):
    group: Literal["social_capital", "relational_coordination"]


class _BankFile(_Frozen):
    dimensions: list[_BankDimension] = Field(default_factory=list)
    questions: list[_BankQuestion] = Field(default_factory=list)


_CUSTOM = Dimension(
    id=CUSTOM_DIMENSION,
    label=Texts(da="Udvalgets egne spørgsmål", en="The committee's own questions"),
    group="custom",
)


class QuestionBank:
    """Dimensions and questions in a stable order (file order, then position in the file)."""

    def __init__(self, dimensions: Iterable[Dimension], questions: Iterable[Question]) -> None:
        dims: dict[str, Dimension] = {}
        for dim in dimensions:
            if dim.id in dims:
                raise BankError(f"duplicate dimension id {dim.id!r}")
            dims[dim.id] = dim
        by_id: dict[str, Question] = {}
        for q in questions:
            if q.id in by_id:
                raise BankError(f"duplicate question id {q.id!r}")
            if q.dimension not in dims:
                if q.dimension != CUSTOM_DIMENSION:
                    raise BankError(f"question {q.id!r} has unknown dimension {q.dimension!r}")
                dims[CUSTOM_DIMENSION] = _CUSTOM
            by_id[q.id] = q
        self._dimensions = MappingProxyType(dims)
        self._by_id = MappingProxyType(by_id)
        self._questions = tuple(by_id.values())
        grouped: dict[str, list[Question]] = {d: [] for d in dims}
        for q in self._questions:
            grouped[q.dimension].append(q)
        self._by_dimension = {d: tuple(qs) for d, qs in grouped.items()}

    @property
    def questions(self) -> tuple[Question, ...]:
        return self._questions

    @property
    def by_id(self) -> Mapping[str, Question]:
        return self._by_id

    @property
    def dimensions(self) -> Mapping[str, Dimension]:
        return self._dimensions

    def for_dimension(self, dimension: str) -> tuple[Question, ...]:
        """The dimension's questions in bank order; KeyError for an unknown dimension."""
        if dimension not in self._dimensions:
            raise KeyError(dimension)
        return self._by_dimension[dimension]

    def with_questions(self, extra: Iterable[Question]) -> QuestionBank:
        """A new bank that also holds `extra` (a committee's custom questions) after the rest."""
        return QuestionBank(self._dimensions.values(), [*self._questions, *extra])

    def __len__(self) -> int:
        return len(self._questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self._questions)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_id


# --- loading ----------------------------------------------------------------------------------


# Social capital first: it is what most MED committees start with, and the rotation's
# tie-break follows bank order, so a new unit's first rounds ask about it.
_FILE_ORDER = ("social_capital.yaml", "relational_coordination.yaml")


def bank_files() -> list[Path]:
    """The shipped data files, in a fixed order so question order never depends on the disk."""
    rank = {name: i for i, name in enumerate(_FILE_ORDER)}
    return sorted(BANK_DIR.glob("*.yaml"), key=lambda p: (rank.get(p.name, len(rank)), p.name))


def load_bank(paths: Iterable[Path] | None = None) -> QuestionBank:
    """Load and check the bank files (the shipped ones by default); raise BankError if broken."""
    files = bank_files() if paths is None else [Path(p) for p in paths]
    if not files:
        raise BankError("no question bank files given")

    dims: dict[str, tuple[Dimension, Path, int]] = {}
    questions: dict[str, tuple[Question, Path, int]] = {}
    for path in files:
        parsed, root = _parse_file(path)
        for i, dim in enumerate(parsed.dimensions):
            line = _line_of(root, ("dimensions", i))
            if dim.id in dims:
                _, first_file, first_line = dims[dim.id]
                raise BankError(
                    f"duplicate dimension id {dim.id!r}"
                    f" (first defined at {first_file}:{first_line})",
                    file=path,
                    line=line,
                )
            dims[dim.id] = (dim, path, line)
        for i, q in enumerate(parsed.questions):
            line = _line_of(root, ("questions", i))
            if q.id in questions:
                _, first_file, first_line = questions[q.id]
                raise BankError(
                    f"duplicate question id {q.id!r} (first defined at {first_file}:{first_line})",
                    file=path,
                    line=line,
                )
            questions[q.id] = (q, path, line)

    for question, path, line in questions.values():
        if question.dimension not in dims:
            raise BankError(
                f"question {question.id!r} has unknown dimension {question.dimension!r}",
                file=path,
                line=line,
            )
        if question.id.split(".", 1)[0] != question.dimension:
            raise BankError(
                f"question id {question.id!r} must start with its dimension {question.dimension!r}",
                file=path,
                line=line,
            )
    used = {question.dimension for question, _, _ in questions.values()}
    for dimension, path, line in dims.values():
        # Rotation promises to ask every dimension; an empty one could never be asked.
        if dimension.id not in used:
            raise BankError(f"dimension {dimension.id!r} has no questions", file=path, line=line)

    return QuestionBank(
        (d for d, _, _ in dims.values()),
        (q for q, _, _ in questions.values()),
    )


_default: QuestionBank | None = None


def default_bank() -> QuestionBank:
    """The shipped bank, loaded once per process."""
    global _default
    if _default is None:
        _default = load_bank()
    return _default


@cache
def _bank_from(directory: Path) -> QuestionBank:
    return load_bank(sorted(directory.glob("*.yaml")))


def question_bank(settings: Settings) -> QuestionBank:
    """The bank in force: the shipped one, or the installation's own (MEDPULS_QUESTION_BANK_DIR).

    Every flow asks this, never `default_bank()` directly, so that a committee's own bank
    names its dimensions in digests, action plans and agendas too.
    """
    directory = settings.question_bank_dir
    return default_bank() if directory is None else _bank_from(Path(directory))


def _marked(message: str, exc: yaml.MarkedYAMLError, path: Path) -> BankError:
    """The error with the line YAML points to, when it points to one."""
    mark = exc.problem_mark or exc.context_mark
    return BankError(message, file=path, line=None if mark is None else mark.line + 1)


def _parse_file(path: Path) -> tuple[_BankFile, yaml.Node]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankError(f"cannot read file: {exc}", file=path) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _marked(f"invalid YAML: {exc.problem or exc.context}", exc, path) from exc
    except yaml.YAMLError as exc:
        raise BankError(f"invalid YAML: {exc}", file=path) from exc
    if root is None:
        raise BankError("file is empty", file=path, line=1)
    _reject_duplicate_keys(root, path)

    loader = yaml.SafeLoader("")
    try:
        data: Any = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise _marked(f"invalid YAML value: {exc.problem}", exc, path) from exc
    finally:
        loader.dispose()

    try:
        return _BankFile.model_validate(data), root
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise BankError(
            f"{_format_loc(loc)}: {_reason(err['type'], err['msg'], loc)}",
            file=path,
            line=_line_of(root, loc),
        ) from exc


def _reject_duplicate_keys(node: yaml.Node, path: Path) -> None:
    # PyYAML silently keeps the last of two equal keys, which would hide a copy-paste slip.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise BankError(
                        f"key {key.value!r} appears twice", file=path, line=key.start_mark.line + 1
                    )
                seen.add(key.value)
            _reject_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(item, path)


def _line_of(root: yaml.Node, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node `loc` reaches (a missing key: its parent mapping)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    node = value
                    break
            else:
                break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
    return int(node.start_mark.line) + 1


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "file"


def _reason(kind: str, msg: str, loc: Sequence[str | int]) -> str:
    if kind == "missing" and loc and loc[-1] == "en":
        return "English text ('en') is missing"
    if kind == "missing" and loc and loc[-1] == "da":
        return "Danish text ('da') is missing"
    return msg


# --- committee questions ------------------------------------------------------------------------


def custom_question(
    *,
    id: str,
    da: str,
    en: str,
    low: Mapping[str, str],
    high: Mapping[str, str],
    dimension: str = CUSTOM_DIMENSION,
    reverse: bool = False,
    bank: QuestionBank | None = None,
) -> Question:
    """Validate a committee's own question (id "custom.<name>"); raise BankError if invalid.

    `low`/`high` are {"da": ..., "en": ...}. The dimension is "custom" or one of `bank`'s
    (the shipped bank by default), so such a question can join an existing dimension's rotation.
    """
    if not CUSTOM_ID_PATTERN.match(id or ""):
        raise BankError(f"custom question id {id!r} must match {CUSTOM_ID_PATTERN.pattern}")
    try:
        q = Question.model_validate(
            {
                "id": id,
                "dimension": dimension,
                "da": da,
                "en": en,
                "low": dict(low),
                "high": dict(high),
                "reverse": reverse,
            }
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise BankError(f"{_format_loc(loc)}: {_reason(err['type'], err['msg'], loc)}") from exc
    known = (bank or default_bank()).dimensions
    if q.dimension != CUSTOM_DIMENSION and q.dimension not in known:
        raise BankError(f"unknown dimension {q.dimension!r}")
    return q


# --- rotation ---------------------------------------------------------------------------------


def pick_questions(
    bank: QuestionBank,
    *,
    count: int,
    history: Sequence[Sequence[str]],
    exclude_inactive: Collection[str] = frozenset(),
    seed: int | None = None,
    slot: int | None = None,
) -> list[str]:
    """Question ids for the next round of a unit.

    With `slot` (flows.schedule.rotation_slot: the period's number on a calendar shared by the
    whole organisation), the rotation is the same for every unit: slot k asks the bank's
    dimensions k*count ... k*count+count-1 (in bank order, wrapping), so sibling units answer
    the same dimensions in the same week and roll-ups have something to add up; each dimension
    comes round every ceil(dimensions / count) periods (8 weekly rounds for the shipped bank's
    16 dimensions at two questions a round). Within a dimension the questions take turns lap
    by lap. A committee's own questions in an existing dimension join that dimension's turns;
    one in its own "custom" dimension is asked in addition, the least recently asked first.
    Without `slot`, the unit's own history decides, as below.

    `history` holds the question ids of the unit's earlier rounds, newest last; ids not in the
    bank are ignored. `exclude_inactive` are ids never to pick (deactivated questions).
    Dimensions asked least recently come first, so every dimension comes round regularly; within
    a dimension the least recently asked question is taken; nothing from the previous round is
    repeated. Ties are broken by bank order, or by an order shuffled with `seed` (e.g. the unit
    id, so units can be spread over dimensions) — either way the result is reproducible.
    Returns fewer than `count` ids only if the bank has too few askable questions.
    """
    if not 1 <= count <= 3:
        raise ValueError(f"count must be 1-3, not {count}")
    if slot is not None:
        shared = _calendar_pick(bank, count, slot, exclude_inactive, history)
        if shared is not None:
            return shared
    previous = set(history[-1]) if history else set()

    # Newest round index at which each question and each dimension was asked; -1 = never.
    last_q: dict[str, int] = {}
    last_dim: dict[str, int] = {}
    for index, round_ids in enumerate(history):
        for qid in round_ids:
            q = bank.by_id.get(qid)
            if q is not None:
                last_q[qid] = index
                last_dim[q.dimension] = index

    order = list(bank.dimensions)
    if seed is not None:
        random.Random(seed).shuffle(order)
    rank = {d: i for i, d in enumerate(order)}

    def candidates(dim: str) -> list[Question]:
        qs = [
            q
            for q in bank.for_dimension(dim)
            if q.id not in exclude_inactive and q.id not in previous
        ]
        return sorted(qs, key=lambda q: last_q.get(q.id, -1))  # stable: bank order breaks ties

    dims = sorted(
        (d for d in order if candidates(d)),
        key=lambda d: (last_dim.get(d, -1), rank[d]),
    )
    picked = [candidates(d)[0].id for d in dims[:count]]
    if len(picked) < count:
        # A small bank (few dimensions) still fills the round, from the same dimensions.
        spare = [q.id for d in dims for q in candidates(d)[1:]]
        picked += spare[: count - len(picked)]
    return picked


def _calendar_pick(
    bank: QuestionBank,
    count: int,
    slot: int,
    exclude_inactive: Collection[str],
    history: Sequence[Sequence[str]],
) -> list[str] | None:
    """The calendar rotation of `pick_questions`; None when the bank is too small for it."""

    def askable(dim: str) -> list[Question]:
        return [q for q in bank.for_dimension(dim) if q.id not in exclude_inactive]

    shared = [d for d in bank.dimensions if d != CUSTOM_DIMENSION and askable(d)]
    if len(shared) < count:
        return None
    previous = set(history[-1]) if history else set()
    # A second round in one period (`pulse run-now` twice) takes the next slot's dimensions.
    for step in (0, 1):
        first = (slot + step) * count
        lap = first // len(shared)
        picked = [
            qs[lap % len(qs)].id
            for i in range(count)
            for qs in [askable(shared[(first + i) % len(shared)])]
        ]
        if not previous & set(picked):
            break
    last_asked = {qid: index for index, ids in enumerate(history) for qid in ids}
    own = sorted(
        (
            q
            for q in (askable(CUSTOM_DIMENSION) if CUSTOM_DIMENSION in bank.dimensions else [])
            if q.id not in previous
        ),
        key=lambda q: last_asked.get(q.id, -1),
    )
    return [*picked, own[0].id] if own else picked
