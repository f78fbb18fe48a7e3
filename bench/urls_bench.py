"""The project's URLs plus one "floor" view: the registrations page made the simplest fast way.

The floor answers `GET /bench/floor/` with the same body as the regulator's first page of
`GET /api/v1/registrations/` (same fields, same cursor link) from one hand-written SQL query, for a scope fixed
when the server starts (`BENCH_FLOOR_PATH`, the regulator's community path): no authentication, no permission
lookup, no ORM, no serializer. Whatever the API spends above it is the cost of the framework and our code.
"""

import base64
import json
import os
from urllib.parse import urlencode

from django.db import connection
from django.http import HttpResponse
from django.urls import include, path

PAGE_SIZE = 50
FLOOR_SQL = """
SELECT r.id, r.system_id, s.name, o.slug, c.slug, r.status, r.risk_tier, s.lifecycle_stage,
       r.deployment_context, r.deployment_date, r.disclosure, r.version, u.username, r.review_comment,
       r.submitted_at, r.decided_at, r.retired_at, r.created_at, r.updated_at, r.compliance_status,
       (SELECT count(*) FROM governance_finding f WHERE f.registration_id = r.id AND f.status = 'open')
FROM registry_registration r
JOIN registry_community c ON c.id = r.community_id
JOIN registry_aisystem s ON s.id = r.system_id
JOIN registry_organization o ON o.id = r.organization_id
LEFT JOIN auth_user u ON u.id = r.reviewer_id
WHERE c.path LIKE %s AND r.status <> 'draft'
ORDER BY r.id DESC
LIMIT %s
"""
FIELDS = (
    "id",
    "system",
    "system_name",
    "organization",
    "community",
    "status",
    "risk_tier",
    "lifecycle_stage",
    "deployment_context",
    "deployment_date",
    "disclosure",
    "version",
    "reviewer",
    "review_comment",
    "submitted_at",
    "decided_at",
    "retired_at",
    "created_at",
    "updated_at",
    "compliance_status",
    "open_findings",
)
DATE_FIELDS = {"deployment_date"}
DATETIME_FIELDS = {"submitted_at", "decided_at", "retired_at", "created_at", "updated_at"}


def _iso(value):
    """DRF's rendering of dates and UTC datetimes: ISO 8601, with `Z` for UTC."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def floor(request):
    scope_path = os.environ["BENCH_FLOOR_PATH"]
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [scope_path + "%", PAGE_SIZE + 1])
        rows = cursor.fetchall()
    results = []
    findings_url = request.build_absolute_uri("/api/v1/findings/")
    for row in rows[:PAGE_SIZE]:
        item = dict(zip(FIELDS, row, strict=True))
        item["findings_url"] = f"{findings_url}?registration={item['id']}"
        for name in DATE_FIELDS | DATETIME_FIELDS:
            item[name] = _iso(item[name])
        if isinstance(item["disclosure"], str):
            item["disclosure"] = json.loads(item["disclosure"])
        results.append(item)
    next_url = None
    if len(rows) > PAGE_SIZE:
        cursor_token = base64.b64encode(f"p={results[-1]['id']}".encode()).decode()
        next_url = request.build_absolute_uri("/api/v1/registrations/") + "?" + urlencode({"cursor": cursor_token})
    body = {"next": next_url, "previous": None, "results": results}
    return HttpResponse(json.dumps(body, ensure_ascii=False, separators=(",", ":")), content_type="application/json")


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("", include("config.urls")),
]
