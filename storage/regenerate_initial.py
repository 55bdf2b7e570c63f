"""Re-create migration 0001 from the models (only while nothing has been released).

python -m storage.regenerate_initial
"""

from __future__ import annotations

import tempfile

from alembic import command

from storage.migrate import HERE, alembic_config


def main() -> None:
    target = HERE / "migrations" / "versions" / "0001_initial.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{tmp}/empty.db")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    made = next((HERE / "migrations" / "versions").glob("0001_*.py"))
    made.rename(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
