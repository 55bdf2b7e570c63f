"""Microsoft Teams, on botbuilder-core and its aiohttp integration.

- `platform.make_teams_platform(settings, db)`: the `Platform` (proactive posts, updates, forms)
- `web.mount(app, core, platform)`: `POST /api/messages`, authenticated Bot Framework activities
- `manifest.build_package(out, settings)`: the app package zip for the Teams admin center
- `platform.missing_references(session)`: members the app cannot reach yet
- `roster.py`: a team's roster and channels as conversation references (where the app is in a
  team, the bot may open a 1:1 with each of its members)

botbuilder is touched only in `connector.py` (and `auth.py` for its configuration), so the
Microsoft 365 Agents SDK can replace it there. Cards are rendered in `cards.py`; activities are
normalised by the pure functions in `normalize.py`, tested on the JSON in `fixtures/`.
"""
