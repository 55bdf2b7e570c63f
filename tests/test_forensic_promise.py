"""Issue 12, link 4: what the pulse DMs promise about anonymity is literally true, in Danish
and English, and names who could link what while the round is open.

The old sentence ("while the round is open we only know whether you answered, never what")
was untrue: the round's secret sat in the database, so anyone with the database could read
every answer's author. Now the promise is "only someone holding both the database and the
server's secret key", and the test checks the design does what the sentence says.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, text

from bot.core.i18n import catalogue
from storage.models import OutboxMessage, PulseRound
from tests.test_pulse_support import answer, make_bot, open_first_round, organisation, schedule

UNTRUE = (
    "ved vi kun om du har svaret, aldrig hvad",
    "ved vi kun *om* du har svaret — aldrig *hvad*",
    "som kun runden kender",
    "we only know whether you answered, never what",
    "we only know *whether* you answered — never *what*",
    "a key only that round knows",
)
# key -> the words that name who could link while open, per language
WHO_COULD_LINK = {
    "da": "både databasen og serverens hemmelige nøgle",
    "en": "both the database and the server's secret key",
}
AFTER_CLOSE = {"da": "slettes koblingen", "en": "link is deleted"}
PROMISES = ("pulse.rules_short", "pulse.rules_body", "privacy.body")


def test_the_untrue_sentence_is_gone_and_every_promise_names_who_could_link() -> None:
    for lang in ("da", "en"):
        texts = catalogue(lang)
        for key, value in texts.items():
            for sentence in UNTRUE:
                assert sentence not in value, f"{lang} {key}"
        for key in PROMISES:
            assert WHO_COULD_LINK[lang] in texts[key], f"{lang} {key}"
        assert AFTER_CLOSE[lang] in texts["pulse.rules_short"]
        assert AFTER_CLOSE[lang] in texts["pulse.rules_body"]


def test_the_dm_says_it_and_the_database_does_it(sqlite_url: str) -> None:
    from flows.pulse import answers_key, respondent_key

    bot = make_bot(sqlite_url)
    unit_id, members = organisation(bot, members=5)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1))
    round_id, [q, *_] = open_first_round(bot)
    with bot.db.session() as s:
        nonce = s.get_one(PulseRound, round_id).nonce
        dms = [json.dumps(m.payload, ensure_ascii=False) for m in s.scalars(select(OutboxMessage))]
    assert dms and all(WHO_COULD_LINK["da"] in dm for dm in dms)
    answer(bot, members[0], round_id, q, 2)
    with bot.db.session() as s:
        [stored] = s.scalars(text("SELECT respondent_key FROM answers")).all()
        nonces = [bytes(v) for v in s.scalars(text("SELECT nonce FROM pulse_rounds"))]
    # With the database and the server's key, the link is there (so MEDpuls can show it) ...
    assert nonce is not None and stored == respondent_key(
        answers_key(bot.settings), nonce, members[0]
    )
    # ... and what the database holds (the nonce) is not the key.
    assert answers_key(bot.settings) not in nonces
    bot.db.dispose()
