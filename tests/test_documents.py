"""The committee's documents as files: A4, Danish (or English), header, page numbers, metadata.

The neutral writer (flows/documents.py) is checked in the .docx's own XML, and by rendering it
to PDF with LibreOffice headless and reading the pages.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document as open_docx
from sqlalchemy import select

from flows.agenda import Approve, PublishNow
from flows.documents import (
    ApprovalState,
    Bullets,
    Document,
    Paragraph,
    Person,
    Section,
    Table,
    to_docx,
    to_markdown,
)
from storage.db import Database
from storage.models import Committee, Meeting
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.rendering import first_page_png, is_a4, pages, render_pdf
from tests.test_agenda_approval import put_on_agenda, social_meeting
from tests.test_agenda_e2e import SOCIAL, Org, meeting_day, propose, set_meeting

SOCIAL_UNIT = "Eksempel Kommune/Social og Sundhed"


def sample(language: str = "da", sections: int = 1) -> Document:
    return Document(
        title="Dagsorden: Hoved-MED, 10. december 2026",
        committee="Hoved-MED",
        language=language,  # type: ignore[arg-type]
        date="torsdag 10. december 2026 kl. 13:00",
        place="Rådhuset, mødelokale 2",
        participants=[Person("Anne Andersen", "formand"), Person("Bo Berg", "næstformand")],
        absentees=[Person("Carl Clausen")],
        approval=ApprovalState(True, "Godkendt af ledelsessiden og medarbejdersiden."),
        sections=[
            Section(
                f"{n}. Punkt {n}",
                [
                    Paragraph("Det indstilles, at udvalget drøfter sagen. " * 8),
                    Paragraph("…", label="Beslutning"),
                    Bullets(["første", "anden"]),
                    Table(["Dimension", "Score"], [["Tillid", "72"]], caption="Tabel"),
                ],
            )
            for n in range(1, sections + 1)
        ],
        kind="Dagsorden",
        created=dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC),
    )


def parts(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")}


def test_docx_is_a4_with_margins() -> None:
    section = open_docx(io.BytesIO(to_docx(sample()))).sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert round(section.left_margin.cm, 1) == round(section.right_margin.cm, 1) == 2.5


def test_docx_language_is_danish_everywhere_and_never_en_us() -> None:
    xml = parts(to_docx(sample()))
    for name in ("word/document.xml", "word/styles.xml", "word/settings.xml"):
        assert "en-US" not in xml[name], name
    assert 'w:lang w:val="da-DK"' in xml["word/styles.xml"]
    assert '<w:themeFontLang w:val="da-DK"' in xml["word/settings.xml"]
    # Every run of text carries the language itself, too.
    runs = re.findall(r"<w:r>.*?</w:r>", xml["word/document.xml"])
    assert runs and all('w:lang w:val="da-DK"' in r for r in runs if "<w:t" in r)


def test_docx_in_english_is_en_gb() -> None:
    xml = parts(to_docx(sample("en")))
    assert 'w:lang w:val="en-GB"' in xml["word/document.xml"]
    assert "en-US" not in xml["word/styles.xml"]
    assert "Page " in xml["word/footer1.xml"] and " of " in xml["word/footer1.xml"]


def test_docx_header_footer_and_page_fields() -> None:
    xml = parts(to_docx(sample()))
    header = next(v for k, v in xml.items() if k.startswith("word/header"))
    footer = next(v for k, v in xml.items() if k.startswith("word/footer"))
    assert "Dagsorden: Hoved-MED, 10. december 2026" in header and "Hoved-MED" in header
    assert ">Side </w:t>" in footer and "> af </w:t>" in footer
    assert " PAGE " in footer and " NUMPAGES " in footer


def test_docx_core_properties_name_the_committee_not_the_library() -> None:
    data = to_docx(sample())
    props = open_docx(io.BytesIO(data)).core_properties
    assert props.title == "Dagsorden: Hoved-MED, 10. december 2026"
    assert props.author == props.last_modified_by == "Hoved-MED"
    assert props.language == "da-DK"
    assert props.subject == "Dagsorden"
    assert "python-docx" not in parts(data)["docProps/core.xml"]


def test_markdown_has_the_same_facts() -> None:
    md = to_markdown(sample())
    assert "- **Deltagere:** Anne Andersen (formand), Bo Berg (næstformand)" in md
    assert "- **Afbud:** Carl Clausen" in md
    assert "| Tillid | 72 |" in md


def test_no_absentees_says_none() -> None:
    doc = Document(title="T", committee="C", language="da", participants=[Person("A")])
    assert "- **Afbud:** Ingen" in to_markdown(doc)


def test_rendered_pages_are_a4_with_header_and_page_numbers(tmp_path: Path) -> None:
    found = pages(render_pdf(to_docx(sample(sections=6)), tmp_path))
    assert len(found) >= 2
    for number, page in enumerate(found, start=1):
        assert is_a4(page), (page.width, page.height)
        assert "Dagsorden: Hoved-MED, 10. december 2026" in page.text
        assert f"Side {number} af {len(found)}" in page.text
    assert "Deltagere: Anne Andersen (formand), Bo Berg (næstformand)" in found[0].text
    assert "Afbud: Carl Clausen" in found[0].text


# --- the agenda export (issue 18, point 7) -----------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "documents"


def keep_png(pdf: Path, name: str) -> None:
    """With MEDPULS_UPDATE_DOC_PNGS=1, page 1 goes to docs/documents/ for readers to see."""
    if os.environ.get("MEDPULS_UPDATE_DOC_PNGS") == "1":
        assert first_page_png(pdf, DOCS / f"{name}-page1.png"), "pdftoppm is missing"


def add_rep(db_url: str, name: str) -> None:
    email = name.lower().replace(" ", ".") + "@eksempel.dk"
    head = "unit_path,email,name,role,slack_user_id,teams_user_id"
    rows = f"{head}\n{SOCIAL_UNIT},{email},{name},rep,,\n"
    Path("extra.csv").write_text(rows, encoding="utf-8")
    code, out = cli(db_url, "org", "import-members", "extra.csv")
    assert code == 0, out


def export(db_url: str, fmt: str) -> Path:
    out = Path(f"agenda.{fmt}")
    code, said = cli(
        db_url, "agenda", "export", "--committee", SOCIAL, "--format", fmt, "--out", str(out)
    )
    assert code == 0, said
    return out


@pytest.fixture
def demo(db_url: str) -> Iterator[Org]:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    set_meeting(db_url, meeting_day(), place="Rådhuset, lokale 3")
    add_rep(db_url, "Tove Rasmussen")
    yield Org(db_url)


async def test_agenda_after_both_approved_renders_a4_with_participants_and_afbud(
    db_url: str, demo: Org, tmp_path: Path
) -> None:
    inger, bo, anne = demo["Inger Holm"], demo["Bo Dahl"], demo["Anne Hansen"]
    async with fake_chat(db_url) as chat:
        said = await chat.say(bo, "afbud")
        assert "Afbud fra Bo Dahl til mødet i MED Social og Sundhed" in said.notice.text
        said = await chat.say(inger, "afbud tove")
        assert "Afbud fra Tove Rasmussen" in said.notice.text
        await propose(chat, anne, title="Faste pauser")
        await put_on_agenda(chat, inger, "Faste pauser")
        draft = export(db_url, "md").read_text(encoding="utf-8")
        assert "Udkast — endnu ikke godkendt" in draft
        meeting_id, version, _ = social_meeting(chat)
        await chat.click(inger, Approve(m=meeting_id, v=version).pack())
        await chat.click(bo, Approve(m=meeting_id, v=version).pack())
    md = export(db_url, "md").read_text(encoding="utf-8")
    docx = export(db_url, "docx").read_bytes()
    approved = "Godkendt af Inger Holm (ledelsessiden) og Bo Dahl (medarbejdersiden)"
    for text in (md, "\n".join(p.text for p in open_docx(io.BytesIO(docx)).paragraphs)):
        assert "Udkast" not in text and "endnu ikke godkendt" not in text
        assert f"{approved}; endnu ikke udsendt." in text
    assert "- **Deltagere:** Inger Holm (formand)" in md
    assert "- **Afbud:** Bo Dahl (næstformand), Tove Rasmussen (TR/AMR)" in md
    props = open_docx(io.BytesIO(docx)).core_properties
    assert props.author == SOCIAL and props.language == "da-DK" and props.title.startswith(
        "Dagsorden: MED Social og Sundhed"
    )
    pdf = render_pdf(docx, tmp_path / "pdf", "agenda")
    found = pages(pdf)
    assert all(is_a4(p) for p in found)
    first = " ".join(found[0].text.split())
    assert first.startswith("Dagsorden: MED Social og Sundhed") and SOCIAL in first
    assert f"Side 1 af {len(found)}" in first
    assert "Sted: Rådhuset, lokale 3" in first
    assert "Deltagere: Inger Holm (formand)" in first
    assert "Afbud: Bo Dahl (næstformand), Tove Rasmussen (TR/AMR)" in first
    assert "Faste pauser" in " ".join(p.text for p in found)
    if db_url.startswith("sqlite"):
        keep_png(pdf, "agenda")
    # In English: en-GB, "Page 1 of N", apologies; after "publish now", approved and published.
    async with fake_chat(db_url) as chat:
        await chat.click(inger, PublishNow(m=meeting_id, v=version).pack())
    code, said = cli(
        db_url, "agenda", "export", "--committee", SOCIAL, "--format", "md", "--out", "en.md",
        MEDPULS_LANGUAGE="en",
    )
    assert code == 0, said
    english = Path("en.md").read_text(encoding="utf-8")
    assert "- **Apologies:** Bo Dahl (vice-chair), Tove Rasmussen (TR/AMR)" in english
    assert "Approved by Inger Holm (management side) and Bo Dahl (employee side); published" in (
        english
    )


async def test_afbud_rules(db_url: str, demo: Org) -> None:
    inger, bo, anne = demo["Inger Holm"], demo["Bo Dahl"], demo["Anne Hansen"]
    async with fake_chat(db_url) as chat:
        said = (await chat.say(anne, "afbud")).notice.text
        assert "Du sidder ikke i et MED-udvalg" in said
        said = (await chat.say(anne, "afbud Bo Dahl")).notice.text
        assert "Du kan kun melde afbud for dig selv" in said
        said = (await chat.say(inger, "afbud Karen Lund")).notice.text
        assert "Jeg fandt ingen i udvalget med det navn" in said
        await chat.say(bo, "afbud")
        await chat.say(bo, "afbud")  # twice is once
        assert "Afbud:** Bo Dahl" in export(db_url, "md").read_text(encoding="utf-8")
        said = (await chat.say(bo, "afbud fortryd")).notice.text
        assert "Bo Dahl deltager alligevel" in said
        md = export(db_url, "md").read_text(encoding="utf-8")
        assert "- **Afbud:** Ingen" in md and "Bo Dahl (næstformand)" in md
        said = (await chat.say(bo, "apologies undo Tove Rasmussen")).notice.text
        assert "Tove Rasmussen" in said
        await chat.say(inger, "afbud Bo Dahl")
    # What is stored about a person includes their apologies (GDPR export).
    code, out = cli(db_url, "gdpr", "export", "--email", "bo.dahl@eksempel.dk")
    assert code == 0, out
    [apologies] = json.loads(out)["meeting_apologies"]
    assert apologies["committee"] == SOCIAL
    assert apologies["noted_by"] == "the committee's chair or vice-chair"
    # An agenda sent out before approvals were signed per person (older data) is neither a
    # draft nor claimed approved by anyone.
    db = Database(db_url)
    with db.session() as s:
        meeting = s.scalars(select(Meeting).join(Committee).where(Committee.name == SOCIAL)).one()
        meeting.published_at = meeting.agenda_release
    db.dispose()
    md = export(db_url, "md").read_text(encoding="utf-8")
    assert "_Udsendt " in md and "Udkast" not in md and "Godkendt af" not in md


def minutes_sample() -> Document:
    """A beslutningsprotokol as the minutes export builds it: decisions with their reasons."""
    items = [
        ("Godkendelse af dagsorden", "Godkendt.", None),
        ("Godkendelse af referat fra sidste møde", "Godkendt.", None),
        (
            "Faste pauser i Hjemmeplejen Nord",
            "Udvalget vedtog faste pauser kl. 10 og 13 fra 1. februar; lederen følger op i marts.",
            "Pulsmålingerne viste et fald i oplevet tid til kerneopgaven, og forslaget havde "
            "støtte fra 14 kolleger.",
        ),
        (
            "Tunge løft på Dagtilbud Solsikken",
            "Sendt videre til Hoved-MED, der har budgettet til hjælpemidler.",
            "Sagen går på tværs af flere enheder.",
        ),
        ("Eventuelt", "Intet.", None),
    ]
    sections = []
    for n, (title, decision, reason) in enumerate(items, start=1):
        blocks: list[Paragraph | Bullets | Table] = [Paragraph(decision, label="Beslutning")]
        if reason:
            blocks.append(Paragraph(reason, label="Begrundelse"))
        sections.append(Section(f"{n}. {title}", list(blocks)))
    return Document(
        title="Beslutningsprotokol: MED Social og Sundhed, 4. januar 2027",
        committee="MED Social og Sundhed",
        language="da",
        date="mandag 4. januar 2027 kl. 13:00",
        place="Rådhuset, lokale 3",
        participants=[Person("Inger Holm", "formand"), Person("Tove Rasmussen", "TR/AMR")],
        absentees=[Person("Bo Dahl", "næstformand")],
        approval=ApprovalState(
            True,
            "Godkendt af Inger Holm (ledelsessiden) og Tove Rasmussen (medarbejdersiden) "
            "11. januar 2027.",
        ),
        sections=sections,
        kind="Beslutningsprotokol",
    )


def test_minutes_built_with_the_writer_render_as_a4(tmp_path: Path) -> None:
    pdf = render_pdf(to_docx(minutes_sample()), tmp_path, "minutes")
    found = pages(pdf)
    first = " ".join(found[0].text.split())
    assert all(is_a4(p) for p in found)
    assert first.startswith("Beslutningsprotokol: MED Social og Sundhed")
    assert f"Side 1 af {len(found)}" in first
    assert "Afbud: Bo Dahl (næstformand)" in first
    assert "Begrundelse: Pulsmålingerne viste" in first
    keep_png(pdf, "minutes")
