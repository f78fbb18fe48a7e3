"""Settings for bench/import.py: the project's, optionally with tables made from the models (--syncdb),
for a working tree whose migration graph is mid-merge."""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

if os.environ.get("BENCH_SYNCDB"):
    MIGRATION_MODULES = {app.rsplit(".", 1)[-1]: None for app in INSTALLED_APPS}
    MIGRATION_MODULES.update({label: None for label in ("auth", "contenttypes", "admin", "sessions")})
