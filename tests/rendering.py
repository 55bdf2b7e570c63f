"""Render a .docx to PDF pages with LibreOffice headless, and read the pages back.

Tests that look at the pages skip, with the reason shown, where LibreOffice is missing
(`make unit` installs Debian's libreoffice-writer-nogui and poppler-utils when run as root).
Each run uses its own LibreOffice profile, so parallel runs never share (and lock) one.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
A4_POINTS = (595.3, 841.9)


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    text: str


def render_pdf(docx: bytes, workdir: Path, name: str = "document") -> Path:
    if SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed: `make unit` installs it as root")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"{name}.docx"
    source.write_bytes(docx)
    profile = (workdir / "lo-profile").resolve().as_uri()
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(workdir), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    pdf = workdir / f"{name}.pdf"
    assert pdf.exists(), "LibreOffice wrote no PDF"
    return pdf


def pages(pdf: Path) -> list[Page]:
    reader = PdfReader(str(pdf))
    return [
        Page(float(p.mediabox.width), float(p.mediabox.height), p.extract_text() or "")
        for p in reader.pages
    ]


def is_a4(page: Page) -> bool:
    return abs(page.width - A4_POINTS[0]) < 1 and abs(page.height - A4_POINTS[1]) < 1


def first_page_png(pdf: Path, out: Path) -> bool:
    """Page 1 as a PNG (poppler's pdftoppm); False where poppler-utils is missing."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    subprocess.run(
        [tool, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True, capture_output=True, timeout=120,
    )
    return out.exists()
