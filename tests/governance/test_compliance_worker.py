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

BROKER_URL = "redis://127.0.0.1:6379/7"  # a database of our own on the shared Redis server
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


@pytest.fixture
def broker(monkeypatch):
    """Publish to the test's Redis database, not in-process, and start from an empty queue."""
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    client.flushdb()
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER_URL)  # Celery's conf reads this variable before its own
    saved = {name: celery_app.conf[name] for name in ("broker_url", "task_always_eager")}
    celery_app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    _drop_connections()
    yield client
    celery_app.conf.update(saved)
    _drop_connections()
    client.flushdb()
    client.close()


def _drop_connections():
    """Forget the app's broker connection pools, so the next publish connects to the broker configured now.

    Only the references are dropped: kombu keeps pools per broker URL process-wide, and a closed one would
    be handed back the next time that URL is used."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Worker:
    """`celery -A config worker` in its own process group, logging to a file shown when a test fails."""

    def __init__(self, tmp_path: Path, name: str, **settings_env):
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
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

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(name, **settings_env):
        worker = Worker(tmp_path, name, **settings_env)
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
    """One community with LIVE submitted registrations (every HIGH_RISK_EVERY-th high risk) and a few drafts."""
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
    failing = {pk for pk in live if Registration.objects.get(pk=pk).risk_tier == RiskTier.HIGH}
    assert set(results.filter(status="fail").values_list("registration_id", flat=True)) == failing
    # One finding per failing check: a redelivered chunk opened none twice.
    findings = Finding.objects.filter(registration__community=community)
    assert findings.count() == len(failing)
    assert set(findings.values_list("registration_id", flat=True)) == failing
    assert set(findings.values_list("requirement_code", flat=True)) == {"W2"}


def held_chunks(broker) -> list[int]:
    """Chunks whose task message a worker has taken and not acknowledged (Redis keeps them in `unacked`)."""
    held = []
    for raw in broker.hvals("unacked"):
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
    return run, broker.hkeys("unacked"), first


class WorkerReliabilityTests:
    def test_the_broker_redelivers_the_chunk_a_sigkilled_worker_held(self, broker, workers, register, monkeypatch):
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
        assert not set(lost) & set(broker.hkeys("unacked"))  # the dead worker's delivery was handed out again

    def test_a_new_worker_requeues_what_a_sigkilled_worker_held(self, broker, workers, register, monkeypatch):
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
        assert set(lost) <= set(broker.hkeys("unacked"))

    def test_two_beat_ticks_during_a_sweep_start_one_run(self, broker, workers, register):
        community = register

        # Both ticks are queued before the worker starts, so the second is handled while the first's sweep
        # is queued or running, whatever the worker's speed.
        tasks.scheduled_sweep.delay(community.slug)
        tasks.scheduled_sweep.delay(community.slug)
        worker = workers("beat-ticks")

        run = wait_for(
            lambda: ComplianceRun.objects.filter(community=community, status=RunStatus.SUCCEEDED).first(),
            timeout=40,
            workers=[worker],
            what="the sweep to finish",
        )
        wait_for(
            lambda: broker.llen("celery") == 0 and broker.hlen("unacked") == 0,
            timeout=20,
            workers=[worker],
            what="the queue to drain",
        )

        assert list(ComplianceRun.objects.filter(community=community).values_list("pk", "trigger")) == [
            (run.pk, RunTrigger.SCHEDULE)
        ]
        assert_complete_exactly_once(run, community)
