"""Patient fields as staff type or import them: validated and put in their stored form, with no database.

Single enrolment, bulk enrolment and profile edits share these checks. The module imports neither SQLAlchemy
nor anything else that needs a database, so bulk enrolment's validation workers start quickly and stay small.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from per_cli.errors import InvalidInput
from per_cli.identity.personnummer import Personnummer, parse_personnummer
from per_cli.identity.text import NAME_MAX, NOTE_MAX, check_text
from per_cli.identity.text import optional_text as optional_text  # register and erase take it from here

if TYPE_CHECKING:
    from per_cli.identity.phone import PhoneNumber

CONTACT_PERSONS = ("patient", "relative", "other")
_MAX_NAME = NAME_MAX
_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PatientData:
    """A validated enrolment: every field in its stored form."""

    personnummer: Personnummer
    is_short: bool
    candidates: tuple[str, ...]
    first_name: str
    last_name: str
    unit: str
    mobile: PhoneNumber | None
    email: str | None
    registered_on: date
    pal: str | None
    comment: str | None
    warnings: tuple[str, ...] = ()


def _name(value: str | None, fld: str) -> str:
    raw = (value or "").strip()
    if raw:
        check_text(raw, fld, len(raw))  # a tab or line break is named, not folded into a space
    text = _SPACES.sub(" ", raw)
    if not text:
        raise InvalidInput("must not be empty", field=fld)
    check_text(text, fld, _MAX_NAME)
    if _DIGIT.search(text):
        raise InvalidInput("must not contain digits (is a column shifted?)", field=fld)
    if not text.isprintable():
        raise InvalidInput("contains invisible formatting characters; remove them", field=fld)
    return text


#: no date in the register is earlier (a year such as 0001 or 1026 is a typing error)
EARLIEST = date(1900, 1, 1)


def parse_date(value: str, fld: str, *, today: date | None = None, allow_future: bool = False) -> date:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``, or a spreadsheet's ``YYYY-MM-DD 00:00:00``), not before 1900."""
    text = value.strip()
    if " " in text:
        text = text.split(" ", 1)[0]
    if "T" in text:
        text = text.split("T", 1)[0]
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not a date in the form YYYY-MM-DD: {value.strip()!r}", field=fld) from None
    if parsed < EARLIEST:
        raise InvalidInput(f"{parsed.isoformat()} is before {EARLIEST.year}; is the year mistyped?", field=fld)
    if not allow_future and parsed > (today or date.today()):
        raise InvalidInput(f"{parsed.isoformat()} is in the future", field=fld)
    return parsed


def parse_mobile(value: str, fld: str = "mobile") -> tuple[PhoneNumber, str | None]:
    """A mobile number in E.164, plus a warning when it is valid but not a mobile number."""
    from per_cli.identity.phone import parse_phone

    number = parse_phone(value, field=fld)
    warning = None
    if not number.is_mobile:
        warning = (
            f"{fld}: {number.e164} is a {number.number_type.replace('_', ' ')} number, not a mobile; "
            "stored, but SMS to it will be refused"
        )
    return number, warning


def validate_patient(
    raw: Mapping[str, str | None], *, default_unit: str | None = None, today: date | None = None
) -> PatientData:
    """Validate one enrolment, as typed or as read from a spreadsheet row; raises on the first bad field."""
    today = today or date.today()
    pnr_text = raw.get("personnummer") or ""
    if not pnr_text.strip():
        raise InvalidInput("missing", field="personnummer")
    parsed = parse_personnummer(pnr_text, today=today)
    first = _name(raw.get("first_name"), "first_name")
    last = _name(raw.get("last_name"), "last_name")
    unit_text = (raw.get("unit") or "").strip() or default_unit
    if not unit_text:
        raise InvalidInput("missing (give --unit or a unit column)", field="unit")
    unit = validate_unit_code(unit_text)
    warnings: list[str] = []
    mobile = None
    if (raw.get("mobile") or "").strip():
        mobile, warning = parse_mobile(raw["mobile"] or "")
        if warning:
            warnings.append(warning)
    email = None
    if (raw.get("email") or "").strip():
        from per_cli.identity.email import normalise_email

        email = normalise_email(raw["email"] or "")
    reg_text = (raw.get("registered_on") or "").strip()
    registered_on = parse_date(reg_text, "registered_on", today=today) if reg_text else today
    return PatientData(
        personnummer=parsed.default,
        is_short=parsed.is_short,
        candidates=tuple(c.canonical for c in parsed.candidates),
        first_name=first,
        last_name=last,
        unit=unit,
        mobile=mobile,
        email=email,
        registered_on=registered_on,
        pal=optional_text(raw.get("pal"), "pal", _MAX_NAME),
        comment=optional_text(raw.get("comment"), "comment", NOTE_MAX),
        warnings=tuple(warnings),
    )


_UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def validate_unit_code(code: str, *, field: str = "unit") -> str:
    """A care unit's code, upper-cased (codes are compared case-insensitively)."""
    code = code.strip()
    if not _UNIT_CODE.match(code):
        raise InvalidInput(
            "must be 1–40 letters, digits, '.', '_' or '-', starting with a letter or digit", field=field
        )
    return code.upper()


@dataclass
class ProfileChange:
    """What ``patient edit-profile`` asks for; ``None`` leaves a field as it is."""

    mobile: str | None = None
    clear_mobile: bool = False
    email: str | None = None
    clear_email: bool = False
    contact_person: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    pal: str | None = None
    comment: str | None = None


def validate_change(change: ProfileChange) -> tuple[dict[str, Any], list[str]]:
    """Column values to set and warnings; every value is checked before anything is written."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    if change.mobile is not None:
        number, warning = parse_mobile(change.mobile, "mobile")
        values["mobile"], values["mobile_type"] = number.e164, number.number_type
        if warning:
            warnings.append(warning)
    if change.clear_mobile:
        values["mobile"] = values["mobile_type"] = None
    if change.email is not None:
        from per_cli.identity.email import normalise_email

        values["email"] = normalise_email(change.email, field="email")
    if change.clear_email:
        values["email"] = None
    if change.contact_person is not None:
        if change.contact_person not in CONTACT_PERSONS:
            raise InvalidInput(f"must be one of {', '.join(CONTACT_PERSONS)}", field="contact_person")
        values["contact_person"] = change.contact_person
    if change.first_name is not None:
        values["first_name"] = _name(change.first_name, "first_name")
    if change.last_name is not None:
        values["last_name"] = _name(change.last_name, "last_name")
    if change.pal is not None:
        values["pal"] = optional_text(change.pal, "pal", _MAX_NAME)
    if change.comment is not None:
        values["comment"] = optional_text(change.comment, "comment", NOTE_MAX)
    return values, warnings


def override_reason(value: str | None) -> str | None:
    """Staff's reason for enrolling an erased or objecting person all the same (it goes to the access log)."""
    if value is None:
        return None
    reason = optional_text(value, "override_reason", NOTE_MAX)
    if reason is None:
        raise InvalidInput("must not be empty: say why the objection is overridden", field="override_reason")
    return reason
