"""`python -m bot.cli ...`: the same as `medpuls ...` (serve starts its job process this way)."""

from bot.cli.main import main

main()
