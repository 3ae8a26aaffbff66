"""Reading bulk input files (CSV, TSV, XLSX, stdin) and writing rejected rows back.

``open_table`` gives header names and streamed rows whatever the format, ``map_headers`` turns Swedish or English
header names into canonical fields, ``RejectsWriter`` writes refused rows back in the input's own columns.
"""

from __future__ import annotations

from per_cli.spreadsheet.headers import (
    ALIASES,
    FIELDS,
    PnrList,
    PnrRow,
    known_columns_text,
    map_headers,
    normalize_header,
    open_pnr_list,
    to_record,
)
from per_cli.spreadsheet.rejects import RejectsWriter
from per_cli.spreadsheet.sources import open_table
from per_cli.spreadsheet.table import Table

__all__ = [
    "ALIASES",
    "FIELDS",
    "PnrList",
    "PnrRow",
    "RejectsWriter",
    "Table",
    "known_columns_text",
    "map_headers",
    "normalize_header",
    "open_pnr_list",
    "open_table",
    "to_record",
]
