"""Benchmark the dashboard's overview and first list page with 100,000 registrations, against a raw-SQL floor.

    .venv/bin/python bench/dashboard.py [--registrations 100000] [--requests 60] [--reseed]

What it does:
1. Creates, migrates and seeds its own PostgreSQL database (`commons_bench_dashboard`) with the API
   benchmark's seeding (`bench/api_list.py`: a nation, regions and cities, 2,000 organizations, one system
   per registration), then spreads compliance statuses over the registrations, writes 90 days of compliance
   snapshots per community and, when a framework exists, open findings for the non-compliant ones.
2. Adds a regulator of the nation (who sees every submitted registration, about 90,000) next to the API
   benchmark's regulator of one region.
3. Renders, in-process with Django's test client and production settings (DEBUG off, cached templates),
   `GET /dashboard/?community=<nation>` (with its cached counts, and with the cache emptied before each
   request) and `GET /registrations/` for each regulator, N times after a warm-up, and prints p50/p95 of
   the server-side time, the SQL statements per request (which must not grow with rows), and the ratio
   of p50 to a floor: the same numbers from one hand-written SQL statement.

Target (issue 6): the overview and the first list page under 150 ms at p50. Not part of the test suite.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api_list

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/commons_bench_dashboard"
NATIONAL_REGULATOR = "bench-national-regulator"
TARGET_P50_MS = 150.0
TREND_DAYS = 90
COMPLIANCE_WEIGHTS = {"compliant": 55, "at_risk": 15, "non_compliant": 12, "pending": 18}

# The floors: what each page shows, computed by PostgreSQL alone in one statement for a fixed scope.
OVERVIEW_FLOOR_SQL = """
SELECT r.status, r.risk_tier, r.compliance_status, count(*)
FROM registry_registration r JOIN registry_community c ON c.id = r.community_id
WHERE c.path LIKE %(path)s AND r.status <> 'draft'
GROUP BY GROUPING SETS ((r.status), (r.risk_tier), (r.compliance_status), ())
"""
LIST_FLOOR_SQL = """
SELECT r.id, s.name, o.name, o.slug, c.name, c.slug, r.status, r.risk_tier, r.compliance_status,
       s.lifecycle_stage, r.updated_at
FROM registry_registration r
JOIN registry_community c ON c.id = r.community_id
JOIN registry_aisystem s ON s.id = r.system_id
JOIN registry_organization o ON o.id = r.organization_id
WHERE c.path LIKE %(path)s AND r.status <> 'draft'
ORDER BY r.id DESC
LIMIT 51
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--organizations", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per scenario first")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed for the data")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--reseed", action="store_true", help="drop the bench database and seed it again")
    return parser.parse_args()


def setup_django(args):
    os.environ.update(api_list.bench_environment(args, DJANGO_SETTINGS_MODULE="bench.settings_dashboard"))
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def seed_compliance(args):
    """Compliance statuses, a 90-day snapshot history per community and findings: what the overview shows."""
    import psycopg

    from governance.models import ComplianceSnapshot, Finding, Framework
    from registry.models import Community, Registration

    if Registration.objects.exclude(compliance_status="pending").exists():
        return
    started = time.perf_counter()
    rng = random.Random(args.seed)
    statuses = list(COMPLIANCE_WEIGHTS)
    cumulative = [sum(list(COMPLIANCE_WEIGHTS.values())[: i + 1]) for i in range(len(statuses))]
    with psycopg.connect(args.database_url) as conn, conn.cursor() as cursor:
        # Status by a hash of the id, weighted: one UPDATE, deterministic.
        cases = " ".join(
            f"WHEN (id * 2654435761) % 100 < {bound} THEN '{status}'"
            for status, bound in zip(statuses, cumulative, strict=True)
        )
        cursor.execute(
            f"UPDATE {Registration._meta.db_table} SET compliance_status = CASE {cases} END WHERE status <> 'draft'"
        )
        counts = dict(
            cursor.execute(
                f"SELECT community_id, count(*) FROM {Registration._meta.db_table} GROUP BY community_id"
            ).fetchall()
        )
        today = date.today()
        snapshots = []
        for community_id in Community.objects.values_list("pk", flat=True):
            total = counts.get(community_id, 0)
            for offset in range(TREND_DAYS, 0, -1):
                progress = 1 - offset / TREND_DAYS
                compliant = round(total * (0.35 + 0.2 * progress + rng.uniform(-0.02, 0.02)))
                non_compliant = round(total * (0.2 - 0.08 * progress))
                at_risk = round(total * 0.15)
                snapshots.append(
                    {
                        "community_id": community_id,
                        "date": today - timedelta(days=offset - 1),
                        "compliant": compliant,
                        "non_compliant": non_compliant,
                        "at_risk": at_risk,
                        "pending": max(0, total - compliant - non_compliant - at_risk),
                    }
                )
        api_list.copy_rows(cursor, ComplianceSnapshot, ({"id": n + 1, **row} for n, row in enumerate(snapshots)))
        print(f"  {ComplianceSnapshot._meta.db_table}: {len(snapshots):,} rows")
        framework = Framework.objects.order_by("pk").first()
        if framework is not None:
            now = datetime.now(UTC)
            severities = ["low", "medium", "high", "critical"]
            rows = (
                {
                    "id": n + 1,
                    "registration_id": registration_id,
                    "organization_id": organization_id,
                    "framework_id": framework.pk,
                    "requirement_code": "BENCH-1",
                    "title": "Bench requirement not met",
                    "severity": severities[registration_id % 4],
                    "status": "open",
                    "code": "f",
                    "opened_at": now - timedelta(days=registration_id % 60),
                    "due_on": today + timedelta(days=registration_id % 60 - 30),
                    "reopened_count": 0,
                }
                for n, (registration_id, organization_id) in enumerate(
                    Registration.objects.filter(compliance_status="non_compliant").values_list("pk", "organization_id")
                )
            )
            print(f"  {Finding._meta.db_table}: {api_list.copy_rows(cursor, Finding, rows):,} rows")
        for model in (ComplianceSnapshot, Finding):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT coalesce(max(id), 1) FROM {table}))", [table]
            )
    print(f"Compliance data seeded in {time.perf_counter() - started:.1f}s")
    api_list.vacuum_analyze(args)


def national_regulator():
    from django.contrib.auth import get_user_model

    from registry.models import Community, CommunityMembership

    nation = Community.objects.get(parent__isnull=True)
    user, _ = get_user_model().objects.get_or_create(username=NATIONAL_REGULATOR)
    CommunityMembership.objects.get_or_create(user=user, community=nation, role="regulator")
    return user, nation


class Scenario:
    def __init__(self, label, user, path, floor_sql, floor_params, cold=False, warm=False):
        from django.test import Client

        self.label, self.path, self.floor_sql, self.floor_params = label, path, floor_sql, floor_params
        # The overview caches its counts on large scopes: `cold` empties the cache before each timed request,
        # `warm` makes an untimed request first (the cold scenarios' clearing would otherwise empty it too).
        self.cold, self.warm = cold, warm
        self.client = Client()
        self.client.force_login(user)
        self.samples, self.cpu_samples, self.floor_samples, self.queries = [], [], [], 0

    def prepare(self):
        if self.cold:
            from django.core.cache import cache

            cache.clear()
        elif self.warm:
            self.client.get(self.path, secure=True)

    def render(self) -> float:
        self.prepare()
        return self.get()

    def get(self) -> float:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = self.client.get(self.path, secure=True)  # production settings redirect plain HTTP
        elapsed = (time.perf_counter() - started) * 1000
        self.last_cpu = (time.process_time() - cpu_started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{self.label}: GET {self.path} answered {response.status_code}")
        return elapsed

    def floor(self) -> float:
        from django.db import connection

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(self.floor_sql, self.floor_params)
            cursor.fetchall()
        return (time.perf_counter() - started) * 1000

    def count_queries(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.prepare()
        with CaptureQueriesContext(connection) as captured:
            self.get()
        self.queries = len(captured.captured_queries)


def main():
    args = parse_args()
    api_list.prepare_database(args)
    setup_django(args)

    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from registry.models import CommunityMembership, Registration
    from registry.permissions import Action

    state = api_list.seed_state(args)
    if state != "complete":
        if state == "partial":
            print("Found data that does not match the requested sizes; truncating")
            api_list.truncate(args)
        print(f"Seeding {args.registrations:,} registrations (bench/api_list.py's seeding)")
        api_list.seed(args)
        api_list.vacuum_analyze(args)
    seed_compliance(args)

    nation_user, nation = national_regulator()
    region_user = get_user_model().objects.get(username=api_list.REGULATOR)
    region = CommunityMembership.objects.select_related("community").get(user=region_user).community
    for user, community in ((nation_user, nation), (region_user, region)):
        visible = Registration.objects.restrict(user, Action.VIEW).count()
        print(f"{user.username} regulates {community.name} and sees {visible:,} of {Registration.objects.count():,}")

    overview, listing = reverse("web:dashboard"), reverse("web:registration-list")
    scenarios = []
    for user, community, who in ((nation_user, nation, "nation"), (region_user, region, "region")):
        params = {"path": community.path + "%"}
        overview_path = f"{overview}?community={community.slug}"
        scenarios += [
            Scenario(f"overview, {who}, warm cache", user, overview_path, OVERVIEW_FLOOR_SQL, params, warm=True),
            Scenario(f"overview, {who}, cold cache", user, overview_path, OVERVIEW_FLOOR_SQL, params, cold=True),
            Scenario(f"list p1, {who}", user, listing, LIST_FLOOR_SQL, params),
        ]  # fmt: skip
    for scenario in scenarios:
        scenario.count_queries()
        for _ in range(args.warmup):
            scenario.render()
            scenario.floor()
    print(f"Timing {args.requests} rounds; load average before: {api_list.load_average()}")
    for _ in range(args.requests):
        for scenario in scenarios:  # round-robin, so that other work on the machine slows every scenario alike
            scenario.samples.append(scenario.render())
            scenario.cpu_samples.append(scenario.last_cpu)
            scenario.floor_samples.append(scenario.floor())
    print(f"Load average after: {api_list.load_average()}")

    percentile = api_list.percentile
    header = (
        f"{'scenario':<28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'CPU p50':>8} {'SQL/req':>8} "
        f"{'floor p50':>10} {'ratio':>7}"
    )
    lines = [header, "-" * len(header)]
    for s in scenarios:
        p50, floor_p50 = percentile(s.samples, 50), percentile(s.floor_samples, 50)
        lines.append(
            f"{s.label:<28} {p50:>8.2f} {percentile(s.samples, 95):>8.2f} {statistics.fmean(s.samples):>8.2f} "
            f"{percentile(s.cpu_samples, 50):>8.2f} {s.queries:>8} {floor_p50:>10.2f} {p50 / floor_p50:>6.1f}x"
        )
    worst = max(scenarios, key=lambda s: percentile(s.samples, 50))
    worst_p50 = percentile(worst.samples, 50)
    lines += [
        "-" * len(header),
        f"worst p50: {worst_p50:.2f} ms, {worst.label} (target < {TARGET_P50_MS:.0f} ms: "
        f"{'met' if worst_p50 < TARGET_P50_MS else 'MISSED'})",
    ]
    print(f"\n=== server-side render, in-process, {args.requests} requests per scenario, {os.cpu_count()} CPUs ===")
    print("\n".join(lines))
    print("(CPU p50: this process's CPU time per request, i.e. the wall time without waiting for other processes)")


if __name__ == "__main__":
    main()
