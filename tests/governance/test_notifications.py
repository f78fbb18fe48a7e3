"""Notifications on compliance transitions: who gets e-mail, what it says, and nothing before commit."""

import datetime
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from governance import services
from governance.models import Finding
from governance.notifications import notify_status_changes
from registry.choices import ComplianceStatus, RegistrationStatus
from registry.models import Webhook, WebhookDelivery
from registry.services.webhooks import webhook_sign
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    filer,
    org_admin,
    regulator,
)

pytestmark = pytest.mark.django_db


class BrokenMailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the SMTP server is down")


DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:notifications",
    "name": "Notifications",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "N-1", "title": "Keep a risk register", "kind": "rule", "check": "true", "severity": "high"},
        {"code": "N-2", "title": "Publish a model card", "kind": "rule", "check": "true", "severity": "low"},
    ],
}


@pytest.fixture
def world():
    """A nation → region → city tree, a registration in the city, and people around it."""
    nation = CommunityFactory(name="Northland", kind="nation")
    region = CommunityFactory(name="Lakeshore", kind="region", parent=nation)
    city = CommunityFactory(name="Riverton", parent=region)
    sibling = CommunityFactory(name="Elsewhere", parent=nation)
    organization = OrganizationFactory(name="Avalon IT")
    other_organization = OrganizationFactory(name="HealthCore")
    registration = RegistrationFactory(
        system=AISystemFactory(organization=organization, name="Pothole detector"),
        community=city,
        status=RegistrationStatus.SUBMITTED,
    )
    return {
        "registration": registration,
        "organization": organization,
        "admin": org_admin(organization, email="admin@avalon.example"),
        "filer": filer(organization, email="filer@avalon.example"),
        "other_admin": org_admin(other_organization, email="admin@healthcore.example"),
        "city_regulator": regulator(city, email="city@gov.example"),
        "nation_regulator": regulator(nation, email="nation@gov.example"),
        "sibling_regulator": regulator(sibling, email="sibling@gov.example"),
    }


@pytest.fixture
def finding(world):
    version, _created = services.version_import(document=DOCUMENT, actor=None, publish=True)
    registration = world["registration"]
    return Finding.objects.create(
        registration=registration,
        organization=registration.organization,
        framework=version.framework,
        requirement_code="N-1",
        title="Keep a risk register",
        severity="high",
        code="f",
        reason="No risk register on file.",
        opened_at=timezone.now(),
        due_on=datetime.date(2027, 1, 31),
    )


def change(registration, finding=None, **overrides):
    return {
        "registration": registration.pk,
        "from": ComplianceStatus.COMPLIANT,
        "to": ComplianceStatus.NON_COMPLIANT,
        "opened": [finding.pk] if finding else [],
        "closed": [],
        "reopened": [],
        "run": None,
        **overrides,
    }


class NotifyStatusChangesEmailTests:
    def test_admins_and_overseeing_regulators_are_told_and_nobody_else(
        self, world, finding, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            notify_status_changes([change(world["registration"], finding)])

        recipients = sorted(address for message in mailoutbox for address in message.to)
        assert recipients == ["admin@avalon.example", "city@gov.example", "nation@gov.example"]

    def test_the_message_names_the_system_the_transition_and_the_findings(
        self, world, finding, mailoutbox, django_capture_on_commit_callbacks
    ):
        registration = world["registration"]
        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(registration, finding)])

        message = next(message for message in mailoutbox if message.to == ["admin@avalon.example"])
        assert message.subject == "[Commons Registry] Pothole detector in Riverton: Non-compliant"
        assert "Compliance status: Compliant → Non-compliant" in message.body
        assert "Findings opened:" in message.body
        assert "N-1 Keep a risk register (High), due 2027-01-31" in message.body
        assert f"/registrations/{registration.pk}/" in message.body

    def test_regulators_are_not_told_about_drafts(self, world, mailoutbox, django_capture_on_commit_callbacks):
        registration = world["registration"]
        registration.status = RegistrationStatus.DRAFT
        registration.save(update_fields=["status"])

        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(registration)])

        assert [message.to for message in mailoutbox] == [["admin@avalon.example"]]

    def test_nothing_is_sent_when_the_transaction_rolls_back(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            notify_status_changes([change(world["registration"])])
            raise RuntimeError("the engine's chunk failed")

        assert callbacks == []
        assert mailoutbox == []

    def test_nothing_is_queued_for_changes_that_change_nothing(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        unchanged = change(world["registration"], to=ComplianceStatus.COMPLIANT)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notify_status_changes([unchanged])

        assert callbacks == []
        assert mailoutbox == []

    def test_one_digest_per_person_when_several_registrations_change(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        first = world["registration"]
        second = RegistrationFactory(
            system=AISystemFactory(organization=world["organization"], name="Chatbot"),
            community=first.community,
            status=RegistrationStatus.APPROVED,
        )
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notify_status_changes([change(first), change(second, to=ComplianceStatus.AT_RISK)])

        assert len(callbacks) == 1
        admin_messages = [message for message in mailoutbox if message.to == ["admin@avalon.example"]]
        assert len(admin_messages) == 1
        assert admin_messages[0].subject == "[Commons Registry] Compliance changed for 2 registrations"
        assert "Pothole detector in Riverton" in admin_messages[0].body
        assert "Compliance status: Compliant → At risk" in admin_messages[0].body

    def test_a_line_break_in_a_system_name_does_not_break_the_subject(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        registration = world["registration"]
        registration.system.name = "Pothole\r\nBcc: victim@example.org"
        registration.system.save(update_fields=["name"])

        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(registration)])

        assert len(mailoutbox) == 3
        assert {message.subject for message in mailoutbox} == {
            "[Commons Registry] Pothole Bcc: victim@example.org in Riverton: Non-compliant"
        }
        assert all(len(message.to) == 1 for message in mailoutbox)

    def test_webhook_deliveries_are_kept_when_mail_fails(
        self, world, settings, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
    ):
        monkeypatch.setattr("registry.services.webhooks._send_later", lambda ids: None)
        settings.EMAIL_BACKEND = "tests.governance.test_notifications.BrokenMailBackend"
        webhook = Webhook.objects.create(
            organization=world["organization"], url="https://hooks.example/x", events=["compliance.status_changed"]
        )

        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(world["registration"])])

        assert WebhookDelivery.objects.get().webhook == webhook
        assert mailoutbox == []


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it receives and answers with scripted codes."""

    def __init__(self, codes=(200,)):
        self.codes = list(codes)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                code = receiver.codes.pop(0) if len(receiver.codes) > 1 else receiver.codes[0]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/commons"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def make_webhook(organization, url, events=("compliance.status_changed", "finding.opened")):
    return Webhook.objects.create(organization=organization, url=url, events=list(events))


class WebhookNotificationTests:
    def test_the_receiver_gets_signed_json_that_verifies_with_the_documented_scheme(
        self, world, finding, django_capture_on_commit_callbacks
    ):
        registration = world["registration"]
        with Receiver() as receiver:
            webhook = make_webhook(world["organization"], receiver.url)
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(registration, finding, run=7)])

        assert [request["headers"]["X-Commons-Event"] for request in receiver.requests] == [
            "compliance.status_changed",
            "finding.opened",
        ]
        request = receiver.requests[0]
        headers, body = request["headers"], request["body"]
        assert request["path"] == "/hooks/commons"
        assert headers["Content-Type"] == "application/json"
        expected = hmac.new(
            webhook.secret.encode(), headers["X-Commons-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Commons-Signature"] == f"sha256={expected}"
        payload = json.loads(body)
        assert payload["event"] == "compliance.status_changed"
        assert payload["id"] == headers["X-Commons-Delivery"]
        assert payload["organization"] == world["organization"].slug
        assert payload["data"]["from"] == "compliant"
        assert payload["data"]["to"] == "non_compliant"
        assert payload["data"]["run"] == 7
        assert payload["data"]["registration"]["id"] == registration.pk
        assert payload["data"]["registration"]["system"]["name"] == "Pothole detector"
        assert payload["data"]["findings"]["opened"][0]["requirement_code"] == "N-1"
        assert payload["data"]["findings"]["opened"][0]["due_on"] == "2027-01-31"
        deliveries = WebhookDelivery.objects.filter(webhook=webhook)
        assert {delivery.status for delivery in deliveries} == {"succeeded"}

    def test_a_failing_receiver_is_retried_and_every_attempt_is_logged(self, world, django_capture_on_commit_callbacks):
        with Receiver(codes=[500, 200]) as receiver:
            webhook = make_webhook(world["organization"], receiver.url, events=["compliance.status_changed"])
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(world["registration"])])

        delivery = WebhookDelivery.objects.get(webhook=webhook)
        assert delivery.status == "succeeded"
        assert delivery.attempts == 2
        assert [(entry["attempt"], entry["response_code"], entry["error"]) for entry in delivery.log] == [
            (1, 500, "HTTP 500"),
            (2, 200, ""),
        ]
        # The same delivery id on both attempts, so the receiver can tell a retry from a new event.
        assert len({request["headers"]["X-Commons-Delivery"] for request in receiver.requests}) == 1
        assert len(receiver.requests) == 2

    def test_only_the_organizations_subscribed_active_webhooks_receive_events(
        self, world, django_capture_on_commit_callbacks
    ):
        organization = world["organization"]
        with Receiver() as receiver:
            make_webhook(organization, receiver.url + "/closed-only", events=["finding.closed"])
            inactive = make_webhook(organization, receiver.url + "/inactive")
            inactive.active = False
            inactive.save()
            make_webhook(OrganizationFactory(), receiver.url + "/other-organization")
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(world["registration"])])

        assert receiver.requests == []
        assert not WebhookDelivery.objects.exists()

    def test_a_delivery_that_succeeded_is_not_sent_again(self, world, django_capture_on_commit_callbacks):
        from registry.tasks import deliver_webhook

        with Receiver() as receiver:
            webhook = make_webhook(world["organization"], receiver.url, events=["compliance.status_changed"])
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(world["registration"])])
            delivery = WebhookDelivery.objects.get(webhook=webhook)
            assert deliver_webhook.apply(args=[delivery.pk]).get() == "succeeded"

        assert len(receiver.requests) == 1

    def test_redirects_are_not_followed_and_the_delivery_gives_up_after_the_last_attempt(
        self, world, django_capture_on_commit_callbacks
    ):
        with Receiver(codes=[302]) as receiver:
            webhook = make_webhook(world["organization"], receiver.url, events=["compliance.status_changed"])
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(world["registration"])])

        delivery = WebhookDelivery.objects.get(webhook=webhook)
        assert delivery.status == "failed"
        assert delivery.attempts == 6
        assert delivery.response_code == 302
        assert "redirects are not followed" in delivery.last_error
        assert len(receiver.requests) == 6

    @pytest.mark.parametrize("url", ["https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data/"])
    def test_private_addresses_are_refused_outside_development(
        self, world, settings, django_capture_on_commit_callbacks, url
    ):
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        webhook = make_webhook(world["organization"], url, events=["compliance.status_changed"])
        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(world["registration"])])

        delivery = WebhookDelivery.objects.get(webhook=webhook)
        assert delivery.status == "failed"
        assert delivery.response_code is None
        assert "a private address: deliveries there are refused" in delivery.last_error

    def test_local_receivers_stay_allowed_outside_development(
        self, world, settings, django_capture_on_commit_callbacks
    ):
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        with Receiver() as receiver:
            make_webhook(world["organization"], receiver.url, events=["compliance.status_changed"])
            with django_capture_on_commit_callbacks(execute=True):
                notify_status_changes([change(world["registration"])])

        assert len(receiver.requests) == 1

    def test_a_notification_task_delivered_twice_queues_its_webhook_deliveries_once(
        self, world, finding, django_capture_on_commit_callbacks
    ):
        from registry.tasks import send_notifications

        batch = [change(world["registration"], finding)]
        with Receiver() as receiver:
            make_webhook(world["organization"], receiver.url)
            with django_capture_on_commit_callbacks(execute=True):
                send_notifications.apply(args=[batch, "5f0e4c2a9b8d4e6f8a1b2c3d4e5f6a7b"]).get()
                send_notifications.apply(args=[batch, "5f0e4c2a9b8d4e6f8a1b2c3d4e5f6a7b"]).get()

        assert WebhookDelivery.objects.count() == 2  # the status change and the opened finding
        assert sorted(request["headers"]["X-Commons-Event"] for request in receiver.requests) == [
            "compliance.status_changed",
            "finding.opened",
        ]

    def test_pending_deliveries_whose_task_was_lost_are_sent_by_the_requeue_task(self, world):
        from registry.tasks import requeue_webhook_deliveries

        with Receiver() as receiver:
            webhook = make_webhook(world["organization"], receiver.url)
            lost = WebhookDelivery.objects.create(webhook=webhook, event="finding.opened", payload={"event": "x"})
            WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
            fresh = WebhookDelivery.objects.create(webhook=webhook, event="finding.opened", payload={"event": "y"})
            assert requeue_webhook_deliveries.apply().get() == 1

        lost.refresh_from_db()
        fresh.refresh_from_db()
        assert (lost.status, fresh.status) == ("succeeded", "pending")
        assert [json.loads(request["body"])["event"] for request in receiver.requests] == ["x"]


# A Redis database of its own, so no other worker on this machine takes these messages.
TEST_BROKER_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def real_worker():
    """A Celery worker in a thread on the real Redis broker, for tests that must not run eagerly."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.db import connections

    from config.celery import app

    def close_connections(**kwargs):
        connections.close_all()  # in the worker thread, so the test database can be dropped afterwards

    def forget_connections():
        # Even eager calls acquire a producer, so earlier tests left pools bound to the in-memory broker.
        app._pool = None
        app.amqp._producer_pool = None

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=TEST_BROKER_URL, task_always_eager=False)
    forget_connections()
    task_postrun.connect(close_connections, weak=False)
    with app.connection() as connection:
        connection.default_channel.queue_purge("celery")
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_connections)
        app.conf.update(saved)
        forget_connections()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
class WebhookWorkerTests:
    def test_a_real_worker_retries_through_the_broker_with_backoff(self, world, real_worker, monkeypatch):
        monkeypatch.setattr("registry.services.webhooks.RETRY_DELAYS", (1, 1, 1, 1, 1))
        with Receiver(codes=[500, 503, 200]) as receiver:
            webhook = make_webhook(world["organization"], receiver.url, events=["compliance.status_changed"])
            with transaction.atomic():
                notify_status_changes([change(world["registration"])])
            ok = wait_for(lambda: WebhookDelivery.objects.filter(webhook=webhook, status="succeeded").exists())
            assert ok, (list(WebhookDelivery.objects.values()), receiver.requests)

        delivery = WebhookDelivery.objects.get(webhook=webhook)
        assert [entry["response_code"] for entry in delivery.log] == [500, 503, 200]
        attempts = [datetime.datetime.fromisoformat(entry["at"]) for entry in delivery.log]
        # Each retry waited for its countdown in the broker rather than running at once.
        assert all(
            later - earlier >= datetime.timedelta(seconds=0.9) for earlier, later in itertools.pairwise(attempts)
        )
        assert len(receiver.requests) == 3


ENGINE_DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:notifications-engine",
    "name": "Engine",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "VENDOR", "title": "Vendor named", "kind": "rule", "check": 'system.vendor != ""', "severity": "high"}
    ],
}


class EngineNotificationTests:
    def test_an_organization_gets_a_signed_webhook_when_its_system_falls_out_of_compliance(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        from governance.choices import RunTrigger
        from governance.services.compliance import compliance_run_start

        services.version_import(document=ENGINE_DOCUMENT, actor=None, publish=True)
        registration = world["registration"]
        registration.system.vendor = ""
        registration.system.save(update_fields=["vendor"])
        with Receiver() as receiver:
            webhook = make_webhook(world["organization"], receiver.url)
            with django_capture_on_commit_callbacks(execute=True):
                compliance_run_start(community=registration.community, trigger=RunTrigger.MANUAL)

        events = {request["headers"]["X-Commons-Event"]: request for request in receiver.requests}
        assert set(events) == {"compliance.status_changed", "finding.opened"}
        request = events["finding.opened"]
        timestamp, body = request["headers"]["X-Commons-Timestamp"], request["body"]
        assert request["headers"]["X-Commons-Signature"] == "sha256=" + webhook_sign(
            webhook.secret, body, timestamp=int(timestamp)
        )
        data = json.loads(body)["data"]
        assert data["registration"]["id"] == registration.pk
        assert data["finding"]["requirement_code"] == "VENDOR"
        status_changed = json.loads(events["compliance.status_changed"]["body"])["data"]
        assert status_changed["from"] == "pending"
        assert status_changed["to"] in {"at_risk", "non_compliant"}
        admin_mail = [message for message in mailoutbox if message.to == ["admin@avalon.example"]]
        assert len(admin_mail) == 1
        assert "VENDOR Vendor named (High)" in admin_mail[0].body


class WebhookSignTests:
    def test_the_signature_is_hmac_sha256_of_timestamp_dot_body(self):
        body = b'{"event":"ping"}'
        expected = hmac.new(b"s3cret", b"1767225600." + body, hashlib.sha256).hexdigest()
        assert webhook_sign("s3cret", body, timestamp=1767225600) == expected

    def test_a_different_timestamp_gives_a_different_signature(self):
        body = b'{"event":"ping"}'
        assert webhook_sign("s3cret", body, timestamp=1) != webhook_sign("s3cret", body, timestamp=2)


class MailSettingsTests:
    @pytest.mark.parametrize(
        ("env", "backend"),
        [
            ({}, "django.core.mail.backends.console.EmailBackend"),
            ({"EMAIL_FILE_PATH": "/tmp/commons-mail"}, "django.core.mail.backends.filebased.EmailBackend"),
            (
                {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"},
                "django.core.mail.backends.smtp.EmailBackend",
            ),
        ],
    )
    def test_the_mail_backend_comes_from_the_environment(self, env, backend):
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"EMAIL_BACKEND", "EMAIL_FILE_PATH", "DJANGO_SETTINGS_MODULE"}
        }
        result = subprocess.run(
            [sys.executable, "-c", "from config import settings; print(settings.EMAIL_BACKEND)"],
            cwd=Path(__file__).resolve().parents[2],
            env={**environment, "DEBUG": "1", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == backend, result.stderr
