import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from governance import tasks
from governance.choices import RunStatus, RunTrigger
from governance.engine import live_registrations
from governance.services.compliance import SweepAlreadyRunning, compliance_run_start
from registry.choices import ComplianceStatus
from registry.models import Community


class Command(BaseCommand):
    help = "Sweep every live registration (or one community's subtree) against its rules; --wait follows it."

    def add_arguments(self, parser):
        parser.add_argument("--community", metavar="SLUG", help="Sweep this community and its descendants only.")
        parser.add_argument("--wait", action="store_true", help="Print progress until the sweep finishes.")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait at most (with --wait).")

    def handle(self, *args, community=None, wait=False, timeout=3600, **options):
        scope = None
        if community:
            scope = Community.objects.filter(slug=community).first()
            if scope is None:
                raise CommandError(f"No community with the slug '{community}'.")
        try:
            run = compliance_run_start(community=scope, trigger=RunTrigger.MANUAL)
        except SweepAlreadyRunning as error:
            raise CommandError(error.messages[0]) from error
        label = scope.slug if scope else "every community"
        self.stdout.write(f"Sweep #{run.pk} of {label} queued.")
        if settings.CELERY_TASK_ALWAYS_EAGER:
            tasks.sweep(run.pk)  # no broker: run it here (the queued message then finds it finished)
        elif not wait:
            self.stdout.write("Follow it with --wait, the API (/api/v1/compliance/runs/) or the dashboard.")
            return
        started = time.monotonic()
        last = None
        while True:
            run.refresh_from_db()
            progress = (run.status, run.done + run.failed)
            if progress != last:
                self.stdout.write(f"  {run.get_status_display().lower()}: {run.done + run.failed}/{run.total}")
                last = progress
            if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                break
            if time.monotonic() - started > timeout:
                raise CommandError(f"Sweep #{run.pk} still {run.status} after {timeout} s.")
            time.sleep(1)
        seconds = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else 0
        self.stdout.write(
            f"Sweep #{run.pk} {run.status}: {run.done}/{run.total} registrations checked, {run.failed} failed, "
            f"{run.evaluations} requirement checks, {run.changes} results changed in {seconds:.1f} s."
        )
        if run.error:
            self.stdout.write(f"Error: {run.error}")
        registrations = live_registrations()
        if scope is not None:
            registrations = registrations.filter(community__path__startswith=scope.path)
        counts = dict(
            registrations.values_list("compliance_status").annotate(n=Count("pk")).values_list("compliance_status", "n")
        )
        self.stdout.write(
            ", ".join(f"{status.label.lower()}: {counts.get(status.value, 0)}" for status in ComplianceStatus)
        )
        if run.status == RunStatus.FAILED:
            raise CommandError(f"Sweep #{run.pk} failed.")
