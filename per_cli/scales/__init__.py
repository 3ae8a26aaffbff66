"""The scale catalogue (questionnaires without their copyrighted texts) and scoring.

``model`` says what a scale is, ``parser`` reads one file, ``catalogue`` loads and caches them all (stdlib only, so TAB
completion can load it cheaply), ``display`` presents them; ``scoring`` is imported where answers are scored.
"""

from per_cli.scales.catalogue import catalogue_for, extra_dir_for, load_catalogue
from per_cli.scales.display import scale_detail, scale_rows
from per_cli.scales.model import Catalogue, Item, Scale, ScoringRule, Subscale

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
