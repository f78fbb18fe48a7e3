"""Settings for `bench/dashboard.py`: production settings (DEBUG off, cached templates) rendered in-process.

Static files are served from the source folders rather than a collectstatic manifest, so the benchmark needs
no build step; the test client's host is allowed.
"""

from config.settings import *  # noqa: F403
from config.settings import ALLOWED_HOSTS, STORAGES

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
