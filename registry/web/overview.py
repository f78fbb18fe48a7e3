"""The overview of one community (with its descendants): counts, findings, the compliance trend, the latest sweep.

Every number starts from a restricting queryset, so a regulator sees the counts of what they may see and an
organization member the counts of their own organization's filings. The registrations are counted by one
GROUP BY, the findings by one conditional aggregate and the lapsed assessments by one COUNT, so the page runs
the same handful of queries at any size (bench/dashboard.py measures it with 100,000 registrations).
"""

import datetime
import hashlib
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from governance.choices import FindingStatus, Severity
from governance.models import AssessmentStatus, ComplianceRun, ComplianceSnapshot, Finding, RiskAssessment
from governance.models.compliance import ACTIVE_RUN_STATUSES
from registry.choices import CommunityRole, ComplianceStatus, RegistrationStatus, RiskTier
from registry.models import Community, Registration
from registry.permissions import OVERSIGHT_ROLES, Action, UserScope

TREND_DAYS = 90
# Views of at least this many registrations keep their counts this long (see overview_counts).
OVERVIEW_CACHE_FROM = 10_000
OVERVIEW_CACHE_SECONDS = 60
LIVE_STATUSES = [RegistrationStatus.SUBMITTED, RegistrationStatus.APPROVED, RegistrationStatus.CHANGES_REQUESTED]
BREAKDOWNS = (
    ("status", _("By status"), RegistrationStatus),
    ("risk_tier", _("By risk tier"), RiskTier),
    ("compliance_status", _("By compliance status"), ComplianceStatus),
)
TREND_SERIES = (
    ("compliant", _("Compliant"), "#1e6b34"),
    ("at_risk", _("At risk"), "#b36b00"),
    ("non_compliant", _("Non-compliant"), "#a3231a"),
    ("pending", _("Pending"), "#5f6b7a"),
)


@dataclass(frozen=True)
class Bucket:
    field: str
    value: str
    label: str
    count: int
    percent: int


def within(*, user, scope: UserScope, community_ids: list[int] | None) -> tuple[UserScope, bool]:
    """(scope, filter_needed): the user's scope cut down to a subtree, and whether rows still need an explicit
    `community_id IN subtree` filter.

    A regulator's restriction already is `community_id IN (their subtree)`; adding the picked subtree as a
    second IN list made PostgreSQL multiply the two selectivities, misjudge the row count and compare every
    row against two lists. Cutting the oversight part of the scope to the picked subtree gives the same rows
    with one list. Filings of the user's own organizations, guardian grants and superusers are not tied to
    communities in the scope, so for them the explicit filter stays.
    """
    if community_ids is None:
        return scope, False
    keep = frozenset(community_ids)
    narrowed = replace(scope, subtree_communities={role: ids & keep for role, ids in scope.subtree_communities.items()})
    return narrowed, bool(user.is_superuser or scope.organization_ids or scope.granted_registrations)


def registrations_in(*, user, scope: UserScope, community_ids: list[int] | None):
    """The registrations the overview counts: what the user may see, in the community's subtree (if any)."""
    scope, filter_needed = within(user=user, scope=scope, community_ids=community_ids)
    queryset = Registration.objects.restrict(user, Action.VIEW, scope=scope)
    return queryset.filter(community_id__in=community_ids) if filter_needed else queryset


def registration_counts(queryset) -> dict:
    """{"total": n, "<field>": {value: n}} for status, risk tier and compliance status, in one query.

    One GROUP BY over the three columns (at most 6 x 5 x 4 groups), summed here: cheaper for PostgreSQL than
    a dozen FILTERed counts, and answered by an index-only scan of `registration_overview` (COUNT(*), not
    COUNT(id): the id is not in that index, and asking for it sends every row to the table).
    """
    fields = [field for field, _title, _choices in BREAKDOWNS]
    counts = {"total": 0, **{field: {} for field in fields}}
    for row in queryset.order_by().values(*fields).annotate(count=Count("*")).values_list(*fields, "count"):
        counts["total"] += row[-1]
        for field, value in zip(fields, row, strict=False):
            counts[field][value] = counts[field].get(value, 0) + row[-1]
    return counts


def registration_breakdowns(counts: dict) -> list[tuple[str, str, list[Bucket]]]:
    """[(field, title, buckets)] in the order of each field's choices, labels in the active language."""
    total = counts["total"]
    breakdowns = []
    for field, title, choices in BREAKDOWNS:
        buckets = []
        for value, label in choices.choices:
            count = counts[field].get(value, 0)
            buckets.append(Bucket(field, value, label, count, round(100 * count / total) if total else 0))
        breakdowns.append((field, title, buckets))
    return breakdowns


def open_findings(*, user, scope: UserScope, community_ids: list[int] | None):
    scope, filter_needed = within(user=user, scope=scope, community_ids=community_ids)
    queryset = Finding.objects.restrict(user, Action.VIEW, scope=scope).filter(status=FindingStatus.OPEN)
    return queryset.filter(registration__community_id__in=community_ids) if filter_needed else queryset


def finding_counts(queryset, *, today: datetime.date) -> dict:
    """Open findings in all, past due, and by severity, in one query."""
    aggregates = {
        f"severity_{index}": Count("pk", filter=Q(severity=value)) for index, value in enumerate(Severity.values)
    }
    row = queryset.order_by().aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=today)), **aggregates)
    return {
        "open": row["open"],
        "overdue": row["overdue"],
        "by_severity": {value: row[f"severity_{index}"] for index, value in enumerate(Severity.values)},
    }


def finding_summary(counts: dict) -> dict:
    """The finding counts with severity labels, most severe first."""
    by_severity = [(value, label, counts["by_severity"].get(value, 0)) for value, label in reversed(Severity.choices)]
    return {"open": counts["open"], "overdue": counts["overdue"], "by_severity": by_severity}


def overdue_assessments(*, user, scope: UserScope, community_ids: list[int] | None, today: datetime.date):
    """Accepted assessments of live registrations whose validity has lapsed with no valid successor for the
    same instrument: the registrations that must be reassessed."""
    successor = RiskAssessment.objects.filter(
        registration_id=OuterRef("registration_id"),
        instrument=OuterRef("instrument"),
        status=AssessmentStatus.ACCEPTED,
        valid_until__gte=today,
    )
    scope, filter_needed = within(user=user, scope=scope, community_ids=community_ids)
    queryset = RiskAssessment.objects.restrict(user, Action.VIEW, scope=scope).filter(
        status=AssessmentStatus.ACCEPTED, valid_until__lt=today, registration__status__in=LIVE_STATUSES
    )
    if filter_needed:
        queryset = queryset.filter(registration__community_id__in=community_ids)
    return queryset.filter(~Exists(successor)).order_by()


def _sql(queryset) -> str:
    try:
        return str(queryset.query)
    except EmptyResultSet:  # a restriction that matches nothing
        return "-"


def overview_counts(*, user, scope: UserScope, community_ids: list[int] | None, today: datetime.date) -> dict:
    """The overview's three aggregate queries, from the cache when the same counts were made a moment ago.

    Counting a nation's 90,000 registrations is most of the page's time; a regulator reloading the
    overview does not need it recounted within a minute. The cache key is the SQL itself (restriction and
    subtree included), so two users share an entry only when they would run the very same statements.
    Views of fewer than OVERVIEW_CACHE_FROM registrations are cheap and always counted afresh.
    """
    querysets = (
        registrations_in(user=user, scope=scope, community_ids=community_ids),
        open_findings(user=user, scope=scope, community_ids=community_ids),
        overdue_assessments(user=user, scope=scope, community_ids=community_ids, today=today),
    )
    digest = hashlib.sha256("\n".join(_sql(queryset) for queryset in querysets).encode()).hexdigest()
    key = f"dashboard-overview:{today.isoformat()}:{digest}"
    counts = cache.get(key)
    if counts is not None:
        return counts
    registrations, findings, assessments = querysets
    counts = {
        "registrations": registration_counts(registrations),
        "findings": finding_counts(findings, today=today),
        "overdue_assessments": assessments.count(),
        "counted_at": timezone.now(),
        "cached": False,
    }
    if counts["registrations"]["total"] >= OVERVIEW_CACHE_FROM:
        cache.set(key, {**counts, "cached": True}, OVERVIEW_CACHE_SECONDS)
    return counts


def oversees(*, user, scope: UserScope, community: Community | None) -> bool:
    """Whether the user oversees the whole community (not only their own filings in it)."""
    if user.is_superuser:
        return True
    return community is not None and community.pk in scope.communities(*OVERSIGHT_ROLES)


def can_start_sweep(*, user, scope: UserScope, community: Community | None) -> bool:
    if community is None:
        return False
    return user.is_superuser or community.pk in scope.communities(CommunityRole.REGULATOR)


def compliance_trend(*, community_ids: list[int] | None, today: datetime.date) -> list[dict]:
    """Daily totals of the subtree's snapshots (each community's own registrations, so sums do not double count)."""
    queryset = ComplianceSnapshot.objects.filter(date__gt=today - datetime.timedelta(days=TREND_DAYS))
    if community_ids is not None:
        queryset = queryset.filter(community_id__in=community_ids)
    return list(
        queryset.values("date").annotate(**{name: Sum(name) for name, _label, _colour in TREND_SERIES}).order_by("date")
    )


def trend_chart(points: list[dict], *, width: int = 960, height: int = 240) -> dict | None:
    """Coordinates for a server-rendered SVG line chart of the trend (None when there is nothing to draw)."""
    if not points:
        return None
    left, right, top, bottom = 48, 12, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = max(max(point[name] or 0 for name, _l, _c in TREND_SERIES) for point in points) or 1
    step = plot_width / max(1, len(points) - 1)

    def x(index):
        return round(left + index * step, 1)

    def y(value):
        return round(top + plot_height - (value or 0) / peak * plot_height, 1)

    series = []
    for name, label, colour in TREND_SERIES:
        if len(points) == 1:  # one day: a flat line across the chart rather than an invisible dot
            coordinates = f"{left},{y(points[0][name])} {width - right},{y(points[0][name])}"
        else:
            coordinates = " ".join(f"{x(index)},{y(point[name])}" for index, point in enumerate(points))
        series.append({"name": name, "label": label, "colour": colour, "points": coordinates})
    ticks = [{"value": round(peak * fraction), "y": y(peak * fraction)} for fraction in (0, 0.5, 1)]
    return {
        "width": width,
        "height": height,
        "series": series,
        "ticks": ticks,
        "left": left,
        "right": width - right,
        "baseline": top + plot_height,
        "first": points[0]["date"],
        "last": points[-1]["date"],
    }


def trend_rows(points: list[dict]) -> str:
    """The figures table's rows, newest day first, written out here: 90 days of five cells cost the template
    engine more than the rest of the overview together. ISO dates: unambiguous in every language, and cheap."""
    names = [name for name, _label, _colour in TREND_SERIES]
    return format_html_join(
        "\n",
        '<tr><th scope="row">{}</th>' + '<td class="num">{}</td>' * len(names) + "</tr>",
        ((point["date"].isoformat(), *(point[name] or 0 for name in names)) for point in reversed(points)),
    )


def latest_run(*, user, scope: UserScope, community: Community | None):
    if community is None:
        return None
    return (
        ComplianceRun.objects.restrict(user, Action.VIEW, scope=scope)
        .filter(community=community)
        .select_related("created_by")
        .order_by("-id")
        .first()
    )


def community_overview(*, user, scope: UserScope, community: Community | None, community_ids: list[int] | None) -> dict:
    """Everything the overview page shows, in a bounded number of queries."""
    today = timezone.localdate()
    counts = overview_counts(user=user, scope=scope, community_ids=community_ids, today=today)
    overseer = oversees(user=user, scope=scope, community=community)
    trend = compliance_trend(community_ids=community_ids, today=today) if overseer else []
    return {
        "total": counts["registrations"]["total"],
        "breakdowns": registration_breakdowns(counts["registrations"]),
        "findings": finding_summary(counts["findings"]),
        "overdue_assessments": counts["overdue_assessments"],
        "counted_at": counts["counted_at"],
        "counts_cached": counts["cached"],
        "oversees": overseer,
        "trend": trend,
        "chart": trend_chart(trend),
        "trend_rows": trend_rows(trend),
        "run": latest_run(user=user, scope=scope, community=community),
        "can_start_sweep": can_start_sweep(user=user, scope=scope, community=community),
        "active_statuses": ACTIVE_RUN_STATUSES,
    }
