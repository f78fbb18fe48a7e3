"""POST /api/v1/imports/: an upload run by a worker, its progress and row-level report (issue 7)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.choices import CommunityRole
from registry.importers.csv_mapping import UNKNOWN_FIELD
from registry.models import AISystem, ImportJob
from tests.factories import CommunityFactory, OrganizationFactory, UserFactory, community_member, filer
from tests.registry.test_import import MAPPING, SPREADSHEET, omb_excerpt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def community():
    return CommunityFactory(slug="us-federal")


def upload(client, data, name="inventory.csv", **fields):
    return client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


class ImportJobApiTests:
    def test_a_regulator_uploads_and_reads_progress_and_report(
        self, client_for, community, django_capture_on_commit_callbacks
    ):
        regulator = community_member(community, CommunityRole.REGULATOR)
        client = client_for(regulator)
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client, omb_excerpt(), format="omb-2025", community="us-federal")

        assert response.status_code == 202
        assert response.json()["status"] == "queued"  # the worker starts once the transaction commits
        job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
        assert job["status"] == "succeeded"
        assert (job["total"], job["done"], job["rejected"], job["progress"]) == (12, 12, 0, 100)
        assert job["report"]["systems_created"] == 12
        assert job["created_by"] == regulator.username
        assert AISystem.objects.count() == 12
        listing = client.get("/api/v1/imports/").json()
        assert [item["id"] for item in listing["results"]] == [job["id"]]

    def test_a_failed_job_says_why_and_imports_nothing(self, client_for, community, django_capture_on_commit_callbacks):
        client = client_for(UserFactory(is_staff=True))
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client, b"\xff\xfe", format="omb-2025", community="us-federal")
        job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
        assert job["status"] == "failed"
        assert job["error"].startswith("The file is not UTF-8 text")
        assert not AISystem.objects.exists()

    def test_csv_needs_a_valid_mapping(self, client_for, community, django_capture_on_commit_callbacks):
        client = client_for(UserFactory(is_staff=True))
        response = upload(client, SPREADSHEET.encode(), format="csv", community="us-federal")
        assert response.status_code == 400
        bad = {**MAPPING, "columns": {**MAPPING["columns"], "Colour": "colour"}}
        response = upload(client, SPREADSHEET.encode(), format="csv", community="us-federal", mapping=json.dumps(bad))
        assert response.status_code == 400
        assert str(UNKNOWN_FIELD % {"column": "Colour", "field": "colour"}) in json.dumps(response.json())
        assert not ImportJob.objects.exists()

        with django_capture_on_commit_callbacks(execute=True):
            response = upload(
                client, SPREADSHEET.encode(), format="csv", community="us-federal", mapping=json.dumps(MAPPING)
            )
        job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
        assert job["status"] == "succeeded" and job["rejected"] == 1
        assert job["report"]["rejected"] == [{"line": 4, "id": "A-3", "reason": "The row has no name."}]

    def test_only_staff_and_the_communitys_regulators_may_import_or_see_jobs(
        self, client_for, community, django_capture_on_commit_callbacks
    ):
        organization_filer = filer(OrganizationFactory())
        assert (
            upload(client_for(organization_filer), omb_excerpt(), format="omb-2025", community="us-federal").status_code
            == 403
        )
        other_regulator = community_member(CommunityFactory())
        assert (
            upload(client_for(other_regulator), omb_excerpt(), format="omb-2025", community="us-federal").status_code
            == 403
        )
        assert upload(client_for(), omb_excerpt(), format="omb-2025", community="us-federal").status_code in (401, 403)
        assert not ImportJob.objects.exists()

        with django_capture_on_commit_callbacks(execute=True):
            job_id = upload(
                client_for(UserFactory(is_staff=True)), omb_excerpt(), format="omb-2025", community="us-federal"
            ).json()["id"]
        assert client_for(other_regulator).get(f"/api/v1/imports/{job_id}/").status_code == 404
        assert client_for(organization_filer).get("/api/v1/imports/").json()["results"] == []
        regulator = community_member(community)
        assert client_for(regulator).get(f"/api/v1/imports/{job_id}/").status_code == 200

    def test_a_retried_upload_with_the_same_idempotency_key_creates_one_job(
        self, client_for, community, django_capture_on_commit_callbacks
    ):
        client = client_for(UserFactory(is_staff=True))
        data = omb_excerpt()
        with django_capture_on_commit_callbacks(execute=True):
            first = client.post(
                "/api/v1/imports/",
                {"file": SimpleUploadedFile("a.csv", data), "format": "omb-2025", "community": "us-federal"},
                format="multipart",
                HTTP_IDEMPOTENCY_KEY="import-1",
            )
        second = client.post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("a.csv", data), "format": "omb-2025", "community": "us-federal"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="import-1",
        )
        assert second.status_code == 202 and second.json()["id"] == first.json()["id"]
        assert ImportJob.objects.count() == 1
