"""The review queue: what waits for which regulator, and decisions taken from a row with htmx or plain POST."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from governance import services as governance_services
from governance.choices import EvidenceStatus
from governance.models import AssessmentStatus, RiskAssessment, Waiver
from registry.choices import RegistrationStatus
from registry.models import AuditEvent, Registration
from tests.factories import AISystemFactory, CommunityFactory, RegistrationFactory, organization_member
from tests.registry.web.test_detail import PDF, build_world, client_as

pytestmark = pytest.mark.django_db

QUEUE = "/review/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world():
    return build_world()


def decide_url(registration) -> str:
    return f"/registrations/{registration.pk}/decide/"


def status_of(registration) -> str:
    return Registration.objects.get(pk=registration.pk).status


def submitted_evidence(world):
    return governance_services.evidence_submit(
        registration=world.registration,
        actor=world.users.filer,
        framework=world.floor.framework,
        requirement_code="FLOOR-DOC",
        statement="Signed by the director.",
        file=SimpleUploadedFile("fria.pdf", PDF),
    )


def submitted_assessment(world):
    """A submitted EU AI Act classification, written directly (its questionnaire is tested elsewhere)."""
    return RiskAssessment.objects.create(
        registration=world.registration,
        instrument="eu-ai-act-risk",
        version="v1.0",
        result={"tier": "limited"},
        status=AssessmentStatus.SUBMITTED,
        assessor=world.users.filer,
        submitted_at=timezone.now(),
    )


class ReviewQueueTests:
    def test_regulator_sees_what_waits_in_their_communities(self, world):
        submitted_evidence(world)
        submitted_assessment(world)

        page = client_as(world.users.regulator).get(QUEUE).content.decode()

        assert f'id="review-registration-{world.registration.pk}"' in page
        assert "Pothole finder" in page and "City of Riverton" in page
        assert "Signed by the director." in page
        assert "EU AI Act risk classification" in page
        assert "Accept assessment" in page

    def test_other_communities_and_filers_see_nothing_to_review(self, world):
        submitted_evidence(world)
        for user in (world.users.other_regulator, world.users.filer):
            page = client_as(user).get(QUEUE).content.decode()
            assert "Pothole finder" not in page
            assert "No registrations are waiting for review." in page
        assert "The review queue is for regulators." in client_as(world.users.filer).get(QUEUE).content.decode()

    def test_narrowed_to_one_community_of_the_tree(self, world):
        town = CommunityFactory(slug="town", parent=world.region, name="Town of Elm")
        elsewhere = RegistrationFactory(
            community=town,
            status=RegistrationStatus.SUBMITTED,
            system=AISystemFactory(organization=world.other_organization, name="Parking predictor"),
        )
        client = client_as(world.users.regulator)

        page = client.get(QUEUE).content.decode()
        assert "Pothole finder" in page and "Parking predictor" in page
        assert '<option value="town">— Town of Elm</option>' in page  # under the region, indented

        page = client.get(QUEUE, {"community": "town"}).content.decode()
        assert "Parking predictor" in page and "Pothole finder" not in page
        assert f'id="review-registration-{elsewhere.pk}"' in page
        page = client.get(QUEUE, {"community": "region"}).content.decode()
        assert "Parking predictor" in page and "Pothole finder" in page
        assert client.get(QUEUE, {"community": "other"}).status_code == 404  # not theirs to review
        assert client.get(QUEUE, {"community": "nowhere"}).status_code == 404

    def test_query_count_does_not_grow_with_rows(self, world, django_assert_max_num_queries):
        submitted_evidence(world)
        submitted_assessment(world)
        for _n in range(5):
            RegistrationFactory(
                community=world.city,
                status=RegistrationStatus.SUBMITTED,
                system=AISystemFactory(organization=world.other_organization),
            )
        client = client_as(world.users.regulator)
        with django_assert_max_num_queries(15):
            assert client.get(QUEUE).status_code == 200


class RegistrationDecisionTests:
    def test_regulator_approves_with_htmx_and_gets_the_row(self, world):
        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "approve", "comment": "Complete and clear."}, **HTMX
        )

        assert response.status_code == 200
        row = response.content.decode().strip()
        assert row.startswith(f'<tr id="review-registration-{world.registration.pk}">')
        assert "<html" not in row
        assert "Approved." in row
        assert "“Complete and clear.”" in row
        assert 'name="decision"' not in row  # decided: no more buttons
        page = client_as(world.users.regulator).get(f"/registrations/{world.registration.pk}/").content.decode()
        assert f'href="/register/city/{world.registration.pk}/" id="public-link"' in page
        assert status_of(world.registration) == RegistrationStatus.APPROVED
        event = AuditEvent.objects.get(action="registration.approve")
        assert (event.actor_username, event.comment) == ("regulator", "Complete and clear.")

    def test_a_comment_is_required(self, world):
        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "reject", "comment": "  "}, **HTMX
        )

        assert response.status_code == 200
        row = response.content.decode()
        assert 'role="alert"' in row
        assert "A comment is required for this decision." in row
        assert 'name="decision" value="approve"' in row  # the form stays, to try again
        assert status_of(world.registration) == RegistrationStatus.SUBMITTED

    def test_an_invalid_transition_is_a_row_error(self, world):
        client = client_as(world.users.regulator)
        client.post(decide_url(world.registration), {"decision": "approve", "comment": "Fine."}, **HTMX)

        response = client.post(decide_url(world.registration), {"decision": "reject", "comment": "Oops."}, **HTMX)

        assert response.status_code == 200
        assert "A registration that is approved cannot be rejected." in response.content.decode()
        assert status_of(world.registration) == RegistrationStatus.APPROVED

    def test_without_javascript_a_post_redirects_back_with_a_message(self, world):
        client = client_as(world.users.regulator)
        response = client.post(
            decide_url(world.registration),
            {"decision": "request_changes", "comment": "Describe oversight.", "next": QUEUE},
        )

        assert response.status_code == 302
        assert response["Location"] == QUEUE
        assert "Changes requested." in client.get(QUEUE).content.decode()
        assert status_of(world.registration) == RegistrationStatus.CHANGES_REQUESTED

    def test_an_outside_next_is_ignored(self, world):
        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "approve", "comment": "Ok.", "next": "https://evil.example/"}
        )
        assert response["Location"] == QUEUE

    def test_filers_and_other_regulators_cannot_decide(self, world):
        for user in (world.users.filer, world.users.other_regulator, world.users.viewer):
            response = client_as(user).post(
                decide_url(world.registration), {"decision": "approve", "comment": "Mine."}, **HTMX
            )
            assert response.status_code == 404
        assert Client().post(decide_url(world.registration), {"decision": "approve", "comment": "x"}).status_code == 302
        assert status_of(world.registration) == RegistrationStatus.SUBMITTED

    def test_a_regulator_cannot_decide_their_own_organizations_filing(self, world):
        organization_member(world.organization, user=world.users.regulator)

        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "approve", "comment": "Mine."}, **HTMX
        )

        assert response.status_code == 200
        assert "You cannot review a registration filed by an organization you belong to." in response.content.decode()
        assert status_of(world.registration) == RegistrationStatus.SUBMITTED

    def test_an_unknown_decision_is_a_form_error(self, world):
        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "delete", "comment": "x"}, **HTMX
        )
        assert response.status_code == 200
        assert "Select a valid choice." in response.content.decode()

    def test_a_decision_on_the_registration_page_reloads_it(self, world):
        client = client_as(world.users.regulator)
        data = {"decision": "approve", "comment": "Ok.", "layout": "detail"}

        response = client.post(decide_url(world.registration), data, **HTMX)

        assert response.status_code == 200
        assert response["HX-Refresh"] == "true"
        page = client.get(f"/registrations/{world.registration.pk}/").content.decode()
        assert "Approved." in page
        assert '<span class="badge badge--approved">Approved</span>' in page

    def test_a_refused_decision_on_the_registration_page_answers_with_its_row(self, world):
        response = client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "approve", "comment": "", "layout": "detail"}, **HTMX
        )
        row = response.content.decode()
        assert "A comment is required for this decision." in row
        assert "City of Riverton" not in row  # the registration page's row has no registration columns


class EvidenceDecisionTests:
    def test_regulator_accepts_evidence_with_htmx(self, world):
        evidence = submitted_evidence(world)
        until = (timezone.localdate() + datetime.timedelta(days=365)).isoformat()

        response = client_as(world.users.regulator).post(
            f"/review/evidence/{evidence.pk}/",
            {"decision": "accept", "comment": "Signed.", "expires_on": until},
            **HTMX,
        )

        row = response.content.decode().strip()
        assert row.startswith(f'<tr id="review-evidence-{evidence.pk}">')
        assert "Accepted." in row and f"until {until}" in row
        evidence.refresh_from_db()
        assert (evidence.status, evidence.review_comment) == (EvidenceStatus.ACCEPTED, "Signed.")

    def test_comment_required_and_past_expiry_refused(self, world):
        evidence = submitted_evidence(world)
        client = client_as(world.users.regulator)
        row = client.post(f"/review/evidence/{evidence.pk}/", {"decision": "reject"}, **HTMX).content.decode()
        assert "A comment is required for this decision." in row
        past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
        row = client.post(
            f"/review/evidence/{evidence.pk}/", {"decision": "accept", "comment": "Ok.", "expires_on": past}, **HTMX
        ).content.decode()
        assert "The expiry date must be in the future." in row
        evidence.refresh_from_db()
        assert evidence.status == EvidenceStatus.SUBMITTED

    def test_filer_cannot_review_evidence(self, world):
        evidence = submitted_evidence(world)
        response = client_as(world.users.filer).post(
            f"/review/evidence/{evidence.pk}/", {"decision": "accept", "comment": "Mine."}, **HTMX
        )
        assert response.status_code == 404


class AssessmentDecisionTests:
    def test_regulator_accepts_and_the_tier_follows(self, world):
        assessment = submitted_assessment(world)

        response = client_as(world.users.regulator).post(
            f"/review/assessments/{assessment.pk}/", {"decision": "accept", "comment": "Agreed."}, **HTMX
        )

        row = response.content.decode().strip()
        assert row.startswith(f'<tr id="review-assessment-{assessment.pk}">')
        assert "Accepted." in row and "Valid until" in row
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.ACCEPTED
        assert Registration.objects.get(pk=world.registration.pk).risk_tier == "limited"

    def test_return_needs_a_comment(self, world):
        assessment = submitted_assessment(world)
        row = (
            client_as(world.users.regulator)
            .post(f"/review/assessments/{assessment.pk}/", {"decision": "return", "comment": ""}, **HTMX)
            .content.decode()
        )
        assert "A comment is required for this decision." in row
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.SUBMITTED


class WaiverGrantTests:
    def url(self, world):
        return f"/registrations/{world.registration.pk}/waivers/"

    def test_regulator_grants_a_waiver_with_htmx(self, world):
        expires = (timezone.localdate() + datetime.timedelta(days=60)).isoformat()
        requirement = f"{world.floor.framework.pk}:FLOOR-1"

        response = client_as(world.users.regulator).post(
            self.url(world),
            {"requirement": requirement, "justification": "Rewrite under way.", "expires_on": expires},
            **HTMX,
        )

        section = response.content.decode().strip()
        assert section.startswith('<div id="waivers-section">')
        assert "Waiver granted." in section and "Rewrite under way." in section and "In force" in section
        waiver = Waiver.objects.get()
        assert (waiver.requirement_code, waiver.expires_on.isoformat()) == ("FLOOR-1", expires)

    def test_justification_required_and_unknown_requirement_refused(self, world):
        client = client_as(world.users.regulator)
        expires = (timezone.localdate() + datetime.timedelta(days=60)).isoformat()
        section = client.post(
            self.url(world),
            {"requirement": f"{world.floor.framework.pk}:FLOOR-1", "justification": "", "expires_on": expires},
            **HTMX,
        ).content.decode()
        assert "Justification: This field is required." in section
        section = client.post(
            self.url(world), {"requirement": "0:NOPE", "justification": "x", "expires_on": expires}, **HTMX
        ).content.decode()
        assert "Choose a requirement that binds this registration." in section
        assert not Waiver.objects.exists()

    def test_without_javascript_the_page_comes_back_with_a_message(self, world):
        client = client_as(world.users.regulator)
        expires = (timezone.localdate() + datetime.timedelta(days=60)).isoformat()
        data = {"requirement": f"{world.floor.framework.pk}:FLOOR-1", "justification": "Ok.", "expires_on": expires}

        response = client.post(self.url(world), data)

        assert response["Location"] == f"/registrations/{world.registration.pk}/#waivers"
        assert "Waiver granted." in client.get(response["Location"]).content.decode()
        assert Waiver.objects.count() == 1

    def test_only_the_communitys_regulators_grant(self, world):
        data = {"requirement": f"{world.floor.framework.pk}:FLOOR-1", "justification": "x", "expires_on": "2099-01-01"}
        assert client_as(world.users.filer).post(self.url(world), data).status_code == 404
        assert client_as(world.users.other_regulator).post(self.url(world), data).status_code == 404
        assert not Waiver.objects.exists()


class RetireTests:
    def approve(self, world):
        client_as(world.users.regulator).post(
            decide_url(world.registration), {"decision": "approve", "comment": "Fine."}, **HTMX
        )

    def test_filer_retires_an_approved_registration_with_a_comment(self, world):
        self.approve(world)
        client = client_as(world.users.filer)
        assert "Retire this registration" in client.get(f"/registrations/{world.registration.pk}/").content.decode()

        response = client.post(f"/registrations/{world.registration.pk}/retire/", {"comment": ""})
        assert "A comment is required for this decision." in client.get(response["Location"]).content.decode()
        assert status_of(world.registration) == RegistrationStatus.APPROVED

        response = client.post(f"/registrations/{world.registration.pk}/retire/", {"comment": "Replaced."})
        assert response["Location"] == f"/registrations/{world.registration.pk}/"
        assert "Retired: the registration is no longer in force." in client.get(response["Location"]).content.decode()
        assert status_of(world.registration) == RegistrationStatus.RETIRED

    def test_only_approved_registrations_offer_it_and_outsiders_get_404(self, world):
        url = f"/registrations/{world.registration.pk}/"
        client = client_as(world.users.filer)
        assert "Retire this registration" not in client.get(url).content.decode()
        response = client.post(f"{url}retire/", {"comment": "Early."})
        assert (
            "A registration that is submitted cannot be retired." in client.get(response["Location"]).content.decode()
        )
        assert client_as(world.users.other_filer).post(f"{url}retire/", {"comment": "x"}).status_code == 404
        assert status_of(world.registration) == RegistrationStatus.SUBMITTED
