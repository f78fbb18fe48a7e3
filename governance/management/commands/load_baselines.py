import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.services import version_import

BASELINES_DIR = Path(__file__).resolve().parents[2] / "baselines"


class Command(BaseCommand):
    help = "Load the global baselines shipped in governance/baselines/ (idempotent; safe in production)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Framework-version JSON files (default: every shipped baseline).")

    def handle(self, *args, files, **options):
        paths = [Path(f) for f in files] or sorted(BASELINES_DIR.glob("*.json"))
        if not paths:
            raise CommandError(f"No baseline files in {BASELINES_DIR}.")
        for path in paths:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                raise CommandError(f"{path}: cannot read JSON ({error}).") from error
            try:
                version, created = version_import(document=document, actor=None, publish=True, builtin=True)
            except ValidationError as error:
                details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                raise CommandError(f"{path.name}: {details}") from error
            state = "loaded" if created else "already present"
            self.stdout.write(
                f"{version.framework.urn} {version.version}: {state} ({version.requirements.count()} requirements)"
            )
