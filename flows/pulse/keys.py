"""The outbox rows of the pulse flow: their dedupe keys, each built here and nowhere else, and
their purposes.

A key makes a queued message idempotent (a unique constraint in the outbox): a typo in one of
two copies of it would silently send twice, so each is spelt once. Every key starts with
"pulse:<round>:", which the SQL form of the closed key relies on.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, ColumnExpressionArgument, String, cast, literal

# What a pulse outbox row is for (OutboxMessage.purpose; docs/flows/pulse.md): the question DM,
# the two kinds of reminder (flows.reminders), the summary in the unit's channel, and the
# rewrite of a sent DM to the closed text.
Purpose = Literal["pulse.ask", "pulse.remind", "pulse.remind_all", "pulse.summary", "pulse.closed"]
ASK: Final = "pulse.ask"
SUMMARY: Final = "pulse.summary"
CLOSED: Final = "pulse.closed"
# Every DM that carries a round's buttons: the question and the reminders.
DMS: Final[tuple[Purpose, ...]] = ("pulse.ask", "pulse.remind", "pulse.remind_all")


def ask_prefix(round_id: int) -> str:
    """The question DMs' keys: this prefix plus the member id (bot.core.outbox.queue_to_members)."""
    return f"pulse:{round_id}:ask:"


def remind_key(round_id: int, n: int, member_id: int) -> str:
    """The n-th reminder to a member (flows.reminders)."""
    return f"pulse:{round_id}:remind{n}:{member_id}"


def summary_key(round_id: int) -> str:
    """The round's summary in the unit's channel."""
    return f"pulse:{round_id}:summary"


def closed_key(round_id: int, outbox_id: int) -> str:
    """The rewrite of one sent pulse DM (outbox row `outbox_id`) to the closed text."""
    return f"pulse:{round_id}:closed:{outbox_id}"


def closed_key_sql(
    round_id: ColumnExpressionArgument[Any], outbox_id: ColumnExpressionArgument[Any]
) -> ColumnElement[str]:
    """`closed_key` computed by the database, for the rows of a query."""
    return (
        literal("pulse:") + cast(round_id, String) + literal(":closed:") + cast(outbox_id, String)
    )
