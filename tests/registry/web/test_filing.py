"""Filing through the dashboard's forms: the same services and validation as the API, scoped to the filer."""

import pytest
from django.test import Client

from registry.choices import RegistrationStatus
from registry.models import AISystem, AuditEvent, Registration
from tests.factories import AISystemFactory, RegistrationFactory
from tests.registry.web.test_detail import build_world, client_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def system_data(world, **fields) -> dict:
    return {
        "organization": world.organization.pk,
        "name": "Bin route planner",
        "purpose": "Plan waste collection routes.",
        "techniques": ["optimisation", "machine_learning"],
        "data_categories": ["location"],
        "operator_role": "deployer",
        "lifecycle_stage": "pilot",
        "website": "https://example.org/bins",
        **fields,
    }


def disclosure_data(**levels) -> dict:
    """Every disclosure field at its default, with `levels` ({field: (level, reason)}) changed."""
    from registry.models.registrations import disclosure_level
    from registry.models.systems import DISCLOSABLE_FIELDS

    data = {}
    for name in DISCLOSABLE_FIELDS:
        level, reason = levels.get(name, (disclosure_level({}, name), ""))
        data[f"disclosure_{name}_level"] = level
        data[f"disclosure_{name}_reason"] = reason
    return data


class SystemFormTests:
    def test_filer_files_a_system(self, world):
        client = client_as(world.users.filer)
        assert "File an AI system" in client.get("/systems/new/").content.decode()

        response = client.post("/systems/new/", system_data(world))

        system = AISystem.objects.get(name="Bin route planner")
        assert response.status_code == 302
        assert response["Location"] == f"/registrations/new/?system={system.pk}"
        assert (system.organization, system.techniques) == (world.organization, ["optimisation", "machine_learning"])
        assert system.lifecycle_stage == "pilot"
        assert AuditEvent.objects.filter(action="system.created", system_id=system.pk).exists()

    def test_invalid_input_shows_errors_and_saves_nothing(self, world):
        client = client_as(world.users.filer)
        before = AISystem.objects.count()

        response = client.post(
            "/systems/new/",
            system_data(world, name="", website="not a url", start_date="2026-05-01", end_date="2026-01-01"),
        )

        assert response.status_code == 400
        page = response.content.decode()
        assert 'role="alert"' in page
        assert "Name: This field is required." in page
        assert "Enter a valid URL." in page
        assert AISystem.objects.count() == before

    def test_service_validation_reaches_the_field(self, world):
        """The date order is checked by the model, through the service: the same message as the API."""
        response = client_as(world.users.filer).post(
            "/systems/new/", system_data(world, start_date="2026-05-01", end_date="2026-01-01")
        )
        assert response.status_code == 400
        assert "The end date is before the start date." in response.content.decode()
        assert not AISystem.objects.filter(name="Bin route planner").exists()

    def test_only_own_organizations_can_be_chosen(self, world):
        response = client_as(world.users.filer).post(
            "/systems/new/", system_data(world, organization=world.other_organization.pk)
        )
        assert response.status_code == 400
        assert "Select a valid choice." in response.content.decode()
        assert not AISystem.objects.filter(name="Bin route planner").exists()

    def test_regulators_cannot_file(self, world):
        assert client_as(world.users.regulator).get("/systems/new/").status_code == 403

    def test_filer_edits_own_system_and_not_others(self, world):
        client = client_as(world.users.filer)
        url = f"/systems/{world.system.pk}/edit/"
        assert "Find potholes in street imagery." in client.get(url).content.decode()

        response = client.post(url, system_data(world, name="Pothole finder 2", organization=""))

        assert response.status_code == 302
        world.system.refresh_from_db()
        assert world.system.name == "Pothole finder 2"
        other = AISystemFactory(organization=world.other_organization)
        assert client.get(f"/systems/{other.pk}/edit/").status_code == 404
        assert client_as(world.users.regulator).get(url).status_code == 404

    def test_system_list_shows_own_systems_with_their_registrations(self, world):
        other = AISystemFactory(organization=world.other_organization, name="Globex scorer")
        page = client_as(world.users.filer).get("/systems/").content.decode()
        assert "Pothole finder" in page and "City of Riverton" in page
        assert other.name not in page


class RegistrationFormTests:
    def test_filer_registers_and_submits_a_system(self, world):
        client = client_as(world.users.filer)
        client.post("/systems/new/", system_data(world))
        system = AISystem.objects.get(name="Bin route planner")
        page = client.get(f"/registrations/new/?system={system.pk}").content.decode()
        assert f'<option value="{system.pk}" selected>' in page

        response = client.post(
            "/registrations/new/",
            {
                "system": system.pk,
                "community": world.city.pk,
                "deployment_context": "Used by the sanitation department.",
                "deployment_date": "2026-03-01",
                "risk_tier": "minimal",
                **disclosure_data(vendor=("withheld", "Tender in progress."), contact_email=("public", "")),
            },
        )

        registration = Registration.objects.get(system=system)
        assert response.status_code == 302
        assert response["Location"] == f"/registrations/{registration.pk}/"
        assert registration.status == RegistrationStatus.DRAFT
        assert registration.disclosure == {
            "vendor": {"level": "withheld", "reason": "Tender in progress."},
            "contact_email": {"level": "public", "reason": ""},
        }
        page = client.get(response["Location"]).content.decode()
        assert "Withheld because: Tender in progress." in page
        assert "Submit for review" in page

        response = client.post(f"/registrations/{registration.pk}/submit/")

        assert response.status_code == 302
        registration.refresh_from_db()
        assert (registration.status, registration.version) == (RegistrationStatus.SUBMITTED, 1)
        assert "Submitted for review." in client.get(response["Location"]).content.decode()
        assert (
            f'id="review-registration-{registration.pk}"'
            in client_as(world.users.regulator).get("/review/").content.decode()
        )

    def test_withholding_without_a_reason_is_an_error_and_saves_nothing(self, world):
        system = AISystemFactory(organization=world.organization)
        response = client_as(world.users.filer).post(
            "/registrations/new/",
            {
                "system": system.pk,
                "community": world.city.pk,
                "risk_tier": "minimal",
                **disclosure_data(risks=("withheld", "")),
            },
        )
        assert response.status_code == 400
        assert "Withholding a field requires a reason." in response.content.decode()
        assert not Registration.objects.filter(system=system).exists()

    def test_a_second_live_registration_in_the_same_community_is_refused(self, world):
        response = client_as(world.users.filer).post(
            "/registrations/new/",
            {"system": world.system.pk, "community": world.city.pk, "risk_tier": "minimal", **disclosure_data()},
        )
        assert response.status_code == 400
        assert "This system already has a live registration in this community." in response.content.decode()
        assert Registration.objects.filter(system=world.system).count() == 1

    def test_other_organizations_system_answers_404(self, world):
        other = AISystemFactory(organization=world.other_organization)
        client = client_as(world.users.filer)
        assert client.get(f"/registrations/new/?system={other.pk}").status_code == 404
        assert client.get("/registrations/new/?system=nope").status_code == 404
        response = client.post(
            "/registrations/new/",
            {"system": other.pk, "community": world.city.pk, "risk_tier": "minimal", **disclosure_data()},
        )
        assert response.status_code == 400
        assert not Registration.objects.filter(system=other).exists()

    def test_edit_while_changes_requested_then_resubmit(self, world):
        from registry import services

        services.registration_transition(
            registration=world.registration, actor=world.users.regulator, action="request_changes", comment="More."
        )
        client = client_as(world.users.filer)
        url = f"/registrations/{world.registration.pk}/edit/"
        assert "Commercial confidentiality" in client.get(url).content.decode()

        response = client.post(
            url,
            {
                "deployment_context": "Road crews use it weekly.",
                "risk_tier": "limited",
                **disclosure_data(vendor=("restricted", "")),
            },
        )

        assert response.status_code == 302
        world.registration.refresh_from_db()
        assert world.registration.deployment_context == "Road crews use it weekly."
        assert world.registration.disclosure == {"vendor": {"level": "restricted", "reason": ""}}
        client.post(f"/registrations/{world.registration.pk}/submit/")
        world.registration.refresh_from_db()
        assert (world.registration.status, world.registration.version) == (RegistrationStatus.SUBMITTED, 2)

    def test_a_submitted_registration_cannot_be_edited(self, world):
        client = client_as(world.users.filer)
        response = client.get(f"/registrations/{world.registration.pk}/edit/")
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "A registration can only be edited while it is a draft or changes were requested." in page
        response = client.post(f"/registrations/{world.registration.pk}/submit/")
        assert "cannot be submitted" in client.get(response["Location"]).content.decode()

    def test_others_cannot_edit_or_submit(self, world):
        draft = RegistrationFactory(system=AISystemFactory(organization=world.organization), community=world.city)
        for user in (world.users.regulator, world.users.other_filer):
            client = client_as(user)
            assert client.get(f"/registrations/{draft.pk}/edit/").status_code == 404
            assert client.post(f"/registrations/{draft.pk}/submit/").status_code == 404
        assert Client().get("/registrations/new/").status_code == 302
        draft.refresh_from_db()
        assert draft.status == RegistrationStatus.DRAFT
