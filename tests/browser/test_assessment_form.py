"""The optional script shows and hides questions as the filer answers, and the server agrees on save."""

import pytest
from django.test import Client

from governance import services
from governance.models import RiskAssessment
from registry.choices import RegistrationStatus
from tests.factories import AISystemFactory, CommunityFactory, OrganizationFactory, RegistrationFactory, filer

pytestmark = pytest.mark.django_db(transaction=True)


class AssessmentScriptTests:
    def test_a_follow_up_question_appears_when_its_condition_holds(self, page, live_server):
        organization = OrganizationFactory()
        registration = RegistrationFactory(
            community=CommunityFactory(),
            status=RegistrationStatus.SUBMITTED,
            system=AISystemFactory(organization=organization),
        )
        user = filer(organization)
        assessment = services.assessment_create(
            actor=user, registration=registration, instrument="eu-ai-act-risk", answers={}
        )
        client = Client()
        client.force_login(user)
        page.context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
        )
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(f"/assessments/{assessment.pk}/edit/product_safety/")
        legislation = page.locator('fieldset[data-question="annex_i_legislation"]')
        assert legislation.is_hidden()
        page.locator('input[name="annex_i_product"][value="yes"]').check()
        legislation.wait_for(state="visible")
        page.select_option('select[name="annex_i_legislation"]', "medical_devices")
        page.locator('input[name="annex_i_third_party"][value="yes"]').check()
        page.locator('input[name="annex_i_product"][value="no"]').check()
        legislation.wait_for(state="hidden")
        page.locator('input[name="annex_i_product"][value="yes"]').check()
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url(f"**/assessments/{assessment.pk}/edit/annex_iii/")

        assessment = RiskAssessment.objects.get(pk=assessment.pk)
        assert assessment.answers == {
            "annex_i_product": "yes",
            "annex_i_legislation": "medical_devices",
            "annex_i_third_party": "yes",
        }
        assert assessment.warnings == []
        assert errors == []
