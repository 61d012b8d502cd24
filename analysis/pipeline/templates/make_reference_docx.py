"""Build ``reference.docx``, the Word house style used by the fallback renderer.

Why a script: pandoc takes every style of a Word output from a *reference
document*. Editing one by hand in Word is not reviewable or repeatable, so
this script starts from pandoc's own default reference document (which has
every style pandoc uses) and adjusts it with python-docx. The result is
committed; re-run the script after changing it::

    .venv/bin/python analysis/pipeline/templates/make_reference_docx.py

The output is byte-for-byte reproducible for a given pandoc and python-docx
(fixed document properties and zip timestamps).
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pypandoc
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.styles.style import BaseStyle

HERE = Path(__file__).resolve().parent
OUT = HERE / "reference.docx"

FONT = "Arial"  # present on every Word installation; close to the HTML/PDF sans
INK = RGBColor(0x0B, 0x0C, 0x0C)
BRAND = RGBColor(0x1D, 0x4F, 0x91)
BRAND_DARK = RGBColor(0x12, 0x31, 0x62)
MUTED = RGBColor(0x48, 0x49, 0x49)
CALLOUT_EDGE = "1D70B8"
CALLOUT_FILL = "EEF5FB"
TABLE_HEADER_FILL = "E8EEF7"
FIXED_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)


def default_reference() -> bytes:
    """Pandoc's built-in reference.docx, from the pandoc bundled with pypandoc."""
    return subprocess.run(
        [pypandoc.get_pandoc_path(), "--print-default-data-file", "reference.docx"],
        check=True,
        capture_output=True,
    ).stdout


def set_font(style: BaseStyle, size: float | None = None, bold: bool | None = None,
             colour: RGBColor | None = None) -> None:
    """Set a style's font, dropping theme-font references that would override it."""
    font = style.font
    font.name = FONT
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is not None:
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
        fonts.set(qn("w:cs"), FONT)
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if colour is not None:
        font.color.rgb = colour


def paragraph_border_and_shading(style: BaseStyle, edge: str, fill: str) -> None:
    """Give a paragraph style a thick left border, thin other borders and a fill.

    Consecutive paragraphs with identical borders are drawn by Word as one box,
    so a multi-paragraph callout reads as a single block.
    """
    ppr = style.element.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    for side, size in (("top", 4), ("left", 24), ("bottom", 4), ("right", 4)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "6")
        el.set(qn("w:color"), edge)
        borders.append(el)
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    ppr.append(borders)
    ppr.append(shading)


def style_table(doc: Document) -> None:
    """Header row shaded and bold with a brand-coloured rule; light row rules."""
    table_style = doc.styles["Table"]
    el = table_style.element
    tblpr = el.find(qn("w:tblPr"))
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "bottom", "insideH"):
        b = OxmlElement(f"w:{side}")
        b.set(qn("w:val"), "single")
        b.set(qn("w:sz"), "4")
        b.set(qn("w:space"), "0")
        b.set(qn("w:color"), "D8DADB")
        borders.append(b)
    tblpr.append(borders)
    for cond in el.findall(qn("w:tblStylePr")):
        if cond.get(qn("w:type")) == "firstRow":
            el.remove(cond)
    first = OxmlElement("w:tblStylePr")
    first.set(qn("w:type"), "firstRow")
    rpr = OxmlElement("w:rPr")
    rpr.append(OxmlElement("w:b"))
    first.append(rpr)
    tcpr = OxmlElement("w:tcPr")
    tcb = OxmlElement("w:tcBorders")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), "12")
    bottom.set(qn("w:space"), "0")
    bottom.set(qn("w:color"), "1D4F91")
    tcb.append(bottom)
    tcpr.append(tcb)
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), TABLE_HEADER_FILL)
    tcpr.append(shd)
    valign = OxmlElement("w:vAlign")
    valign.set(qn("w:val"), "bottom")
    tcpr.append(valign)
    first.append(tcpr)
    el.append(first)


def add_field(paragraph, instruction: str) -> None:
    """Append a simple Word field (PAGE, NUMPAGES) to a paragraph."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def build() -> bytes:
    """Return the reference document's bytes."""
    doc = Document(io.BytesIO(default_reference()))
    styles = doc.styles

    set_font(styles["Normal"], size=11, colour=INK)
    for name in ("Body Text", "First Paragraph", "Compact"):
        set_font(styles[name])
    set_font(styles["Title"], size=24, bold=True, colour=BRAND_DARK)
    set_font(styles["Subtitle"], size=14, bold=False, colour=MUTED)
    for name in ("Author", "Date"):
        set_font(styles[name], size=11, colour=MUTED)
    for level, size in ((1, 16), (2, 14), (3, 12), (4, 11), (5, 11), (6, 11)):
        set_font(styles[f"Heading {level}"], size=size, bold=True, colour=BRAND_DARK)
        set_font(styles[f"Heading {level} Char"], size=size, bold=True, colour=BRAND_DARK)
    for style in styles:
        if style.name in ("Caption", "Image Caption", "Table Caption"):
            # Iterate: python-docx's lookup maps "Caption" to its built-in
            # "caption" and misses pandoc's capitalised name.
            set_font(style, size=9.5, colour=MUTED)
    styles["Hyperlink"].font.color.rgb = BRAND

    # Callouts: pandoc's custom-style attribute maps divs to these styles.
    callout = styles.add_style("Callout", WD_STYLE_TYPE.PARAGRAPH)
    callout.base_style = styles["Body Text"]
    callout.quick_style = True
    set_font(callout, size=11, colour=INK)
    callout.paragraph_format.left_indent = Cm(0.4)
    callout.paragraph_format.right_indent = Cm(0.4)
    callout.paragraph_format.space_before = Pt(0)
    callout.paragraph_format.space_after = Pt(6)
    paragraph_border_and_shading(callout, CALLOUT_EDGE, CALLOUT_FILL)

    title = styles.add_style("Callout Title", WD_STYLE_TYPE.PARAGRAPH)
    title.base_style = callout
    title.next_paragraph_style = callout
    title.quick_style = True
    set_font(title, size=11, bold=True, colour=INK)
    title.paragraph_format.keep_with_next = True
    title.paragraph_format.space_before = Pt(12)
    title.paragraph_format.space_after = Pt(4)

    style_table(doc)

    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Cm(21.0)
    section.page_height = Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = Cm(2.4)
    section.bottom_margin = Cm(2.2)
    footer = section.footer
    footer.is_linked_to_previous = False
    para = footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.add_run("Page ")
    add_field(para, "PAGE")
    para.add_run(" of ")
    add_field(para, "NUMPAGES")

    props = doc.core_properties
    props.author = ""
    props.last_modified_by = ""
    props.title = "Briefing reference document"
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.revision = 1

    buf = io.BytesIO()
    doc.save(buf)
    return normalise_zip(buf.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite the zip with sorted entries and fixed timestamps (reproducible bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
        out, "w", compression=zipfile.ZIP_DEFLATED
    ) as dst:
        names = src.namelist()
        # [Content_Types].xml must stay first for some readers.
        names.sort(key=lambda n: (n != "[Content_Types].xml", n))
        for name in names:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name))
    return out.getvalue()


def main() -> None:
    """Write reference.docx next to this script."""
    OUT.write_bytes(build())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
