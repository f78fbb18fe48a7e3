"""The assessment form in the browser: pages, visibility, validation, language, permissions and review.

nation ─┬─ region ── city   registration (system of org acme, submitted)
        └─ other
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from governance import services
from governance.instruments import canada_aia, surveyjs
from governance.models import AssessmentStatus, RiskAssessment
from governance.services.assessments import COMMENT_REQUIRED, INCOMPLETE
from governance.web.views import MORE_QUESTIONS, rich_text
from registry.choices import CommunityRole, RegistrationStatus, RiskTier
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    community_member,
    filer,
)

pytestmark = pytest.mark.django_db

PUBLISHED = Path(__file__).parent.parent / "data" / "aia_published"
HIGH_RISK = {
    "operator_role": "deployer",
    "scope_exclusions": ["none"],
    "article_5_practices": ["none"],
    "annex_i_product": "no",
    "annex_iii_applies": "yes",
    "annex_iii_areas": ["5a"],
    "annex_iii_profiling": "no",
    "article_6_3_conditions": ["none"],
    "article_50_cases": ["none"],
}


@pytest.fixture
def world():
    nation = CommunityFactory(slug="nation", kind="nation")
    region = CommunityFactory(slug="region", kind="region", parent=nation)
    city = CommunityFactory(slug="city", parent=region)
    other = CommunityFactory(slug="other", kind="region", parent=nation)
    organization = OrganizationFactory(slug="acme")
    registration = RegistrationFactory(
        community=city, status=RegistrationStatus.SUBMITTED, system=AISystemFactory(organization=organization)
    )
    return SimpleNamespace(
        registration=registration,
        filer=filer(organization, username="filer"),
        regulator=community_member(region, CommunityRole.REGULATOR, username="regulator"),
        other_regulator=community_member(other, CommunityRole.REGULATOR, username="other_regulator"),
        other_filer=filer(OrganizationFactory(slug="rival"), username="other_filer"),
    )


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def draft(world, instrument="eu-ai-act-risk", answers=None, version=None) -> RiskAssessment:
    return services.assessment_create(
        actor=world.filer,
        registration=world.registration,
        instrument=instrument,
        version=version,
        answers=answers or {},
    )


def submitted(world, answers=HIGH_RISK) -> RiskAssessment:
    return services.assessment_submit(assessment=draft(world, answers=answers), actor=world.filer)


def page_url(assessment, page):
    return f"/assessments/{assessment.pk}/edit/{page}/"


def fieldset(html: str, name: str) -> str:
    """The opening tag of a question's fieldset."""
    start = html.index(f'data-question="{name}"')
    return html[start : html.index(">", start)]


class AssessmentFillingTests:
    def test_a_filer_fills_the_aia_page_by_page_and_gets_the_api_score(self, world, signed_in, client_for):
        document = json.loads((PUBLISHED / "published_452e10be_Original_choice_answers.json").read_text())
        version = document["version"]
        answers = canada_aia.evaluate(version, document["data"], save_file=True).answers
        questions = canada_aia.questionnaire(version).questions
        client = signed_in(world.filer)

        response = client.post(
            f"/assessments/new/?registration={world.registration.pk}",
            {"instrument": "canada-aia", "version": f"canada-aia:{version}"},
        )
        assert response.status_code == 302
        location, visited = response["Location"], []
        while "/edit/" in location:
            page = location.rstrip("/").rsplit("/", 1)[1]
            assert client.get(location).status_code == 200
            posted = {name: value for name, value in answers.items() if questions[name].page == page}
            response = client.post(location, {**posted, "action": "next"})
            assert response.status_code == 302, response.content.decode()[:2000]
            visited.append(page)
            location = response["Location"]
            assert len(visited) < 40
        assessment = RiskAssessment.objects.get()
        assert location == f"/assessments/{assessment.pk}/review/"
        # The design-phase pages are hidden by the phase answer, so they were never shown.
        assert "consultationImplementation" in visited and "consultationDesign" not in visited
        assert assessment.answers == answers

        review = client.get(location).content.decode()
        assert '<span class="level" id="impact-level">II</span>' in review
        response = client.post(f"/assessments/{assessment.pk}/submit/")
        assert response.status_code == 302
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.SUBMITTED

        api = client_for(world.filer).post(
            "/api/v1/assessments/",
            {"registration": world.registration.pk, "instrument": "canada-aia", "version": version, "answers": answers},
            format="json",
        )
        assert api.status_code == 201, api.content
        keys = ("raw_score", "mitigation_score", "current_score", "impact_level")
        assert {k: assessment.result[k] for k in keys} == {k: api.json()["result"][k] for k in keys}
        assert {k: assessment.result[k] for k in keys} == {
            "raw_score": 58,
            "mitigation_score": 69,
            "current_score": 49,
            "impact_level": 2,
        }

        detail = client.get(f"/assessments/{assessment.pk}/").content.decode()
        assert '<dd id="current-score">49</dd>' in detail
        assert escape(canada_aia.obligations(2)[0]["text"]["en"]) in detail

    def test_visible_if_hides_a_question_until_the_answer_that_opens_it(self, world, signed_in):
        assessment = draft(world)
        client = signed_in(world.filer)
        url = page_url(assessment, "product_safety")

        html = client.get(url).content.decode()
        assert "hidden disabled" in fieldset(html, "annex_i_legislation")
        assert "hidden" not in fieldset(html, "annex_i_product")

        response = client.post(url, {"annex_i_product": "yes", "action": "next"}, follow=True)
        # The new follow-up questions are on the same page: it is shown again, now with them.
        assert response.redirect_chain[-1][0] == url
        html = response.content.decode()
        assert escape(str(MORE_QUESTIONS)) in html
        assert "hidden" not in fieldset(html, "annex_i_legislation")

    def test_an_answer_to_a_hidden_question_is_not_counted(self, world, signed_in):
        assessment = draft(world)
        client = signed_in(world.filer)
        response = client.post(
            page_url(assessment, "product_safety"),
            {"annex_i_product": "no", "annex_i_legislation": "medical_devices", "action": "next"},
        )
        assert response["Location"] == page_url(assessment, "annex_iii")
        assessment.refresh_from_db()
        assert assessment.answers == {"annex_i_product": "no"}
        assert [w["question"] for w in assessment.warnings] == ["annex_i_legislation"]
        detail = client.get(f"/assessments/{assessment.pk}/").content.decode()
        assert "annex_i_legislation: ignored, because the question is hidden" in detail

    def test_a_page_hidden_by_earlier_answers_is_skipped(self, world, signed_in):
        assessment = draft(world, instrument="canada-aia", answers={"projectDetailsPhase": "item1"})
        client = signed_in(world.filer)
        response = client.get(page_url(assessment, "consultationImplementation"))
        assert response.status_code == 302
        assert response["Location"] == page_url(assessment, "dataQualityDesign")

    def test_an_invalid_answer_is_a_form_error_and_saves_nothing(self, world, signed_in):
        assessment = draft(world, answers={"operator_role": "provider"})
        client = signed_in(world.filer)
        response = client.post(
            page_url(assessment, "scope"), {"operator_role": "astronaut", "scope_exclusions": ["none", "military"]}
        )
        assert response.status_code == 400
        html = response.content.decode()
        assert "operator_role: astronaut is not one of the choices" in html
        assert "scope_exclusions: none cannot be combined with other choices." in html
        assessment.refresh_from_db()
        assert assessment.answers == {"operator_role": "provider"}

    def test_questions_follow_the_active_language(self, world, signed_in):
        assessment = draft(world, instrument="canada-aia")
        client = signed_in(world.filer)
        question = canada_aia.questionnaire(assessment.version).questions["projectDetailsPhase"]
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
        html = client.get(page_url(assessment, "projectDetails")).content.decode()
        assert "<h1>Détails du projet</h1>" in html
        assert escape(question.title["fr"]) in html
        assert escape(question.choices[0].text["fr"]) in html
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = client.get(page_url(assessment, "projectDetails")).content.decode()
        assert "<h1>Project Details</h1>" in html
        assert escape(question.title["en"]) in html

    def test_an_incomplete_classification_is_not_submitted(self, world, signed_in):
        assessment = draft(world, answers={"annex_iii_applies": "yes"})
        client = signed_in(world.filer)
        review = client.get(f"/assessments/{assessment.pk}/review/").content.decode()
        assert escape(surveyjs.REQUIRED % {"name": "annex_iii_areas"}) in review
        response = client.post(f"/assessments/{assessment.pk}/submit/")
        assert response.status_code == 400
        assert escape(str(INCOMPLETE)) in response.content.decode()
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.DRAFT

    def test_the_list_shows_a_registrations_assessments_with_their_result(self, world, signed_in):
        assessment = draft(world, answers=HIGH_RISK)
        html = signed_in(world.filer).get(f"/assessments/?registration={world.registration.pk}").content.decode()
        assert f'href="/assessments/{assessment.pk}/"' in html
        assert str(RiskTier.HIGH.label) in html
        assert f'href="/assessments/new/?registration={world.registration.pk}"' in html

    def test_the_list_filters_by_status_and_refuses_an_unknown_one(self, world, signed_in):
        waiting = submitted(world)
        working = draft(world, instrument="canada-aia")
        client = signed_in(world.filer)
        html = client.get("/assessments/?status=submitted").content.decode()
        assert f'href="/assessments/{waiting.pk}/"' in html
        assert f'href="/assessments/{working.pk}/"' not in html
        assert client.get("/assessments/?status=lost").status_code == 400

    def test_a_version_of_another_instrument_is_a_form_error(self, world, signed_in):
        response = signed_in(world.filer).post(
            f"/assessments/new/?registration={world.registration.pk}",
            {"instrument": "eu-ai-act-risk", "version": "canada-aia:v0.9"},
        )
        assert response.status_code == 400
        assert "Choose a version of the instrument you chose, or the latest." in response.content.decode()
        assert not RiskAssessment.objects.exists()


class AiaImportFormTests:
    def test_a_published_save_file_imports_with_its_ignored_keys_as_warnings(self, world, signed_in):
        client = signed_in(world.filer)
        path = PUBLISHED / "published_cea9985f_2021_Update_2.json"
        upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/json")
        response = client.post(f"/assessments/import-aia/?registration={world.registration.pk}", {"file": upload})
        assessment = RiskAssessment.objects.get()
        assert response["Location"] == f"/assessments/{assessment.pk}/"
        assert (assessment.version, assessment.result["current_score"]) == ("v0.9", 33)
        html = client.get(response["Location"]).content.decode()
        assert '<dd id="current-score">33</dd>' in html
        assert "consultationImplementation2-NS: not a question of AIA v0.9; ignored" in html

    def test_a_file_that_is_not_a_save_file_is_a_form_error(self, world, signed_in):
        client = signed_in(world.filer)
        url = f"/assessments/import-aia/?registration={world.registration.pk}"
        response = client.post(url, {"file": SimpleUploadedFile("x.json", b"{not json")})
        assert response.status_code == 400
        assert "The file is not JSON" in response.content.decode()
        response = client.post(url, {"file": SimpleUploadedFile("x.json", b'{"version": "v9", "data": {}}')})
        assert response.status_code == 400
        assert "v9 is not a version of the AIA questionnaire" in response.content.decode()
        assert not RiskAssessment.objects.exists()

    def test_the_registration_must_be_named(self, world, signed_in):
        assert signed_in(world.filer).get("/assessments/import-aia/").status_code == 400
        assert signed_in(world.filer).get("/assessments/new/").status_code == 400


class AssessmentPermissionTests:
    def test_another_organizations_user_gets_404_everywhere(self, world, signed_in):
        assessment = draft(world, answers=HIGH_RISK)
        client = signed_in(world.other_filer)
        pk = assessment.pk
        for url in (
            f"/assessments/{pk}/",
            page_url(assessment, "scope"),
            f"/assessments/{pk}/review/",
            f"/assessments/new/?registration={world.registration.pk}",
            f"/assessments/import-aia/?registration={world.registration.pk}",
            f"/assessments/?registration={world.registration.pk}",
        ):
            assert client.get(url).status_code == 404, url
        assert client.post(page_url(assessment, "scope"), {"operator_role": "provider"}).status_code == 404
        assert client.post(f"/assessments/{pk}/submit/").status_code == 404
        assert client.post(f"/assessments/{pk}/accept/").status_code == 404
        assessment.refresh_from_db()
        assert (assessment.status, assessment.answers["operator_role"]) == ("draft", "deployer")

    def test_a_regulator_sees_no_draft_and_may_not_fill_in(self, world, signed_in):
        assessment = draft(world, answers=HIGH_RISK)
        client = signed_in(world.regulator)
        assert client.get(f"/assessments/{assessment.pk}/").status_code == 404
        assert client.get(f"/assessments/new/?registration={world.registration.pk}").status_code == 403
        services.assessment_submit(assessment=assessment, actor=world.filer)
        assert client.get(f"/assessments/{assessment.pk}/").status_code == 200
        assert client.get(page_url(assessment, "scope")).status_code == 403
        assert signed_in(world.other_regulator).get(f"/assessments/{assessment.pk}/").status_code == 404

    def test_anonymous_users_are_sent_to_the_login_page(self, client):
        response = client.get("/assessments/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/assessments/"


class AssessmentDecisionTests:
    def test_a_regulator_accepts_and_the_classification_sets_the_tier(self, world, signed_in):
        assessment = submitted(world)
        client = signed_in(world.regulator)
        html = client.get(f"/assessments/{assessment.pk}/").content.decode()
        assert f'hx-post="/assessments/{assessment.pk}/accept/"' in html
        response = client.post(f"/assessments/{assessment.pk}/accept/", {"comment": "Agreed."})
        assert response.status_code == 302
        assessment.refresh_from_db()
        assert (assessment.status, assessment.review_comment) == (AssessmentStatus.ACCEPTED, "Agreed.")
        world.registration.refresh_from_db()
        assert world.registration.risk_tier == RiskTier.HIGH
        html = client.get(response["Location"]).content.decode()
        assert "Assessment accepted." in html
        assert 'id="registration-tier">High risk</span>' in html
        assert "hx-post" not in html

    def test_a_regulator_returns_with_a_comment_through_htmx(self, world, signed_in):
        assessment = submitted(world)
        client = signed_in(world.regulator)
        url = f"/assessments/{assessment.pk}/return/"
        response = client.post(url, {"comment": ""}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        html = response.content.decode()
        assert html.startswith('<section id="review-panel"')
        assert escape(str(COMMENT_REQUIRED)) in html
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.SUBMITTED

        response = client.post(
            url, {"comment": "Annex III 5(a) needs a public authority."}, headers={"HX-Request": "true"}
        )
        html = response.content.decode()
        assert 'id="assessment-status">Returned for changes</span>' in html
        assert "Annex III 5(a) needs a public authority." in html
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.RETURNED

        # The filer sees the comment and may change the answers again.
        filer_client = signed_in(world.filer)
        page = filer_client.get(page_url(assessment, "annex_iii"))
        assert page.status_code == 200
        assert "Annex III 5(a) needs a public authority." in page.content.decode()

    def test_returning_without_a_comment_is_a_form_error_without_js(self, world, signed_in):
        assessment = submitted(world)
        response = signed_in(world.regulator).post(f"/assessments/{assessment.pk}/return/", {"comment": "  "})
        assert response.status_code == 400
        assert escape(str(COMMENT_REQUIRED)) in response.content.decode()

    def test_the_filer_has_no_review_buttons_and_may_not_decide(self, world, signed_in):
        assessment = submitted(world)
        client = signed_in(world.filer)
        assert "hx-post" not in client.get(f"/assessments/{assessment.pk}/").content.decode()
        response = client.post(f"/assessments/{assessment.pk}/accept/")
        assert response.status_code == 403
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.SUBMITTED


def risk_rows(*rows, initial=0):
    """The risk formset's POST data for `rows` (dicts of field → value)."""
    data = {
        "risks-TOTAL_FORMS": str(len(rows)),
        "risks-INITIAL_FORMS": str(initial),
        "risks-MIN_NUM_FORMS": "0",
        "risks-MAX_NUM_FORMS": "500",
    }
    for index, row in enumerate(rows):
        data |= {f"risks-{index}-{key}": value for key, value in row.items()}
    return data


class RiskRegisterFormTests:
    def test_a_filer_records_risks_and_sees_their_levels(self, world, signed_in):
        client = signed_in(world.filer)
        response = client.post(
            f"/assessments/new/?registration={world.registration.pk}", {"instrument": "risk-register"}
        )
        assessment = RiskAssessment.objects.get()
        assert response["Location"] == f"/assessments/{assessment.pk}/risks/"
        assert client.get(response["Location"]).status_code == 200

        data = risk_rows(
            {
                "title": "Wrongful denial of benefits",
                "likelihood": "4",
                "severity": "5",
                "owner": "Benefits office",
                "mitigations": "Human review of every denial [done]\nQuarterly bias audit",
                "residual_likelihood": "2",
                "residual_severity": "4",
                "status": "mitigating",
            },
            {"title": "", "likelihood": "", "severity": "", "status": "open"},
        )
        response = client.post(f"/assessments/{assessment.pk}/risks/", {**data, "action": "next"})
        assert response["Location"] == f"/assessments/{assessment.pk}/review/"
        assessment.refresh_from_db()
        assert assessment.answers["risks"] == [
            {
                "id": "R1",
                "title": "Wrongful denial of benefits",
                "owner": "Benefits office",
                "likelihood": 4,
                "severity": 5,
                "residual_likelihood": 2,
                "residual_severity": 4,
                "status": "mitigating",
                "mitigations": [
                    {"action": "Human review of every denial", "status": "done"},
                    {"action": "Quarterly bias audit", "status": "planned"},
                ],
            }
        ]
        assert assessment.result["highest_residual_level"] == "medium"
        html = client.get(f"/assessments/{assessment.pk}/review/").content.decode()
        assert "Wrongful denial of benefits" in html
        assert "20 (critical)" in html and "8 (medium)" in html
        assert client.post(f"/assessments/{assessment.pk}/submit/").status_code == 302
        assessment.refresh_from_db()
        assert assessment.status == AssessmentStatus.SUBMITTED

    def test_a_residual_risk_above_the_inherent_one_is_a_row_error(self, world, signed_in):
        assessment = draft(world, instrument="risk-register")
        data = risk_rows(
            {
                "title": "Data leak",
                "likelihood": "2",
                "severity": "2",
                "residual_likelihood": "5",
                "residual_severity": "5",
            }
        )
        response = signed_in(world.filer).post(f"/assessments/{assessment.pk}/risks/", data)
        assert response.status_code == 400
        assert "risks[0]: the residual risk cannot exceed the inherent risk." in response.content.decode()
        assessment.refresh_from_db()
        assert assessment.answers == {}


class ObligationTextTests:
    def test_the_directives_links_survive_and_nothing_else_is_markup(self):
        text = 'See <a href="https://www.canada.ca/en/gba.html">GBA Plus</a>.\n\n\n\n<script>alert(1)</script>'
        assert rich_text(text) == (
            'See <a href="https://www.canada.ca/en/gba.html" rel="noopener">GBA Plus</a>.\n\n'
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        )
        assert "<a" not in rich_text('<a href="javascript:alert(1)">x</a>')


class AssessmentQueryTests:
    def test_pages_read_a_bounded_number_of_rows(self, world, signed_in, django_assert_max_num_queries):
        # Session, user, memberships, the rows, one permission check, and the site layout's own few.
        assessment = submitted(world)
        for _ in range(20):
            draft(world, answers=HIGH_RISK)
        regulator = signed_in(world.regulator)
        with django_assert_max_num_queries(15):
            assert regulator.get(f"/assessments/{assessment.pk}/").status_code == 200
        filer_client = signed_in(world.filer)
        with django_assert_max_num_queries(15):
            assert filer_client.get(f"/assessments/?registration={world.registration.pk}").status_code == 200
