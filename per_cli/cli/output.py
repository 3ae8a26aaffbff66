"""One output layer for every command that prints records (sqlite-utils style).

Data goes to stdout in the chosen format; messages go to stderr elsewhere. JSON keys are stable snake_case.
With ``--output FILE`` (``options.format_option``) the same goes to a private file instead (0600, written whole),
``--format xlsx`` is a workbook (openpyxl, text cells, numbers and dates as data), and ``--excel`` is CSV for a
Swedish Excel (UTF-8 with BOM, ``;``, CRLF). Tables, CSV and TSV have their header row even with no records when
the command names its columns (``columns`` or ``header``); JSON is then ``[]`` and JSON Lines nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import click

from per_cli.identity.text import visible

FORMATS = ("table", "json", "jsonl", "csv", "tsv", "plain")
#: a document of several record sets can also be a workbook (``per_cli.cli.document``)
DOCUMENT_FORMATS = (*FORMATS, "xlsx")

Record = Mapping[str, Any]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def shown(value: Any) -> str:
    """The cell text for a terminal or a one-line record: control characters escaped (``\\x1b``, ``\\t``)."""
    return visible(_cell(value))


def sheet_cell(value: Any) -> Any:
    """A value for the spreadsheet writer: numbers, dates and times marked as such, everything else as text."""
    from per_cli.spreadsheet.cells import Typed, is_typed

    if is_typed(value):
        return Typed(_cell(value))
    return _cell(value)


def _columns(records: Sequence[Record], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    seen: dict[str, None] = {}
    for rec in records:
        seen.update(dict.fromkeys(rec))
    return list(seen)


def render(
    records: Sequence[Record],
    fmt: str = "table",
    *,
    columns: Sequence[str] | None = None,
    single: bool = False,
    header: Sequence[str] = (),
    excel: bool = False,
) -> str:
    """Render records; ``single`` prints one record (JSON object, vertical table) instead of a list.

    ``header``: the columns of a table, CSV or TSV with no records (its header row is printed all the same);
    ``excel``: CSV with a BOM, ``;`` and CRLF line ends (Swedish Excel).
    """
    cols = _columns(records, columns) or list(header)
    if fmt == "json":
        payload: Any = dict(records[0]) if single and records else [dict(r) for r in records]
        return json.dumps(payload, ensure_ascii=False, indent=2, default=_json_default) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(dict(r), ensure_ascii=False, default=_json_default) + "\n" for r in records)
    if fmt in ("csv", "tsv"):
        from per_cli.spreadsheet.cells import CsvWriter

        buf = io.StringIO()
        if excel:
            buf.write("\ufeff")
        writer = CsvWriter(
            buf, delimiter=("\t" if fmt == "tsv" else ";" if excel else ","), lineterminator="\r\n" if excel else "\n"
        )
        writer.writerow(cols)
        for rec in records:
            writer.writerow([sheet_cell(rec.get(c)) for c in cols])
        return buf.getvalue()
    # for terminals from here on: a control character from data is shown escaped, never sent
    if fmt == "plain":
        return "".join("\t".join(shown(rec.get(c)) for c in cols) + "\n" for rec in records)
    from tabulate import tabulate

    if single and records:
        rows = [[visible(k), shown(v)] for k, v in records[0].items() if k in cols]
        return tabulate(rows, tablefmt="plain") + "\n"
    if not records and not cols:
        return ""
    headers = [visible(c) for c in cols]
    return tabulate([[shown(r.get(c)) for c in cols] for r in records], headers=headers, tablefmt="simple") + "\n"


def emit(records: Sequence[Record], fmt: str = "table", **kwargs: Any) -> None:
    """Records to stdout, or to the command's ``--output`` file, as ``--format``/``--excel`` say."""
    import sys

    settings = output_settings()
    output, excel = settings.get("output"), bool(settings.get("excel"))
    if excel:
        fmt = "csv"
    if fmt == "xlsx":
        if not output:
            raise click.UsageError("--format xlsx writes a workbook: add --output FILE")
        cols = _columns(records, kwargs.get("columns")) or list(kwargs.get("header", ()))
        data = workbook(records, cols)
    else:
        data = render(records, fmt, excel=excel, **kwargs).encode("utf-8")
    if output:
        from per_cli.files import write_private

        write_private(output, data, field="--output")
        return
    sys.stdout.flush()  # anything printed before goes first
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


#: where ``format_option`` keeps ``--format``, ``--output`` and ``--excel`` for :func:`emit` (the context's meta)
OUTPUT_META = "per.output"


def output_settings() -> dict[str, Any]:
    """The running command's ``fmt``, ``output`` and ``excel`` (empty outside a command)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(OUTPUT_META, {})) if ctx is not None else {}


def workbook(records: Iterable[Record], columns: Sequence[str], *, title: str = "per") -> bytes:
    """Records as an XLSX workbook (openpyxl, write-only): a header row, then a row per record; numbers, dates and
    times as data, every string a text cell (never a formula)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    from per_cli.spreadsheet.cells import excel_cell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append([excel_cell(sheet, c) for c in columns])
    for rec in records:
        sheet.append([excel_cell(sheet, _excel_value(rec.get(c))) for c in columns])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _excel_value(value: Any) -> Any:
    """What a workbook cell holds: numbers, dates, times and booleans as they are, anything else its cell text."""
    if value is None or (isinstance(value, int | float | date | datetime) and not isinstance(value, bool)):
        return value
    return _cell(value)


def emit_stream(records: Iterable[Record], fmt: str = "table", *, columns: Sequence[str], chunk: int = 500) -> None:
    """Print records as they come, ``chunk`` at a time: the same bytes as :func:`emit` of them all.

    ``--output``, ``--excel`` and ``--format xlsx`` hold here too: the file is written as the records come (the
    workbook through openpyxl's write-only mode) and renamed into place only when they all were. The table
    format needs every row for its column widths, so it is gathered first (use another format for long output).
    """
    settings = output_settings()
    output, excel = settings.get("output"), bool(settings.get("excel"))
    if excel:
        fmt = "csv"
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a workbook: add --output FILE")
    if fmt == "xlsx":
        pieces: Iterable[bytes] = [workbook(records, columns)]
    elif fmt == "table":
        pieces = [render(list(records), fmt, columns=columns).encode("utf-8")]
    else:
        pieces = _streamed(records, fmt, columns, chunk, excel=excel)
    if not output:
        import sys

        for piece in pieces:
            sys.stdout.flush()  # anything printed before goes first
            sys.stdout.buffer.write(piece)
            sys.stdout.flush()
        return
    from per_cli.files import PrivateFile

    target = PrivateFile(output, field="--output", binary=True)
    try:
        for piece in pieces:
            target.write(piece)
    except BaseException:
        target.discard()  # a failed or interrupted read leaves no half file behind
        raise
    target.commit()


def _streamed(
    records: Iterable[Record], fmt: str, columns: Sequence[str], chunk: int, *, excel: bool
) -> Iterator[bytes]:
    """The text of ``render(records, fmt)`` in pieces of ``chunk`` records (json, jsonl, csv, tsv, plain)."""
    import itertools

    rows = iter(records)
    first = True
    while batch := list(itertools.islice(rows, chunk)):
        if fmt == "json":
            items = (json.dumps(dict(r), ensure_ascii=False, indent=2, default=_json_default) for r in batch)
            text = ",\n".join("  " + item.replace("\n", "\n  ") for item in items)
            text = ("[\n" if first else ",\n") + text
        else:
            text = render(batch, fmt, columns=columns, excel=excel)
            if not first and fmt in ("csv", "tsv"):
                text = text.split("\n", 1)[1]  # the header row (and the BOM) once
        yield text.encode("utf-8")
        first = False
    if first:
        yield render([], fmt, columns=columns, excel=excel).encode("utf-8")
    elif fmt == "json":
        yield b"\n]\n"


#: the cell text and the JSON conversions, for documents of several record sets (``per_cli.cli.document``)
cell = _cell
json_default = _json_default
