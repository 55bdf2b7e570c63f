"""Settings from the environment or .env, under the names DESIGN.md fixes."""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from dotenv import dotenv_values
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.errors import ConfigError
from bot.core.secret_key import parse_secret_key

MIN_GROUP_FLOOR = 3
MIN_COMMENT_GROUP_FLOOR = 5
LOOPBACK_HOST = "127.0.0.1"
# Teams settings whose names do not start with MICROSOFT_ (the Bot Framework endpoint overrides).
_TEAMS_OTHER = (
    "CHANNEL_SERVICE",
    "TO_CHANNEL_FROM_BOT_LOGIN_URL",
    "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE",
    "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL",
    "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER",
)


def id_list(value: str | None) -> frozenset[str]:
    """A comma- (or space-) separated list of platform ids, as an allow-list setting holds it."""
    return frozenset(part for part in (value or "").replace(",", " ").split() if part)


def parse_hours(value: str) -> tuple[dt.time, dt.time]:
    """ "07:30-17:00" as two times; a clear error for anything else."""
    try:
        first, second = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError(
            f"MEDPULS_WORKING_HOURS must look like 07:30-17:00 or be 'always', not {value!r}"
        ) from None
    if not first < second:
        raise ValueError(f"MEDPULS_WORKING_HOURS must start before it ends, not {value!r}")
    return first, second


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///medpuls.db", alias="DATABASE_URL")
    port: int = Field(3978, alias="PORT")
    public_url: str | None = Field(None, alias="MEDPULS_PUBLIC_URL")
    language: Literal["da", "en"] = Field("da", alias="MEDPULS_LANGUAGE")
    timezone: str = Field("Europe/Copenhagen", alias="MEDPULS_TIMEZONE")
    min_group_size: int = Field(5, alias="MEDPULS_MIN_GROUP_SIZE")
    min_comment_group_size: int = Field(10, alias="MEDPULS_MIN_COMMENT_GROUP_SIZE")
    retention_months: int = Field(24, alias="MEDPULS_RETENTION_MONTHS")
    # Run the scheduler and delivery loop inside `serve` (off when a separate worker runs).
    in_process_worker: bool = Field(True, alias="MEDPULS_IN_PROCESS_WORKER")
    # chat.postMessage across DMs, per delivery worker (bot.delivery.rate_limits).
    slack_rate_per_second: float = Field(50.0, gt=0, alias="MEDPULS_SLACK_RATE")
    # A directory of question bank YAML files used instead of the shipped flows/questions.
    question_bank_dir: str | None = Field(None, alias="MEDPULS_QUESTION_BANK_DIR")
    # When the bot may reach people unasked: local hours on Danish working days, or "always".
    # Outside them only a direct reply to a person's own action goes out; the rest waits.
    working_hours: str = Field("07:30-17:00", alias="MEDPULS_WORKING_HOURS")
    # The key kept outside the database (bot/core/secret_key.py); never logged, never stored.
    secret_key: SecretStr | None = Field(None, alias="MEDPULS_SECRET_KEY")
    # During a key rotation only: the key being replaced, still able to open what it sealed
    # until `medpuls secret-key rotate` has re-sealed everything under MEDPULS_SECRET_KEY.
    secret_key_previous: SecretStr | None = Field(None, alias="MEDPULS_SECRET_KEY_PREVIOUS")
    # The local try-out chat has no login: it runs only when asked for, never next to a real
    # platform, and listens on 127.0.0.1 unless MEDPULS_HOST says otherwise.
    local_chat: bool = Field(False, alias="MEDPULS_LOCAL_CHAT")
    host: str | None = Field(None, alias="MEDPULS_HOST")

    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    # OAuth mode: the only workspaces / Enterprise Grid orgs that may install the app
    # (comma-separated ids; adapters/slack/tenancy.py). Required when SLACK_CLIENT_ID is set.
    slack_allowed_team_ids: str | None = Field(None, alias="SLACK_ALLOWED_TEAM_IDS")
    slack_allowed_enterprise_ids: str | None = Field(None, alias="SLACK_ALLOWED_ENTERPRISE_IDS")

    microsoft_app_id: str | None = Field(None, alias="MICROSOFT_APP_ID")
    microsoft_app_password: str | None = Field(None, alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_tenant_id: str | None = Field(None, alias="MICROSOFT_APP_TENANT_ID")
    microsoft_app_type: str = Field("SingleTenant", alias="MICROSOFT_APP_TYPE")
    # A MultiTenant bot: the only Entra tenants whose activities are processed (comma-separated).
    teams_allowed_tenant_ids: str | None = Field(None, alias="MEDPULS_TEAMS_ALLOWED_TENANT_IDS")
    channel_service: str | None = Field(None, alias="CHANNEL_SERVICE")
    to_channel_from_bot_login_url: str | None = Field(None, alias="TO_CHANNEL_FROM_BOT_LOGIN_URL")
    to_channel_from_bot_oauth_scope: str | None = Field(
        None, alias="TO_CHANNEL_FROM_BOT_OAUTH_SCOPE"
    )
    to_bot_from_channel_openid_metadata_url: str | None = Field(
        None, alias="TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL"
    )
    to_bot_from_channel_token_issuer: str | None = Field(
        None, alias="TO_BOT_FROM_CHANNEL_TOKEN_ISSUER"
    )

    @field_validator("min_group_size")
    @classmethod
    def _score_floor(cls, value: int) -> int:
        if value < MIN_GROUP_FLOOR:
            raise ValueError(f"MEDPULS_MIN_GROUP_SIZE may not be below {MIN_GROUP_FLOOR}")
        return value

    @field_validator("min_comment_group_size")
    @classmethod
    def _comment_floor(cls, value: int) -> int:
        if value < MIN_COMMENT_GROUP_FLOOR:
            raise ValueError(
                f"MEDPULS_MIN_COMMENT_GROUP_SIZE may not be below {MIN_COMMENT_GROUP_FLOOR}"
            )
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "always":
            parse_hours(value)
        return value

    @property
    def quiet_hours(self) -> tuple[dt.time, dt.time] | None:
        """(start, end) of working hours, or None when the bot may speak at any time."""
        return None if self.working_hours == "always" else parse_hours(self.working_hours)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token or self.slack_client_id or self.slack_app_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id)

    @property
    def local_enabled(self) -> bool:
        # Asked for, and no platform setting at all: a half-set Slack or Teams configuration
        # must never leave the login-less chat open instead (check_start says why at start-up).
        return self.local_chat and not (self.slack_settings() or self.teams_settings())

    def _given(self, wanted: tuple[str, ...] | None, prefix: str) -> list[str]:
        names = []
        for name, info in type(self).model_fields.items():
            alias = info.alias or name
            if name in self.model_fields_set and (
                alias.startswith(prefix) or (wanted is not None and alias in wanted)
            ):
                names.append(alias)
        return names

    def slack_settings(self) -> list[str]:
        """The SLACK_* settings given (in the environment, .env or as arguments), empty or not."""
        return self._given(None, "SLACK_")

    def teams_settings(self) -> list[str]:
        return self._given(_TEAMS_OTHER, "MICROSOFT_")

    @property
    def bind_host(self) -> str:
        """Where `serve` listens: MEDPULS_HOST, else loopback for the local chat, else all."""
        if self.host:
            return self.host
        return LOOPBACK_HOST if self.local_enabled else "0.0.0.0"


def known_names() -> set[str]:
    return {(info.alias or name).upper() for name, info in Settings.model_fields.items()}


def _unknown_platform_name(environ: Mapping[str, str]) -> str | None:
    """A SLACK_/MICROSOFT_ name we do not know (MICROSOFT_APPID): it was meant for us, and
    ignoring it would start with less than the operator configured."""
    known = known_names()
    platform = sorted(n for n in known if n.startswith(("SLACK_", "MICROSOFT_")))
    for raw in environ:
        name = raw.upper()
        if name in known or not name.replace("_", "").startswith(("SLACK", "MICROSOFT")):
            continue
        close = difflib.get_close_matches(name, platform, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown setting {raw}{hint}; MEDpuls does not read it, so it will not start"
    return None


def _slack_problem(s: Settings, given: list[str]) -> str | None:
    if s.slack_client_id and not s.slack_client_secret:
        return "SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it"
    if s.slack_client_secret and not s.slack_client_id:
        return "SLACK_CLIENT_ID is missing: SLACK_CLIENT_SECRET needs it"
    if s.slack_app_token and not s.slack_bot_token:
        return "SLACK_BOT_TOKEN is missing: Socket Mode (SLACK_APP_TOKEN) needs it"
    if not s.slack_bot_token and not s.slack_client_id:
        return (
            f"SLACK_BOT_TOKEN is missing: {', '.join(given)} alone does not run Slack "
            "(set SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for installs)"
        )
    if not s.slack_app_token and not s.slack_signing_secret:
        return "SLACK_SIGNING_SECRET is missing: Slack's requests could not be verified"
    return None


def _teams_problem(s: Settings, given: list[str]) -> str | None:
    if not s.microsoft_app_id:
        return f"MICROSOFT_APP_ID is missing: {', '.join(given)} alone does not run Teams"
    # adapters/teams/auth.py checks the app type's spelling; these two are named here so that
    # the first error is the one to fix first.
    kind = s.microsoft_app_type.replace("-", "").lower()
    if kind != "userassignedmsi" and not s.microsoft_app_password:
        return "MICROSOFT_APP_PASSWORD is missing: MICROSOFT_APP_ID needs it"
    if kind in ("singletenant", "userassignedmsi") and not s.microsoft_app_tenant_id:
        return f"MICROSOFT_APP_TENANT_ID is missing: a {s.microsoft_app_type} bot needs it"
    return None


def _secret_key_problem(s: Settings) -> str | None:
    """Slack and Teams keep tokens and answer links under MEDPULS_SECRET_KEY (bot/secret_key)."""
    if not (s.slack_enabled or s.teams_enabled):
        return None
    if s.secret_key is None:
        return (
            "MEDPULS_SECRET_KEY is missing: Slack and Teams need it "
            "(`medpuls secret-key` prints a new one)"
        )
    parse_secret_key(s.secret_key.get_secret_value())  # a ConfigError of its own
    return None


def start_problem(s: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """What stops `serve` and `worker` from starting, as one line naming the setting; else None.

    Fails closed: a setting that is half there (empty, misspelt, one of a pair) is an error,
    never a reason to start something else, least of all the login-less local chat.
    """
    if environ is None:
        dotenv = Path(str(s.model_config.get("env_file") or ".env"))
        from_file = dotenv_values(dotenv) if dotenv.is_file() else {}
        environ = {**{k: v or "" for k, v in from_file.items()}, **os.environ}
    if problem := _unknown_platform_name(environ):
        return problem
    slack, teams = s.slack_settings(), s.teams_settings()
    for name in slack + teams + (["MEDPULS_HOST"] if s.host is not None else []):
        value = getattr(s, _field(name))
        if isinstance(value, str) and not value.strip():
            return f"{name} is set but empty; give it a value or remove it"
    if s.local_chat and (slack or teams):
        return (
            f"MEDPULS_LOCAL_CHAT=1 cannot run next to {(slack + teams)[0]}: the local chat has "
            "no login; unset MEDPULS_LOCAL_CHAT in production"
        )
    if slack and (problem := _slack_problem(s, slack)):
        return problem
    if teams and (problem := _teams_problem(s, teams)):
        return problem
    if not (s.local_chat or slack or teams):
        return (
            "no platform configured: set Slack (docs/slack.md) or Teams (docs/teams.md) "
            "settings, or MEDPULS_LOCAL_CHAT=1 to try the local chat on this machine"
        )
    return _secret_key_problem(s)


def _field(alias: str) -> str:
    for name, info in Settings.model_fields.items():
        if info.alias == alias:
            return name
    raise KeyError(alias)


def check_start(s: Settings) -> None:
    if problem := start_problem(s):
        raise ConfigError(problem)
