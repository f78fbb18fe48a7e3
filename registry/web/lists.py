"""The registrations list and its CSV export: the same rows, from the restricting queryset and the API's filters.

Pages are numbered with OFFSET, and the total is counted only up to `COUNT_CAP` rows (a `LIMIT`ed subquery),
so the count costs the same for 1,000 or 100,000 visible registrations; past the cap the page says "more than".
"""

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.choices import ComplianceStatus, LifecycleStage, RegistrationStatus, RiskTier
from registry.exporters.registers import CHUNK_SIZE, CSV_HEADER, Echo, batched, csv_row, registration_record
from registry.models import Registration
from registry.permissions import Action, user_scope
from registry.web.communities import community_tree
from registry.web.forms import DEFAULT_SORT, SORTS, DashboardRegistrationFilterSet, sort_ordering

PAGE_SIZE = 50
DETAIL_URL_PLACEHOLDER = 987654321
COUNT_CAP = 10_000
EXPORT_HEADER = [*CSV_HEADER, "compliance_status"]
INVALID_FILTERS = _("Some filters are not valid; the list below ignores them.")
INVALID_EXPORT = _("Some filters are not valid: correct them in the list, then export again.")

# The checkbox groups of the filter form: (parameter, choices). Rendered from plain data rather than through
# CheckboxSelectMultiple's per-option templates, which cost more than the whole table on a 50-row page.
CHOICE_FILTERS = [
    ("status", RegistrationStatus),
    ("risk_tier", RiskTier),
    ("compliance_status", ComplianceStatus),
    ("lifecycle_stage", LifecycleStage),
]

# What a table row reads: registration columns, and related ones by name (joins, no model instances).
ROW_COLUMNS = ("id", "status", "risk_tier", "compliance_status", "updated_at")
ROW_RELATED_COLUMNS = {
    "name": F("system__name"),
    "lifecycle_stage": F("system__lifecycle_stage"),
    "organization_name": F("organization__name"),
    "organization_slug": F("organization__slug"),
    "community_name": F("community__name"),
}

# Column headings of the table, in order: (sort key or None, heading).
COLUMNS = [
    ("name", _("AI system")),
    ("organization", _("Organization")),
    ("community", _("Community")),
    ("status", _("Status")),
    ("risk_tier", _("Risk tier")),
    ("compliance_status", _("Compliance")),
    (None, _("Lifecycle stage")),
    ("updated_at", _("Updated")),
]


def filtered_registrations(request):
    """(filterset, queryset, sort) for the request's filters, scoped to what the user may see.

    The scope is read once and handed to `restrict()`; the community choices come from the same scope.
    """
    scope = user_scope(request.user)
    tree = community_tree(user=request.user, scope=scope)
    base = Registration.objects.restrict(request.user, Action.VIEW, scope=scope)
    filterset = DashboardRegistrationFilterSet(request.GET or None, queryset=base, request=request, tree=tree)
    sort = request.GET.get("sort", DEFAULT_SORT)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    return filterset, filterset.qs.order_by(*sort_ordering(sort)), sort


def _query_string(params, **changes) -> str:
    """The request's parameters with `changes` applied (None removes one), for sort and page links."""
    query = params.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return urlencode(query, doseq=True)


def choice_groups(filterset, params) -> list[dict]:
    """The filter form's checkbox groups with what the request checked, for the template to write out."""
    groups = []
    for name, choices in CHOICE_FILTERS:
        checked = set(params.getlist(name))
        field = filterset.form[name]
        groups.append(
            {
                "name": name,
                "label": field.label,
                "errors": field.errors if filterset.is_bound else "",
                "options": [
                    {"id": f"id_{name}_{index}", "value": value, "label": label, "checked": value in checked}
                    for index, (value, label) in enumerate(choices.choices)
                ],
            }
        )
    return groups


def community_options(tree, selected: str) -> list[dict]:
    """The community picker's options in tree order, indented by depth (written out by the template, see above)."""
    return [
        {
            "value": node.community.slug,
            "label": "\u00a0\u00a0" * node.depth + node.community.name,
            "selected": node.community.slug == selected,
        }
        for node in tree
    ]


def label_rows(rows: list[dict]) -> None:
    """What each table row shows that the query does not give: choice labels, the detail link, the date.

    Rows are plain dicts (`values()`) and labels plain strings, both computed once per page: model instances,
    `get_FOO_display` and lazy translations cost more than the query in the page's profile.
    """
    tables = {
        "status_label": ("status", {value: str(label) for value, label in RegistrationStatus.choices}),
        "risk_tier_label": ("risk_tier", {value: str(label) for value, label in RiskTier.choices}),
        "compliance_status_label": (
            "compliance_status",
            {value: str(label) for value, label in ComplianceStatus.choices},
        ),
        "lifecycle_stage_label": ("lifecycle_stage", {value: str(label) for value, label in LifecycleStage.choices}),
    }
    # One reverse() for the page (each costs more than a table row); the pk is swapped into the result.
    detail_pattern = reverse("web:registration-detail", args=[DETAIL_URL_PLACEHOLDER])
    for row in rows:
        row["detail_url"] = detail_pattern.replace(str(DETAIL_URL_PLACEHOLDER), str(row["id"]))
        for attribute, (field, labels) in tables.items():
            row[attribute] = labels.get(row[field], row[field])
        row["updated_iso"] = row["updated_at"].isoformat()
        row["updated_date"] = row["updated_at"].date().isoformat()


def _page_number(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


@login_required
def registration_list(request):
    """Every registration the user may see, filtered, searched, sorted and paged; htmx swaps only the results."""
    filterset, queryset, sort = filtered_registrations(request)
    max_page = COUNT_CAP // PAGE_SIZE
    page = min(_page_number(request.GET.get("page")), max_page)
    offset = (page - 1) * PAGE_SIZE
    rows = list(queryset.values(*ROW_COLUMNS, **ROW_RELATED_COLUMNS)[offset : offset + PAGE_SIZE + 1])
    has_next = len(rows) > PAGE_SIZE and page < max_page
    rows = rows[:PAGE_SIZE]
    label_rows(rows)
    if page == 1 and not has_next:
        total, capped = len(rows), False
    else:
        total = queryset.order_by()[: COUNT_CAP + 1].count()
        capped = total > COUNT_CAP
        total = min(total, COUNT_CAP)

    params = request.GET.copy()
    params.pop("page", None)
    columns = []
    for key, heading in COLUMNS:
        column = {"heading": heading, "key": key}
        if key:
            current = sort.lstrip("-") == key
            descending = sort.startswith("-")
            column.update(
                current=current,
                aria_sort=("descending" if descending else "ascending") if current else "none",
                url="?" + _query_string(params, sort=f"-{key}" if current and not descending else key),
            )
        columns.append(column)
    context = {
        "filterset": filterset,
        "form": filterset.form,
        "choice_groups": choice_groups(filterset, request.GET),
        "community_options": community_options(filterset.tree, request.GET.get("community", "")),
        "rows": rows,
        "columns": columns,
        "sort": sort,
        "page": page,
        "first_row": offset + 1 if rows else 0,
        "last_row": offset + len(rows),
        "total": total,
        "capped": capped,
        "previous_url": "?" + _query_string(params, page=page - 1 if page > 2 else None) if page > 1 else None,
        "next_url": "?" + _query_string(params, page=page + 1) if has_next else None,
        "first_page_url": "?" + _query_string(params),
        "export_query": _query_string(params),
        "invalid_filters": INVALID_FILTERS if filterset.is_bound and not filterset.is_valid() else None,
    }
    if request.htmx:
        # 200 even with invalid filters: htmx does not swap a 4xx response in, and the message must show.
        return render(request, "dashboard/_registration_results.html", context)
    return render(
        request, "dashboard/registration_list.html", context, status=400 if context["invalid_filters"] else 200
    )


def stream_registrations_csv(queryset):
    """The export's lines, one registration per row, read in chunks so memory stays flat on 100,000 rows.

    The columns are the community register export's (`registry.exporters.registers`, scope `all`) with the
    community of each row, since a dashboard list spans a subtree, and the compliance status.
    """
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(EXPORT_HEADER)
    queryset = queryset.select_related("system", "organization", "community")
    for registration in queryset.iterator(chunk_size=CHUNK_SIZE):
        record = registration_record(registration, scope="all")
        row = csv_row(record, community_slug=registration.community.slug)
        yield writer.writerow([*row, registration.compliance_status])


@login_required
def registration_export(request):
    """Exactly the filtered list (same parameters, same order), as a streamed CSV file."""
    filterset, queryset, _ = filtered_registrations(request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponseBadRequest(INVALID_EXPORT, content_type="text/plain; charset=utf-8")
    filename = f"registrations-{timezone.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(
        batched(stream_registrations_csv(queryset)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
