"""Which column of a lead list is what, and turning one record into a call row (or a reason to reject it).

The number, name and email columns are named by the uploader or found by their usual headers; every other column
becomes a prompt variable under its header, unless ``variableColumns`` maps a key to it. Rows are checked with the
same rules as ``POST /v1/phoneCalls`` (:func:`opencaller.engine.calls.call_row`),
Synchronous and CPU-bound: run in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from opencaller.domain.calls import PhoneCallCreate, PromptVariableValue
from opencaller.engine.calls import CallLookups, CallOrigin, call_row
from opencaller.engine.lead_csv import Record
from opencaller.engine.validation import details_from_pydantic
from opencaller.errors import ErrorDetail, ValidationFailed

PHONE_HEADERS = ("phone", "phone number", "phonenumber", "tophonenumber", "mobile", "cell", "telephone", "number")
NAME_HEADERS = ("name", "nameofhuman", "full name", "fullname", "contact", "contact name")
EMAIL_HEADERS = ("email", "e-mail", "email address", "emailaddress", "toemailaddress", "mail")
MAX_REASON = 500


@dataclass(frozen=True)
class ColumnMap:
    """Column indexes of the number, the name, the email and each prompt variable (by key)."""

    phone: int
    name: int | None
    email: int | None
    variables: tuple[tuple[str, int], ...]

    def describe(self, header: list[str]) -> dict[str, Any]:
        """The mapping by column name, as the File shows it in ``columnMap``."""
        return {
            "phone": header[self.phone],
            "name": None if self.name is None else header[self.name],
            "email": None if self.email is None else header[self.email],
            "variables": {key: header[index] for key, index in self.variables},
        }


def _find(header: list[str], wanted: str) -> int | None:
    """The index of the column named ``wanted``: exact name first, then ignoring case and spaces around."""
    if wanted in header:
        return header.index(wanted)
    folded = wanted.strip().casefold()
    for index, name in enumerate(header):
        if name.casefold() == folded:
            return index
    return None


def _guess(header: list[str], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        index = _find(header, candidate)
        if index is not None:
            return index
    return None


def resolve_columns(
    header: list[str],
    *,
    phone_column: str | None,
    name_column: str | None,
    email_column: str | None,
    variable_columns: dict[str, str],
) -> ColumnMap:
    """Map the header to what each column means; a named column missing from the header is a 400."""
    problems: list[ErrorDetail] = []
    names = [n for n in header if n]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(ErrorDetail("file", "the header names these columns twice: " + ", ".join(dupes)))
    listing = ", ".join(repr(n) for n in header)

    def named(field_name: str, wanted: str | None, guesses: tuple[str, ...]) -> int | None:
        if wanted is None or not wanted.strip():
            return _guess(header, guesses)
        index = _find(header, wanted)
        if index is None:
            problems.append(ErrorDetail(field_name, f"the file has no column {wanted!r} (its columns: {listing})"))
        return index

    phone = named("phoneColumn", phone_column, PHONE_HEADERS)
    if phone is None and not phone_column:
        problems.append(
            ErrorDetail("phoneColumn", f"no phone-number column found: name it with phoneColumn (columns: {listing})")
        )
    name = named("nameColumn", name_column, NAME_HEADERS)
    email = named("emailColumn", email_column, EMAIL_HEADERS)
    variables: list[tuple[str, int]] = []
    for key, column in variable_columns.items():
        index = _find(header, column)
        if index is None:
            problems.append(ErrorDetail(f"variableColumns.{key}", f"the file has no column {column!r}"))
        else:
            variables.append((key, index))
    if problems or phone is None:
        raise ValidationFailed("the file's columns do not match the request", problems)
    used = {phone, name, email, *(index for _key, index in variables)}
    mapped_keys = {key for key, _index in variables}
    for index, column in enumerate(header):
        if index not in used and column and column not in mapped_keys:
            variables.append((column, index))
    return ColumnMap(phone=phone, name=name, email=email, variables=tuple(variables))


@dataclass
class RowChecker:
    """Checks records one by one against the template and the team's numbers (duplicates, the do-not-call list
    and queued calls are the importer's: they need the rows before and the database)."""

    header: list[str]
    columns: ColumnMap
    lookups: CallLookups
    origin: CallOrigin
    template_id: str
    now: datetime
    default_region: str | None = None
    phone_number_id: str | None = None
    call_delayed_until: datetime | None = None

    def check(self, record: Record) -> dict[str, Any] | str | None:
        """The call row for ``record``, the reason it is rejected, or ``None`` for a blank record (skipped)."""
        width = len(self.header)
        values = record.values
        if len(values) > width:
            if any(v.strip() for v in values[width:]):
                return (
                    f"the row has {len(values)} values but the header has {width} columns"
                    " (a value containing the delimiter must be in double quotes)"
                )
            values = values[:width]
        elif len(values) < width:
            values = values + [""] * (width - len(values))
        if not any(v.strip() for v in values):
            return None
        phone = values[self.columns.phone].strip()
        if not phone:
            return f"{self.header[self.columns.phone]}: the phone number is empty"
        try:
            item = PhoneCallCreate(
                call_template_id=self.template_id,
                name_of_human=self._cell(values, self.columns.name),
                to_phone_number=phone,
                to_email_address=self._cell(values, self.columns.email) or None,
                prompt_variable_values=[
                    PromptVariableValue(key=key, value=values[index].strip())
                    for key, index in self.columns.variables
                    if values[index].strip()
                ],
                phone_number_id=self.phone_number_id,
                call_delayed_until=self.call_delayed_until,
            )
            row = call_row(item, self.lookups, self.origin, self.now, None, default_region=self.default_region)
        except ValidationError as exc:
            return self._reason(details_from_pydantic(exc))
        except ValidationFailed as exc:
            return self._reason(exc.details)
        row["file_row_number"] = record.row
        row["file_row"] = values
        return row

    @staticmethod
    def _cell(values: list[str], index: int | None) -> str:
        return "" if index is None else values[index].strip()

    def _reason(self, details: list[ErrorDetail]) -> str:
        """One line naming the file's columns instead of the API's field names."""
        labels = {
            "toPhoneNumber": self.header[self.columns.phone],
            "nameOfHuman": None if self.columns.name is None else self.header[self.columns.name],
            "toEmailAddress": None if self.columns.email is None else self.header[self.columns.email],
            "promptVariableValues": "variables",
        }
        parts = []
        for detail in details:
            root = detail.field.split(".", 1)[0]
            message = detail.message
            if root == "toPhoneNumber" and self.default_region is None and "country code" in message:
                message += " (or set defaultRegion, e.g. US, for numbers without one)"
            parts.append(f"{labels.get(root) or root}: {message}")
        return "; ".join(parts)[:MAX_REASON] or "invalid row"
