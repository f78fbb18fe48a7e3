"""`manage.py import_register --format FORMAT --community SLUG FILE [--dry-run] [--mapping M.json] [--user U]`."""

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from registry.importers import FORMATS, ImportFormatError, importer_class
from registry.importers.csv_mapping import MappingError
from registry.models import Community


class Command(BaseCommand):
    help = "Import a published register file into a community's register (idempotent; all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("--community", required=True, help="The community's slug.")
        parser.add_argument("--mapping", help="Column mapping (JSON file), for --format csv.")
        parser.add_argument("--user", help="Record this user as the actor (must be staff or a regulator).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--report", help="Write the full JSON report to this file.")

    def handle(self, *args, file, format, community, mapping, user, dry_run, report, verbosity, **options):
        community_obj = Community.objects.filter(slug=community).first()
        if community_obj is None:
            raise CommandError(f"No community with slug {community!r}.")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {user!r}.")
        import_options = {}
        if mapping:
            with open(mapping, encoding="utf-8") as handle:
                import_options["mapping"] = json.load(handle)
        elif format == "csv":
            raise CommandError("--format csv needs --mapping.")

        def progress(done, total):
            if verbosity >= 1 and total:
                sys.stderr.write(f"\r{done}/{total} rows ({100 * done // total}%)")
                sys.stderr.flush()

        try:
            importer = importer_class(format)(community=community_obj, actor=actor, options=import_options)
            with open(file, "rb") as stream:
                result = importer.run(stream, dry_run=dry_run, progress=progress)
        except (ImportFormatError, MappingError) as error:
            raise CommandError(str(error)) from error
        if verbosity >= 1:
            sys.stderr.write("\n")
        data = result.as_dict()
        if report:
            with open(report, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, ensure_ascii=False)
        self.stdout.write(
            ("Dry run: " if dry_run else "")
            + f"{data['total']} rows: {data['systems_created']} systems created, {data['systems_updated']} updated, "
            f"{data['systems_unchanged']} unchanged, {data['rejected_count']} rejected; "
            f"{data['organizations_created']} organizations and {data['registrations_created']} registrations created; "
            f"{len(data['warnings'])} warnings."
        )
        if verbosity >= 2:
            for item in data["rejected"]:
                self.stdout.write(f"line {item['line']}: rejected: {item['reason']}")
