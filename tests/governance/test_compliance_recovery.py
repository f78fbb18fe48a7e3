"""Recovering runs whose work a dead worker held: what is re-queued, and when (governance/recovery.py).

The real-worker version of this is in test_compliance_worker.py; here the tasks sent are captured.
"""

import datetime

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from governance import recovery
from governance.choices import RunStatus, RunTrigger
from governance.models import ComplianceChunk, ComplianceRun
from tests.factories import CommunityFactory

pytestmark = pytest.mark.django_db

LONG_AGO = datetime.timedelta(hours=1)


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kwargs: calls.append((name, *args)))
    return calls


def make_run(*, status=RunStatus.RUNNING, chunks=(), age=datetime.timedelta(0), **fields):
    """A run of the given age with chunks given as (done, finished minutes ago or None)."""
    now = timezone.now()
    run = ComplianceRun.objects.create(
        trigger=fields.pop("trigger", RunTrigger.SCHEDULE),
        community=fields.pop("community", None) or CommunityFactory(),
        status=status,
        started_at=None if status == RunStatus.QUEUED else now - age,
        **fields,
    )
    ComplianceRun.objects.filter(pk=run.pk).update(created_at=now - age)
    made = []
    for index, (done, finished_minutes_ago) in enumerate(chunks):
        finished_at = (
            now - datetime.timedelta(minutes=finished_minutes_ago) if finished_minutes_ago is not None else None
        )
        made.append(
            ComplianceChunk.objects.create(
                run=run, first_id=index * 10 + 1, last_id=index * 10 + 10, size=10, done=done, finished_at=finished_at
            )
        )
    return run, made


class RecoverAtWorkerStartTests:
    def test_every_unfinished_chunk_of_a_running_run_is_requeued(self, sent):
        run, chunks = make_run(chunks=[(True, 1), (False, None), (True, 1), (False, None)])

        result = recovery.recover_runs()

        assert sent == [
            ("governance.check_chunk", run.pk, chunks[1].pk),
            ("governance.check_chunk", run.pk, chunks[3].pk),
        ]
        assert result == {"runs": 1, "plans": 0, "chunks": 2}

    def test_a_run_whose_chunks_are_all_done_gets_one_task_to_close_it(self, sent):
        run, chunks = make_run(chunks=[(True, 2), (True, 1)])

        recovery.recover_runs()

        assert sent == [("governance.check_chunk", run.pk, chunks[1].pk)]

    def test_finished_runs_are_left_alone(self, sent):
        make_run(status=RunStatus.SUCCEEDED, chunks=[(True, 1)], age=LONG_AGO)
        make_run(status=RunStatus.FAILED, chunks=[(False, None)], age=LONG_AGO)

        assert recovery.recover_runs() == {"runs": 0, "plans": 0, "chunks": 0}
        assert sent == []

    def test_an_unplanned_run_is_planned_again_only_once_it_has_waited(self, sent):
        fresh, _chunks = make_run(status=RunStatus.QUEUED)
        stuck_sweep, _chunks = make_run(status=RunStatus.QUEUED, age=LONG_AGO)
        stuck_check, _chunks = make_run(
            status=RunStatus.RUNNING, age=LONG_AGO, trigger=RunTrigger.CHANGE, scope={"registrations": [1, 2]}
        )

        recovery.recover_runs()

        assert sent == [("governance.sweep", stuck_sweep.pk), ("governance.check_registrations", stuck_check.pk)]
        assert fresh.pk not in {call[1] for call in sent}

    def test_the_setting_turns_it_off(self, sent, settings):
        make_run(chunks=[(False, None)])
        settings.COMPLIANCE_RECOVER_ON_WORKER_START = False

        recovery.recover_on_worker_start()

        assert sent == []

    def test_the_worker_ready_signal_runs_it(self, sent):
        from celery.signals import worker_ready

        run, chunks = make_run(chunks=[(False, None)])

        worker_ready.send(sender=None)

        assert sent == [("governance.check_chunk", run.pk, chunks[0].pk)]


class RecoverStalledRunsTests:
    def test_only_runs_without_progress_for_a_while_are_requeued(self, sent, settings):
        settings.COMPLIANCE_STALLED_AFTER_SECONDS = 600
        progressing, _chunks = make_run(age=LONG_AGO, chunks=[(True, 2), (False, None)])
        stalled, stalled_chunks = make_run(age=LONG_AGO, chunks=[(True, 30), (False, None)])
        just_started, _chunks = make_run(chunks=[(False, None)])

        result = recovery.recover_stalled_runs()

        assert sent == [("governance.check_chunk", stalled.pk, stalled_chunks[1].pk)]
        assert result == {"runs": 1, "plans": 0, "chunks": 1}
        assert {progressing.pk, just_started.pk}.isdisjoint({call[1] for call in sent})
