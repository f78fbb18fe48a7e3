"""Benchmark the registrations list API against a hand-written "floor", over real HTTP.

    .venv/bin/python bench/api_list.py [--registrations 100000] [--communities 50] [--organizations 2000]
                                       [--requests 200] [--reseed] [--explain]

What it does:
1. Creates (if missing) and migrates its own PostgreSQL database, `commons_bench`.
2. Seeds it with COPY (skipped when the data is already there; `--reseed` drops the database and starts over):
   a community tree (a nation, regions, cities), organizations, one AI system per registration, registrations
   in a mix of statuses, a regulator of one region and a filer of one organization; then VACUUM ANALYZE.
3. Starts gunicorn (`bench.settings_bench`: the project plus the floor view at `/bench/floor/`, which returns
   the regulator's first page from one raw SQL query with a fixed scope).
4. Logs in through `POST /api/v1/auth/token/`, warms up, then times N sequential keep-alive requests for each
   scenario and prints p50/p95, the ratio of the regulator's first-page p50 to the floor's, and the number of
   SQL statements each request runs. `--explain` adds, in-process, the statements the list issues with
   EXPLAIN ANALYZE of the page query and a breakdown of where a request's time goes.
5. Stops the server.

Targets (issue): regulator first page p50 <= 2x the floor, p95 < 50 ms. Not part of the test suite.
"""

import argparse
import http.client
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/commons_bench"
PASSWORD = "bench-password-not-secret"
REGULATOR, FILER, SMALL_FILER = "bench-regulator", "bench-filer", "bench-filer-small"
TARGET_RATIO, TARGET_P95_MS = 2.0, 50.0


# Environment ---------------------------------------------------------------------------------------------------


def bench_environment(args, **extra) -> dict:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=args.database_url,
        DEBUG="0",
        SECRET_KEY="bench-secret-key-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore:No directory at",  # whitenoise: no collectstatic needed for an API benchmark
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
    )
    env.pop("CELERY_BROKER_URL", None)  # tasks run in-process: the bench measures the web tier only
    env.update(extra)
    return env


def admin_conninfo(database_url: str) -> tuple[str, str]:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = conninfo_to_dict(database_url)["dbname"]
    return make_conninfo(database_url, dbname="postgres"), dbname


def prepare_database(args):
    import psycopg
    from psycopg import sql

    conninfo, dbname = admin_conninfo(args.database_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if args.reseed:
            print(f"Dropping database {dbname} (--reseed)")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            print(f"Creating database {dbname}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=bench_environment(args, DJANGO_SETTINGS_MODULE="config.settings"),
        check=True,
    )
    print(f"Migrated in {time.perf_counter() - started:.1f}s")


def setup_django(args):
    os.environ.update(bench_environment(args, DJANGO_SETTINGS_MODULE="bench.settings_bench"))
    sys.path.insert(0, str(BASE_DIR))
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


# Seeding -------------------------------------------------------------------------------------------------------

REGION_NAMES = [
    "Northmere", "Eastvale", "Southport", "Westholm", "Highlands", "Riverlands", "Coastal Plains", "Lakeshore",
    "Midlands", "Pinewood", "Stonebridge", "Fairhaven",
]  # fmt: skip
CITY_NAMES = [
    "Ashford", "Brightwater", "Cedar Falls", "Dunmore", "Elmstead", "Foxborough", "Glenrock", "Harrowgate",
    "Ironbridge", "Juniper Bay", "Kingsley", "Larkspur", "Millbrook", "Newhaven", "Oakridge", "Port Alden",
    "Queensbury", "Redcliff", "Silverton", "Thornbury", "Upton", "Valemont", "Whitby", "Yarrow", "Zephyr Point",
    "Amberly", "Blackwood", "Clearwater", "Deepdale", "Eastwick", "Fernhill", "Greystone", "Hollowmere",
    "Ivydale", "Kestrel", "Lindenfield", "Marshgate", "Northgate", "Orchard Hill", "Pebblebrook", "Ravenscar",
    "Sandown", "Tidewater", "Underhill", "Westbury",
]  # fmt: skip
ORG_STEMS = [
    "Acme", "Northwind", "Bluefield", "Civic", "Helix", "Orbital", "Quanta", "Meridian", "Lumen", "Cobalt",
    "Harbor", "Summit", "Vertex", "Nimbus", "Atlas", "Beacon", "Cascade", "Evergreen", "Granite", "Horizon",
]  # fmt: skip
ORG_KINDS = [
    "Analytics", "Health Trust", "Transit Authority", "Data Labs", "Insurance", "Bank", "Software",
    "Municipal Services", "Logistics", "Robotics", "Housing Agency", "School Board", "Police Service",
    "Energy", "Water Utility", "Tax Office", "Employment Agency", "Hospital", "University", "Telecom",
]  # fmt: skip
SYSTEM_SUBJECTS = [
    ("Benefits", "benefit claims"), ("Fraud", "suspected fraud"), ("Traffic signal", "traffic flows"),
    ("Citizen", "citizen enquiries"), ("Permit", "building permit applications"), ("Triage", "patient triage"),
    ("Parking", "parking enforcement"), ("Waste route", "waste collection routes"), ("Hiring", "job applicants"),
    ("Credit", "loan applications"), ("Tax", "tax returns"), ("Housing", "housing allocation"),
    ("Child welfare", "child welfare referrals"), ("Energy demand", "energy demand"), ("Leak", "water leaks"),
    ("Translation", "public documents"), ("Document", "incoming correspondence"), ("Crowd", "crowd density"),
]  # fmt: skip
SYSTEM_KINDS = [
    ("Risk Scoring", "scores {} by risk so that staff review the riskiest first"),
    ("Chat Assistant", "answers questions about {} in plain language"),
    ("Classifier", "sorts {} into categories for the right team"),
    ("Forecasting Model", "forecasts {} to plan staff and budgets"),
    ("Anomaly Detector", "flags unusual patterns in {} for investigation"),
    ("Optimiser", "plans the handling of {} to cut cost and delay"),
    ("Summariser", "summarises {} for caseworkers"),
    ("Recognition System", "recognises and extracts details from {}"),
]  # fmt: skip
VENDORS = ["", "OpenAI", "Microsoft", "Google", "Palantir", "IBM", "SAS", "Salesforce", "In-house", "Mistral AI"]
MODELS = ["", "GPT-4o", "Azure AI Document Intelligence", "Vertex AI", "gradient boosted trees", "Llama 3 70B"]
WEIGHTED = {
    "lifecycle_stage": {"production": 45, "pilot": 20, "development": 15, "planned": 12, "retired": 8},
    "status": {"approved": 55, "submitted": 22, "draft": 10, "changes_requested": 6, "rejected": 4, "retired": 3},
    "risk_tier": {"minimal": 45, "limited": 25, "high": 15, "unassessed": 13, "prohibited": 2},
    "operator_role": {"deployer": 60, "provider": 20, "provider_and_deployer": 20},
    "decision_role": {"decision_support": 50, "informational": 30, "automated_with_review": 15, "fully_automated": 5},
    "human_oversight": {"human_in_the_loop": 55, "human_on_the_loop": 30, "human_in_command": 10, "none": 5},
}
METHODS = ["gradient boosted", "transformer", "logistic regression", "rules plus ML"]
REVIEW_COMMENT = "Please add the DPIA and the human oversight procedure."
TECHNIQUES = ["machine_learning", "deep_learning", "large_language_model", "computer_vision", "statistical"]
DATA_CATEGORIES = ["personal", "special_category", "financial", "health", "location", "public_records"]


def slugify(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


class Picker:
    """Fast weighted choice from {value: weight}."""

    def __init__(self, rng, weights: dict):
        self.rng, self.values = rng, list(weights)
        total, self.cumulative = 0, []
        for weight in weights.values():
            total += weight
            self.cumulative.append(total)

    def __call__(self, k=None):
        if k is None:
            return self.rng.choices(self.values, cum_weights=self.cumulative)[0]
        return self.rng.choices(self.values, cum_weights=self.cumulative, k=k)


def column_plan(model, json_columns=()):
    """(column, attname, filler) per concrete field; the filler stands in for values the seed does not give."""
    from django.db import models

    plan = []
    for field in model._meta.concrete_fields:
        if field.null:
            filler = None
        elif field.has_default():
            filler = field.get_default()
            if isinstance(field, models.JSONField):
                filler = json.dumps(filler)
        elif isinstance(field, models.CharField | models.TextField):
            filler = ""
        elif isinstance(field, models.DateTimeField):
            filler = datetime.now(UTC)
        else:
            filler = KeyError  # the seed must provide it
        plan.append((field.column, field.attname, filler, isinstance(field, models.JSONField)))
    return plan


def copy_rows(cursor, model, rows) -> int:
    from psycopg import sql

    plan = column_plan(model)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(column) for column, *_ in plan)
    )
    count = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            values = []
            for column, attname, filler, is_json in plan:
                if attname in row:
                    value = row[attname]
                    values.append(json.dumps(value) if is_json and value is not None else value)
                elif filler is KeyError:
                    raise ValueError(f"{model.__name__}: no value for {column}")
                else:
                    values.append(filler)
            copy.write_row(values)
            count += 1
    return count


def seed_state(args) -> str:
    """'complete' when the requested data is there, 'empty', or 'partial'."""
    from django.contrib.auth import get_user_model

    from registry.models import Community, Organization, Registration

    counts = (Registration.objects.count(), Community.objects.count(), Organization.objects.count())
    users = get_user_model().objects.filter(username__in=[REGULATOR, FILER, SMALL_FILER]).count()
    if counts == (args.registrations, args.communities, args.organizations) and users == 3:
        return "complete"
    return "empty" if counts == (0, 0, 0) and users == 0 else "partial"


def seed(args):
    import psycopg
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from registry.models import (
        AISystem,
        Community,
        CommunityMembership,
        Organization,
        OrganizationMembership,
        Registration,
    )

    User = get_user_model()
    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    tables = [User, Community, CommunityMembership, Organization, OrganizationMembership, AISystem, Registration]

    # Communities: a nation, regions under it, cities under the regions (round-robin).
    n_regions = max(1, round(math.sqrt(args.communities - 1)))
    n_cities = args.communities - 1 - n_regions
    communities = [
        {"id": 1, "slug": "examplia", "name": "Republic of Examplia", "kind": "nation", "parent_id": None,
         "path": "1/", "jurisdiction_code": "EX"},
    ]  # fmt: skip
    for index in range(n_regions):
        community_id = 2 + index
        name = REGION_NAMES[index % len(REGION_NAMES)] + (f" {index // len(REGION_NAMES) + 1}" * (index >= 12))
        communities.append(
            {"id": community_id, "slug": f"{slugify(name)}-{community_id}", "name": f"{name} Region",
             "kind": "region", "parent_id": 1, "path": f"1/{community_id}/", "jurisdiction_code": f"EX-{index:02d}"}
        )  # fmt: skip
    for index in range(n_cities):
        community_id, region = 2 + n_regions + index, communities[1 + index % n_regions]
        name = CITY_NAMES[index % len(CITY_NAMES)] + (f" {index // len(CITY_NAMES) + 1}" * (index >= 45))
        communities.append(
            {"id": community_id, "slug": f"{slugify(name)}-{community_id}", "name": f"City of {name}",
             "kind": "city", "parent_id": region["id"], "path": f"{region['path']}{community_id}/"}
        )  # fmt: skip
    for community in communities:
        community.update(created_at=now - timedelta(days=1200), updated_at=now - timedelta(days=1200))
    regulated_region = communities[1]

    # Organizations: a long tail; organization 1 (the filer's) is the biggest filer, as large vendors are.
    organizations = []
    for index in range(args.organizations):
        organization_id = index + 1
        name = f"{ORG_STEMS[index % len(ORG_STEMS)]} {ORG_KINDS[(index // len(ORG_STEMS)) % len(ORG_KINDS)]}"
        if index >= len(ORG_STEMS) * len(ORG_KINDS):
            name += f" {index // (len(ORG_STEMS) * len(ORG_KINDS)) + 1}"
        organizations.append(
            {"id": organization_id, "slug": f"{slugify(name)}-{organization_id}", "name": name, "country": "EX",
             "website": f"https://{slugify(name)}.example", "contact_email": f"ai@{slugify(name)}.example",
             "created_at": now - timedelta(days=1100), "updated_at": now - timedelta(days=1100)}
        )  # fmt: skip
    org_picker = Picker(rng, {org["id"]: 1 / org["id"] ** 0.8 for org in organizations})
    small_org_id = args.organizations // 2

    # Users: the regulator of one region, a filer of the biggest organization, a filer of a small one, reviewers.
    password = make_password(PASSWORD)
    usernames = [REGULATOR, FILER, SMALL_FILER] + [f"bench-reviewer-{n}" for n in range(1, 9)]
    users = [
        {"id": n + 1, "username": name, "password": password, "email": f"{name}@bench.example",
         "is_active": True, "is_staff": False, "is_superuser": False, "date_joined": now}
        for n, name in enumerate(usernames)
    ]  # fmt: skip
    reviewer_ids = [user["id"] for user in users if user["username"].startswith("bench-reviewer")]
    community_memberships = [
        {"id": 1, "community_id": regulated_region["id"], "user_id": 1, "role": "regulator", "created_at": now}
    ] + [
        {"id": 2 + n, "community_id": communities[1 + n % n_regions]["id"], "user_id": reviewer_id,
         "role": "regulator", "created_at": now}
        for n, reviewer_id in enumerate(reviewer_ids)
    ]  # fmt: skip
    organization_memberships = [
        {"id": 1, "organization_id": 1, "user_id": 2, "role": "filer", "created_at": now},
        {"id": 2, "organization_id": small_org_id, "user_id": 3, "role": "filer", "created_at": now},
    ]

    # Registrations spread over the tree: cities carry most, regions and the nation some.
    community_picker = Picker(rng, {c["id"]: {"nation": 2, "region": 2, "city": 5}[c["kind"]] for c in communities})
    pickers = {name: Picker(rng, weights) for name, weights in WEIGHTED.items()}
    n = args.registrations
    span = timedelta(days=3 * 365).total_seconds()
    org_ids, community_ids = org_picker(n), community_picker(n)
    slugs_by_org = {org["id"]: org["slug"] for org in organizations}
    names_by_community = {c["id"]: c["name"] for c in communities}

    def systems_and_registrations():
        for index in range(n):
            pk = index + 1
            created = now - timedelta(
                seconds=span * (1 - index / n) - rng.random() * 60, microseconds=-rng.randrange(1, 10**6)
            )
            subject, object_phrase = rng.choice(SYSTEM_SUBJECTS)
            kind, purpose = rng.choice(SYSTEM_KINDS)
            stage = pickers["lifecycle_stage"]()
            start = (
                (created + timedelta(days=rng.randrange(10, 200))).date()
                if stage in ("production", "retired")
                else None
            )
            organization_id = org_ids[index]
            yield (
                "system",
                {
                    "id": pk,
                    "organization_id": organization_id,
                    "external_id": f"UC-{pk:06d}",
                    "name": f"{subject} {kind}" + (f" v{rng.randrange(2, 6)}" if rng.random() < 0.3 else ""),
                    "purpose": f"The system {purpose.format(object_phrase)}. It reduces manual work and waiting times.",
                    "intended_use": f"Used by caseworkers handling {object_phrase}; outputs are advisory.",
                    "benefits": "Faster handling, more consistent decisions, better use of staff time.",
                    "technical_description": f"A {rng.choice(METHODS)} model trained on historical records.",
                    "operator_role": pickers["operator_role"](),
                    "techniques": rng.sample(TECHNIQUES, rng.randrange(1, 3)),
                    "inputs": f"Case records about {object_phrase}.",
                    "data_categories": rng.sample(DATA_CATEGORIES, rng.randrange(1, 4)),
                    "outputs": "A score and the main factors behind it.",
                    "decision_role": pickers["decision_role"](),
                    "human_oversight": pickers["human_oversight"](),
                    "human_oversight_description": "A caseworker reviews every recommendation before acting on it.",
                    "affected_persons": "Residents and applicants.",
                    "topic": subject.lower(),
                    "lifecycle_stage": stage,
                    "start_date": start,
                    "end_date": start + timedelta(days=400) if stage == "retired" else None,
                    "vendor": rng.choice(VENDORS),
                    "model_name": rng.choice(MODELS),
                    "website": f"https://{slugs_by_org[organization_id]}.example/ai/{pk}",
                    "contact_name": "AI Governance Office",
                    "contact_email": f"ai@{slugs_by_org[organization_id]}.example",
                    "tags": f"{subject.lower()}, {kind.lower()}",
                    "created_at": created,
                    "updated_at": created,
                },
            )
            status = pickers["status"]()
            submitted = created + timedelta(days=rng.randrange(1, 20)) if status != "draft" else None
            decided = submitted + timedelta(days=rng.randrange(1, 30)) if status not in ("draft", "submitted") else None
            disclosure = {}
            if rng.random() < 0.15:
                disclosure = {"contact_email": {"level": "restricted", "reason": ""}}
            elif rng.random() < 0.06:
                disclosure = {"vendor": {"level": "withheld", "reason": "Commercially sensitive contract terms."}}
            community_id = community_ids[index]
            yield (
                "registration",
                {
                    "id": pk,
                    "system_id": pk,
                    "organization_id": organization_id,
                    "community_id": community_id,
                    "status": status,
                    "risk_tier": "unassessed" if status == "draft" else pickers["risk_tier"](),
                    "deployment_context": f"Deployed by {names_by_community[community_id]} for {object_phrase}.",
                    "deployment_date": start,
                    "disclosure": disclosure,
                    "version": 0 if status == "draft" else rng.randrange(1, 4),
                    "reviewer_id": rng.choice(reviewer_ids) if decided else None,
                    "review_comment": REVIEW_COMMENT if status in ("changes_requested", "rejected") else "",
                    "submitted_at": submitted,
                    "decided_at": decided,
                    "retired_at": decided + timedelta(days=90) if status == "retired" else None,
                    "created_at": created,
                    "updated_at": decided or submitted or created,
                },
            )

    systems, registrations = [], []
    for kind, row in systems_and_registrations():
        (systems if kind == "system" else registrations).append(row)

    with psycopg.connect(args.database_url) as conn, conn.cursor() as cursor:
        for model, rows in [
            (User, users),
            (Community, communities),
            (CommunityMembership, community_memberships),
            (Organization, organizations),
            (OrganizationMembership, organization_memberships),
            (AISystem, systems),
            (Registration, registrations),
        ]:
            copied = copy_rows(cursor, model, rows)
            print(f"  {model._meta.db_table}: {copied:,} rows")
        for model in tables:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT coalesce(max(id), 1) FROM {table}))", [table]
            )
    print(f"Seeded in {time.perf_counter() - started:.1f}s")


def truncate(args):
    import psycopg

    with psycopg.connect(args.database_url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'django_migrations'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def vacuum_analyze(args):
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f}s")


# The server ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, floor_path: str):
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "config.wsgi",
        "--workers", str(args.workers),
        # gthread keeps connections alive (the sync worker closes each one), as a production proxy would.
        "--worker-class", "gthread",
        "--threads", "2",
        "--keep-alive", "30",
        "--bind", f"127.0.0.1:{port}",
        "--chdir", str(BASE_DIR),
        "--log-level", "warning",
    ]  # fmt: skip
    env = bench_environment(args, DJANGO_SETTINGS_MODULE="bench.settings_bench", BENCH_FLOOR_PATH=floor_path)
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {process.returncode}")
        try:
            status, *_ = HttpClient(port).get("/bench/floor/")
            if status == 200:
                print(f"gunicorn pid {process.pid} on 127.0.0.1:{port} ({args.workers} workers, gthread)")
                return process, port
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit("gunicorn did not answer within 30 s")


def stop_server(process):
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers and exits
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    print(f"gunicorn stopped (exit status {process.returncode})")


class HttpClient:
    """One keep-alive connection; requests as if behind a TLS-terminating proxy (X-Forwarded-Proto: https)."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.connect()
        self.headers = {"Accept": "application/json", "X-Forwarded-Proto": "https"}
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def request(self, method, path, body=None, headers=None):
        headers = {**self.headers, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, payload, response.headers, (time.perf_counter() - started) * 1000

    def connect(self):
        """A fresh connection: the server drops idle ones after its keep-alive timeout."""
        if getattr(self, "connection", None):
            self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def close(self):
        self.connection.close()


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login(port: int, username: str) -> str:
    client = HttpClient(port)
    status, payload, *_ = client.request("POST", "/api/v1/auth/token/", {"username": username, "password": PASSWORD})
    client.close()
    if status != 200:
        raise SystemExit(f"login as {username}: HTTP {status} {payload[:300]!r}")
    return json.loads(payload)["token"]


def deep_cursor(client: HttpClient, pages: int) -> tuple[str, int]:
    """Follow `next` from the first page up to `pages` times; return the last URL reached and the hops taken."""
    path, hops = "/api/v1/registrations/", 0
    while hops < pages:
        status, payload, *_ = client.get(path)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}")
        next_url = json.loads(payload)["next"]
        if not next_url:
            break
        path, hops = local_path(next_url), hops + 1
    return path, hops


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


class Scenario:
    def __init__(self, label, client, path, method="GET", body=None, expect=200):
        self.label, self.client, self.path, self.method, self.body, self.expect = (
            label,
            client,
            path,
            method,
            body,
            expect,
        )
        self.samples: list[float] = []
        self.queries = "?"
        self.calls = 0

    def call(self, headers=None):
        self.calls += 1
        body = self.body(self.calls) if callable(self.body) else self.body
        status, payload, response_headers, elapsed = self.client.request(self.method, self.path, body, headers)
        if status != self.expect:
            raise SystemExit(f"{self.label}: {self.method} {self.path} answered {status}: {payload[:500]!r}")
        return payload, response_headers, elapsed

    def count_queries(self):
        self.client.connect()
        _, headers, _ = self.call({"X-Bench-Count-Queries": "1"})
        self.queries = headers.get("X-Bench-Queries", "?")

    def warm_up(self, requests: int):
        for _ in range(requests):
            self.call()


def measure(args, port: int, filer_org: str):
    tokens = {username: login(port, username) for username in (REGULATOR, FILER, SMALL_FILER)}
    clients = {username: HttpClient(port, token) for username, token in tokens.items()}
    floor_client = HttpClient(port)

    # The floor must produce exactly the regulator's first page, or the comparison means nothing.
    _, api_page, *_ = clients[REGULATOR].get("/api/v1/registrations/")
    _, floor_page, *_ = floor_client.get("/bench/floor/")
    same = json.loads(api_page) == json.loads(floor_page)
    print(f"Floor body identical to the regulator's API first page: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("the floor view does not reproduce the API page; fix it before comparing")

    deep = {}
    for username in (REGULATOR, FILER):
        deep[username] = deep_cursor(clients[username], args.deep_pages)
    run_id = f"{int(time.time())}-{os.getpid()}"

    def filing(n):
        return {
            "organization": filer_org,
            "name": f"Bench filing {run_id}-{n}",
            "purpose": "Routes incoming correspondence to the right team.",
            "operator_role": "deployer",
            "lifecycle_stage": "pilot",
            "techniques": ["natural_language_processing"],
            "data_categories": ["personal"],
        }

    scenarios = [
        Scenario("registrations p1, regulator", clients[REGULATOR], "/api/v1/registrations/"),
        Scenario("registrations p1, filer", clients[FILER], "/api/v1/registrations/"),
        Scenario("registrations p1, filer (small org)", clients[SMALL_FILER], "/api/v1/registrations/"),
        Scenario(f"registrations p{deep[REGULATOR][1] + 1}, regulator", clients[REGULATOR], deep[REGULATOR][0]),
        Scenario(f"registrations p{deep[FILER][1] + 1}, filer", clients[FILER], deep[FILER][0]),
        Scenario("POST /systems/, filer", clients[FILER], "/api/v1/systems/", "POST", filing, 201),
        Scenario("floor (raw SQL, fixed scope)", floor_client, "/bench/floor/"),
    ]
    for scenario in scenarios:
        scenario.count_queries()
        scenario.warm_up(args.warmup)
    # Round-robin, so that anything else the machine does slows every scenario alike and the ratios stay fair.
    print(f"Timing {args.requests} rounds of {len(scenarios)} requests; load average before: {load_average()}")
    for _ in range(args.requests):
        for scenario in scenarios:
            scenario.samples.append(scenario.call()[2])
    print(f"Load average after: {load_average()}")
    for client in [*clients.values(), floor_client]:
        client.close()
    return scenarios, tokens, {username: path for username, (path, _) in deep.items()}


def report(args, scenarios):
    by_label = {s.label: s for s in scenarios}
    regulator, floor = by_label["registrations p1, regulator"], by_label["floor (raw SQL, fixed scope)"]
    columns = ("min ms", "p50 ms", "p95 ms", "mean ms", "max ms", "SQL/req")
    lines = [f"{'scenario':<38} {'n':>5} " + " ".join(f"{name:>8}" for name in columns), "-" * 98]
    for s in scenarios:
        figures = (min(s.samples), percentile(s.samples, 50), percentile(s.samples, 95), statistics.fmean(s.samples))
        lines.append(
            f"{s.label:<38} {len(s.samples):>5} "
            + " ".join(f"{value:>8.2f}" for value in (*figures, max(s.samples)))
            + f" {s.queries:>8}"
        )
    ratio = percentile(regulator.samples, 50) / percentile(floor.samples, 50)
    reads = [s for s in scenarios if s.method == "GET" and s is not floor]
    worst_p95 = max(reads, key=lambda s: percentile(s.samples, 95))
    worst = percentile(worst_p95.samples, 95)
    lines += [
        "-" * 98,
        f"ratio regulator p1 p50 / floor p50: {ratio:.2f}x  (target <= {TARGET_RATIO:.0f}x: "
        f"{'met' if ratio <= TARGET_RATIO else 'MISSED'})",
        f"worst list p95: {worst:.2f} ms, {worst_p95.label}  (target < {TARGET_P95_MS:.0f} ms: "
        f"{'met' if worst < TARGET_P95_MS else 'MISSED'})",
    ]
    print("\n".join(lines))


# In-process diagnosis ------------------------------------------------------------------------------------------


def timings_ms(function, repeat: int = 50) -> tuple[float, float]:
    """(median, minimum) in ms; the minimum is the best estimate of the cost on a machine with other work."""
    function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def explain(tokens: dict, deep_paths: dict, floor_path: str):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    def explain_sql(sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            return "\n".join("      " + row[0] for row in cursor.fetchall())

    print("\n=== SQL per request (in-process, same settings, warm) ===")
    cases = [
        (REGULATOR, "/api/v1/registrations/"),
        (FILER, "/api/v1/registrations/"),
        (SMALL_FILER, "/api/v1/registrations/"),
        (REGULATOR, deep_paths[REGULATOR]),
        (FILER, deep_paths[FILER]),
    ]
    for username, path in cases:
        client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Token {tokens[username]}")
        client.get(path, secure=True, HTTP_ACCEPT="application/json")
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, secure=True, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content[:300]
        print(f"\n--- {username} GET {path}: {len(captured.captured_queries)} statements")
        for number, query in enumerate(captured.captured_queries, 1):
            sql = query["sql"]
            print(f"  [{number}] {query['time']}s  {sql[:400]}{' ...' if len(sql) > 400 else ''}")
        for query in captured.captured_queries:
            if 'FROM "registry_registration"' in query["sql"] and "LIMIT" in query["sql"]:
                print("    EXPLAIN (ANALYZE, BUFFERS) of the page query:")
                print(explain_sql(query["sql"]))

    from bench.urls_bench import FLOOR_SQL, PAGE_SIZE

    print("\n--- floor query EXPLAIN (ANALYZE, BUFFERS):")
    print(explain_sql(FLOOR_SQL, [floor_path + "%", PAGE_SIZE + 1]))
    breakdown(floor_path)


def breakdown(floor_path: str):
    """Where a regulator's first page spends its time, piece by piece, in this process."""
    from types import SimpleNamespace

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.renderers import JSONRenderer

    from bench.urls_bench import FLOOR_SQL, PAGE_SIZE
    from registry.api.serializers import RegistrationSerializer
    from registry.models import Registration
    from registry.permissions import Action, user_scope

    user = get_user_model().objects.get(username=REGULATOR)
    request = SimpleNamespace(user=user)

    def page():
        queryset = Registration.objects.restrict(user, Action.VIEW).select_related(
            "system", "community", "organization", "reviewer"
        )
        return list(queryset.order_by("-id")[: PAGE_SIZE + 1])

    with CaptureQueriesContext(connection) as captured:
        objects = page()[:PAGE_SIZE]
    page_sql = captured.captured_queries[-1]["sql"]

    def raw(sql, params=None):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()

        return run

    data = RegistrationSerializer(objects, many=True, context={"request": request}).data
    parts = [
        ("user_scope(user): memberships query", lambda: user_scope(user)),
        ("page SQL only (cursor.execute + fetchall)", raw(page_sql)),
        ("restrict() + page query + model instances", page),
        (
            "RegistrationSerializer(many=True).data, 50 rows",
            lambda: RegistrationSerializer(objects, many=True, context={"request": request}).data,
        ),
        ("JSONRenderer().render(data)", lambda: JSONRenderer().render(data)),
        ("floor SQL only (cursor.execute + fetchall)", raw(FLOOR_SQL, [floor_path + "%", PAGE_SIZE + 1])),
        ("SELECT 1 (one database round trip)", raw("SELECT 1")),
    ]
    print("\n=== Breakdown, regulator first page (in-process, 50 runs each) ===")
    print(f"  {'':<50} {'median':>8} {'min':>8}")
    for label, function in parts:
        median, minimum = timings_ms(function)
        print(f"  {label:<50} {median:5.2f} ms {minimum:5.2f} ms")


# Main ----------------------------------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--organizations", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per scenario first")
    parser.add_argument("--deep-pages", type=int, default=20, help="`next` links to follow for the deep page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed for the data")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--reseed", action="store_true", help="drop the bench database and seed it again")
    parser.add_argument("--explain", action="store_true", help="show SQL per request, EXPLAIN ANALYZE, breakdown")
    args = parser.parse_args()
    if args.communities < 3 or args.organizations < 2 or args.registrations < 1:
        parser.error("need at least 3 communities, 2 organizations and 1 registration")
    return args


def main():
    args = parse_args()
    prepare_database(args)
    setup_django(args)

    from django.contrib.auth import get_user_model

    from registry.models import CommunityMembership, OrganizationMembership, Registration
    from registry.permissions import Action

    state = seed_state(args)
    if state == "complete":
        print("Data already seeded; skipping (use --reseed to start over)")
    else:
        if state == "partial":
            print("Found data that does not match the requested sizes; truncating")
            truncate(args)
        print(
            f"Seeding {args.communities} communities, {args.organizations:,} organizations, "
            f"{args.registrations:,} systems and registrations"
        )
        seed(args)
        vacuum_analyze(args)

    users = {user.username: user for user in get_user_model().objects.filter(username__startswith="bench-")}
    region = CommunityMembership.objects.select_related("community").get(user=users[REGULATOR]).community
    filer_org = OrganizationMembership.objects.select_related("organization").get(user=users[FILER]).organization
    print(
        f"Dataset: {Registration.objects.count():,} registrations. Regulator of {region.name} (path {region.path}) "
        f"sees {Registration.objects.restrict(users[REGULATOR], Action.VIEW).count():,}; filer of {filer_org.name} "
        f"sees {Registration.objects.restrict(users[FILER], Action.VIEW).count():,}; small-org filer sees "
        f"{Registration.objects.restrict(users[SMALL_FILER], Action.VIEW).count():,}"
    )

    process, port = start_server(args, region.path)
    try:
        scenarios, tokens, deep_paths = measure(args, port, filer_org.slug)
    finally:
        stop_server(process)
    if args.explain:
        explain(tokens, deep_paths, region.path)
    print(
        f"\n=== {args.requests} sequential keep-alive requests per scenario after {args.warmup} warm-up, "
        f"gunicorn {args.workers} gthread workers, {os.cpu_count()} CPUs ==="
    )
    report(args, scenarios)


if __name__ == "__main__":
    main()
