"""The compliance engine with a real Celery worker and the real Redis broker (issue 5, "Reliability").

Eager mode runs tasks inline and proves nothing about delivery, so these tests start `celery -A config
worker` as a subprocess against the test database, publish to Redis, and kill the worker with SIGKILL in
the middle of a sweep. They are transactional: the worker only sees committed rows.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import Count

from config.celery import app as celery_app
from governance import services, tasks
from governance.choices import RunStatus, RunTrigger
from governance.models import ComplianceChunk, ComplianceResult, ComplianceRun, Finding, RegistrationCompliance
from governance.services import compliance
from registry.choices import RegistrationStatus, RiskTier
from registry.models import AISystem, Registration
from tests.factories import CommunityFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)

BROKER_URL = "redis://127.0.0.1:6379/7"
WORKER_SETTINGS = "tests.governance.compliance_worker_settings"
REPO = Path(__file__).resolve().parents[2]
LIVE, DRAFTS, HIGH_RISK_EVERY = 300, 5, 7
CHUNK_SIZE = 10

DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:worker",
    "name": "Worker",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "W1", "title": "Always met", "kind": "rule", "check": "true", "severity": "low"},
        {
            "code": "W2",
            "title": "Not high risk",
            "kind": "rule",
            "check": 'registration.risk_tier != "high"',
            "severity": "high",
        },
        {
            "code": "W3",
            "title": "Described deployment",
            "kind": "rule",
            "check": 'registration.deployment_context != ""',
            "severity": "medium",
        },
    ],
}


class Broker:
    """The Redis keys of this test's broker: all under a prefix of its own, so that test runs sharing the
    Redis server (other sessions on a shared machine, parallel CI jobs) never take each other's tasks."""

    def __init__(self):
        import redis

        self.prefix = f"commons-test-{uuid.uuid4().hex[:12]}:"
        self.client = redis.Redis.from_url(BROKER_URL)

    def unacked(self) -> dict[bytes, bytes]:
        """Messages a worker has taken and not acknowledged, by delivery tag."""
        return self.client.hgetall(f"{self.prefix}unacked")

    def queued(self) -> int:
        return self.client.llen(f"{self.prefix}celery")

    def close(self):
        for key in self.client.scan_iter(match=f"{self.prefix}*"):
            self.client.delete(key)
        self.client.close()


@pytest.fixture
def broker(monkeypatch):
    """Publish to Redis, not in-process, under this test's own key prefix."""
    broker = Broker()
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER_URL)  # Celery's conf reads this variable before its own
    names = ("broker_url", "task_always_eager", "broker_transport_options")
    saved = {name: celery_app.conf[name] for name in names}
    celery_app.conf.update(
        broker_url=BROKER_URL, task_always_eager=False, broker_transport_options={"global_keyprefix": broker.prefix}
    )
    _drop_connections()
    yield broker
    celery_app.conf.update(saved)
    _drop_connections()
    broker.close()


def _drop_connections():
    """Forget the app's broker connection pools, so the next publish connects to the broker configured now.

    Only the references are dropped: kombu keeps pools per broker URL process-wide, and a closed one would
    be handed back the next time that URL is used."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Worker:
    """`celery -A config worker` in its own process group, logging to a file shown when a test fails."""

    def __init__(self, tmp_path: Path, name: str, broker: Broker, **settings_env):
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "TEST_WORKER_KEY_PREFIX": broker.prefix,
            **settings_env,
        }
        self.log = tmp_path / f"{name}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={name}@%h",
                "--loglevel=INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self):
        """SIGKILL: no warm shutdown, no acknowledgement, no message handed back to the broker."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def ready(self) -> bool:
        return b" ready." in self.log.read_bytes()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def workers(tmp_path, broker):
    started = []

    def start(name, **settings_env):
        worker = Worker(tmp_path, name, broker, **settings_env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition, *, timeout, workers=(), what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    logs = "\n".join(f"--- {w.log.name}\n{w.output()}" for w in workers)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")


@pytest.fixture
def register():
    """One community with LIVE submitted registrations (every HIGH_RISK_EVERY-th high risk) and a few drafts.

    Tests ask for it before `broker`: publishing the framework queues an on-change check of every
    registration, which then runs in-process while there is none yet, instead of waiting in Redis for the
    worker and judging everything before the sweep under test.
    """
    services.version_import(document=DOCUMENT, actor=None, publish=True)
    community = CommunityFactory(slug="swept")
    organization = OrganizationFactory()
    systems = AISystem.objects.bulk_create(
        AISystem(organization=organization, name=f"System {n}", purpose="Sorting mail.") for n in range(LIVE + DRAFTS)
    )
    Registration.objects.bulk_create(
        Registration(
            system=system,
            organization=organization,
            community=community,
            status=RegistrationStatus.SUBMITTED if n < LIVE else RegistrationStatus.DRAFT,
            risk_tier=RiskTier.HIGH if n % HIGH_RISK_EVERY == 0 else RiskTier.LIMITED,
            deployment_context="Front desk.",
        )
        for n, system in enumerate(systems)
    )
    return community


def assert_complete_exactly_once(run: ComplianceRun, community):
    live = set(
        Registration.objects.filter(community=community, status=RegistrationStatus.SUBMITTED).values_list(
            "pk", flat=True
        )
    )
    assert len(live) == LIVE
    assert (run.status, run.total, run.done, run.failed, run.error) == (RunStatus.SUCCEEDED, LIVE, LIVE, 0, "")
    assert not ComplianceChunk.objects.filter(run=run, done=False).exists()
    # One compact state row per live registration (none for drafts), so one result per check in the view.
    assert set(RegistrationCompliance.objects.values_list("registration_id", flat=True)) == live
    results = ComplianceResult.objects.filter(registration__community=community)
    assert results.count() == LIVE * len(DOCUMENT["requirements"])
    assert not results.values("id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not results.values("registration_id", "requirement_code").annotate(n=Count("id")).filter(n__gt=1).exists()
    failing = set(Registration.objects.filter(pk__in=live, risk_tier=RiskTier.HIGH).values_list("pk", flat=True))
    assert set(results.filter(status="fail").values_list("registration_id", flat=True)) == failing
    # One finding per failing check: a redelivered chunk opened none twice.
    findings = Finding.objects.filter(registration__community=community)
    assert findings.count() == len(failing)
    assert set(findings.values_list("registration_id", flat=True)) == failing
    assert set(findings.values_list("requirement_code", flat=True)) == {"W2"}


def held_chunks(broker) -> list[int]:
    """Chunks whose task message a worker has taken and not acknowledged (Redis keeps them in `unacked`)."""
    held = []
    for raw in broker.unacked().values():
        message, _exchange, _routing_key = json.loads(raw)
        if message["headers"].get("task") == "governance.check_chunk":
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            held.append(args[1])
    return held


def sweep_and_kill_in_the_middle(broker, workers, community, monkeypatch, **settings_env):
    """Start a sweep of small chunks and SIGKILL its worker in the middle of one, some chunks done.

    The test holds the row lock of the fifth chunk, so the worker finishes four, then takes the fifth's
    message and waits inside its transaction: killed there, the chunk is neither written nor acknowledged.
    """
    monkeypatch.setattr(compliance, "CHUNK_SIZE", CHUNK_SIZE)
    # Queue the sweep and plan it here with small chunks; the worker's planning task then finds the chunks
    # made (planning is idempotent) and fans them out.
    run = compliance.compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
    pending = compliance.run_plan(run_id=run.pk)
    assert len(pending) == LIVE // CHUNK_SIZE
    chunks = ComplianceChunk.objects.filter(run=run)
    target = pending[4]

    with transaction.atomic():
        ComplianceChunk.objects.select_for_update().get(pk=target)
        first = workers("first", **settings_env)
        wait_for(
            lambda: target in held_chunks(broker),
            timeout=30,
            workers=[first],
            what="the first worker to reach the fifth chunk",
        )
        first.kill()

    assert held_chunks(broker) == [target]
    assert list(chunks.filter(done=True).values_list("pk", flat=True)) == pending[:4]
    assert ComplianceRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    return run, set(broker.unacked()), first


class WorkerReliabilityTests:
    def test_the_broker_redelivers_the_chunk_a_sigkilled_worker_held(self, register, broker, workers, monkeypatch):
        # No help from the recovery at worker start: late acknowledgement and the visibility timeout alone.
        run, lost, first = sweep_and_kill_in_the_middle(
            broker, workers, register, monkeypatch, TEST_WORKER_RECOVERY="0"
        )

        second = workers("second", TEST_WORKER_RECOVERY="0")
        wait_for(
            lambda: ComplianceRun.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            timeout=40,
            workers=[first, second],
            what="the second worker to finish the run",
        )

        assert_complete_exactly_once(ComplianceRun.objects.get(pk=run.pk), register)
        assert not lost & set(broker.unacked())  # the dead worker's delivery was handed out again

    def test_a_new_worker_requeues_what_a_sigkilled_worker_held(self, register, broker, workers, monkeypatch):
        # The production visibility timeout (an hour): only governance.recovery can finish the run in time.
        run, lost, first = sweep_and_kill_in_the_middle(
            broker, workers, register, monkeypatch, TEST_WORKER_VISIBILITY_TIMEOUT="3600"
        )

        second = workers("second", TEST_WORKER_VISIBILITY_TIMEOUT="3600")
        wait_for(
            lambda: ComplianceRun.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            timeout=40,
            workers=[first, second],
            what="the second worker to finish the run",
        )

        assert_complete_exactly_once(ComplianceRun.objects.get(pk=run.pk), register)
        # The dead worker's delivery is still unacknowledged: the broker never handed it out again.
        assert lost <= set(broker.unacked())

    def test_beat_ticks_while_a_sweep_runs_start_nothing(self, register, broker, workers):
        community = register
        busy, idle = workers("busy"), workers("idle")
        wait_for(lambda: busy.ready() and idle.ready(), timeout=30, workers=[busy, idle], what="two workers")
        last = Registration.objects.filter(community=community, status=RegistrationStatus.SUBMITTED).last()

        with transaction.atomic():
            # Hold one registration's row: the sweep's chunk waits when it writes that registration, so the
            # run stays running, in the middle of its chunk, for as long as this block lasts.
            Registration.objects.select_for_update().get(pk=last.pk)
            tasks.scheduled_sweep.delay(community.slug)  # the tick that starts the sweep
            run = wait_for(
                lambda: held_chunks(broker) and ComplianceRun.objects.get(community=community),
                timeout=30,
                workers=[busy, idle],
                what="the sweep to be running a chunk",
            )
            assert run.status == RunStatus.RUNNING

            # Two more ticks while it runs, handled by the other worker.
            tasks.scheduled_sweep.delay(community.slug)
            tasks.scheduled_sweep.delay(community.slug)
            wait_for(
                lambda: broker.queued() == 0 and len(broker.unacked()) == 1,
                timeout=30,
                workers=[busy, idle],
                what="the other worker to handle both ticks",
            )
            assert ComplianceRun.objects.filter(community=community).count() == 1

        wait_for(
            lambda: ComplianceRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED,
            timeout=30,
            workers=[busy, idle],
            what="the sweep to finish once the row is free",
        )
        assert list(ComplianceRun.objects.filter(community=community).values_list("pk", "trigger")) == [
            (run.pk, RunTrigger.SCHEDULE)
        ]
        assert_complete_exactly_once(ComplianceRun.objects.get(pk=run.pk), community)
