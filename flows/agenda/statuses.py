"""A proposal's statuses: the states of the diagram in docs/flows/agenda.md, and no others.

`Proposal.status` is stored as text; every status the flows write or ask for is one of these
(tests/test_agenda_keys.py checks that the diagram draws exactly this set). Where a status
changes: proposing (via_rep, new), triage (on_agenda, later, merged, answered, declined),
flows.minutes when the minutes are approved (decided, later, new), flows.med_network (new).
"""

from __future__ import annotations

from typing import Literal

ProposalStatus = Literal[
    "via_rep", "new", "later", "on_agenda", "merged", "answered", "declined", "decided"
]

# Proposals the committee still has to decide what to do with.
UNTRIAGED: tuple[ProposalStatus, ...] = ("new", "later")
# Proposals colleagues may still back, and chairs may still triage.
SUPPORTABLE: tuple[ProposalStatus, ...] = ("new", "later", "on_agenda")
# Proposals that stand on their meeting's agenda (and, decided, in its minutes).
ON_THE_AGENDA: tuple[ProposalStatus, ...] = ("on_agenda", "decided")
