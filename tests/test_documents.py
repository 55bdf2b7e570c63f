"""The committee's documents as files: A4, Danish (or English), header, page numbers, metadata.

The neutral writer (flows/documents.py) is checked in the .docx's own XML, and by rendering it
to PDF with LibreOffice headless and reading the pages.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from docx import Document as open_docx

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
from tests.rendering import is_a4, pages, render_pdf


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
