"""`make run` with no settings: SQLite and in-process tasks, the demo checked by the compliance engine."""

import json

import pytest

from tests.config.test_settings import run_django

pytestmark = pytest.mark.slow


class EmbeddedDefaultsTests:
    def test_the_demo_is_seeded_and_swept_on_sqlite_without_a_broker(self, tmp_path):
        env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
        for command in (["migrate", "--noinput"], ["load_baselines"], ["seed_demo"]):
            result = run_django("manage.py", *command, **env)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Traceback" not in result.stderr, result.stderr

        probe = run_django(
            "manage.py",
            "shell",
            "-c",
            "import json; from governance.models import ComplianceResult, ComplianceRun; "
            "from registry.models import Registration; "
            "print(json.dumps({'results': ComplianceResult.objects.count(), "
            "'runs': sorted(set(ComplianceRun.objects.values_list('status', flat=True))), "
            "'pending': Registration.objects.exclude(status__in=['draft', 'rejected', 'retired'])"
            ".filter(compliance_status='pending', compliance__isnull=True).count()}))",
            **env,
        )
        figures = json.loads(probe.stdout.strip().splitlines()[-1])
        assert figures["results"] > 0
        assert figures["runs"] == ["succeeded"]
        assert figures["pending"] == 0  # every live registration was checked
