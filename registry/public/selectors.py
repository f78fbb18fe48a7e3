"""Reads for the public register (issue 6): what a citizen, signed in or not, may see.

What is public is decided in one place, `registry.exporters.registers`: `export_queryset(scope="public")`
says which registrations (approved, in a community whose public register is enabled) and
`disclosure_level` which of their fields. The pages, the feed and the open-data downloads all start from
them, so a page can never show a row or a field that the CSV and JSON downloads would not.
"""

from dataclasses import dataclass

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from registry.choices import DataCategory, Disclosure, RegistrationStatus, Technique
from registry.exporters.registers import export_queryset
from registry.models import AISystem, AuditEvent, Community, Organization, Registration
from registry.models.registrations import disclosure_level
from registry.models.systems import DEFAULT_RESTRICTED_FIELDS, DISCLOSABLE_FIELDS

SORTS = {
    "name": [F("system__name").asc(), F("id").asc()],
    "-name": [F("system__name").desc(), F("id").desc()],
    "date": [F("decided_at").asc(nulls_first=True), F("id").asc()],
    "-date": [F("decided_at").desc(nulls_last=True), F("id").desc()],
}
DEFAULT_SORT = "name"
SEARCHED_SYSTEM_FIELDS = ("purpose",)  # besides the system's name and the organization's, which are always public
FEED_LENGTH = 50
FEED_ACTIONS = {"registration.approve": "approved", "registration.retire": "retired", "system.updated": "updated"}


def public_community(*, slug: str) -> Community:
    """The community whose public register is asked for; 404 when it has none."""
    return get_object_or_404(Community, slug=slug, public_register_enabled=True)


def public_communities() -> QuerySet[Community]:
    """Communities with a public register, in tree order, each with its number of public registrations."""
    approved = Q(registrations__status=RegistrationStatus.APPROVED)
    # An aggregate drops Meta.ordering, so the tree order is asked for again: a subtree's paths share a prefix.
    return (
        Community.objects.filter(public_register_enabled=True)
        .annotate(public_count=Count("registrations", filter=approved))
        .order_by("path")
    )


def public_ancestors(*, community: Community) -> QuerySet[Community]:
    """The communities above this one that keep a public register, root first, for the breadcrumbs."""
    return Community.objects.filter(pk__in=community.ancestor_ids(), public_register_enabled=True).order_by("path")


def public_subcommunities(*, community: Community) -> QuerySet[Community]:
    """The community's descendants with a public register: a region's citizens look for its cities' registers."""
    return public_communities().filter(path__startswith=community.path).exclude(pk=community.pk)


def public_field_q(field: str) -> Q:
    """Registrations whose `field` is public: the database form of `disclosure_level(...) == "public"`.

    Searching or filtering on a field that is withheld or restricted would tell the public its value, so
    every filter on a disclosable field goes through this.
    """
    marked_public = Q(**{f"disclosure__{field}__level": Disclosure.PUBLIC})
    if field in DEFAULT_RESTRICTED_FIELDS:
        return marked_public
    return marked_public | ~Q(disclosure__has_key=field)


def public_registrations(*, community: Community) -> QuerySet[Registration]:
    return export_queryset(community=community, scope="public")


def public_register_search(
    *,
    community: Community,
    q: str = "",
    organization: str = "",
    risk_tier: str = "",
    lifecycle_stage: str = "",
    sort: str = DEFAULT_SORT,
) -> QuerySet[Registration]:
    """The community's public registrations matching a citizen's search, filters and sort.

    Filters are expected to be validated by the caller (the view's form); an empty value means no filter.
    """
    queryset = public_registrations(community=community)
    if q:
        matches = Q(system__name__icontains=q) | Q(organization__name__icontains=q)
        for field in SEARCHED_SYSTEM_FIELDS:
            matches |= Q(**{f"system__{field}__icontains": q}) & public_field_q(field)
        queryset = queryset.filter(matches)
    if organization:
        queryset = queryset.filter(organization__slug=organization)
    if risk_tier:
        queryset = queryset.filter(risk_tier=risk_tier)
    if lifecycle_stage:
        queryset = queryset.filter(public_field_q("lifecycle_stage"), system__lifecycle_stage=lifecycle_stage)
    return queryset.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def public_register_organizations(*, community: Community) -> QuerySet[Organization]:
    """Organizations with at least one public registration in the community, for the filter."""
    registrations = public_registrations(community=community).filter(organization_id=OuterRef("pk"))
    return Organization.objects.filter(Exists(registrations)).order_by("name", "id")


def public_registration(*, community: Community, pk: int) -> Registration:
    """One public registration of the community; anything else (draft, rejected, elsewhere) is a 404."""
    return get_object_or_404(public_registrations(community=community), pk=pk)


@dataclass(frozen=True)
class PublicField:
    """One disclosable field as the public sees it: its value, or that it is withheld and why."""

    name: str
    label: str
    value: object
    withheld: bool
    reason: str
    kind: str  # how a page shows the value: text, list, url or date


LIST_CHOICES = {"techniques": Technique, "data_categories": DataCategory}


def _display(system: AISystem, name: str):
    if name in LIST_CHOICES:
        labels = dict(LIST_CHOICES[name].choices)
        return [labels.get(value, value) for value in getattr(system, name) or []]
    display = getattr(system, f"get_{name}_display", None)
    return display() if display else getattr(system, name)


def _kind(field) -> str:
    if field.name in LIST_CHOICES:
        return "list"
    if isinstance(field, models.URLField):
        return "url"
    if isinstance(field, models.DateField):
        return "date"
    return "text"


def public_fields(registration: Registration) -> list[PublicField]:
    """The system's public and withheld fields, in the model's order; restricted fields are left out."""
    disclosure = registration.disclosure or {}
    system = registration.system
    fields = []
    for name in DISCLOSABLE_FIELDS:
        level = disclosure_level(disclosure, name)
        if level == Disclosure.RESTRICTED:
            continue
        field = AISystem._meta.get_field(name)
        kind = _kind(field)
        if level == Disclosure.WITHHELD:
            fields.append(PublicField(name, field.verbose_name, None, True, disclosure[name].get("reason", ""), kind))
        else:
            fields.append(PublicField(name, field.verbose_name, _display(system, name), False, "", kind))
    return fields


def is_public(registration: Registration, field: str) -> bool:
    return disclosure_level(registration.disclosure or {}, field) == Disclosure.PUBLIC


def public_lifecycle_stage(registration: Registration) -> str | None:
    """The stage's label for the register's table, or None when the filer did not make it public."""
    if not is_public(registration, "lifecycle_stage"):
        return None
    return registration.system.get_lifecycle_stage_display()


@dataclass(frozen=True)
class FeedEntry:
    event: AuditEvent
    registration: Registration
    change: str  # one of FEED_ACTIONS' values


def public_feed_entries(*, community: Community, limit: int = FEED_LENGTH) -> list[FeedEntry]:
    """The latest changes to the community's public register, from the audit trail, newest first.

    Approvals and retirements are the registration's own events. Edits to a system show as updates while
    one of its registrations here was public (approved and not yet retired) and when they touch a field that
    registration publishes (the name always is); edits made before the approval, and edits to restricted or
    withheld fields, were never public news. Approved-then-retired registrations were public once, so their
    history stays in the feed.
    """
    once_public = Registration.objects.filter(
        community=community,
        status__in=[RegistrationStatus.APPROVED, RegistrationStatus.RETIRED],
        decided_at__isnull=False,
    )
    public_at_the_time = once_public.filter(
        Q(retired_at__isnull=True) | Q(retired_at__gte=OuterRef("created_at")),
        system_id=OuterRef("system_id"),
        decided_at__lte=OuterRef("created_at"),
    )
    events = list(
        AuditEvent.objects.filter(
            Q(community_id=community.pk, action__in=["registration.approve", "registration.retire"])
            | Q(Exists(public_at_the_time), action="system.updated", registration_id__isnull=True)
        ).order_by("-created_at", "-id")[: limit * 2]
    )
    registrations = list(
        once_public.filter(
            Q(pk__in={event.registration_id for event in events if event.registration_id})
            | Q(system_id__in={event.system_id for event in events if not event.registration_id})
        ).select_related("system", "organization", "community")
    )
    by_id = {registration.pk: registration for registration in registrations}
    entries = []
    for event in events:
        if event.registration_id:
            registration = by_id.get(event.registration_id)
        else:
            registration = _public_when(registrations, event)
            if registration and not any(name == "name" or is_public(registration, name) for name in event.changes):
                continue
        if registration is None:
            continue
        entries.append(FeedEntry(event, registration, FEED_ACTIONS[event.action]))
        if len(entries) == limit:
            break
    return entries


def _public_when(registrations: list[Registration], event: AuditEvent) -> Registration | None:
    """The registration of the event's system that was public when the event happened, if any."""
    for registration in registrations:
        if (
            registration.system_id == event.system_id
            and registration.decided_at <= event.created_at
            and (registration.retired_at is None or registration.retired_at >= event.created_at)
        ):
            return registration
    return None
