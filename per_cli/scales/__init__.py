"""The scale catalogue (questionnaires without their copyrighted texts) and scoring.

``catalogue`` is stdlib-only so TAB completion can load it cheaply; ``scoring`` is imported where answers are
scored; ``complete`` holds the click completion callbacks.
"""

from per_cli.scales.catalogue import (
    Catalogue,
    Item,
    Scale,
    ScoringRule,
    Subscale,
    catalogue_for,
    extra_dir_for,
    load_catalogue,
    scale_detail,
    scale_rows,
)

__all__ = [
    "Catalogue",
    "Item",
    "Scale",
    "ScoringRule",
    "Subscale",
    "catalogue_for",
    "extra_dir_for",
    "load_catalogue",
    "scale_detail",
    "scale_rows",
]
