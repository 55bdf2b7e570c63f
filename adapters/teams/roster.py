"""A team's roster and channels, as conversation references.

Where the app is added to a team, Teams lets the bot open a 1:1 conversation with every member
of that team (POST /v3/conversations), whether or not they installed the app themselves. So
when the app arrives in a team (and once a day after, on the team's next activity) the team's
roster is read a page at a time (GET /v3/conversations/{team}/pagedmembers) and each member
gets a reference to open that 1:1 from, under `user:<id>`, `user:<object id>` and
`email:<address>`, never replacing a real 1:1 reference. The team's channels are read too
(GET /v3/teams/{team}/conversations), so a post to any of them goes through its own team.

Only members of MEDpuls (matched by Teams id, Entra object id or e-mail) are kept: the rest of
the roster is nobody's business here. So people imported after a team's roster was read are
reached after its next read (daily, or `medpuls teams roster`).

Every reference made here carries `teamId`: removing the app from the team removes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.models import Member

# A roster is read at most this often per team and process (the app's arrival always reads).
ROSTER_REFRESH_SECONDS = 24 * 3600.0
ARRIVAL_SECONDS = 60.0
# A team of 50,000 at Teams' smallest page is 1,000 pages: anything beyond is a loop.
MAX_ROSTER_PAGES = 1_000
UNREACHABLE_PREFIX = "teams: "
NOT_INSTALLED = "app not installed for this person"

Reference = dict[str, Any]
Rows = list[tuple[str, Reference]]


def usable_email(entry: dict[str, Any]) -> str | None:
    """The e-mail a roster entry may introduce a member by, lower-cased; None for a guest.

    A guest's e-mail is whatever their home organisation says: it never introduces a member
    (the "nOAuth" pattern); guests are found by their object id only.
    """
    found = entry.get("email") or entry.get("userPrincipalName")
    guest = entry.get("userRole") in ("guest", "anonymous") or "#EXT#" in str(
        entry.get("userPrincipalName") or ""
    )
    if not found or "@" not in str(found) or guest:
        return None
    return str(found).lower()


def team_reference(reference: Reference, team_id: str, conversation_id: str) -> Reference:
    """`reference` (any of the team's) pointed at one conversation of the team, no person."""
    conversation = {
        **(reference.get("conversation") or {}),
        "id": conversation_id,
        "conversationType": "channel",
        "isGroup": True,
    }
    return {**reference, "conversation": conversation, "teamId": team_id, "locale": None}


def roster_rows(reference: Reference, team_id: str, entries: list[dict[str, Any]]) -> Rows:
    """(key, reference) for each person on a roster page, to open a 1:1 with them later."""
    base = team_reference(reference, team_id, team_id)
    rows: Rows = []
    for entry in entries:
        user_id = str(entry.get("id") or "")
        # Bots ("28:") and anonymous meeting guests cannot be written to.
        if not user_id or user_id.startswith("28:") or entry.get("userRole") == "anonymous":
            continue
        aad = entry.get("objectId") or entry.get("aadObjectId")
        user: dict[str, Any] = {"id": user_id}
        keys = [f"user:{user_id}"]
        if isinstance(aad, str) and aad:
            user["aadObjectId"] = aad
            keys.append(f"user:{aad}")
        email = usable_email(entry)
        if email:
            keys.append(f"email:{email}")
        person = {**base, "user": user}
        rows += [(key, person) for key in keys]
    return rows


def members_only(session: Session, rows: Rows) -> Rows:
    """The rows of people who are MEDpuls members; nobody else's ids or e-mail are kept."""
    ids = {k.removeprefix("user:") for k, _ in rows if k.startswith("user:")}
    emails = {k.removeprefix("email:") for k, _ in rows if k.startswith("email:")}
    known = {
        f"user:{i}"
        for i in session.scalars(select(Member.teams_user_id).where(Member.teams_user_id.in_(ids)))
    }
    known |= {
        f"user:{i}"
        for i in session.scalars(select(Member.teams_aad_id).where(Member.teams_aad_id.in_(ids)))
    }
    known |= {
        f"email:{e}" for e in session.scalars(select(Member.email).where(Member.email.in_(emails)))
    }
    # One reference object per person (roster_rows): keep all of a person's keys or none.
    people = {id(ref) for key, ref in rows if key in known}
    return [(key, ref) for key, ref in rows if id(ref) in people]


def reachable_again(session: Session, keys: list[str], *, refused_too: bool) -> None:
    """Members Teams could not be asked to reach, now on a roster or installed: asked again
    from now on. A roster read again does not undo Teams' own refusal (a 403 for someone who
    blocked the bot, say): only `refused_too` (their own install, their joining a team) does,
    or they would be asked, refused and counted again after every daily read."""
    ids = {k.removeprefix("user:") for k in keys if k.startswith("user:")}
    emails = {k.removeprefix("email:") for k in keys if k.startswith("email:")}
    if not ids and not emails:
        return
    marked = f"{UNREACHABLE_PREFIX}%" if refused_too else f"{UNREACHABLE_PREFIX}{NOT_INSTALLED}"
    session.execute(
        update(Member)
        .where(
            Member.unreachable.like(marked),
            or_(
                Member.teams_user_id.in_(ids),
                Member.teams_aad_id.in_(ids),
                Member.email.in_(emails),
            ),
        )
        .values(unreachable=None)
        .execution_options(synchronize_session=False)
    )


def of_team(reference: Reference, team_id: str) -> bool:
    """A reference made from this team (not a person's own 1:1)."""
    conversation = reference.get("conversation") or {}
    return reference.get("teamId") == team_id and conversation.get("conversationType") != (
        "personal"
    )
