"""Loggers for the Slack SDKs that cannot leak a token, nor an answer.

slack_sdk logs requests and responses at DEBUG level, headers and oauth.v2.access answers
included. Its clients and the Bolt app log through `sdk_logger`, whose filter blanks anything
shaped like a Slack token or secret before a handler sees it, and cuts Web API request and
response bodies down to method and status: a chat.update body holds a DM channel (a person)
and the answer button they pressed, which no log line may put together.
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


_BODY_STARTS = {
    "Sending a request": ", params:",
    "Received the following response": ", headers:",
}


def without_body(text: str) -> str:
    for start, cut in _BODY_STARTS.items():
        if text.startswith(start) and cut in text:
            return text.split(cut, 1)[0] + " (body not logged)"
    return text


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(without_body(message))
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
