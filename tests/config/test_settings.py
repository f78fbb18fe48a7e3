"""Settings come from the environment; these run Django in a subprocess with a production-like environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_django(*args, **env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "S3_BUCKET", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "registry.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/commons",
}


class ProductionSettingsTests:
    def test_check_deploy_is_clean(self):
        result = run_django("manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    def test_a_missing_secret_key_is_refused(self):
        env = {**PRODUCTION, "SECRET_KEY": ""}
        result = run_django("manage.py", "check", **env)
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    @pytest.mark.parametrize(("bucket", "backend"), [("", "FileSystemStorage"), ("evidence", "S3Storage")])
    def test_evidence_storage_follows_the_environment(self, bucket, backend):
        code = "import django; django.setup(); from django.conf import settings; print(settings.STORAGES['default'])"
        result = run_django("-c", code, **PRODUCTION, S3_BUCKET=bucket, S3_ENDPOINT_URL="https://s3.example.org")
        assert result.returncode == 0, result.stderr
        assert backend in result.stdout
