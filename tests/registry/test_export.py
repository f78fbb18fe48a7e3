"""Open-data exports (issue 7): contents per scope, permissions, official records, and a round trip."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.choices import CommunityRole, OperatorRole, RegistrationStatus, RiskTier
from registry.exporters.registers import CSV_HEADER, JSON_FORMAT
from registry.importers import importer_class
from registry.models import AISystem, AuditEvent, Organization, Registration
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    community_member,
    filer,
)

pytestmark = pytest.mark.django_db

WITHHELD = {"purpose": {"level": "withheld", "reason": "Law enforcement sensitive."}}


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def register():
    community = CommunityFactory(slug="ottawa", name="Ottawa")
    organization = OrganizationFactory(slug="transit", name="Transit Agency")
    public = RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        system=AISystemFactory(
            organization=organization,
            external_id="T-1",
            name="Bus bunching predictor",
            purpose="Predicts bunching.",
            contact_email="ops@transit.example",
            techniques=["machine_learning", "optimisation"],
        ),
        risk_tier=RiskTier.LIMITED,
    )
    withheld = RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        system=AISystemFactory(organization=organization, external_id="T-2", name="Fare evasion model"),
        disclosure=WITHHELD,
    )
    submitted = RegistrationFactory(
        community=community,
        status=RegistrationStatus.SUBMITTED,
        system=AISystemFactory(organization=organization, external_id="T-3", name="Pending"),
    )
    draft = RegistrationFactory(
        community=community, system=AISystemFactory(organization=organization, external_id="T-4", name="Draft")
    )
    elsewhere = RegistrationFactory(status=RegistrationStatus.APPROVED)
    return {
        "community": community,
        "organization": organization,
        "public": public,
        "withheld": withheld,
        "submitted": submitted,
        "draft": draft,
        "elsewhere": elsewhere,
    }


class CommunityExportTests:
    def test_the_public_csv_has_approved_registrations_and_public_fields_only(self, client_for, register):
        response = client_for().get("/api/v1/communities/ottawa/export.csv")

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="ottawa-register-public.csv"'
        rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
        assert list(rows[0]) == CSV_HEADER
        assert [row["name"] for row in rows] == ["Bus bunching predictor", "Fare evasion model"]
        assert rows[0]["techniques"] == "machine_learning;optimisation"
        assert rows[0]["contact_email"] == ""  # restricted by default
        assert rows[0]["purpose"] == "Predicts bunching."
        assert rows[1]["purpose"] == ""  # withheld
        assert rows[0]["organization_slug"] == "transit"

    def test_the_public_json_leaves_undisclosed_fields_out(self, client_for, register):
        response = client_for().get("/api/v1/communities/ottawa/export.json")

        data = json.loads(body(response))
        assert data["format"] == JSON_FORMAT and data["scope"] == "public"
        assert [item["system"]["external_id"] for item in data["registrations"]] == ["T-1", "T-2"]
        assert "purpose" not in data["registrations"][1]["system"]
        assert "contact_email" not in data["registrations"][0]["system"]
        assert "disclosure" not in data["registrations"][0]["registration"]

    def test_scope_all_is_what_the_user_may_see(self, client_for, register):
        regulator = community_member(register["community"], CommunityRole.REGULATOR)
        response = client_for(regulator).get("/api/v1/communities/ottawa/export.json?scope=all")
        data = json.loads(body(response))
        names = [item["system"]["name"] for item in data["registrations"]]
        assert names == ["Bus bunching predictor", "Fare evasion model", "Pending"]  # drafts stay the filer's
        assert data["registrations"][1]["system"]["purpose"] == register["withheld"].system.purpose
        assert data["registrations"][1]["registration"]["disclosure"] == WITHHELD
        assert data["registrations"][0]["system"]["contact_email"] == "ops@transit.example"

        own = filer(register["organization"])
        names = [
            item["system"]["name"]
            for item in json.loads(body(client_for(own).get("/api/v1/communities/ottawa/export.json?scope=all")))[
                "registrations"
            ]
        ]
        assert names == ["Bus bunching predictor", "Fare evasion model", "Pending", "Draft"]

        stranger = filer(OrganizationFactory())
        data = json.loads(body(client_for(stranger).get("/api/v1/communities/ottawa/export.json?scope=all")))
        assert data["registrations"] == []

    def test_refusals(self, client_for, register):
        assert client_for().get("/api/v1/communities/ottawa/export.csv?scope=all").status_code in (401, 403)
        assert client_for().get("/api/v1/communities/ottawa/export.csv?scope=secret").status_code == 400
        assert client_for().get("/api/v1/communities/nowhere/export.csv").status_code == 404
        register["community"].public_register_enabled = False
        register["community"].save()
        assert client_for().get("/api/v1/communities/ottawa/export.json").status_code == 404

    def test_exports_stream_in_chunks_with_a_constant_number_of_queries(self, client_for, register):
        organization = register["organization"]
        for number in range(30):
            RegistrationFactory(
                community=register["community"],
                status=RegistrationStatus.APPROVED,
                system=AISystemFactory(organization=organization, external_id=f"X-{number}"),
            )
        response = client_for().get("/api/v1/communities/ottawa/export.csv")
        with CaptureQueriesContext(connection) as queries:
            rows = body(response).decode("utf-8-sig").splitlines()
        assert len(rows) == 1 + 32
        assert len(queries) <= 3  # one cursor over every row, not one query per registration


class RegistrationRecordTests:
    def test_annex_viii_section_per_role_and_tier(self, client_for, register):
        registration = register["public"]
        user = filer(register["organization"])
        system = registration.system

        data = client_for(user).get(f"/api/v1/registrations/{registration.pk}/annex-viii/").json()
        assert data["sections"] == [] and data["applies"].startswith("No section applies")

        system.operator_role = OperatorRole.PROVIDER
        system.save()
        data = client_for(user).get(f"/api/v1/registrations/{registration.pk}/annex-viii/").json()
        assert data["sections"] == ["B"]
        assert data["B"]["4_trade_name_and_reference"] == {"name": "Bus bunching predictor", "reference": "T-1"}

        registration.risk_tier = RiskTier.HIGH
        registration.save()
        data = client_for(user).get(f"/api/v1/registrations/{registration.pk}/annex-viii/").json()
        assert data["sections"] == ["A"]
        assert data["A"]["1_provider"]["name"] == "Transit Agency"
        assert data["A"]["missing"] == ["8", "9", "10", "11"]

        system.operator_role = OperatorRole.PROVIDER_AND_DEPLOYER
        system.save()
        data = client_for(user).get(f"/api/v1/registrations/{registration.pk}/annex-viii/").json()
        assert data["sections"] == ["A", "C"]
        assert data["C"]["1_deployer"]["name"] == "Transit Agency"

    def test_nl_standard_record_publishes_public_fields_only(self, client_for, register):
        user = filer(register["organization"])
        data = client_for(user).get(f"/api/v1/registrations/{register['withheld'].pk}/nl-standard/").json()
        assert data["name"] == "Fare evasion model"
        assert data["organization"] == "Transit Agency"
        assert data["description_short"] == ""  # purpose is withheld
        assert data["status"] == "In ontwikkeling"  # planned
        assert data["publication_category"] == "Overige algoritmes"
        assert (data["lang"], data["standard_version"], data["source_id"]) == ("nld", "1.0", "T-2")
        data = client_for(user).get(f"/api/v1/registrations/{register['public'].pk}/nl-standard/").json()
        assert data["description_short"] == "Predicts bunching."
        assert data["publication_category"] == "Impactvolle algoritmes"

    def test_hidden_registrations_are_404(self, client_for, register):
        stranger = filer(OrganizationFactory())
        for suffix in ("annex-viii", "nl-standard"):
            assert (
                client_for(stranger).get(f"/api/v1/registrations/{register['public'].pk}/{suffix}/").status_code == 404
            )
        assert client_for().get(f"/api/v1/registrations/{register['public'].pk}/annex-viii/").status_code in (401, 403)


class RoundTripTests:
    def test_export_import_into_an_empty_database_and_export_again(self, client_for, register):
        regulator = community_member(register["community"], CommunityRole.REGULATOR, username="regulator")
        first = body(client_for(regulator).get("/api/v1/communities/ottawa/export.json?scope=all"))

        Registration.objects.all().delete()
        AISystem.objects.all().delete()
        Organization.objects.all().delete()
        AuditEvent.objects.all().delete()
        importer = importer_class("json")(community=register["community"], actor=regulator)
        report = importer.run(io.BytesIO(first)).as_dict()
        assert (report["systems_created"], report["organizations_created"], report["rejected_count"]) == (3, 1, 0)

        second = body(client_for(regulator).get("/api/v1/communities/ottawa/export.json?scope=all"))

        def comparable(document):
            data = json.loads(document)
            data.pop("generated_at")
            for item in data["registrations"]:
                item.pop("id")
                item["registration"].pop("status")  # imports approve; statuses are not carried over
            return data

        assert comparable(second) == comparable(first)
        again = importer.run(io.BytesIO(second)).as_dict()
        assert again["systems_unchanged"] == 3

    def test_a_public_export_imports_with_undisclosed_fields_left_empty(self, client_for, register):
        document = body(client_for().get("/api/v1/communities/ottawa/export.json"))
        target = CommunityFactory(slug="copy")
        report = importer_class("json")(community=target).run(io.BytesIO(document)).as_dict()

        assert report["registrations_created"] == 2 and report["rejected_count"] == 0
        assert report["warnings"] == [{"line": 2, "id": "T-2", "message": "No purpose in the export (not disclosed)."}]
        copied = AISystem.objects.get(external_id="T-1", registrations__community=target)
        assert copied.contact_email == "ops@transit.example"  # the same system: matched by organization and id
        assert AISystem.objects.get(external_id="T-2").purpose == register["withheld"].system.purpose  # kept

        Registration.objects.all().delete()
        AISystem.objects.all().delete()
        importer_class("json")(community=target).run(io.BytesIO(document))
        assert AISystem.objects.get(external_id="T-2").purpose == "Not disclosed in the exported register."
