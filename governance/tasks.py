"""Celery tasks of the compliance engine: thin wrappers that take ids and call the services.

Every task is safe to run twice (late acknowledgement redelivers a task whose worker died): planning
reuses the chunks it made, a chunk is written and marked done in one transaction, and finishing a run is
a conditional update. Time limits stay well under the broker's visibility timeout (settings).
"""

import logging

from celery import shared_task
from django.db import OperationalError

from governance.choices import RunTrigger
from governance.services import compliance
from registry.models import Community

logger = logging.getLogger(__name__)

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


def _fan_out(run_id: int, chunk_ids: list[int], *, inline: bool = False) -> None:
    if inline:
        for chunk_id in chunk_ids:
            _check_chunk(run_id, chunk_id)
        return
    for chunk_id in chunk_ids:
        check_chunk.delay(run_id, chunk_id)


def _check_chunk(run_id: int, chunk_id: int) -> None:
    try:
        compliance.run_check_chunk(run_id=run_id, chunk_id=chunk_id)
    except OperationalError:
        raise  # the database went away: let the task be retried or redelivered
    except Exception as error:
        logger.exception("compliance run %s chunk %s failed", run_id, chunk_id)
        compliance.run_fail_chunk(run_id=run_id, chunk_id=chunk_id, error=f"{type(error).__name__}: {error}")
    compliance.run_finish(run_id=run_id)


@shared_task(name="governance.sweep", soft_time_limit=240, time_limit=300, **RELIABLE)
def sweep(run_id: int) -> None:
    """Plan a sweep and queue its chunks; the workers take them one at a time."""
    _fan_out(run_id, compliance.run_plan(run_id=run_id))


@shared_task(
    name="governance.check_chunk",
    soft_time_limit=240,
    time_limit=300,
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=True,
    **RELIABLE,
)
def check_chunk(run_id: int, chunk_id: int) -> None:
    _check_chunk(run_id, chunk_id)


@shared_task(name="governance.check_registrations", soft_time_limit=240, time_limit=300, **RELIABLE)
def check_registrations(run_id: int) -> None:
    """An on-change check: usually one chunk, judged right here to save a trip through the broker."""
    chunk_ids = compliance.run_plan(run_id=run_id)
    _fan_out(run_id, chunk_ids, inline=len(chunk_ids) <= 1)


@shared_task(name="governance.scheduled_sweep", soft_time_limit=50, time_limit=60, **RELIABLE)
def scheduled_sweep(community_slug: str | None = None) -> int | None:
    """What beat calls: start a sweep unless one of the same scope is active (then log and do nothing)."""
    community = None
    if community_slug:
        community = Community.objects.filter(slug=community_slug).first()
        if community is None:
            logger.warning("scheduled sweep: no community %r", community_slug)
            return None
    try:
        return compliance.compliance_run_start(community=community, trigger=RunTrigger.SCHEDULE).pk
    except compliance.SweepAlreadyRunning:
        logger.info("scheduled sweep of %s skipped: one is already running", community_slug or "every community")
        return None


@shared_task(name="governance.check_expiries", soft_time_limit=540, time_limit=600, **RELIABLE)
def check_expiries() -> dict:
    return compliance.compliance_check_expiries()
