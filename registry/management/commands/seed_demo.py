"""`manage.py seed_demo`: load the demo (registry/demo.py) and print how to sign in.

Idempotent: a second run finds everything by its natural key and changes nothing. Refuses to run with
DEBUG off unless `--force` is given, because every demo account shares one published password.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.demo import DEMO_PASSWORD, USERS, DemoSeedError, demo_seed, describe_user

PRODUCTION_REFUSED = (
    "Refusing to seed demo data with DEBUG off: every demo account shares the published password "
    f"'{DEMO_PASSWORD}', which must never reach a production database. "
    "Run with DEBUG=1, or pass --force if this really is a throwaway instance."
)


class Command(BaseCommand):
    help = "Create demo communities, organizations, AI systems, registrations and accounts (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Seed even when DEBUG is off (never on a production database)."
        )
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the site runs, for the printed links."
        )

    def handle(self, *args, force=False, base_url="http://127.0.0.1:8000", **options):
        if not settings.DEBUG and not force:
            raise CommandError(PRODUCTION_REFUSED)
        try:
            report = demo_seed()
        except DemoSeedError as error:
            raise CommandError(str(error)) from error
        if report.changed:
            created = ", ".join(f"{count} {kind}" for kind, count in report.created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data created: {created}."))
        else:
            self.stdout.write(self.style.SUCCESS("Demo data already in place; nothing changed."))
        self.stdout.write(self.accounts_table(existing=report.existing_users, base_url=base_url.rstrip("/")))

    def accounts_table(self, *, existing: list[str], base_url: str) -> str:
        rows = [("Username", "Role", "Where")] + [(user.username, user.role, describe_user(user)) for user in USERS]
        widths = [max(len(row[column]) for row in rows) for column in range(2)]
        lines = ["", f"Demo accounts (password for all: {DEMO_PASSWORD})", ""]
        for index, (username, role, where) in enumerate(rows):
            lines.append(f"  {username:<{widths[0]}}  {role:<{widths[1]}}  {where}")
            if index == 0:
                lines.append(f"  {'-' * widths[0]}  {'-' * widths[1]}  {'-' * len('Where')}")
        if existing:
            lines += [
                "",
                "  Accounts that existed before this run keep their own passwords; the demo password is only",
                "  set when the seed creates an account.",
            ]
        lines += [
            "",
            f"  Admin console:  {base_url}/admin/",
            f"  API docs:       {base_url}/api/docs/",
            f"  API token:      POST {base_url}/api/v1/auth/token/ with username and password",
            "",
        ]
        return "\n".join(lines)
