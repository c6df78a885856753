"""Reading the calls list's filters from a query string, as ``GET /v1/phoneCalls`` reads them.

A browser form sends every field, empty ones as ``""``: an empty field is no filter. Times come from
``datetime-local`` inputs without an offset and are taken as UTC, as the form says. Problems are returned by field
so the page can show each one next to its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from opencaller.domain.clock import parse_timestamp
from opencaller.domain.ids import is_valid_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.domain.status import CallStatus
from opencaller.engine.calls import CallFilters

FILTER_NAMES = ("callTemplateId", "status", "fileId", "toPhoneNumber", "createdAfter", "createdBefore")


@dataclass
class ParsedFilters:
    """The filters, the raw values (to refill the form) and the problems, by query parameter name."""

    filters: CallFilters
    raw: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)

    def query(self) -> dict[str, str]:
        """The non-empty raw values, to build links that keep the filters (pagination, live refresh)."""
        return {name: value for name, value in self.raw.items() if value}


def parse_filters(params: Mapping[str, str]) -> ParsedFilters:
    """Validate the filter parameters of ``params``; invalid ones are left out of the filters and reported."""
    raw = {name: (params.get(name) or "").strip() for name in FILTER_NAMES}
    problems: dict[str, str] = {}
    status = None
    if raw["status"]:
        try:
            status = CallStatus.parse(raw["status"])
        except ValueError:
            problems["status"] = "must be one of " + ", ".join(s.value for s in CallStatus)
    number = None
    if raw["toPhoneNumber"]:
        try:
            number = normalize_e164(raw["toPhoneNumber"])
        except InvalidPhoneNumber as exc:
            problems["toPhoneNumber"] = str(exc)
    ids: dict[str, str | None] = {}
    for name in ("callTemplateId", "fileId"):
        ids[name] = raw[name] or None
        if raw[name] and not is_valid_id(raw[name]):
            problems[name] = "is not an id (24 hex characters)"
            ids[name] = None
    bounds: dict[str, datetime | None] = {}
    for name in ("createdAfter", "createdBefore"):
        bounds[name] = None
        if raw[name]:
            try:
                bounds[name] = parse_timestamp(raw[name])
            except (ValueError, OverflowError):
                problems[name] = "must be a date and time such as 2024-03-11T10:00"
    filters = CallFilters(
        call_template_id=ids["callTemplateId"],
        status=status,
        file_id=ids["fileId"],
        to_phone_number=number,
        created_after=bounds["createdAfter"],
        created_before=bounds["createdBefore"],
    )
    return ParsedFilters(filters=filters, raw=raw, problems=problems)
