"""Builders for real input files: Swedish Excel CSV exports and hand-assembled XLSX packages.

The XLSX builder writes the parts Excel writes (shared strings, styles, ``<dimension>``), which openpyxl's own
writer does not, so the reader is tested against what users actually upload.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

SWEDISH_HEADER = ["Personnummer", "Förnamn", "Efternamn", "Mobiltelefon", "E-post", "Enhet", "Kommentar"]
SWEDISH_ROWS = [
    ["19121212-1212", "Åsa", "Öberg", "070-174 06 05", "asa@example.se", "KARD", "ring efter kl 10; ej fredag"],
    ["20080808-8800", "Märta", "Ängström", "+46701740606", "", "KARD", ""],
]


def swedish_excel_csv(path: Path) -> Path:
    """What Excel with Swedish settings writes for "CSV (semikolonavgränsad)": cp1252, ``;``, CRLF."""
    lines = [";".join(SWEDISH_HEADER)]
    for row in SWEDISH_ROWS:
        lines.append(";".join(f'"{v}"' if ";" in v else v for v in row))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def xlsx_package(
    path: Path,
    sheets: dict[str, str],
    *,
    strings: list[str] | None = None,
    styles: str | None = None,
    date1904: bool = False,
    hidden: tuple[str, ...] = (),
    prefix: str = "",
    strings_xml: str | None = None,
) -> Path:
    """Assemble an XLSX from raw ``<sheetData>`` bodies, one per sheet name, in order.

    ``prefix`` (e.g. ``"x:"``) writes every SpreadsheetML element with a namespace prefix, as the .NET Open XML
    SDK does.
    """
    p = prefix
    xmlns = f'xmlns:{p[:-1]}="{MAIN}"' if p else f'xmlns="{MAIN}"'
    entries = "".join(
        f'<{p}sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"'
        + (' state="hidden"' if name in hidden else "")
        + "/>"
        for i, name in enumerate(sheets, start=1)
    )
    pr = f'<{p}workbookPr date1904="1"/>' if date1904 else ""
    workbook = f'<{p}workbook {xmlns} xmlns:r="{REL}">{pr}<{p}sheets>{entries}</{p}sheets></{p}workbook>'
    rels = [
        f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    ]
    rels.append(f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>')
    rels.append(f'<Relationship Id="rIdY" Type="{REL}/styles" Target="/xl/styles.xml"/>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">{"".join(rels)}</Relationships>')
        for i, body in enumerate(sheets.values(), start=1):
            z.writestr(
                f"xl/worksheets/sheet{i}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet {xmlns}><{p}dimension ref="A1"/>'
                f"<{p}sheetData>{body}</{p}sheetData></{p}worksheet>",
            )
        items = "".join(f"<{p}si><{p}t>{escape(s)}</{p}t></{p}si>" for s in strings or [])
        z.writestr("xl/sharedStrings.xml", strings_xml or f"<{p}sst {xmlns}>{items}</{p}sst>")
        z.writestr("xl/styles.xml", styles or DATE_STYLES)
    return path


DATE_STYLES = (
    f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
    '</numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="46"/>'
    "</cellXfs></styleSheet>"
)
"""Style 1 is Excel's short date, 2 a custom date-time, 3 the ``[h]:mm:ss`` duration."""


def row(number: int, *cells: str) -> str:
    """A ``<row>`` from raw ``<c>`` elements."""
    return f'<row r="{number}">{"".join(cells)}</row>'


def s(ref: str, index: int) -> str:
    """A shared-string cell."""
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'


def n(ref: str, value: str, style: int = 0) -> str:
    """A number cell, optionally styled (1 = date)."""
    return f'<c r="{ref}"' + (f' s="{style}"' if style else "") + f"><v>{value}</v></c>"
