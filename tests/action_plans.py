"""What the action-plan tests on Slack and on Teams both find at the end of the plan's way."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Proposal


def assert_brought_to_med(db: Database) -> None:
    """ "Bring to MED" made one proposal, on a meeting, carrying the plan's evidence."""
    with db.session() as s:
        [proposal] = s.scalars(select(Proposal)).all()
        assert proposal.title == "Handlingsplan fra K" and proposal.meeting_id is not None
        assert "Kommunikation i rette tid: 1,0 → 3,0 af 5" in proposal.issue
