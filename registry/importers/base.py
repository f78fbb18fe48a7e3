"""What every register importer shares: a row-level report and one all-or-nothing, bulk write (issue 7).

A format's importer only turns its file into `Row`s (or `Rejection`s). `Importer.run` then validates each
row, and writes the whole file in one transaction with set-based statements: organizations, systems and
registrations are created or updated by natural key (organization slug + `AISystem.external_id`), so
re-importing the same file changes nothing, and a changed row updates its system and records the change.
The audit trail is written in bulk with the same events the services write, the importing user as actor.

Decisions (documented in docs/imports.md):
- Who may import: staff, superusers, and regulators of the community (or of an ancestor). Imported
  registrations go straight to `approved`, reviewed by the importing user: the sources are registers that
  their public bodies have already published, and the importer is the community's regulator.
- Rows that cannot become a system are rejected and reported with their line and reason; the rest of
  the file is imported. A file that is not in the format at all (wrong columns, not UTF-8, not JSON) is
  refused as a whole and nothing is written.
"""

import datetime
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from registry.choices import RegistrationStatus
from registry.models import AISystem, AuditEvent, Community, Organization, Registration, RegistrationVersion
from registry.models.registrations import clean_disclosure
from registry.permissions import Action
from registry.services.audit import snapshot, to_json_value
from registry.services.registrations import DEAD_STATES, REGISTRATION_FIELDS, version_snapshot
from registry.services.systems import SYSTEM_FIELDS

BATCH_SIZE = 1000
PROGRESS_EVERY = 250
REGISTRATION_IMPORT_FIELDS = ("risk_tier", "deployment_context", "deployment_date", "disclosure")

NOT_ALLOWED = _("Only staff and the community's regulators may import into its register.")
DUPLICATE_KEY = _("Duplicate identifier %(key)s for %(organization)s (first seen at line %(line)d).")
NO_NAME = _("The row has no name.")
NO_ORGANIZATION = _("The row names no organization.")


class ImportFormatError(Exception):
    """The file as a whole is not in the expected format; nothing is imported."""


@dataclass
class OrganizationSpec:
    name: str
    country: str = ""
    description: str = ""
    given_slug: str = ""

    @property
    def slug(self) -> str:
        return self.given_slug or organization_slug(self.name)


@dataclass
class Row:
    """One record of a source file, already mapped to our fields."""

    line: int
    organization: OrganizationSpec
    external_id: str
    system: dict
    registration: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    create_only: dict = field(default_factory=dict)  # fields set on a new system, never on an existing one


@dataclass
class Rejection:
    line: int
    reason: str
    key: str = ""


@dataclass
class ImportReport:
    format: str
    total: int = 0
    organizations_created: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    registrations_created: int = 0
    rejected: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def reject(self, line: int, reason: str, key: str = "") -> None:
        self.rejected.append({"line": line, "id": key, "reason": str(reason)})

    def warn(self, line: int, message: str, key: str = "") -> None:
        self.warnings.append({"line": line, "id": key, "message": str(message)})

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "total": self.total,
            "imported": self.total - len(self.rejected),
            "organizations_created": self.organizations_created,
            "systems_created": self.created,
            "systems_updated": self.updated,
            "systems_unchanged": self.unchanged,
            "registrations_created": self.registrations_created,
            "rejected_count": len(self.rejected),
            "rejected": self.rejected,
            "warnings": self.warnings,
        }


ProgressCallback = Callable[[int, int], None]


def organization_slug(name: str) -> str:
    slug = slugify(name)[:64].strip("-")
    return slug or "organization-" + hashlib.sha1(name.encode()).hexdigest()[:8]


def can_import(user, community: Community) -> bool:
    if user is None:
        return True  # the management command, run by whoever operates the server
    if not (user.is_active and user.is_authenticated):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Community.objects.restrict(user, Action.REVIEW).filter(pk=community.pk).exists()


# Value helpers shared by the formats ------------------------------------------------------------------------

_url = URLValidator()
_email = EmailValidator()
URL_RE = re.compile(r"https?://[^\s;,<>\"']+")
EMAIL_RE = re.compile(r"[^@\s;,<>()\"']+@[^@\s;,<>()\"']+\.[A-Za-z]{2,}")


def clip(value: str, limit: int, row_warnings: list[str], label: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        row_warnings.append(_("%(field)s shortened to %(limit)d characters.") % {"field": label, "limit": limit})
        return value[: limit - 1].rstrip() + "…"
    return value


def first_url(value: str, row_warnings: list[str], label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    match = URL_RE.search(value)
    if match:
        url = match.group(0).rstrip(".)")
        try:
            _url(url)
        except ValidationError:
            url = ""
        if url and len(url) <= 500:
            if url != value:
                row_warnings.append(
                    _("%(field)s: kept the first link of %(value)r.") % {"field": label, "value": value}
                )
            return url
    row_warnings.append(_("%(field)s: %(value)r is not a link; not imported.") % {"field": label, "value": value})
    return ""


def first_email(value: str, row_warnings: list[str], label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    match = EMAIL_RE.search(value)
    if match:
        email = match.group(0)
        try:
            _email(email)
        except ValidationError:
            email = ""
        if email and len(email) <= 254:
            if email != value:
                row_warnings.append(
                    _("%(field)s: kept the first address of %(value)r.") % {"field": label, "value": value}
                )
            return email
    row_warnings.append(_("%(field)s: %(value)r is not an e-mail address.") % {"field": label, "value": value})
    return ""


_MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$"), lambda m: (m[1], m[2], m[3])),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: .*)?$"), lambda m: (m[3], m[1], m[2])),  # U.S. month/day/year
    (re.compile(r"^(\d{1,2})/(\d{4})$"), lambda m: (m[2], m[1], 1)),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), lambda m: (m[1], m[2], 1)),
    (re.compile(r"^(\d{4})$"), lambda m: (m[1], 1, 1)),
    (re.compile(r"^([A-Za-z]{3})[A-Za-z]*[- ](\d{2}|\d{4})$"), lambda m: (m[2], m[1], 1)),
]


def parse_date(value: str, row_warnings: list[str], label: str) -> datetime.date | None:
    """Dates as registers write them: ISO, U.S. m/d/yyyy, mm/yyyy, yyyy-mm, yyyy, 'Jul-25'. Partial dates
    become the first of the month or year; anything else is reported and left empty."""
    value = (value or "").strip()
    if not value:
        return None
    for pattern, parts in _DATE_PATTERNS:
        match = pattern.match(value)
        if not match:
            continue
        year, month, day = parts(match)
        try:
            month = _MONTHS[month[:3].lower()] if isinstance(month, str) and not month.isdigit() else int(month)
            year = int(year)
            year = year + 2000 if year < 100 else year
            return datetime.date(year, month, int(day))
        except (KeyError, ValueError):
            break
    row_warnings.append(_("%(field)s: %(value)r is not a date; not imported.") % {"field": label, "value": value})
    return None


def derived_key(prefix: str, *parts: str) -> str:
    return f"{prefix}{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:16]}"


def copy_insert(model, objects: list) -> None:
    """Insert `objects` with PostgreSQL's COPY, ids drawn from the table's sequence first so that callers can
    refer to them (as bulk_create does). Several times faster than bulk_create for wide text rows, whose
    UNNEST arrays psycopg quotes in Python. Other databases get bulk_create."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        return
    table = model._meta.db_table
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in [model._meta.pk.column, *(field.column for field in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, len(objects)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for instance, pk in zip(objects, ids, strict=True):
                instance.pk = pk
                instance._state.adding = False
                instance._state.db = connection.alias
                copy.write_row(
                    [pk, *(field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields)]
                )


# The importer -----------------------------------------------------------------------------------------------


class Importer:
    """Subclasses set `format_name` and implement `rows(stream)`, yielding `Row`s and `Rejection`s."""

    format_name = ""
    import_comment = _("Imported from a published register.")

    def __init__(self, *, community: Community, actor=None, options: dict | None = None):
        self.community = community
        self.actor = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        self.options = options or {}

    def rows(self, stream) -> Iterable[Row | Rejection]:
        raise NotImplementedError

    # Running --------------------------------------------------------------------------------------------------

    def run(self, stream, *, dry_run: bool = False, progress: ProgressCallback | None = None, comment: str = ""):
        if not can_import(self.actor, self.community):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied(NOT_ALLOWED)
        report = ImportReport(format=self.format_name, dry_run=dry_run)
        items = list(self.rows(stream))
        report.total = len(items)
        progress = progress or (lambda done, total: None)
        progress(0, report.total)
        rows = self._validate(items, report, progress)
        with transaction.atomic():
            touched = self._write(rows, report, comment or str(self.import_comment))
            if dry_run:
                transaction.set_rollback(True)
            elif touched:
                # COPY writes bypass the services' on-change hooks: check what the file changed once it commits.
                from governance.services.compliance import compliance_check_after_commit  # governance imports registry

                compliance_check_after_commit(touched)
        progress(report.total, report.total)
        return report

    def _validate(self, items, report: ImportReport, progress: ProgressCallback) -> list[Row]:
        valid: list[Row] = []
        seen: dict[tuple[str, str], int] = {}
        for index, item in enumerate(items, 1):
            if index % PROGRESS_EVERY == 0:
                progress(index // 2, report.total)  # validation is about half the work
            if isinstance(item, Rejection):
                report.reject(item.line, item.reason, item.key)
                continue
            if not item.organization.name.strip():
                report.reject(item.line, NO_ORGANIZATION, item.external_id)
                continue
            if not str(item.system.get("name") or "").strip():
                report.reject(item.line, NO_NAME, item.external_id)
                continue
            key = (item.organization.slug, item.external_id)
            if key in seen:
                report.reject(
                    item.line,
                    DUPLICATE_KEY
                    % {"key": item.external_id, "organization": item.organization.name, "line": seen[key]},
                    item.external_id,
                )
                continue
            system = AISystem(external_id=item.external_id, **{**item.create_only, **item.system})
            try:
                system.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
                if "disclosure" in item.registration:
                    item.registration["disclosure"] = clean_disclosure(item.registration["disclosure"])
                Registration(community=self.community, **item.registration).clean_fields(
                    exclude=["system", "organization", "community"]
                )
            except ValidationError as error:
                report.reject(item.line, _format_error(error), item.external_id)
                continue
            seen[key] = item.line
            for message in item.warnings:
                report.warn(item.line, message, item.external_id)
            valid.append(item)
        return valid

    def _write(self, rows: list[Row], report: ImportReport, comment: str) -> list[int]:
        """Write the file; returns the ids of the registrations whose checks it may have changed."""
        now = timezone.now()
        events: list[AuditEvent] = []
        organizations = self._organizations(rows, report, events)
        fields = sorted({name for row in rows for name in [*row.system, *row.create_only]} | {"external_id"})
        keys = {(organizations[row.organization.slug].pk, row.external_id) for row in rows}
        existing = {
            (system.organization_id, system.external_id): system
            for system in AISystem.objects.filter(
                organization_id__in={org_id for org_id, _ in keys},
                external_id__in={external_id for _, external_id in keys},
            ).select_for_update()
        }
        created, updated, changed_fields = [], [], set()
        row_system = []
        for row in rows:
            organization = organizations[row.organization.slug]
            system = existing.get((organization.pk, row.external_id))
            values = {"external_id": row.external_id, **row.system}
            if system is None:
                system = AISystem(organization=organization, **{**row.create_only, **values})
                created.append(system)
            else:
                before = snapshot(system, values)
                after = {name: to_json_value(value) for name, value in values.items()}
                changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
                if changes:
                    for name in changes:
                        setattr(system, name, values[name])
                    system.updated_at = now
                    changed_fields.update(changes)
                    updated.append(system)
                    events.append(
                        self._event(
                            "system.updated",
                            system,
                            changes,
                            comment,
                            system_id=system.pk,
                            organization_id=organization.pk,
                        )
                    )
                else:
                    report.unchanged += 1
            row_system.append((row, system))
        copy_insert(AISystem, created)
        if updated:
            AISystem.objects.bulk_update(updated, sorted(changed_fields | {"updated_at"}), batch_size=BATCH_SIZE)
        system_fields = [name for name in fields if name in SYSTEM_FIELDS]
        for system in created:
            events.append(
                self._event(
                    "system.created",
                    system,
                    {name: [None, to_json_value(getattr(system, name))] for name in system_fields},
                    comment,
                    system_id=system.pk,
                    organization_id=system.organization_id,
                )
            )
        report.created, report.updated = len(created), len(updated)
        touched = self._registrations(row_system, report, events, comment, now)
        if updated:  # a changed system is judged again in every register it is filed in, not only this one
            touched += Registration.objects.filter(system__in=updated).values_list("pk", flat=True)
        copy_insert(AuditEvent, events)
        return touched

    def _organizations(self, rows, report, events) -> dict[str, Organization]:
        specs = {}
        for row in rows:
            specs.setdefault(row.organization.slug, row.organization)
        organizations = {org.slug: org for org in Organization.objects.filter(slug__in=list(specs))}
        missing = [
            Organization(slug=slug, name=spec.name[:200], country=spec.country, description=spec.description)
            for slug, spec in specs.items()
            if slug not in organizations
        ]
        Organization.objects.bulk_create(missing, batch_size=BATCH_SIZE)
        for organization in missing:
            organizations[organization.slug] = organization
            events.append(
                self._event(
                    "organization.created",
                    organization,
                    {name: [None, getattr(organization, name)] for name in ("slug", "name", "country", "description")},
                    str(self.import_comment),
                    organization_id=organization.pk,
                )
            )
        report.organizations_created = len(missing)
        return organizations

    def _registrations(self, row_system, report, events, comment, now) -> list[int]:
        live = {
            registration.system_id: registration
            for registration in Registration.objects.filter(
                community=self.community, system_id__in=[system.pk for _, system in row_system]
            )
            .exclude(status__in=DEAD_STATES)
            .select_for_update()
        }
        created, updated, changed_fields = [], [], set()
        for row, system in row_system:
            values = {name: row.registration[name] for name in REGISTRATION_IMPORT_FIELDS if name in row.registration}
            registration = live.get(system.pk)
            if registration is None:
                registration = Registration(
                    system=system,
                    organization_id=system.organization_id,
                    community=self.community,
                    status=RegistrationStatus.APPROVED,
                    version=1,
                    reviewer=self.actor,
                    review_comment=comment,
                    created_by=self.actor,
                    submitted_at=now,
                    decided_at=now,
                    **values,
                )
                created.append(registration)
                continue
            before = snapshot(registration, values)
            after = {name: to_json_value(value) for name, value in values.items()}
            changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
            if changes:
                for name in changes:
                    setattr(registration, name, values[name])
                registration.updated_at = now
                changed_fields.update(changes)
                updated.append(registration)
                events.append(self._registration_event("updated", registration, changes, comment))
        copy_insert(Registration, created)
        if updated:
            Registration.objects.bulk_update(updated, sorted(changed_fields | {"updated_at"}), batch_size=BATCH_SIZE)
        versions = []
        for registration in created:
            events.append(
                self._registration_event(
                    "created",
                    registration,
                    {name: [None, value] for name, value in snapshot(registration, REGISTRATION_FIELDS).items()},
                    comment,
                )
            )
            versions.append(
                RegistrationVersion(
                    registration=registration,
                    number=1,
                    snapshot=version_snapshot(registration),
                    created_by=self.actor,
                )
            )
        copy_insert(RegistrationVersion, versions)
        report.registrations_created = len(created)
        return [registration.pk for registration in (*created, *updated)]

    def _event(self, action, target, changes, comment, **ids) -> AuditEvent:
        return AuditEvent(
            actor=self.actor,
            actor_username=getattr(self.actor, "username", "") or "",
            action=action,
            target_type=target._meta.label_lower,
            target_id=target.pk,
            target_repr=str(target)[:300],
            changes=changes,
            comment=comment,
            **ids,
        )

    def _registration_event(self, action, registration, changes, comment) -> AuditEvent:
        return self._event(
            f"registration.{action}",
            registration,
            changes,
            comment,
            registration_id=registration.pk,
            system_id=registration.system_id,
            community_id=registration.community_id,
            organization_id=registration.organization_id,
        )


def _format_error(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in sorted(error.message_dict.items()))
    return " ".join(error.messages)


def read_text(stream) -> str:
    """The whole upload as text; a file that is not UTF-8 is not a register file we understand."""
    data = stream.read()
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFormatError(
            _("The file is not UTF-8 text (byte %(position)d).") % {"position": error.start}
        ) from error
