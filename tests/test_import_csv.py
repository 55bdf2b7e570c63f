"""`medpuls org import-units / import-members` with the files people really have.

Each case of the finding through the real command line: the import either succeeds, or says in
one line (file, row, column) what is wrong, exits 2 and writes nothing, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from storage.models import Committee, Member, Membership, Unit
from tests.cli import cli

UNITS = "unit_path,slack_channel_id,teams_channel_id,committee\nKommune/Skole,C2,,Skole-MED\n"
HEADER = "unit_path,email,name,role,slack_user_id,teams_user_id\n"


def _counts(db_url: str) -> tuple[int, int, int]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            return (
                int(s.scalar(select(func.count()).select_from(Unit)) or 0),
                int(s.scalar(select(func.count()).select_from(Member)) or 0),
                int(s.scalar(select(func.count()).select_from(Membership)) or 0),
            )
    finally:
        engine.dispose()


def _names(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            return list(s.scalars(select(Member.name).order_by(Member.email)))
    finally:
        engine.dispose()


def _refused(db_url: str, kind: str, path: Path, *expected: str) -> str:
    code, out = cli(db_url, "org", f"import-{kind}", str(path))
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1, out
    assert "Traceback" not in out
    line = out.strip()
    assert line.startswith(f"error: {path}: "), line
    assert line.endswith("nothing was written"), line
    for part in expected:
        assert part in line, line
    return line


def _units(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text(UNITS, encoding="utf-8")
    assert cli(db_url, "org", "import-units", str(path))[0] == 0


# --- encodings and separators -------------------------------------------------------------


def test_danish_excel_csv_windows_1252_with_semicolons(db_url: str, tmp_path: Path) -> None:
    units = tmp_path / "enheder.csv"
    units.write_bytes(
        "unit_path;slack_channel_id;teams_channel_id;committee\r\n"
        "Kommune/Børn og Unge/Ærø Skole;C9;;Ærø-MED\r\n".encode("cp1252")
    )
    code, out = cli(db_url, "org", "import-units", str(units))
    assert code == 0, out
    members = tmp_path / "medlemmer.csv"
    members.write_bytes(
        "unit_path;email;name;role;slack_user_id;teams_user_id\r\n"
        "Kommune/Børn og Unge/Ærø Skole;soeren@x.dk;Søren Æbelø Åsted;chair;;\r\n".encode("cp1252")
    )
    code, out = cli(db_url, "org", "import-members", str(members))
    assert code == 0, out
    assert _names(db_url) == ["Søren Æbelø Åsted"]
    engine = create_engine(db_url)
    with Session(engine) as s:
        assert s.scalars(select(Committee.name)).one() == "Ærø-MED"
    engine.dispose()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "utf-8"])
def test_utf16_and_utf8_with_or_without_bom(sqlite_url: str, tmp_path: Path, encoding: str) -> None:
    _units(sqlite_url, tmp_path)
    path = tmp_path / "members.csv"
    path.write_bytes((HEADER + "Kommune/Skole,aase@x.dk,Åse Øby,member,,\n").encode(encoding))
    code, out = cli(sqlite_url, "org", "import-members", str(path))
    assert code == 0, out
    assert _names(sqlite_url) == ["Åse Øby"]


def test_semicolon_separated_utf8(sqlite_url: str, tmp_path: Path) -> None:
    _units(sqlite_url, tmp_path)
    path = tmp_path / "members.csv"
    path.write_text(
        HEADER.replace(",", ";") + "Kommune/Skole;a@x.dk;Anne;member;;\n", encoding="utf-8"
    )
    assert cli(sqlite_url, "org", "import-members", str(path))[0] == 0
    assert _names(sqlite_url) == ["Anne"]


def test_an_unknown_header_says_what_it_found(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("enhed|kanal\nKommune|C1\n", encoding="utf-8")
    _refused(sqlite_url, "units", path, "row 1: missing column(s) unit_path", "enhed|kanal")


# --- not a CSV file -------------------------------------------------------------------------


def test_a_workbook_or_other_binary_file(sqlite_url: str, tmp_path: Path) -> None:
    xlsx = tmp_path / "medlemmer.xlsx"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8)
    _refused(sqlite_url, "members", xlsx, "not a CSV text file")
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes([0x81, 0x8D, 0x00, 0x01, 0x02, 0x90]) * 50)
    _refused(sqlite_url, "units", noise, "not a CSV text file")
    assert _counts(sqlite_url) == (0, 0, 0)


def test_a_directory(sqlite_url: str, tmp_path: Path) -> None:
    _refused(sqlite_url, "units", tmp_path, "is a directory")


# --- values the database would refuse, or SQLite would keep --------------------------------


def test_over_length_values_are_refused_on_both_databases(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    long_path = "/".join(["Kommune"] + ["Afdeling " + "x" * 190] * 3)
    assert 500 < len(long_path) < 700
    path.write_text(f"unit_path,slack_channel_id\nKommune,C1\n{long_path},C2\n", encoding="utf-8")
    _refused(db_url, "units", path, "row 3, column unit_path", "at most 500")
    _units(db_url, tmp_path)
    members = tmp_path / "members.csv"
    members.write_text(
        HEADER + f"Kommune/Skole,a@x.dk,Anne,member,,\nKommune/Skole,b@x.dk,{'B' * 201},member,,\n",
        encoding="utf-8",
    )
    _refused(db_url, "members", members, "row 3, column name", "at most 200")
    assert _counts(db_url) == (2, 0, 0)


def test_a_nul_byte_is_refused_on_both_databases(db_url: str, tmp_path: Path) -> None:
    _units(db_url, tmp_path)
    path = tmp_path / "members.csv"
    path.write_bytes((HEADER + "Kommune/Skole,a@x.dk,An\x00ne,member,,\n").encode("utf-8"))
    _refused(db_url, "members", path, "row 2, column name", "NUL")
    assert _counts(db_url) == (2, 0, 0)


# --- one person, one identity ------------------------------------------------------------------


def test_a_duplicate_slack_user_id_is_an_error(db_url: str, tmp_path: Path) -> None:
    _units(db_url, tmp_path)
    path = tmp_path / "members.csv"
    path.write_text(
        HEADER + "Kommune/Skole,a@x.dk,Anne,member,U1,\nKommune/Skole,b@x.dk,Bo,member,U1,\n",
        encoding="utf-8",
    )
    _refused(db_url, "members", path, "row 3, column slack_user_id", "U1", "a@x.dk", "row 2")
    assert _counts(db_url) == (2, 0, 0)
    # ... and so is one already held by another member.
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "Kommune/Skole,a@x.dk,Anne,member,U1,\n", encoding="utf-8")
    assert cli(db_url, "org", "import-members", str(first))[0] == 0
    second = tmp_path / "second.csv"
    second.write_text(HEADER + "Kommune/Skole,b@x.dk,Bo,member,U1,\n", encoding="utf-8")
    _refused(db_url, "members", second, "row 2, column slack_user_id", "another member")
    assert _counts(db_url) == (2, 1, 1)


def test_a_duplicate_teams_user_id_is_an_error(db_url: str, tmp_path: Path) -> None:
    _units(db_url, tmp_path)
    path = tmp_path / "members.csv"
    path.write_text(
        HEADER + "Kommune/Skole,a@x.dk,Anne,member,,29:x\nKommune/Skole,b@x.dk,Bo,member,,29:x\n",
        encoding="utf-8",
    )
    _refused(db_url, "members", path, "row 3, column teams_user_id")


def test_duplicate_emails_are_errors_not_merges(db_url: str, tmp_path: Path) -> None:
    _units(db_url, tmp_path)
    two_people = tmp_path / "two.csv"
    two_people.write_text(
        HEADER + "Kommune/Skole,anne@x.dk,Anne,member,,\nKommune/Skole,Anne@X.dk,Bo,leader,,\n",
        encoding="utf-8",
    )
    _refused(db_url, "members", two_people, "row 3, column", "anne@x.dk")
    other_name = tmp_path / "name.csv"
    other_name.write_text(
        HEADER + "Kommune/Skole,anne@x.dk,Anne,member,,\nKommune,anne@x.dk,Bo Berg,member,,\n",
        encoding="utf-8",
    )
    _refused(db_url, "members", other_name, "row 3, column name", "row 2")
    assert _counts(db_url) == (2, 0, 0)
    # One person in two units is one member with two memberships: that is not a duplicate.
    two_units = tmp_path / "units2.csv"
    two_units.write_text(
        HEADER + "Kommune/Skole,anne@x.dk,Anne,member,U1,\nKommune,anne@x.dk,Anne,rep,,\n",
        encoding="utf-8",
    )
    code, out = cli(db_url, "org", "import-members", str(two_units))
    assert code == 0, out
    assert _counts(db_url) == (2, 1, 2)


def test_a_unit_twice_or_two_committees_on_one_unit(db_url: str, tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("unit_path,slack_channel_id\nKommune,C1\nKommune/,C2\n", encoding="utf-8")
    _refused(db_url, "units", twice, "row 3, column unit_path", "row 2")
    committees = tmp_path / "committees.csv"
    committees.write_text(
        "unit_path,committee\nKommune,Hoved-MED\nKommune/Skole,Skole-MED\n", encoding="utf-8"
    )
    assert cli(db_url, "org", "import-units", str(committees))[0] == 0
    second = tmp_path / "second.csv"
    second.write_text("unit_path,committee\nKommune/Skole,Andet-MED\n", encoding="utf-8")
    _refused(db_url, "units", second, "row 2, column committee", "Skole-MED")
