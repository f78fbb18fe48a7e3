"""Risk assessments over the API: workflow, permissions, validation, AIA import, tier and rule context.

nation ─┬─ region ── city   registration (system of org acme, submitted, tier unassessed)
        └─ other
"""

import datetime
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance import services
from governance.evaluation import build_contexts
from governance.models import AssessmentStatus, RiskAssessment
from governance.rules import evaluate as evaluate_rule
from registry.choices import CommunityRole, RegistrationStatus, RiskTier
from registry.models import AuditEvent, Registration
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    community_member,
    filer,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
URL = f"{API}/assessments/"
PUBLISHED = Path(__file__).parent / "data" / "aia_published"
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
        nation=nation,
        region=region,
        city=city,
        registration=registration,
        filer=filer(organization, username="filer"),
        regulator=community_member(region, CommunityRole.REGULATOR, username="regulator"),
        parent_regulator=community_member(nation, CommunityRole.REGULATOR, username="parent_regulator"),
        viewer=community_member(city, CommunityRole.VIEWER, username="viewer"),
        other_regulator=community_member(other, CommunityRole.REGULATOR, username="other_regulator"),
        author=community_member(region, CommunityRole.POLICY_AUTHOR, username="author"),
        unrelated=UserFactory(username="unrelated"),
    )


def create(client, registration, instrument="eu-ai-act-risk", answers=None, **fields):
    body = {"registration": registration.pk, "instrument": instrument, "answers": answers or {}, **fields}
    return client.post(URL, body, format="json")


def created(client, registration, **kwargs) -> dict:
    response = create(client, registration, **kwargs)
    assert response.status_code == 201, response.content
    return response.json()


def submitted(world, client_for, answers=HIGH_RISK) -> dict:
    client = client_for(world.filer)
    body = created(client, world.registration, answers=answers)
    response = client.post(f"{URL}{body['id']}/submit/")
    assert response.status_code == 200, response.content
    return response.json()


class AssessmentWorkflowApiTests:
    def test_filer_submits_and_a_regulator_accepts_a_classification_that_sets_the_tier(self, world, client_for):
        filer_client = client_for(world.filer)
        body = created(filer_client, world.registration, answers=HIGH_RISK)
        assert (body["status"], body["version"], body["result"]["tier"]) == ("draft", "v1.0", "high")
        assert body["result"]["reasons"][0]["citation"] == "Article 6(2), Annex III point 5(a)"
        # A draft is the organization's working copy: the regulator does not see it yet.
        assert client_for(world.regulator).get(f"{URL}{body['id']}/").status_code == 404

        assert filer_client.post(f"{URL}{body['id']}/submit/").json()["status"] == "submitted"
        response = client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {"comment": "Agreed."})
        assert response.status_code == 200, response.content
        accepted = response.json()
        today = timezone.localdate()
        assert (accepted["status"], accepted["reviewer"], accepted["review_comment"]) == (
            "accepted",
            "regulator",
            "Agreed.",
        )
        assert accepted["valid_until"] == (today + datetime.timedelta(days=365)).isoformat()
        assert accepted["valid"] is True

        world.registration.refresh_from_db()
        assert world.registration.risk_tier == RiskTier.HIGH
        history = filer_client.get(f"{API}/registrations/{world.registration.pk}/history/").json()["results"]
        actions = [event["action"] for event in history]
        assert actions[:4] == [
            "registration.risk_tier_changed",
            "assessment.accepted",
            "assessment.submitted",
            "assessment.created",
        ]
        assert history[0]["changes"] == {"risk_tier": ["unassessed", "high"]}

    def test_an_unchanged_tier_writes_no_history(self, world, client_for):
        Registration.objects.filter(pk=world.registration.pk).update(risk_tier=RiskTier.HIGH)
        body = submitted(world, client_for)
        client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {})
        assert not AuditEvent.objects.filter(action="registration.risk_tier_changed").exists()

    def test_only_an_eu_classification_sets_the_tier(self, world, client_for):
        client = client_for(world.filer)
        body = created(client, world.registration, instrument="canada-aia", answers={"projectDetailsPhase": "item1"})
        client.post(f"{URL}{body['id']}/submit/")
        assert client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {}).status_code == 200
        world.registration.refresh_from_db()
        assert world.registration.risk_tier == RiskTier.UNASSESSED

    def test_regulator_returns_with_a_comment_and_the_filer_resubmits(self, world, client_for):
        body = submitted(world, client_for)
        regulator = client_for(world.parent_regulator)
        url = f"{URL}{body['id']}/return/"
        assert regulator.post(url, {}).json() == {"comment": ["A comment is required to return an assessment."]}
        returned = regulator.post(url, {"comment": "Point 5(a) does not fit: you are not a public authority."}).json()
        assert (returned["status"], returned["reviewer"]) == ("returned", "parent_regulator")

        filer_client = client_for(world.filer)
        answers = {**HIGH_RISK, "annex_iii_applies": "no"}
        answers.pop("annex_iii_areas"), answers.pop("annex_iii_profiling"), answers.pop("article_6_3_conditions")
        response = filer_client.put(f"{URL}{body['id']}/", {"answers": answers}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["result"]["tier"] == "minimal"
        resubmitted = filer_client.post(f"{URL}{body['id']}/submit/").json()
        assert (resubmitted["status"], resubmitted["reviewer"], resubmitted["review_comment"]) == (
            "submitted",
            None,
            "",
        )

    def test_a_submitted_assessment_is_not_edited_and_not_decided_twice(self, world, client_for):
        body = submitted(world, client_for)
        filer_client = client_for(world.filer)
        response = filer_client.put(f"{URL}{body['id']}/", {"answers": HIGH_RISK}, format="json")
        assert response.status_code == 409
        assert filer_client.post(f"{URL}{body['id']}/submit/").status_code == 409
        regulator = client_for(world.regulator)
        assert regulator.post(f"{URL}{body['id']}/accept/", {}).status_code == 200
        assert regulator.post(f"{URL}{body['id']}/return/", {"comment": "Late."}).status_code == 409

    def test_an_incomplete_classification_cannot_be_submitted(self, world, client_for):
        client = client_for(world.filer)
        body = created(client, world.registration, answers={"annex_iii_applies": "yes"})
        response = client.post(f"{URL}{body['id']}/submit/")
        assert response.status_code == 400
        messages = response.json()["answers"]
        assert messages[0] == "The assessment cannot be submitted until these are answered."
        assert "annex_iii_areas: an answer is required." in messages
        assert RiskAssessment.objects.get().status == AssessmentStatus.DRAFT


class AssessmentPermissionApiTests:
    def test_who_may_review(self, world, client_for):
        body = submitted(world, client_for)
        url = f"{URL}{body['id']}/accept/"
        assert client_for(world.filer).post(url, {}).status_code == 403
        assert client_for(world.viewer).post(url, {}).status_code == 403  # sees it, may not decide
        assert client_for(world.author).post(url, {}).status_code == 403
        assert client_for(world.other_regulator).post(url, {}).status_code == 404
        assert client_for(world.unrelated).post(url, {}).status_code == 404
        assert client_for(None).post(url, {}).status_code == 401
        assert RiskAssessment.objects.get().status == AssessmentStatus.SUBMITTED

    def test_a_regulator_cannot_review_an_assessment_of_their_own_organization(self, world, client_for):
        filer(world.registration.organization, user=world.regulator)
        body = submitted(world, client_for)
        response = client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {})
        assert response.status_code == 403
        assert response.json()["detail"] == "You cannot review an assessment filed by an organization you belong to."

    def test_who_may_file(self, world, client_for):
        # A regulator sees the registration but does not file for it; strangers do not see it at all.
        assert create(client_for(world.regulator), world.registration, answers=HIGH_RISK).status_code == 403
        response = create(client_for(world.other_regulator), world.registration, answers=HIGH_RISK)
        assert response.json() == {"registration": [f'Invalid pk "{world.registration.pk}" - object does not exist.']}
        body = submitted(world, client_for)
        for user in (world.regulator, world.viewer):
            assert client_for(user).get(f"{URL}{body['id']}/").status_code == 200
            response = client_for(user).put(f"{URL}{body['id']}/", {"answers": {}}, format="json")
            assert response.status_code == 403
        assert not RiskAssessment.objects.exclude(status=AssessmentStatus.SUBMITTED).exists()

    def test_lists_show_drafts_to_the_filing_organization_only(self, world, client_for):
        draft = created(client_for(world.filer), world.registration, answers=HIGH_RISK)
        sent = submitted(world, client_for)

        def listed(user, query=""):
            response = client_for(user).get(f"{URL}{query}")
            assert response.status_code == 200
            return [row["id"] for row in response.json()["results"]]

        assert listed(world.filer) == [sent["id"], draft["id"]]
        assert listed(world.regulator) == listed(world.viewer) == [sent["id"]]
        assert listed(world.other_regulator) == listed(world.unrelated) == []
        assert listed(world.filer, "?status=draft") == [draft["id"]]
        assert listed(world.filer, "?instrument=canada-aia") == []
        assert listed(world.filer, f"?registration={world.registration.pk}") == [sent["id"], draft["id"]]

    def test_a_draft_registrations_assessments_stay_with_its_organization(self, world, client_for):
        Registration.objects.filter(pk=world.registration.pk).update(status=RegistrationStatus.DRAFT)
        body = submitted(world, client_for)
        assert client_for(world.regulator).get(f"{URL}{body['id']}/").status_code == 404


class AssessmentValidationApiTests:
    def test_scores_come_from_the_server_only(self, world, client_for):
        response = create(
            client_for(world.filer),
            world.registration,
            instrument="canada-aia",
            answers={"projectDetailsPhase": "item1"},
            result={"raw_score": 0, "impact_level": 1},
        )
        assert response.status_code == 400
        assert list(response.json()) == ["result"]
        assert not RiskAssessment.objects.exists()

    @pytest.mark.parametrize(
        ("fields", "errors"),
        [
            (
                {"instrument": "canada-aia", "answers": {"impact1": "item1-3"}},
                {"answers": ["impact1: not a question of canada-aia v1.0.1."]},
            ),
            (
                {"instrument": "canada-aia", "version": "v0.9", "answers": {"impact1": "item9-9"}},
                {"answers": ["impact1: item9-9 is not one of the choices (item1-1, item2-0)."]},
            ),
            (
                {"instrument": "canada-aia", "answers": {"decisionSector1": "item1-1", "riskProfile1": 3}},
                {"answers": ["decisionSector1: give a list of choices.", "riskProfile1: give one choice as a string."]},
            ),
            (
                {"instrument": "canada-aia", "answers": ["item1-1"]},
                {"answers": ["Give the answers as an object mapping question names to answers."]},
            ),
            (
                {"instrument": "fria"},
                {"instrument": ["Unknown instrument; choose one of canada-aia, eu-ai-act-risk, risk-register."]},
            ),
            (
                {"instrument": "canada-aia", "version": "v2.0"},
                {"version": ["canada-aia has no version v2.0; choose one of v0.9, v0.9.1, v0.10.0, v1.0.1."]},
            ),
        ],
    )
    def test_errors_name_the_question(self, world, client_for, fields, errors):
        response = create(client_for(world.filer), world.registration, **fields)
        assert response.status_code == 400
        assert response.json() == errors
        assert not RiskAssessment.objects.exists()

    def test_an_answer_to_a_hidden_question_comes_back_as_a_warning(self, world, client_for):
        answers = {**HIGH_RISK, "annex_iii_profiling": "yes"}  # hides the Article 6(3) question
        body = created(client_for(world.filer), world.registration, answers=answers)
        assert body["warnings"] == [
            {
                "question": "article_6_3_conditions",
                "message": "article_6_3_conditions: ignored, because the question is hidden by your other answers "
                '({annex_iii_applies} = "yes" and {annex_iii_profiling} = "no").',
            }
        ]
        assert "article_6_3_conditions" not in body["answers"]

    def test_risk_register(self, world, client_for):
        risk = {
            "id": "R1",
            "title": "Drift",
            "likelihood": 3,
            "severity": 3,
            "owner": "Ops",
            "residual_likelihood": 2,
            "residual_severity": 2,
        }
        body = created(
            client_for(world.filer), world.registration, instrument="risk-register", answers={"risks": [risk]}
        )
        assert body["result"]["risks"][0]["residual_level"] == "low"
        bad = create(
            client_for(world.filer),
            world.registration,
            instrument="risk-register",
            answers={"risks": [{**risk, "severity": 0}]},
        )
        assert bad.json() == {"answers": ["risks[0].severity: give a whole number from 1 to 5."]}


class ImportAiaApiTests:
    url = f"{URL}import-aia/"

    def test_a_published_save_file_imports_and_scores(self, world, client_for):
        document = json.loads((PUBLISHED / "published_cea9985f_2021_Update_2.json").read_text())
        response = client_for(world.filer).post(
            self.url, {"registration": world.registration.pk, "file": document}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["instrument"], body["version"], body["status"]) == ("canada-aia", "v0.9", "draft")
        assert {k: body["result"][k] for k in ("raw_score", "mitigation_score", "current_score", "impact_level")} == {
            "raw_score": 39,
            "mitigation_score": 36,
            "current_score": 33,
            "impact_level": 2,
        }
        assert [w["question"] for w in body["warnings"]] == [
            "consultationImplementation2-NS",
            "consultationImplementation4-NS",
        ]
        assert "consultationImplementation2-NS" not in body["answers"]
        assert [o["title"]["en"] for o in body["obligations"]][:2] == ["Notice", "Explanation"]
        assert body["obligations"][-1]["text"]["en"].startswith("Assistant deputy minister")
        assert AuditEvent.objects.filter(action="assessment.imported", registration_id=world.registration.pk).exists()

    @pytest.mark.parametrize(
        ("file", "message"),
        [
            ({"data": {}}, 'Give the official tool\'s save file: an object with "version" and "data".'),
            ({"version": "v3", "data": {}}, "v3 is not a version of the AIA questionnaire"),
            ("not json object", 'Give the official tool\'s save file: an object with "version" and "data".'),
        ],
    )
    def test_bad_save_files_are_refused(self, world, client_for, file, message):
        response = client_for(world.filer).post(
            self.url, {"registration": world.registration.pk, "file": file}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["file"][0].startswith(message)

    def test_only_filers_import(self, world, client_for):
        document = json.loads((PUBLISHED / "published_452e10be_Original_choice_answers.json").read_text())
        body = {"registration": world.registration.pk, "file": document}
        assert client_for(world.regulator).post(self.url, body, format="json").status_code == 403
        assert client_for(world.unrelated).post(self.url, body, format="json").status_code == 400
        assert not RiskAssessment.objects.exists()


class InstrumentApiTests:
    def test_instruments_with_versions_and_questions(self, world, client_for):
        response = client_for(world.unrelated).get(f"{API}/instruments/")
        assert response.status_code == 200
        instruments = {item["slug"]: item for item in response.json()}
        assert list(instruments) == ["canada-aia", "eu-ai-act-risk", "risk-register"]
        aia = instruments["canada-aia"]
        assert [v["version"] for v in aia["versions"]] == ["v0.9", "v0.9.1", "v0.10.0", "v1.0.1"]
        assert [v["validity_days"] for v in aia["versions"]] == [730] * 4
        latest = aia["versions"][-1]
        question = next(q for q in latest["questions"] if q["name"] == "riskProfile1")
        assert question["score"] == "RS"
        assert question["title"]["fr"].startswith("Le projet s'inscrit-il")
        assert question["choices"][0] == {"value": "item1-3", "text": {"en": "Yes", "fr": "Oui"}}
        assert (latest["max_raw_score"], latest["max_mitigation_score"]) == (167, 154)
        assert instruments["eu-ai-act-risk"]["validity_parameter"] == "eu_ai_act_risk_validity_days"

    def test_one_instrument(self, world, client_for):
        client = client_for(world.unrelated)
        assert client.get(f"{API}/instruments/eu-ai-act-risk/").json()["latest"] == "v1.0"
        assert client.get(f"{API}/instruments/fria/").status_code == 404
        assert client_for(None).get(f"{API}/instruments/").status_code == 401


class AssessmentRuleContextTests:
    def test_a_community_parameter_shortens_the_validity(self, world, client_for):
        author = world.author
        framework = services.framework_create(actor=author, community=world.region, urn="urn:test:r", name="R")
        version = services.version_create_draft(framework=framework, actor=author, version="1")
        services.requirement_save(
            version=version,
            actor=author,
            data={
                "code": "R-1",
                "title": "Classify every system",
                "kind": "rule",
                "check": 'assessments.exists(a, a.instrument == "eu-ai-act-risk" && a.valid)',
                "parameters": [
                    {
                        "name": "eu_ai_act_risk_validity_days",
                        "type": "int",
                        "default": 90,
                        "direction": "lower_is_stricter",
                    }
                ],
            },
        )
        services.version_publish(version=version, actor=author)
        body = submitted(world, client_for)
        accepted = client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {}).json()
        assert accepted["valid_until"] == (timezone.localdate() + datetime.timedelta(days=90)).isoformat()

    def test_rules_see_the_assessments(self, world, client_for):
        body = submitted(world, client_for)
        client_for(world.regulator).post(f"{URL}{body['id']}/accept/", {})
        created(client_for(world.filer), world.registration, instrument="canada-aia", answers={})
        today = timezone.localdate()
        registrations = list(Registration.objects.select_related("system__organization", "community"))
        context = build_contexts(registrations, on=today)[world.registration.pk]
        assert context["assessments"] == [
            {
                "instrument": "eu-ai-act-risk",
                "version": "v1.0",
                "status": "accepted",
                "tier": "high",
                "impact_level": 0,
                "age_days": 0,
                "valid": True,
            },
            {
                "instrument": "canada-aia",
                "version": "v1.0.1",
                "status": "draft",
                "tier": "",
                "impact_level": 1,
                "age_days": 0,
                "valid": False,
            },
        ]
        rule = 'assessments.exists(a, a.instrument == "eu-ai-act-risk" && a.valid && a.tier == "high")'
        assert evaluate_rule(rule, {**context, "params": {}}) is True
        later = build_contexts(registrations, on=today + datetime.timedelta(days=365))[world.registration.pk]
        assert later["assessments"][0]["valid"] is False
        assert later["assessments"][0]["age_days"] == 365

    def test_contexts_cost_the_same_queries_for_many_registrations(self, world):
        RegistrationFactory.create_batch(3, community=world.city, status=RegistrationStatus.SUBMITTED)
        registrations = list(Registration.objects.select_related("system__organization", "community"))
        for registration in registrations:
            RiskAssessment.objects.create(registration=registration, instrument="canada-aia", version="v1.0.1")
        with CaptureQueriesContext(connection) as one:
            build_contexts(registrations[:1], on=timezone.localdate())
        with CaptureQueriesContext(connection) as many:
            build_contexts(registrations, on=timezone.localdate())
        assert len(one) == len(many)
