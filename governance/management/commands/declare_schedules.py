"""Declare the compliance engine's beat schedules (django-celery-beat rows), idempotently, by name.

One nightly sweep of every community rather than one per community: community scopes nest (a nation's
sweep covers its regions and cities), so per-community sweeps would judge most registrations several
times a night, while one sweep judges each exactly once, with each community's own rule set, spread over
the workers in chunks. Regulators can still start a sweep of their community at any time.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.models import CrontabSchedule, PeriodicTask

SCHEDULES = [
    {
        "name": "compliance: nightly sweep of every community",
        "task": "governance.scheduled_sweep",
        "kwargs": {},
        "crontab": {"minute": "0", "hour": "2"},
        "description": "Judge every live registration against its community's rules.",
    },
    {
        "name": "compliance: hourly expiry check",
        "task": "governance.check_expiries",
        "kwargs": {},
        "crontab": {"minute": "15", "hour": "*"},
        "description": "Re-check registrations whose assessment, waiver or evidence expired; overdue findings.",
    },
    {
        "name": "compliance: re-queue stalled runs",
        "task": "governance.recover_stalled_runs",
        "kwargs": {},
        "crontab": {"minute": "*/10", "hour": "*"},
        "description": "Safety net: queue again the chunks of runs that made no progress (a lost message).",
    },
    {
        "name": "webhooks: re-queue lost deliveries",
        "task": "registry.requeue_webhook_deliveries",
        "kwargs": {},
        "crontab": {"minute": "*/10", "hour": "*"},
        "description": "Safety net: queue again pending webhook deliveries whose task was lost.",
    },
]


def _crontab(spec: dict) -> CrontabSchedule:
    fields = {"day_of_week": "*", "day_of_month": "*", "month_of_year": "*", **spec}
    schedule = CrontabSchedule.objects.filter(timezone=settings.TIME_ZONE, **fields).order_by("pk").first()
    return schedule or CrontabSchedule.objects.create(timezone=settings.TIME_ZONE, **fields)


class Command(BaseCommand):
    help = (
        "Create or update the compliance schedules by name (idempotent). Times edited in the admin are kept "
        "unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Also restore the default times and enable them.")

    def handle(self, *args, reset=False, **options):
        for spec in SCHEDULES:
            wanted = {"task": spec["task"], "kwargs": json.dumps(spec["kwargs"]), "description": spec["description"]}
            task = PeriodicTask.objects.filter(name=spec["name"]).first()
            if task is None:
                PeriodicTask.objects.create(name=spec["name"], crontab=_crontab(spec["crontab"]), **wanted)
                self.stdout.write(f"created: {spec['name']} ({spec['task']})")
                continue
            if reset:
                wanted.update(crontab=_crontab(spec["crontab"]), interval=None, solar=None, clocked=None, enabled=True)
            changed = [name for name, value in wanted.items() if getattr(task, name) != value]
            if not changed:
                self.stdout.write(f"unchanged: {spec['name']}")
                continue
            for name in changed:
                setattr(task, name, wanted[name])
            task.save()
            self.stdout.write(f"updated: {spec['name']} ({', '.join(changed)})")
