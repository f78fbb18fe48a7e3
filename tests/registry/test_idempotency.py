import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from registry.choices import RegistrationStatus
from registry.models import AISystem, AuditEvent, IdempotencyKey, Registration
from tests.factories import OrganizationFactory, RegistrationFactory, filer

URL = "/api/v1/systems/"
BODY = {"organization": "acme", "name": "Benefits triage", "purpose": "Sort claims."}


def post(client, body=BODY, key="filing-1", url=URL):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def organization(db):
    return OrganizationFactory(slug="acme")


@pytest.fixture
def client(organization, client_for):
    return client_for(filer(organization, username="alice"))


@pytest.mark.django_db
class IdempotencyKeyTests:
    def test_a_retry_replays_the_first_response(self, client):
        first = post(client)
        retry = post(client)

        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json()
        assert retry.json()["id"] == AISystem.objects.get().pk
        assert "Idempotent-Replayed" not in first
        assert retry["Idempotent-Replayed"] == "true"
        assert AuditEvent.objects.filter(action="system.created").count() == 1

    def test_the_same_key_with_a_different_body_is_refused(self, client):
        post(client)

        response = post(client, {**BODY, "name": "Something else"})

        assert response.status_code == 422
        assert response.json() == {
            "detail": "This Idempotency-Key was already used with a different request body.",
            "code": "idempotency_key_reused",
        }
        assert list(AISystem.objects.values_list("name", flat=True)) == ["Benefits triage"]

    def test_the_refusal_speaks_the_clients_language(self, client):
        post(client)

        response = client.post(
            URL, {**BODY, "name": "Autre"}, format="json", HTTP_IDEMPOTENCY_KEY="filing-1", HTTP_ACCEPT_LANGUAGE="fr"
        )

        assert response.json()["detail"].startswith("Cette Idempotency-Key a déjà été utilisée")

    def test_the_same_key_on_another_endpoint_is_refused(self, client, organization):
        post(client)
        response = post(client, {"name": "X"}, url="/api/v1/organizations/")
        assert response.status_code == 422

    def test_keys_belong_to_a_user(self, client, organization, client_for):
        colleague = client_for(filer(organization, username="bob"))

        first = post(client)
        second = post(colleague)

        assert first.status_code == second.status_code == 201
        assert first.json()["id"] != second.json()["id"]
        assert "Idempotent-Replayed" not in second
        assert AISystem.objects.count() == 2

    def test_a_key_older_than_a_day_counts_as_new(self, client):
        first = post(client)
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))

        again = post(client, {**BODY, "name": "Filed again"})

        assert again.status_code == 201
        assert "Idempotent-Replayed" not in again
        assert again.json()["id"] != first.json()["id"]
        assert AISystem.objects.count() == 2
        assert IdempotencyKey.objects.count() == 1

    def test_a_key_younger_than_a_day_is_still_replayed(self, client):
        post(client)
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
        assert post(client)["Idempotent-Replayed"] == "true"
        assert AISystem.objects.count() == 1

    def test_without_a_key_each_post_creates(self, client):
        client.post(URL, BODY, format="json")
        client.post(URL, BODY, format="json")
        assert AISystem.objects.count() == 2
        assert not IdempotencyKey.objects.exists()

    def test_a_refused_request_is_replayed_as_refused(self, client):
        first = post(client, {**BODY, "techniques": ["bogus"]})
        retry = post(client, {**BODY, "techniques": ["bogus"]})
        assert first.status_code == retry.status_code == 400
        assert retry.json() == first.json()
        assert retry["Idempotent-Replayed"] == "true"
        assert not AISystem.objects.exists()

    @pytest.mark.parametrize("key", ["", "k" * 256])
    def test_key_length_is_checked(self, client, key):
        response = post(client, key=key)
        assert response.status_code == 400
        assert list(response.json()) == ["Idempotency-Key"]
        assert not AISystem.objects.exists()
        assert not IdempotencyKey.objects.exists()

    def test_a_retried_workflow_action_is_not_a_conflict(self, organization, client_for):
        registration = RegistrationFactory(system__organization=organization)
        client = client_for(filer(organization))
        url = f"/api/v1/registrations/{registration.pk}/submit/"

        first = post(client, {}, key="submit-1", url=url)
        retry = post(client, {}, key="submit-1", url=url)

        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json()
        assert Registration.objects.get(pk=registration.pk).version == 1
        assert AuditEvent.objects.filter(action="registration.submit").count() == 1
        assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.SUBMITTED
        # Without the key, the second submit is the real conflict it is.
        assert client.post(url, {}, format="json").status_code == 409


@pytest.mark.django_db(transaction=True)
class ConcurrentIdempotencyTests:
    THREADS = 8

    def test_concurrent_retries_create_exactly_one_system(self):
        organization = OrganizationFactory(slug="acme")
        user = filer(organization)
        barrier = threading.Barrier(self.THREADS)
        responses, failures = [None] * self.THREADS, []

        def file(index):
            try:
                client = APIClient()
                client.force_authenticate(user)
                barrier.wait(timeout=30)
                response = post(client, key="concurrent-filing")
                responses[index] = (response.status_code, response.json())
            except Exception as error:  # reported below; an exception in a thread would otherwise vanish
                failures.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=file, args=(index,)) for index in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert failures == []
        assert AISystem.objects.count() == 1
        system_id = AISystem.objects.get().pk
        assert [status for status, _ in responses] == [201] * self.THREADS
        assert {body["id"] for _, body in responses} == {system_id}
        assert AuditEvent.objects.filter(action="system.created").count() == 1
        assert IdempotencyKey.objects.count() == 1
