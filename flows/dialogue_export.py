"""The dialogue guide as a one-page Word document (.docx, A4, Danish) for the team meeting.

It is built from the same `DialogueGuide` as the chat message. The guide is short by design
(two strongest and two weakest dimensions, at most three questions each), and the page is set
with compact margins and type, sized for one A4 page (the test bounds the paragraphs; no
test renders the page).
"""

from __future__ import annotations

import io

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from flows.dialogue import DialogueGuide

__all__ = ["DOCX_LANGUAGE", "guide_docx"]

DOCX_LANGUAGE = "da-DK"


def _markup_free(text: str) -> str:
    # The chat text marks headings with *...*; Word gets real bold instead.
    return text.replace("*", "")


def guide_docx(guide: DialogueGuide, *, language: str = DOCX_LANGUAGE) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Mm(20))
    normal = document.styles["Normal"]
    normal.font.size = Pt(10.5)
    # Word's spelling and hyphenation follow the style's language, not the file's metadata.
    run_props = normal.element.get_or_add_rPr()
    lang = run_props.find(qn("w:lang"))
    if lang is None:
        lang = run_props.makeelement(qn("w:lang"), {})
        run_props.append(lang)
    lang.set(qn("w:val"), language)
    document.core_properties.language = language
    document.core_properties.title = guide.title

    document.add_heading(guide.title, level=1)
    document.add_paragraph(guide.intro)
    for part in guide.sections:
        document.add_heading(_markup_free(part.title), level=2)
        for heading, questions in part.dimensions:
            document.add_paragraph().add_run(_markup_free(heading)).bold = True
            for question in questions:
                document.add_paragraph(question, style="List Bullet")
    if guide.sections:
        document.add_paragraph().add_run(guide.footer).italic = True
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
