"""Patients and care units: the register, field validation, units, and bulk enrolment from spreadsheets."""
