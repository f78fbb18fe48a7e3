"""Recovering compliance runs whose work was lost with a worker (issue 5, "Reliability").

Late acknowledgement already hands a dead worker's task to another worker, but Redis does so only after
the broker's visibility timeout, which must exceed the longest task and is an hour in the settings: until
then a sweep whose worker was killed in the middle of a chunk would sit at "running". So a worker that
starts, typically because the one before it died, re-queues every unfinished chunk of every active run,
and the periodic `governance.recover_stalled_runs` re-queues the work of runs that made no progress for
`COMPLIANCE_STALLED_AFTER_SECONDS`. Chunk tasks are idempotent (a chunk is judged, written and marked done
in one transaction, and a chunk already done is skipped), so a chunk re-queued while its first message
still waits or runs costs one no-op task, never a second result or finding.

Tasks are sent by name (`governance.sweep`, `governance.check_registrations`, `governance.check_chunk`,
defined in governance/tasks.py), so this module depends on their names and arguments only.
"""

import datetime
import logging

from celery import current_app, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connections
from django.db.models import Max
from django.utils import timezone

from governance.choices import RunStatus
from governance.models import ComplianceChunk, ComplianceRun
from governance.models.compliance import ACTIVE_RUN_STATUSES

logger = logging.getLogger(__name__)


def stalled_after() -> datetime.timedelta:
    """Longer than a chunk may take (its hard time limit is five minutes), so a slow chunk is not a stall."""
    return datetime.timedelta(seconds=getattr(settings, "COMPLIANCE_STALLED_AFTER_SECONDS", 600))


def _planning_task(run: ComplianceRun) -> str:
    return "governance.check_registrations" if "registrations" in run.scope else "governance.sweep"


def recover_runs(*, stalled_for: datetime.timedelta | None = None, now=None) -> dict:
    """Re-queue the lost work of active runs; returns what was sent.

    With `stalled_for` None (a worker starting), every unfinished chunk of every running run is re-queued;
    otherwise only the work of runs with no progress (queued, started, or a chunk finished) for that long.
    A run not yet split into chunks gets its planning task again once it has waited `stalled_after()`
    (planning is idempotent too: it reuses the chunks it made).
    """
    now = now or timezone.now()
    sent = {"runs": 0, "plans": 0, "chunks": 0}
    runs = ComplianceRun.objects.filter(status__in=ACTIVE_RUN_STATUSES).annotate(
        last_chunk_at=Max("chunks__finished_at")
    )
    pending_by_run: dict[int, list[int]] = {}
    for run_id, chunk_id in ComplianceChunk.objects.filter(run__status=RunStatus.RUNNING, done=False).values_list(
        "run_id", "pk"
    ):
        pending_by_run.setdefault(run_id, []).append(chunk_id)
    for run in runs.order_by("id"):
        last_progress = max(moment for moment in (run.created_at, run.started_at, run.last_chunk_at) if moment)
        quiet_for = now - last_progress
        if stalled_for is not None and quiet_for < stalled_for:
            continue
        pending = pending_by_run.get(run.pk, [])
        if run.status == RunStatus.RUNNING and run.last_chunk_at is not None and not pending:
            # Every chunk is done but the run was not closed: any chunk task closes it (a done chunk is skipped).
            last_chunk = run.chunks.order_by("-first_id").values_list("pk", flat=True).first()
            current_app.send_task("governance.check_chunk", args=[run.pk, last_chunk])
            sent["chunks"] += 1
        elif pending:
            for chunk_id in pending:
                current_app.send_task("governance.check_chunk", args=[run.pk, chunk_id])
            sent["chunks"] += len(pending)
        elif quiet_for >= stalled_after() and not run.chunks.exists():
            current_app.send_task(_planning_task(run), args=[run.pk])
            sent["plans"] += 1
        else:
            continue
        sent["runs"] += 1
    return sent


@shared_task(name="governance.recover_stalled_runs", soft_time_limit=50, time_limit=60, acks_late=True)
def recover_stalled_runs() -> dict:
    """Periodic safety net (schedule it with beat): re-queue the work of runs stuck for a while."""
    return recover_runs(stalled_for=stalled_after())


@worker_ready.connect(dispatch_uid="governance.recovery.recover_on_worker_start")
def recover_on_worker_start(sender=None, **kwargs):
    """A starting worker re-queues what a dead one may have held, instead of waiting for the broker."""
    if not getattr(settings, "COMPLIANCE_RECOVER_ON_WORKER_START", True):
        return
    try:
        sent = recover_runs()
    except Exception:  # never keep a worker from starting; the broker's redelivery remains
        logger.exception("could not recover compliance runs at worker start")
    else:
        if sent["runs"]:
            logger.info("recovered compliance runs at worker start: %s", sent)
    finally:
        connections.close_all()  # the worker's main process does no other database work
