"""Which Slack workspaces this MEDpuls serves: SLACK_ALLOWED_TEAM_IDS and
SLACK_ALLOWED_ENTERPRISE_IDS.

In OAuth mode /slack/install is public, and any workspace could otherwise install the app and
become a place its members are looked up and bound. So the allow-list is required there (fail
closed): installs from any other workspace are refused and not kept, stored installations of
other workspaces are ignored, and a Slack user's e-mail only introduces a member when the user
belongs to an allowed workspace. With SLACK_BOT_TOKEN (one workspace, installed by its admin)
the list is optional and, when set, applies the same way to users.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import Settings, id_list
from bot.core.errors import ConfigError


@dataclass(frozen=True)
class Workspaces:
    teams: frozenset[str] = frozenset()
    enterprises: frozenset[str] = frozenset()

    @property
    def restricted(self) -> bool:
        return bool(self.teams or self.enterprises)

    def allows(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """A workspace (or an Enterprise Grid org's install) that may use this MEDpuls."""
        if not self.restricted:
            return True
        if team_id is not None and team_id in self.teams:
            return True
        return enterprise_id is not None and enterprise_id in self.enterprises


def workspaces_from(settings: Settings) -> Workspaces:
    workspaces = Workspaces(
        teams=id_list(settings.slack_allowed_team_ids),
        enterprises=id_list(settings.slack_allowed_enterprise_ids),
    )
    if not settings.slack_bot_token and settings.slack_client_id and not workspaces.restricted:
        raise ConfigError(
            "OAuth mode (SLACK_CLIENT_ID) needs SLACK_ALLOWED_TEAM_IDS or "
            "SLACK_ALLOWED_ENTERPRISE_IDS: the workspaces allowed to install MEDpuls"
        )
    return workspaces
