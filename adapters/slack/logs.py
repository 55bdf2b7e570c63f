"""Loggers for the Slack SDKs that cannot leak a token.

slack_sdk logs requests and responses at DEBUG level, headers and oauth.v2.access answers
included. Its clients and the Bolt app log through `sdk_logger`, whose filter blanks anything
shaped like a Slack token or secret before a handler sees it.
"""

from __future__ import annotations

import logging
import re

TOKEN = re.compile(r"\bx(?:ox[abposer]|app)-[A-Za-z0-9-]+")
SECRET_FIELD = re.compile(
    r"(['\"]?(?:client_secret|signing_secret|refresh_token|access_token|bot_token|user_token)"
    r"['\"]?\s*[:=]\s*['\"]?)[^'\",&\s}]+"
)


def redact(text: str) -> str:
    return SECRET_FIELD.sub(r"\1[redacted]", TOKEN.sub("[redacted]", text))


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        return True


def sdk_logger() -> logging.Logger:
    logger = logging.getLogger("medpuls.slack.sdk")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
    return logger


log = logging.getLogger("medpuls.slack")
