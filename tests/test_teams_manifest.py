"""`medpuls teams manifest`: a zip that validates against the official Teams manifest schema."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jsonschema
from PIL import Image
from typer.testing import CliRunner

from bot.cli.main import app as cli_app

SCHEMA = Path(__file__).parent / "data" / "MicrosoftTeams.schema.v1.11.json"
APP_ID = "00000000-0000-4000-8000-00000000b07a"


def _build(tmp_path: Path, **env: str) -> tuple[int, str, Path]:
    out = tmp_path / "pkg" / "medpuls.zip"
    result = CliRunner().invoke(
        cli_app,
        ["teams", "manifest", "--out", str(out)],
        env={"MICROSOFT_APP_ID": APP_ID, "MEDPULS_PUBLIC_URL": "https://medpuls.kommune.dk", **env},
    )
    return result.exit_code, result.output, out


def test_package_validates_and_icons_have_the_required_sizes(tmp_path: Path) -> None:
    code, output, out = _build(tmp_path)
    assert code == 0, output
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        color = Image.open(io.BytesIO(package.read("color.png")))
        outline = Image.open(io.BytesIO(package.read("outline.png")))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(manifest)
    assert manifest["manifestVersion"] == schema["properties"]["manifestVersion"]["const"]
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID == manifest["id"]
    assert set(bot["scopes"]) == {"personal", "team"}
    titles = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert {"forslag", "dagsorden", "puls"} <= titles
    assert manifest["validDomains"] == ["medpuls.kommune.dk"]

    assert color.format == "PNG" and color.size == (192, 192)
    assert outline.format == "PNG" and outline.size == (32, 32)
    pixels = list(outline.convert("RGBA").getdata())
    assert any(a == 0 for *_, a in pixels), "outline needs a transparent background"
    assert all((r, g, b) == (255, 255, 255) for r, g, b, a in pixels if a > 0), "outline is white"


def test_english_package_and_missing_settings_are_one_line_errors(tmp_path: Path) -> None:
    code, output, out = _build(tmp_path, MEDPULS_LANGUAGE="en")
    assert code == 0, output
    with zipfile.ZipFile(out) as package:
        manifest = json.loads(package.read("manifest.json"))
    assert "help" in {c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]}

    code, output, _ = _build(tmp_path, MEDPULS_PUBLIC_URL="http://insecure.example")
    assert code == 2 and "MEDPULS_PUBLIC_URL" in output and "Traceback" not in output
