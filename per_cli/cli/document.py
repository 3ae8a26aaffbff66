"""A document of several record sections (the register extract) in every output format.

Formats: ``json`` one object, a key per section; ``jsonl`` one line per record with its ``section``; ``csv``,
``tsv`` and ``plain`` one long table ``section, item, field, value`` (one well-formed table whatever the
sections hold); ``table`` a titled table per section, in the document's language; ``xlsx`` a workbook with a
sheet per section, headings in the document's language, dates as dates, and no cell ever a formula.

Files that hold patient data are written privately by ``per_cli.files``; CSV/TSV cells and workbook cells go
through ``per_cli.spreadsheet.cells`` (no formula from data).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from per_cli.cli.output import cell, json_default, sheet_cell, shown

if TYPE_CHECKING:
    from per_cli.rights.extract import RegisterExtract

LONG_COLUMNS = ("section", "item", "field", "value")


def _long_rows(doc: RegisterExtract) -> list[list[Any]]:
    """The long table; values keep their type, so the spreadsheet writer knows numbers and dates from text."""
    rows = [
        ["extract", 1, "personnummer", doc.personnummer],
        ["extract", 1, "produced_at", sheet_cell(doc.produced_at)],
    ]
    for section in doc.sections:
        for n, rec in enumerate(section.records, 1):
            rows.extend([section.key, n, col, sheet_cell(rec.get(col))] for col in section.columns)
    return rows


def render_document(doc: RegisterExtract, fmt: str) -> str:
    """The document as text in one of ``FORMATS`` (``xlsx`` is :func:`workbook_bytes`)."""
    if fmt == "json":
        return json.dumps(doc.as_json(), ensure_ascii=False, indent=2, default=json_default) + "\n"
    if fmt == "jsonl":
        return "".join(
            json.dumps({"section": s.key, **r}, ensure_ascii=False, default=json_default) + "\n"
            for s in doc.sections
            for r in s.records
        )
    if fmt in ("csv", "tsv", "plain"):
        if fmt == "plain":
            return "".join("\t".join(shown(v) for v in row) + "\n" for row in _long_rows(doc))
        from per_cli.spreadsheet.cells import CsvWriter

        buf = io.StringIO()
        writer = CsvWriter(buf, delimiter="," if fmt == "csv" else "\t")
        writer.writerow(LONG_COLUMNS)
        writer.writerows(_long_rows(doc))
        return buf.getvalue()
    if fmt == "table":
        return _table(doc)
    raise ValueError(f"not a text format: {fmt}")


def _table(doc: RegisterExtract) -> str:
    from tabulate import tabulate

    out = [doc.heading(), ""]
    for section in doc.sections:
        out += [section.title, "-" * len(section.title)]
        if not section.records:
            out.append(doc.nothing)
        elif section.key == "profile":
            rec = section.records[0]
            rows = [[h, shown(rec.get(c))] for c, h in zip(section.columns, section.headings, strict=True)]
            out.append(tabulate(rows, tablefmt="plain"))
        else:
            rows = [[shown(r.get(c)) for c in section.columns] for r in section.records]
            out.append(tabulate(rows, headers=list(section.headings), tablefmt="simple"))
        out.append("")
    return "\n".join(out)


def _excel_value(value: Any) -> Any:
    """A cell value openpyxl stores as data: local naive times (Excel has no zones), text for lists."""
    if isinstance(value, datetime):
        return value.astimezone().replace(tzinfo=None, microsecond=0)
    if isinstance(value, date | bool | int | float) or value is None:
        return value
    return cell(value)


def workbook_bytes(doc: RegisterExtract) -> bytes:
    """The document as an XLSX workbook: an overview sheet, then a sheet per section."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    from per_cli.spreadsheet.cells import excel_cell

    book = Workbook(write_only=True)

    def text_cell(sheet: Any, value: Any) -> Any:
        return excel_cell(sheet, _excel_value(value))  # a string is a text cell, never a formula

    overview = book.create_sheet("Utdrag" if doc.language == "sv" else "Extract")
    overview.append([text_cell(overview, doc.heading())])
    for section in doc.sections:
        overview.append([text_cell(overview, section.title), len(section.records)])
    for section in doc.sections:
        sheet = book.create_sheet(section.sheet)
        sheet.append([text_cell(sheet, h) for h in section.headings])
        for rec in section.records:
            sheet.append([text_cell(sheet, rec.get(c)) for c in section.columns])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
