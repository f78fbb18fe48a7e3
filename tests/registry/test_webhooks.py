"""The webhooks API: who may manage and read an organization's webhooks, the secret shown once, bad input."""

import pytest

from registry.models import AuditEvent, Webhook, WebhookDelivery
from tests.factories import CommunityFactory, OrganizationFactory, UserFactory, filer, org_admin, regulator

pytestmark = pytest.mark.django_db

URL = "https://hooks.avalon.example/commons"
LIST = "/api/v1/webhooks/"


@pytest.fixture
def people():
    organization = OrganizationFactory(slug="avalon-it")
    other = OrganizationFactory(slug="healthcore")
    return {
        "organization": organization,
        "admin": org_admin(organization),
        "filer": filer(organization),
        "other_admin": org_admin(other),
        "regulator": regulator(CommunityFactory()),
        "staff": UserFactory(is_staff=True),
    }


@pytest.fixture
def webhook(people):
    return Webhook.objects.create(
        organization=people["organization"], url=URL, events=["compliance.status_changed"], secret="s" * 43
    )


def detail(webhook):
    return f"{LIST}{webhook.pk}/"


class WebhookCreateTests:
    def test_an_admin_creates_a_webhook_and_sees_the_secret_once(self, people, client_for):
        client = client_for(people["admin"])
        response = client.post(
            LIST,
            {"organization": "avalon-it", "url": URL, "events": ["compliance.status_changed", "finding.opened"]},
            headers={"Idempotency-Key": "hook-1"},
        )

        assert response.status_code == 201, response.data
        webhook = Webhook.objects.get()
        assert response.data["secret"] == webhook.secret
        assert len(webhook.secret) >= 43
        assert response.data["events"] == ["compliance.status_changed", "finding.opened"]
        assert response.data["created_by"] == people["admin"].username
        assert "secret" not in client.get(detail(webhook)).data
        assert all("secret" not in row for row in client.get(LIST).data["results"])
        audit = AuditEvent.objects.get(action="webhook.created")
        assert webhook.secret not in str(audit.changes)

    def test_a_filer_may_not_create_one(self, people, client_for):
        response = client_for(people["filer"]).post(
            LIST, {"organization": "avalon-it", "url": URL, "events": ["finding.opened"]}
        )
        assert response.status_code == 403
        assert not Webhook.objects.exists()

    @pytest.mark.parametrize("who", ["other_admin", "regulator", "staff"])
    def test_outsiders_cannot_name_the_organization(self, people, client_for, who):
        response = client_for(people[who]).post(
            LIST, {"organization": "avalon-it", "url": URL, "events": ["finding.opened"]}
        )
        assert response.status_code == 400
        assert "organization" in response.data
        assert not Webhook.objects.exists()

    def test_anonymous_is_refused(self, client_for):
        response = client_for(None).post(LIST, {"organization": "avalon-it", "url": URL, "events": ["finding.opened"]})
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"url": "http://hooks.avalon.example/commons"}, "url"),
            ({"url": "ftp://hooks.avalon.example/"}, "url"),
            ({"url": "not a url"}, "url"),
            ({"events": []}, "events"),
            ({"events": ["registration.deleted"]}, "events"),
            ({"secret": "mine"}, "secret"),
            ({"colour": "blue"}, "colour"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, people, client_for, settings, body, field):
        settings.DEBUG = False  # plain http is refused outside development, except to localhost
        data = {"organization": "avalon-it", "url": URL, "events": ["finding.opened"], **body}
        response = client_for(people["admin"]).post(LIST, data)
        assert response.status_code == 400, response.data
        assert field in response.data
        assert not Webhook.objects.exists()

    def test_plain_http_to_localhost_is_allowed_for_local_receivers(self, people, client_for, settings):
        settings.DEBUG = False
        response = client_for(people["admin"]).post(
            LIST, {"organization": "avalon-it", "url": "http://127.0.0.1:8081/hook", "events": ["finding.opened"]}
        )
        assert response.status_code == 201, response.data

    def test_a_retried_create_with_the_same_key_creates_one_webhook(self, people, client_for):
        client = client_for(people["admin"])
        data = {"organization": "avalon-it", "url": URL, "events": ["finding.opened"]}
        first = client.post(LIST, data, headers={"Idempotency-Key": "hook-2"})
        second = client.post(LIST, data, headers={"Idempotency-Key": "hook-2"})
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.data["id"] == second.data["id"]
        assert Webhook.objects.count() == 1


class WebhookReadTests:
    @pytest.mark.parametrize("who", ["admin", "filer"])
    def test_members_read_their_organizations_webhooks(self, people, webhook, client_for, who):
        client = client_for(people[who])
        assert [row["url"] for row in client.get(LIST).data["results"]] == [URL]
        response = client.get(detail(webhook))
        assert response.status_code == 200
        assert response.data["organization"] == "avalon-it"

    @pytest.mark.parametrize("who", ["other_admin", "regulator", "staff"])
    def test_nobody_else_sees_them(self, people, webhook, client_for, who):
        client = client_for(people[who])
        assert client.get(LIST).data["results"] == []
        assert client.get(detail(webhook)).status_code == 404
        assert client.get(f"{detail(webhook)}deliveries/").status_code == 404
        assert client.patch(detail(webhook), {"active": False}).status_code == 404
        assert client.delete(detail(webhook)).status_code == 404
        assert client.post(f"{detail(webhook)}ping/").status_code == 404

    def test_anonymous_gets_401(self, webhook, client_for):
        assert client_for(None).get(LIST).status_code == 401
        assert client_for(None).get(detail(webhook)).status_code == 401


class WebhookChangeTests:
    def test_an_admin_changes_and_deletes_a_webhook(self, people, webhook, client_for):
        client = client_for(people["admin"])
        response = client.patch(detail(webhook), {"active": False, "events": ["finding.closed"]})
        assert response.status_code == 200, response.data
        assert response.data["active"] is False
        assert response.data["events"] == ["finding.closed"]
        assert AuditEvent.objects.filter(action="webhook.updated", target_id=webhook.pk).exists()

        assert client.delete(detail(webhook)).status_code == 204
        assert not Webhook.objects.exists()

    def test_the_organization_cannot_be_changed(self, people, webhook, client_for):
        response = client_for(people["admin"]).patch(detail(webhook), {"organization": "healthcore"})
        assert response.status_code == 400
        assert "organization" in response.data

    def test_a_filer_reads_but_may_not_change_delete_or_ping(self, people, webhook, client_for):
        client = client_for(people["filer"])
        assert client.patch(detail(webhook), {"active": False}).status_code == 403
        assert client.delete(detail(webhook)).status_code == 403
        assert client.post(f"{detail(webhook)}ping/").status_code == 403
        webhook.refresh_from_db()
        assert webhook.active is True

    def test_an_https_url_cannot_be_downgraded(self, people, webhook, client_for, settings):
        settings.DEBUG = False
        response = client_for(people["admin"]).patch(detail(webhook), {"url": "http://hooks.avalon.example/"})
        assert response.status_code == 400
        assert "url" in response.data

    def test_an_admin_rotates_the_secret_and_sees_the_new_one_once(self, people, webhook, client_for):
        client = client_for(people["admin"])
        response = client.post(f"{detail(webhook)}rotate-secret/")
        assert response.status_code == 200, response.data
        webhook.refresh_from_db()
        assert response.data["secret"] == webhook.secret != "s" * 43
        assert "secret" not in client.get(detail(webhook)).data
        assert AuditEvent.objects.filter(action="webhook.secret_rotated", target_id=webhook.pk).exists()

    def test_a_filer_may_not_rotate_the_secret(self, people, webhook, client_for):
        assert client_for(people["filer"]).post(f"{detail(webhook)}rotate-secret/").status_code == 403
        assert client_for(people["other_admin"]).post(f"{detail(webhook)}rotate-secret/").status_code == 404
        webhook.refresh_from_db()
        assert webhook.secret == "s" * 43


class WebhookDeliveryLogTests:
    def test_members_read_the_delivery_log(self, people, webhook, client_for):
        WebhookDelivery.objects.create(
            webhook=webhook,
            event="compliance.status_changed",
            payload={"event": "compliance.status_changed"},
            status="failed",
            attempts=6,
            response_code=500,
            last_error="HTTP 500",
            log=[{"attempt": 1, "response_code": 500, "error": "HTTP 500"}],
        )
        other_webhook = Webhook.objects.create(
            organization=OrganizationFactory(), url=URL, events=["finding.opened"], secret="t" * 43
        )
        WebhookDelivery.objects.create(webhook=other_webhook, event="finding.opened", payload={})

        response = client_for(people["filer"]).get(f"{detail(webhook)}deliveries/")

        assert response.status_code == 200
        (row,) = response.data["results"]
        assert (row["event"], row["status"], row["attempts"], row["last_error"]) == (
            "compliance.status_changed",
            "failed",
            6,
            "HTTP 500",
        )
        assert row["log"][0]["response_code"] == 500

    def test_ping_queues_a_test_delivery_after_commit(
        self, people, webhook, client_for, monkeypatch, django_capture_on_commit_callbacks
    ):
        sent = []
        monkeypatch.setattr("registry.services.webhooks._send_later", sent.extend)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(people["admin"]).post(
                f"{detail(webhook)}ping/", headers={"Idempotency-Key": "ping-1"}
            )

        assert response.status_code == 202, response.data
        delivery = WebhookDelivery.objects.get()
        assert sent == [delivery.pk]
        assert response.data["event"] == "ping"
        assert response.data["delivery_id"] == str(delivery.delivery_id)
        assert delivery.payload["data"]["webhook"] == webhook.pk
