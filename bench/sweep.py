"""Time a full compliance sweep through a real Celery worker and Redis (issue 5, "Performance").

    .venv/bin/python bench/sweep.py [--registrations 100000] [--requirements 100]
        [--database-url postgres://postgres@127.0.0.1:5432/commons_sweep_bench]
        [--broker redis://127.0.0.1:6379/5] [--concurrency 2]

Drops and recreates its own database, migrates it, publishes one mandatory baseline of `--requirements`
requirements (80 % checked by CEL rules over system and registration fields, 20 % needing evidence for
high-risk systems) and seeds organizations, systems, registrations and evidence with set-based
INSERT ... SELECT generate_series, so that 5-10 % of registrations fail something. Then:

1. the floor: one hand-written SQL statement computing the same result codes (the rules translated to
   CASE expressions) and writing the same `RegistrationCompliance` rows; timed, kept for comparison,
   then removed;
2. a full sweep through `celery -A config worker -c 2 --prefetch-multiplier 1` on the real broker,
   timed from the start request to the run's finish; its codes are compared with the floor's;
3. 1 % of the systems change and a second sweep writes only the deltas;
4. on-change latency: a system is updated through the service and the database is polled until the
   worker's check of its registration is visible.

Not part of the test suite. Waivers are not seeded (the floor would need them too); the engine's waiver
overlay is per registration and covered by the tests.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/commons_sweep_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/5"
TARGET_SECONDS = 30.0
TARGET_RATIO = 5.0
TARGET_LATENCY = 2.0

TEXTS = [
    "intended_use",
    "benefits",
    "technical_description",
    "inputs",
    "training_data",
    "outputs",
    "human_oversight_description",
    "affected_persons",
    "risks",
    "proportionality",
    "legal_basis",
    "topic",
    "vendor",
    "model_name",
    "contact_name",
    "contact_email",
    "tags",
    "website",
    "documentation_url",
    "privacy_assessment_url",
]
PRIMES = [7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83]

# (applies_when CEL, applies SQL, check CEL, check SQL); `s` is the system, `r` the registration.
TEMPLATES = [
    (
        'registration.risk_tier == "high"',
        "r.risk_tier = 'high'",
        'system.human_oversight in ["human_in_the_loop", "human_on_the_loop", "human_in_command"]',
        "s.human_oversight IN ('human_in_the_loop', 'human_on_the_loop', 'human_in_command')",
    ),
    (
        'system.decision_role == "fully_automated"',
        "s.decision_role = 'fully_automated'",
        'registration.risk_tier != "high"',
        "r.risk_tier <> 'high'",
    ),
    (
        '"biometric" in system.data_categories',
        "jsonb_exists(s.data_categories, 'biometric')",
        'system.human_oversight != "none"',
        "s.human_oversight <> 'none'",
    ),
    (
        "true",
        "true",
        'system.lifecycle_stage != "retired" || registration.status != "approved"',
        "(s.lifecycle_stage <> 'retired' OR r.status <> 'approved')",
    ),
    (
        'system.operator_role == "deployer"',
        "s.operator_role = 'deployer'",
        'registration.deployment_context != ""',
        "r.deployment_context <> ''",
    ),
    (
        '"large_language_model" in system.techniques',
        "jsonb_exists(s.techniques, 'large_language_model')",
        "size(system.model_name) > 0",
        "length(s.model_name) > 0",
    ),
    ('registration.risk_tier == "prohibited"', "r.risk_tier = 'prohibited'", "false", "false"),
    ("true", "true", 'system.operator_role != ""', "s.operator_role <> ''"),
]


def bench_rules(count: int) -> list[dict]:
    """The baseline's requirements, each with its SQL translation for the floor."""
    evidence = count // 5
    rules = []
    for n in range(count - evidence):
        field = TEXTS[n % len(TEXTS)]
        family = n // len(TEXTS)
        if family == 0:
            rule = (
                'registration.risk_tier != "minimal"',
                "r.risk_tier <> 'minimal'",
                f"size(system.{field}) > 0",
                f"length(s.{field}) > 0",
            )
        elif family == 1:
            rule = (
                'registration.risk_tier in ["high", "limited"]',
                "r.risk_tier IN ('high', 'limited')",
                f"size(system.{field}) >= params.min_chars",
                f"length(s.{field}) >= 10",
            )
        else:
            rule = TEMPLATES[n % len(TEMPLATES)]
        rules.append(
            {
                "code": f"R{n:03d}",
                "title": f"Bench rule {n}",
                "kind": "rule",
                "applies_when": rule[0],
                "check": rule[2],
                "severity": ["low", "medium", "high", "critical"][n % 4],
                **(
                    {
                        "parameters": [
                            {"name": "min_chars", "type": "int", "default": 10, "direction": "higher_is_stricter"}
                        ]
                    }
                    if "params.min_chars" in rule[2]
                    else {}
                ),
                "_sql": (rule[1], rule[3]),
            }
        )
    for n in range(evidence):
        rules.append(
            {
                "code": f"E{n:03d}",
                "title": f"Bench evidence {n}",
                "kind": "evidence",
                "applies_when": 'registration.risk_tier == "high"',
                "evidence": "A signed document.",
                "severity": "high",
                "_sql": ("r.risk_tier = 'high'", None),
            }
        )
    return rules


def environment(args) -> dict:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL=args.broker,
        CELERY_TASK_ALWAYS_EAGER="0",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        # Notification e-mail is queued on the same worker; the console backend would time the terminal.
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        PYTHONWARNINGS="ignore",
    )
    return env


def recreate_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(make_conninfo(database_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def insert_select(model, series: str, overrides: dict) -> int:
    """INSERT INTO model's table SELECT one row per `series` row (alias `i`), columns from `overrides`,
    else the field's default, NULL or empty text."""
    from django.db import connection, models
    from psycopg.types.json import Jsonb

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in overrides:
            expressions.append(overrides[field.column].replace("%", "%%"))
        elif isinstance(field, models.DateTimeField) and not field.null:
            expressions.append("now()")
        elif field.has_default():
            value = field.get_default()
            expressions.append("%s")
            params.append(Jsonb(value) if isinstance(field, models.JSONField) else value)
        elif field.null:
            expressions.append("NULL")
        else:
            expressions.append("''")
    source = series.replace("%", "%%")
    statement = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def seed(count: int, requirements: int):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from governance.models import Evidence
    from governance.services import version_import
    from registry.models import AISystem, Community, Organization, Registration

    admin = get_user_model().objects.create_superuser("bench", "bench@example.org", "bench-password-1")
    nation = Community.objects.create(slug="bench-nation", name="Bench nation", kind="nation", path="")
    nation.path = f"{nation.pk}/"
    nation.save(update_fields=["path"])
    regions = []
    for n in range(4):
        region = Community.objects.create(
            slug=f"bench-region-{n}", name=f"Bench region {n}", kind="region", parent=nation, path=""
        )
        region.path = f"{nation.path}{region.pk}/"
        region.save(update_fields=["path"])
        regions.append(region)
    rules = bench_rules(requirements)
    document = {
        "format": "commons-registry/framework-version@1",
        "urn": "urn:bench:sweep",
        "name": "Sweep bench baseline",
        "version": "1",
        "binding": "mandatory",
        "requirements": [{k: v for k, v in rule.items() if not k.startswith("_")} for rule in rules],
    }
    version, _created = version_import(document=document, actor=None, publish=True)
    with transaction.atomic():
        insert_select(Organization, "generate_series(1, 50) AS i", {"slug": "'bench-org-' || i", "name": "'Org ' || i"})
        first_org = Organization.objects.order_by("pk").values_list("pk", flat=True).first()

        def text(field):
            if field.endswith("url") or field == "website":
                return "'http://a.b'", f"'https://example.org/{field}/' || (i % 7)"
            if field.endswith("email"):
                return "'a@b.org'", "'contact' || (i % 7) || '@example.org'"
            return "'short'", f"'Template {field} text, variant ' || (i % 7) || ', long enough for every check.'"

        texts = {
            field: (
                f"CASE WHEN (i * {prime}) % 1000 < 3 THEN '' WHEN (i * {prime}) % 1000 < 5 THEN {text(field)[0]} "
                f"ELSE {text(field)[1]} END"
            )
            for field, prime in zip(TEXTS, PRIMES, strict=True)
        }
        systems = insert_select(
            AISystem,
            f"generate_series(1, {count}) AS i",
            {
                **texts,
                "organization_id": f"{first_org} + i % 50",
                "external_id": "'bench-' || i",
                "name": "'Bench system ' || i",
                "purpose": "'Sorting mail, case ' || (i % 11)",
                "operator_role": (
                    "CASE WHEN i % 500 = 7 THEN '' ELSE (ARRAY['provider', 'deployer', 'provider_and_deployer'])"
                    "[1 + i % 3] END"
                ),
                "human_oversight": (
                    "CASE WHEN i % 50 = 3 THEN 'none' ELSE (ARRAY['human_in_the_loop', 'human_on_the_loop', "
                    "'human_in_command'])[1 + i % 3] END"
                ),
                "decision_role": (
                    "CASE WHEN i % 20 = 0 THEN 'fully_automated' ELSE (ARRAY['informational', 'decision_support', "
                    "'automated_with_review'])[1 + i % 3] END"
                ),
                "data_categories": (
                    'CASE WHEN i % 10 = 0 THEN \'["personal", "biometric"]\'::jsonb ELSE \'["personal"]\'::jsonb END'
                ),
                "techniques": (
                    "CASE WHEN i % 4 = 0 THEN '[\"large_language_model\"]'::jsonb "
                    "ELSE '[\"machine_learning\"]'::jsonb END"
                ),
                "lifecycle_stage": "'production'",
            },
        )
        region_ids = ", ".join(str(r.pk) for r in regions)
        first_system = AISystem.objects.order_by("pk").values_list("pk", flat=True).first()
        registrations = insert_select(
            Registration,
            f"(SELECT id - {first_system} + 1 AS i, id AS system_id, organization_id "
            f"FROM registry_aisystem ORDER BY id) AS s",
            {
                "system_id": "s.system_id",
                "organization_id": "s.organization_id",
                "community_id": f"(ARRAY[{region_ids}])[1 + i % 4]",
                "status": ("CASE WHEN i % 50 = 1 THEN 'draft' WHEN i % 200 = 2 THEN 'submitted' ELSE 'approved' END"),
                "risk_tier": (
                    "CASE WHEN i % 1000 = 999 THEN 'prohibited' WHEN i % 100 < 10 THEN 'high' "
                    "WHEN i % 100 < 40 THEN 'limited' WHEN i % 100 < 70 THEN 'minimal' ELSE 'unassessed' END"
                ),
                "compliance_status": "'pending'",
                "deployment_context": "CASE WHEN i % 333 = 0 THEN '' ELSE 'Used at the front desk.' END",
                "submitted_at": "now()",
                "version": "1",
                "created_by_id": str(admin.pk),
            },
        )
        codes = ", ".join(f"'{rule['code']}'" for rule in rules if rule["kind"] == "evidence")
        first_registration = Registration.objects.order_by("pk").values_list("pk", flat=True).first()
        evidence = insert_select(
            Evidence,
            f"(SELECT r.id AS registration_id, r.id - {first_registration} + 1 AS i, c.code "
            f"FROM registry_registration r CROSS JOIN unnest(ARRAY[{codes}]::text[]) AS c(code) "
            f"WHERE r.risk_tier = 'high' AND (r.id - {first_registration} + 1) % 20 <> 0) AS e",
            {
                "registration_id": "e.registration_id",
                "framework_id": str(version.framework_id),
                "requirement_code": "e.code",
                "statement": "'Signed.'",
                "url": "'https://example.org/evidence.pdf'",
                "status": "CASE WHEN i % 40 = 5 THEN 'submitted' ELSE 'accepted' END",
                "submitted_by_id": str(admin.pk),
            },
        )
    return admin, regions, rules, {"systems": systems, "registrations": registrations, "evidence": evidence}


def floor(regions, rules) -> tuple[float, int]:
    """One set-based statement writing the same compact rows; returns (seconds, rows)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from governance.models import RuleSetItem
    from governance.services.compliance import ruleset_for

    ruleset = ruleset_for(regions[0], on=timezone.localdate())
    by_code = {rule["code"]: rule for rule in rules}
    cases = []
    for code in (
        RuleSetItem.objects.filter(ruleset=ruleset).order_by("position").values_list("requirement_code", flat=True)
    ):
        applies, check = by_code[code]["_sql"]
        if check is None:
            cases.append(
                f"CASE WHEN NOT ({applies}) THEN 'N' WHEN '{code}' = ANY(e.valid) THEN 'V' "
                f"WHEN '{code}' = ANY(e.submitted) THEN 'R' ELSE 'E' END"
            )
        else:
            cases.append(f"CASE WHEN NOT ({applies}) THEN 'N' WHEN {check} THEN 'P' ELSE 'F' END")
    statement = f"""
        INSERT INTO governance_registrationcompliance (registration_id, ruleset_id, codes, errors, checked_at, run_id)
        SELECT r.id, {ruleset.pk}, {" || ".join(cases)}, '{{}}'::jsonb, now(), NULL
        FROM registry_registration r
        JOIN registry_aisystem s ON s.id = r.system_id
        LEFT JOIN (
            SELECT registration_id,
                array_agg(requirement_code) FILTER (
                    WHERE status = 'accepted' AND (expires_on IS NULL OR expires_on > CURRENT_DATE)) AS valid,
                array_agg(requirement_code) FILTER (WHERE status = 'submitted') AS submitted
            FROM governance_evidence GROUP BY registration_id
        ) e ON e.registration_id = r.id
        WHERE r.status NOT IN ('draft', 'retired', 'rejected')
        ON CONFLICT (registration_id) DO UPDATE SET ruleset_id = EXCLUDED.ruleset_id, codes = EXCLUDED.codes,
            errors = EXCLUDED.errors, checked_at = EXCLUDED.checked_at, run_id = EXCLUDED.run_id
    """
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
        rows = cursor.rowcount
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_floor AS SELECT registration_id, codes FROM governance_registrationcompliance"
        )
        cursor.execute("TRUNCATE governance_registrationcompliance")
    return seconds, rows


def settle() -> None:
    """Vacuum, analyze and checkpoint, so the floor and the sweep both start from the same quiet database
    (not one still writing back the bulk seed, with statistics from before it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


def start_worker(env, concurrency: int) -> subprocess.Popen:
    command = [
        str(BASE_DIR / ".venv" / "bin" / "celery"),
        "-A",
        "config",
        "worker",
        "-c",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
    ]
    log = Path(tempfile.gettempdir()) / "bench-sweep-worker.log"
    print(f"Worker log: {log}")
    worker = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=log.open("w"), stderr=subprocess.STDOUT)
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return worker
    worker.terminate()
    raise SystemExit("The worker did not answer within 60 s.")


def worker_cpu_seconds(pid: int) -> float:
    """User + system CPU of the worker and its pool processes, read from /proc: unlike wall time, it does
    not depend on what else the shared machine is doing."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent's pid
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wait_for(run, timeout=600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in ("succeeded", "failed"):
            return run
        time.sleep(0.05)
    raise SystemExit(f"Run #{run.pk} did not finish in {timeout} s (status {run.status}, {run.done}/{run.total}).")


def drain(broker: str) -> float:
    """Wait until the worker has taken every queued task (notifications of the previous phase)."""
    import redis

    queue = redis.Redis.from_url(broker)
    started = time.perf_counter()
    while queue.llen("celery"):
        time.sleep(0.1)
    time.sleep(0.5)
    return time.perf_counter() - started


def sweep(label: str, worker_pid: int):
    from governance.models import ComplianceChange, Finding, RegistrationCompliance
    from governance.services.compliance import compliance_run_start

    findings_before = Finding.objects.count()
    cpu = worker_cpu_seconds(worker_pid)
    started = time.perf_counter()
    run = compliance_run_start(community=None, trigger="manual")
    wait_for(run)
    seconds = time.perf_counter() - started
    cpu = worker_cpu_seconds(worker_pid) - cpu
    states = RegistrationCompliance.objects.filter(run=run).count()
    changes = ComplianceChange.objects.filter(run=run).count()
    findings = (
        Finding.objects.filter(opened_at__gte=run.created_at).count() or Finding.objects.count() - findings_before
    )
    touched = Finding.objects.filter(closed_at__gte=run.created_at).count()
    print(
        f"{label}: {run.status} in {seconds:.2f} s; {run.done:,}/{run.total:,} registrations, "
        f"{run.evaluations:,} checks = {run.evaluations / seconds:,.0f} checks/s; rows written: "
        f"{states:,} states, {changes:,} changes, {findings:,} findings opened, {touched:,} closed; "
        f"worker CPU {cpu:.1f} s (load average {os.getloadavg()[0]:.1f})"
    )
    return run, seconds, states


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--broker", default=DEFAULT_BROKER)
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--requirements", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    env = environment(args)
    os.environ.update(env)

    print(f"Recreating {args.database_url.rsplit('/', 1)[-1]} and migrating…")
    recreate_database(args.database_url)
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--noinput", "-v0"], env=env, check=True)
    import django
    import redis

    sys.path.insert(0, str(BASE_DIR))
    django.setup()
    from django.db import connection

    from governance.models import ComplianceRun, Finding, RegistrationCompliance
    from registry.models import AISystem, Registration
    from registry.services import system_update

    started = time.perf_counter()
    admin, regions, rules, seeded = seed(args.registrations, args.requirements)
    print(f"Seeded in {time.perf_counter() - started:.1f} s: {seeded} with {len(rules)} requirements")
    # Publishing the baseline queued an on-change check (of no registration yet): drop it.
    ComplianceRun.objects.all().delete()
    redis.Redis.from_url(args.broker).flushdb()

    settle()
    floor_seconds, floor_rows = floor(regions, rules)
    settle()
    print(f"Floor (one SQL statement): {floor_seconds:.2f} s, {floor_rows:,} rows")

    worker = start_worker(env, args.concurrency)
    try:
        _run, seconds, _states = sweep("First sweep", worker.pid)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM bench_floor f FULL JOIN governance_registrationcompliance c "
                "USING (registration_id) WHERE f.codes IS DISTINCT FROM c.codes"
            )
            mismatches = cursor.fetchone()[0]
        live = Registration.objects.exclude(status__in=["draft", "retired", "rejected"])
        failing = live.exclude(compliance_status="compliant").count()
        print(
            f"  agrees with the floor: {mismatches == 0} ({mismatches} registrations differ); "
            f"{failing:,} of {live.count():,} live registrations not compliant "
            f"({100 * failing / max(live.count(), 1):.1f} %), {Finding.objects.count():,} findings"
        )
        ratio = seconds / floor_seconds
        print(
            f"  ratio to the floor: {ratio:.1f}x (target {TARGET_RATIO:.0f}x); "
            f"target {TARGET_SECONDS:.0f} s: {'met' if seconds < TARGET_SECONDS else 'MISSED'}"
        )

        print(f"  (queued notifications drained in {drain(args.broker):.1f} s)")
        sweep("Unchanged re-sweep", worker.pid)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registry_aisystem SET vendor = CASE WHEN vendor = '' THEN 'Restored vendor' ELSE '' END "
                "WHERE id % 97 = 42"
            )
            changed = cursor.rowcount
        print(f"Changed {changed:,} systems (1 %)")
        sweep("Re-sweep after 1 % change", worker.pid)
        drain(args.broker)

        latencies = []
        targets = list(live.filter(risk_tier="high").values_list("pk", "system_id")[:5])
        for registration_id, system_id in targets:
            before = RegistrationCompliance.objects.get(registration_id=registration_id).codes
            system = AISystem.objects.get(pk=system_id)
            started = time.perf_counter()
            system_update(system=system, actor=admin, vendor="" if system.vendor else "Back again")
            while RegistrationCompliance.objects.get(registration_id=registration_id).codes == before:
                if time.perf_counter() - started > 30:
                    raise SystemExit("The on-change check did not arrive within 30 s.")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
        print(
            f"On-change check visible after {statistics.median(latencies) * 1000:.0f} ms median, "
            f"{max(latencies) * 1000:.0f} ms max over {len(latencies)} changes (target {TARGET_LATENCY:.0f} s)"
        )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


if __name__ == "__main__":
    main()
