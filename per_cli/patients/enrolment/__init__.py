"""Bulk enrolment from registry spreadsheets (``per patient enrol --file``)."""
