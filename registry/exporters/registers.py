"""A community's register as CSV or JSON, streamed in constant memory from the restricting queryset.

Two scopes:
- `public`: the community's public register as anyone may see it: approved registrations, and of each
  system only the fields its filer disclosed as public (withheld and restricted fields are left out).
- `all`: every registration in the community that the requesting user may see
  (`Registration.objects.restrict(user, view)`), with every field and the disclosure settings: a regulator
  gets the whole register, a filer their own organization's filings.

The JSON form (`commons-registry/1`) is also an import format (`--format json`), so a register can be
moved between installations: export, import, export again gives the same document.
"""

import csv
import datetime
import json
from collections.abc import Iterator

from registry.choices import RegistrationStatus
from registry.models import Community, Registration
from registry.models.registrations import disclosure_level
from registry.models.systems import DISCLOSABLE_FIELDS
from registry.permissions import Action

JSON_FORMAT = "commons-registry/1"
CHUNK_SIZE = 2000
SCOPES = ("public", "all")
REGISTRATION_COLUMNS = ["status", "risk_tier", "deployment_context", "deployment_date"]
SYSTEM_COLUMNS = ["external_id", "name", *DISCLOSABLE_FIELDS]
CSV_HEADER = [
    "registration_id",
    "community",
    "organization_slug",
    "organization_name",
    "organization_country",
    *REGISTRATION_COLUMNS,
    *SYSTEM_COLUMNS,
]


def export_queryset(*, community: Community, scope: str, user=None):
    if scope == "public":
        if not community.public_register_enabled:
            return Registration.objects.none()
        queryset = Registration.objects.filter(community=community, status=RegistrationStatus.APPROVED)
    else:
        queryset = Registration.objects.restrict(user, Action.VIEW).filter(community=community)
    return queryset.select_related("system", "organization").order_by("id")


def _value(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def registration_record(registration: Registration, *, scope: str) -> dict:
    system = registration.system
    disclosure = registration.disclosure or {}
    fields = {"external_id": system.external_id, "name": system.name}
    for name in DISCLOSABLE_FIELDS:
        if scope == "public" and disclosure_level(disclosure, name) != "public":
            continue
        fields[name] = _value(getattr(system, name))
    record = {
        "id": registration.pk,
        "organization": {
            "slug": registration.organization.slug,
            "name": registration.organization.name,
            "country": registration.organization.country,
        },
        "registration": {name: _value(getattr(registration, name)) for name in REGISTRATION_COLUMNS},
        "system": fields,
    }
    if scope == "all":
        record["registration"]["disclosure"] = disclosure
    return record


def iter_records(queryset, *, scope: str) -> Iterator[dict]:
    for registration in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield registration_record(registration, scope=scope)


class Echo:
    """A file for csv.writer that hands each line back instead of storing it (for streamed responses)."""

    def write(self, value):
        return value


def csv_cell(value):
    if isinstance(value, list):
        return ";".join(value)
    return "" if value is None else value


def csv_row(record: dict, *, community_slug: str) -> list:
    """A `registration_record` as the cells of CSV_HEADER."""
    return [
        record["id"],
        community_slug,
        record["organization"]["slug"],
        record["organization"]["name"],
        record["organization"]["country"],
        *(csv_cell(record["registration"][name]) for name in REGISTRATION_COLUMNS),
        *(csv_cell(record["system"].get(name)) for name in SYSTEM_COLUMNS),
    ]


def batched(lines: Iterator[str], size: int = 200) -> Iterator[str]:
    """Hand the server a few hundred rows at a time: one write per row costs more than the row itself."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def stream_csv(queryset, *, community: Community, scope: str) -> Iterator[str]:
    return batched(_csv_lines(queryset, community=community, scope=scope))


def _csv_lines(queryset, *, community: Community, scope: str) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(CSV_HEADER)
    for record in iter_records(queryset, scope=scope):
        yield writer.writerow(csv_row(record, community_slug=community.slug))


def stream_json(queryset, *, community: Community, scope: str, generated_at: str, licence: str = "") -> Iterator[str]:
    return batched(_json_parts(queryset, community=community, scope=scope, generated_at=generated_at, licence=licence))


def _json_parts(queryset, *, community: Community, scope: str, generated_at: str, licence: str) -> Iterator[str]:
    header = {
        "format": JSON_FORMAT,
        "community": {"slug": community.slug, "name": community.name},
        "scope": scope,
        "generated_at": generated_at,
    }
    if licence:
        header["licence"] = licence
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "registrations": ['
    first = True
    for record in iter_records(queryset, scope=scope):
        yield ("" if first else ",\n") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "]}\n"
