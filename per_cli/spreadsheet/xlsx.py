"""XLSX workbooks, streamed with the standard library's XML parser.

Not ``openpyxl.load_workbook(read_only=True)``: it loads every shared string into memory up front (a million-row
Excel workbook took 745 MB and 100 s before the first row) and parses a sheet with no ``<dimension>`` twice.
Here the shared strings are parsed once into a list, spilled to an unlinked temporary file once there are more
than ``STRINGS_IN_MEMORY`` of them, and the sheet is parsed row by row, each finished row dropped from the tree.
openpyxl still supplies the number-format rules that say which styles are dates, and the Excel date arithmetic.
Formulas yield their cached value, as ``data_only=True`` would.

Cells become the text a careful user would have typed, so validation sees one representation for CSV and XLSX:
integers and whole floats below 1e15 print as digits (``191212121212`` and a phone ``46701740605`` survive being
stored as numbers), other floats use ``repr`` so a value Excel mangled into e.g. ``1.91212e+20`` stays visibly
scientific, dates print as ISO dates (a datetime keeps its time only when it has one, so nothing is silently
dropped), booleans as ``TRUE``/``FALSE``, errors as written (``#N/A``), empty cells as ``""``.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from array import array
from collections.abc import Iterator
from typing import IO, BinaryIO, NamedTuple

from openpyxl.styles.numbers import (  # type: ignore[import-untyped]
    BUILTIN_FORMATS,
    is_date_format,
    is_timedelta_format,
)
from openpyxl.utils.datetime import (  # type: ignore[import-untyped]
    CALENDAR_MAC_1904,
    CALENDAR_WINDOWS_1900,
    from_excel,
)

from per_cli.errors import InvalidInput
from per_cli.spreadsheet.limits import GuardedXml, check_archive, check_part
from per_cli.spreadsheet.table import Table, blank, dimension_last_row, header, shape

WHOLE_FLOAT_LIMIT = 1e15
"""Floats below this are exact integers in a double; above it digits were already lost."""
STRINGS_IN_MEMORY = 500_000
"""Shared strings kept as a Python list (about 40 MB); beyond this they move to a temporary file."""

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DIGITS = "0123456789"


def cell_text(value: object) -> str:
    """The text for one typed cell value (see module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < WHOLE_FLOAT_LIMIT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class Sheet(NamedTuple):
    """A sheet as the workbook lists it; chart sheets are listed too but cannot be read."""

    name: str
    path: str
    state: str
    is_worksheet: bool


class XlsxTable(Table):
    """One worksheet: the first visible one unless ``sheet`` names another (case-insensitively if unique)."""

    kind = "xlsx"

    def __init__(self, fp: BinaryIO, source: str, sheet: str | None) -> None:
        self.source = source
        try:
            self._zip = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInput(f"{source} is not a readable XLSX workbook ({exc})", field="file") from None
        self._strings: _SharedStrings | None = None
        try:
            self._open(sheet)
        except BaseException:
            self.close()
            raise

    def _open(self, sheet: str | None) -> None:
        check_archive(self._zip, self.source)  # a zip bomb is refused before any part is read
        package = _Package(self._zip, self.source)
        chosen = _choose(package.sheets, sheet, self.source)
        self.sheet, self.sheets = chosen.name, tuple(s.name for s in package.sheets if s.is_worksheet)
        self._path = chosen.path
        self._epoch = package.epoch
        self._dates, self._durations = package.date_styles()
        self._strings = package.shared_strings()
        for line, values in self._lines():
            if not blank(values):
                super().__init__(self.source, header(values), line)
                return
        raise self.empty_sheet()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.columns)
        header_line = self.header_line
        for line, values in self._lines():
            if line > header_line and not blank(values):
                yield line, shape(values, width)

    def last_line(self) -> int | None:
        """The last row of the sheet's ``<dimension ref="A1:K100001">`` (Excel and openpyxl write it first)."""
        try:
            with self._zip.open(self._path) as src:
                return dimension_last_row(src.read(4096))
        except (zipfile.BadZipFile, KeyError, OSError):
            return None

    def describe(self) -> str:
        return f"{self.source}: XLSX, sheet {self.sheet!r}, {len(self.columns)} column(s)"

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()
        self._zip.close()

    def _lines(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cell texts)`` for every ``<row>`` in the sheet, blank ones included."""
        try:
            with self._zip.open(self._path) as src:
                yield from self._parse(GuardedXml(src, self.source, drop_empty_rows=True))
        except (ET.ParseError, zipfile.BadZipFile, KeyError, IndexError, ValueError, OSError) as exc:
            raise InvalidInput(f"{self.source}: sheet {self.sheet!r} cannot be read ({exc})", field="file") from None

    def _parse(self, src: GuardedXml) -> Iterator[tuple[int, list[str]]]:
        row_tag = c_tag = v_tag = is_tag = sheet_data = ""
        parent: ET.Element | None = None
        line = 0
        columns: dict[str, int] = {}
        strings = self._strings
        assert strings is not None
        for event, el in ET.iterparse(src, events=("start", "end")):
            if event == "start":
                if not row_tag:  # the root element tells the namespace (transitional or strict)
                    ns = el.tag[: el.tag.find("}") + 1]
                    row_tag, c_tag, v_tag, is_tag = ns + "row", ns + "c", ns + "v", ns + "is"
                    sheet_data = ns + "sheetData"
                elif el.tag == sheet_data:
                    parent = el
                continue
            if el.tag != row_tag:
                continue
            r = el.get("r")
            line = int(r) if r else line + 1
            values: list[str] = []
            col = 0
            for c in el:
                if c.tag != c_tag:
                    continue
                ref = c.get("r")
                if ref:
                    letters = ref.rstrip(_DIGITS)
                    col = columns.get(letters) or columns.setdefault(letters, _column_index(letters))
                else:
                    col += 1
                kind = c.get("t")
                if kind == "s":  # the common case, kept inline: a shared string
                    text = c.findtext(v_tag)
                    text = strings[int(text)] if text else ""
                else:
                    text = self._cell(c, kind, v_tag, is_tag)
                if text:
                    n = len(values)
                    if col > n:
                        if col > n + 1:
                            values.extend([""] * (col - 1 - n))
                        values.append(text)
                    else:
                        values[col - 1] = text
            if parent is not None:
                parent.clear()  # drop the finished row so memory stays flat
            else:
                el.clear()
            yield line, values

    def _cell(self, c: ET.Element, kind: str | None, v_tag: str, is_tag: str) -> str:
        if kind == "inlineStr":
            node = c.find(is_tag)
            return _rich_text(node) if node is not None else ""
        text = c.findtext(v_tag)
        if not text:
            return ""
        if kind is None or kind == "n":
            style = c.get("s")
            if style and style != "0":
                index = int(style)
                if index in self._dates:
                    try:
                        return cell_text(from_excel(float(text), self._epoch, timedelta=index in self._durations))
                    except (ValueError, OverflowError):
                        return text
            if text.isdigit() and len(text) <= 15:
                return text.lstrip("0") or "0"
            return cell_text(float(text))
        if kind == "s":
            assert self._strings is not None
            return self._strings[int(text)]
        if kind == "b":
            return "TRUE" if text.strip() in ("1", "true") else "FALSE"
        if kind == "d":
            try:
                return cell_text(dt.datetime.fromisoformat(text))
            except ValueError:
                return text
        return text  # "str" (formula result) and "e" (#N/A …) are already text


class _Package:
    """The workbook's parts: sheets, date system, styles and shared strings, found through relationships."""

    def __init__(self, zf: zipfile.ZipFile, source: str) -> None:
        self._zip = zf
        self._source = source
        names = set(zf.namelist())
        if "mimetype" in names and b"opendocument" in zf.read("mimetype"):
            raise InvalidInput(f"{source} is an OpenDocument spreadsheet; save it as .xlsx or CSV", field="file")
        root_rels = _relationships(zf, "")
        office = next((t for typ, t in root_rels.values() if typ == "officeDocument"), "xl/workbook.xml")
        if office.endswith(".bin"):
            raise InvalidInput(f"{source} is a binary .xlsb workbook; save it as .xlsx or CSV", field="file")
        workbook = _xml(zf, office, source)
        if workbook is None:
            raise InvalidInput(f"{source} is not an XLSX workbook (no workbook part)", field="file")
        rels = _relationships(zf, office)
        self._rels = rels
        self.epoch = CALENDAR_WINDOWS_1900
        self.sheets: list[Sheet] = []
        for el in workbook.iter():
            local = _local(el.tag)
            if local == "workbookPr" and el.get("date1904", "").lower() in ("1", "true"):
                self.epoch = CALENDAR_MAC_1904
            elif local == "sheet":
                rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
                typ, path = rels.get(rid, ("", ""))
                self.sheets.append(Sheet(el.get("name", ""), path, el.get("state", "visible"), typ == "worksheet"))

    def date_styles(self) -> tuple[frozenset[int], frozenset[int]]:
        """Indexes of the cell styles whose number format is a date, and of those that are durations."""
        path = next((t for typ, t in self._rels.values() if typ == "styles"), None)
        styles = _xml(self._zip, path, self._source) if path else None
        if styles is None:
            return frozenset(), frozenset()
        custom: dict[int, str] = {}
        formats: list[str] = []
        for el in styles:
            if _local(el.tag) == "numFmts":
                for fmt in el:
                    custom[int(fmt.get("numFmtId", "-1"))] = fmt.get("formatCode", "")
            elif _local(el.tag) == "cellXfs":
                for xf in el:
                    fid = int(xf.get("numFmtId", "0"))
                    formats.append(custom.get(fid) or BUILTIN_FORMATS.get(fid, "General"))
        dates = frozenset(i for i, f in enumerate(formats) if is_date_format(f))
        return dates, frozenset(i for i in dates if is_timedelta_format(formats[i]))

    def shared_strings(self) -> _SharedStrings:
        strings = _SharedStrings()
        path = next((t for typ, t in self._rels.values() if typ == "sharedStrings"), None)
        if path and path in self._zip.NameToInfo:
            try:
                with self._zip.open(path) as src:
                    strings.load(GuardedXml(src, self._source, drop_empty_rows=False))
            except (ET.ParseError, zipfile.BadZipFile, OSError) as exc:
                strings.close()
                raise InvalidInput(f"{self._source}: shared strings cannot be read ({exc})", field="file") from None
        return strings


class _SharedStrings:
    """Index -> text; a list while small, then UTF-8 bytes in a temporary file with offsets in an array."""

    def __init__(self) -> None:
        self._list: list[str] = []
        self._file: IO[bytes] | None = None
        self._offsets = array("Q", [0])
        self._buffer = bytearray()

    def load(self, src: GuardedXml) -> None:
        si_tag = ""
        root: ET.Element | None = None
        for event, el in ET.iterparse(src, events=("start", "end")):
            if event == "start":
                if root is None:
                    root = el
                    si_tag = el.tag[: el.tag.find("}") + 1] + "si"
                continue
            if el.tag == si_tag:
                self._add(_rich_text(el))
                root.clear()  # type: ignore[union-attr]  # set on the first event
        self._flush()

    def _add(self, text: str) -> None:
        if self._file is None:
            self._list.append(text)
            if len(self._list) > STRINGS_IN_MEMORY:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close()
                texts, self._list = self._list, []
                for t in texts:
                    self._add(t)
            return
        data = text.encode("utf-8")
        self._buffer += data
        self._offsets.append(self._offsets[-1] + len(data))
        if len(self._buffer) >= 1 << 20:
            self._flush()

    def _flush(self) -> None:
        if self._file is not None and self._buffer:
            self._file.seek(0, 2)
            self._file.write(self._buffer)
            self._buffer.clear()

    def __getitem__(self, index: int) -> str:
        if self._file is None:
            return self._list[index]
        start, end = self._offsets[index], self._offsets[index + 1]
        self._file.seek(start)
        return self._file.read(end - start).decode("utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _choose(sheets: list[Sheet], wanted: str | None, source: str) -> Sheet:
    if wanted is None:
        for s in sheets:
            if s.is_worksheet and s.state == "visible":
                return s
        raise InvalidInput(f"{source} has no visible worksheet", field="file")
    matches = [s for s in sheets if s.name == wanted]
    if not matches:
        key = wanted.strip().casefold()
        matches = [s for s in sheets if s.name.strip().casefold() == key]
    if len(matches) != 1:
        names = ", ".join(s.name for s in sheets)
        raise InvalidInput(f"no sheet named {wanted!r}; sheets: {names}", field="sheet")
    if not matches[0].is_worksheet:
        raise InvalidInput(f"sheet {matches[0].name!r} is a chart, not a worksheet", field="sheet")
    return matches[0]


def _relationships(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type's last path segment, target part name) for ``part`` (``""`` = the package)."""
    folder, name = posixpath.split(part)
    root = _xml(zf, posixpath.join(folder, "_rels", name + ".rels"), "")
    result: dict[str, tuple[str, str]] = {}
    if root is None:
        return result
    for rel in root:
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        path = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        result[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], path)
    return result


def _xml(zf: zipfile.ZipFile, name: str, source: str) -> ET.Element | None:
    """A small part parsed whole (workbook, relationships, styles), or None if absent."""
    try:
        check_part(zf, name, source)
        data = zf.read(name)
    except KeyError:
        return None
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInput(f"{source or 'the workbook'}: {name} is not valid XML ({exc})", field="file") from None


def _rich_text(node: ET.Element) -> str:
    """Text of a string item: its ``<t>`` or its runs' ``<t>``; phonetic guides (``<rPh>``) left out."""
    parts: list[str] = []
    for child in node:
        local = _local(child.tag)
        if local == "t":
            parts.append(child.text or "")
        elif local == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    text = "".join(parts)
    if "_x" in text:  # ST_Xstring escapes: _x000D_ is a carriage return, _x005F_ a literal underscore
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
