"""Teams signing keys (issue 16, point 11): fetched without blocking, kept as Cache-Control
says, and fetched once more when a token names a key we do not know, at most once a minute.
Before, botbuilder refreshed daily with a blocking call and looked again on an unknown key at
most once an hour: an unannounced rotation gave an hour of 401s.
"""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.teams.signing_keys import DEFAULT_MAX_AGE, MAX_MAX_AGE, MIN_MAX_AGE, max_age
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import APP_ID, bot_connector, running, teams_settings
from tests.teams_support import fixture as teams_fixture

_ids = itertools.count(1)


fake = pytest.fixture(bot_connector, name="fake")


def _message(fake: FakeBotConnector) -> dict[str, object]:
    activity = teams_fixture("message_personal", fake, text="hjælp")
    activity["id"] = f"signing-{next(_ids)}"
    return activity


async def test_a_rotated_key_is_accepted_at_once_with_one_more_fetch(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        assert (await teams.post(_message(fake))).status == 200
        assert (await teams.post(_message(fake))).status == 200
        assert fake.key_fetches == 1  # kept, as the response's max-age allows
        fake.rotate_key()
        assert (await teams.post(_message(fake))).status == 200
        assert fake.key_fetches == 2


async def test_forged_key_ids_cost_at_most_one_fetch_a_minute(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        assert (await teams.post(_message(fake))).status == 200
        forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for i in range(20):
            activity = _message(fake)
            token = fake.sign(
                audience=APP_ID,
                service_url=str(activity["serviceUrl"]),
                key=forger,
                kid=f"forged-{i}",
            )
            response = await teams.post(activity, token=token)
            assert response.status == 401
        assert fake.key_fetches <= 2


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=86400", 86400.0),
        ("max-age=10", MIN_MAX_AGE),
        ("max-age=99999999", MAX_MAX_AGE),
        (None, DEFAULT_MAX_AGE),
        ("no-store", DEFAULT_MAX_AGE),
    ],
)
def test_keys_are_kept_as_cache_control_says_within_bounds(
    header: str | None, seconds: float
) -> None:
    assert max_age(header) == seconds
