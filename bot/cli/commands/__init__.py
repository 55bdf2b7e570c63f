"""Sub-commands of `medpuls`, one module each: a module exposes `app` (a typer.Typer) and
`NAME`, and bot.cli adds it. Shared helpers for commands live in bot.commands._common."""
