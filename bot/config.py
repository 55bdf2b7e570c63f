"""Settings from the environment or .env, under the names DESIGN.md fixes."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_GROUP_FLOOR = 3
MIN_COMMENT_GROUP_FLOOR = 5


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
    # The key kept outside the database (bot/secret_key.py); never logged, never stored.
    secret_key: SecretStr | None = Field(None, alias="MEDPULS_SECRET_KEY")
    # During a key rotation only: the key being replaced, still able to open what it sealed
    # until `medpuls secret-key rotate` has re-sealed everything under MEDPULS_SECRET_KEY.
    secret_key_previous: SecretStr | None = Field(None, alias="MEDPULS_SECRET_KEY_PREVIOUS")

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
        return not (self.slack_enabled or self.teams_enabled)
