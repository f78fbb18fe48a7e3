"""Time `import_register --format omb-2025` on the whole U.S. federal inventory (issue 7: under 60 s).

    .venv/bin/python bench/import.py [--database-url postgres://postgres@127.0.0.1:5432/commons_bench_import]
                                     [--file PATH] [--syncdb]

Drops and recreates its own PostgreSQL database, migrates it (`--syncdb` builds the tables from the models
instead), creates the community `us-federal`, then times the import command as a user would run it
(process start included), and a second run of the same file, which must change nothing. Prints seconds
and rows per second for each. Not part of the test suite.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/commons_bench_import"
DEFAULT_FILE = Path("/work/shared/data/registers/us_omb_2025/2025_individually_reported_AI_use_cases.csv")
TARGET_SECONDS = 60.0


def environment(args) -> dict:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=args.database_url,
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="bench.settings_import",
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        PYTHONWARNINGS="ignore",
    )
    env.pop("CELERY_BROKER_URL", None)
    if args.syncdb:
        env["BENCH_SYNCDB"] = "1"
    return env


def recreate_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(make_conninfo(database_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def manage(env, *arguments, capture=False):
    command = [sys.executable, str(BASE_DIR / "manage.py"), *arguments]
    return subprocess.run(command, env=env, check=True, text=True, capture_output=capture, cwd=BASE_DIR)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--syncdb", action="store_true", help="Create tables from the models, not migrations.")
    args = parser.parse_args()
    env = environment(args)

    print(f"Recreating {args.database_url.rsplit('/', 1)[-1]} and migrating…")
    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput", "-v0", *(["--run-syncdb"] if args.syncdb else []))
    manage(
        env,
        "shell",
        "-c",
        "from registry.models import Community;"
        "c = Community.objects.create(slug='us-federal', name='U.S. federal', kind='nation', path='');"
        "c.path = f'{c.pk}/'; c.save()",
    )
    results = []
    for label in ("first import", "re-import (no changes)"):
        started = time.perf_counter()
        completed = manage(
            env,
            "import_register",
            "--format",
            "omb-2025",
            "--community",
            "us-federal",
            str(args.file),
            "-v0",
            capture=True,
        )
        seconds = time.perf_counter() - started
        rows = int(re.match(r"(?:Dry run: )?(\d+) rows", completed.stdout).group(1))
        results.append((label, seconds, rows))
        print(f"{label}: {seconds:.1f} s, {rows / seconds:.0f} rows/s — {completed.stdout.strip()}")
    first = results[0][1]
    verdict = "OK" if first < TARGET_SECONDS else "TOO SLOW"
    print(f"Target: the whole file in under {TARGET_SECONDS:.0f} s: {first:.1f} s, {verdict}.")
    return 0 if first < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
