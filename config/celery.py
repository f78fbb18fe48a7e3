"""The Celery app: `celery -A config worker` and `celery -A config beat` find it here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("commons_registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
