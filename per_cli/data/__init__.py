"""Data files shipped with per (common-password list)."""
