"""The evaluator, the impact preview and the version diff, on a hand-built fixture."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from governance import services
from governance.choices import EvidenceStatus, ResultStatus
from governance.evaluation import evaluate_registrations, impact_preview
from governance.selectors import version_diff
from registry.choices import CommunityKind, CommunityRole, OperatorRole, RegistrationStatus, RiskTier
from registry.errors import InvalidTransition
from registry.models import AuditEvent, Registration
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    RegistrationFactory,
    community_member,
    filer,
    regulator,
)

pytestmark = pytest.mark.django_db

ON = datetime.date.today()
FLOOR = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:floor",
    "name": "Floor",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {
            "code": "OVERSIGHT",
            "title": "Human oversight described",
            "kind": "rule",
            "applies_when": 'registration.risk_tier == "high"',
            "check": "size(system.human_oversight_description) >= params.min_chars",
            "parameters": [{"name": "min_chars", "type": "int", "default": 10, "direction": "higher_is_stricter"}],
        },
        {
            "code": "FRIA-DOC",
            "title": "Fundamental rights impact assessment on file",
            "kind": "evidence",
            "applies_when": 'system.operator_role == "deployer"',
            "evidence": "The signed assessment.",
        },
        {"code": "INFO", "title": "Background", "kind": "informative"},
    ],
}


@pytest.fixture
def floor():
    version, _created = services.version_import(document=FLOOR, actor=None, publish=True)
    return version


@pytest.fixture
def region():
    nation = CommunityFactory(slug="nation", kind=CommunityKind.NATION)
    return CommunityFactory(slug="region", kind=CommunityKind.REGION, parent=nation)


@pytest.fixture
def city(region):
    return CommunityFactory(slug="city", parent=region)


def live(community, **system_fields):
    return RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        risk_tier=system_fields.pop("risk_tier", RiskTier.HIGH),
        system=AISystemFactory(**system_fields),
    )


def outcomes(registration, **kwargs):
    results = evaluate_registrations(Registration.objects.filter(pk=registration.pk), on=ON, **kwargs)
    return {key[1]: outcome for key, (_item, outcome) in results[registration.pk].items()}


class EvaluateTests:
    def test_rule_outcomes_and_reasons(self, floor, city):
        passing = live(city, human_oversight_description="A caseworker reviews every output.")
        failing = live(city, human_oversight_description="")
        exempt = live(city, risk_tier=RiskTier.MINIMAL)
        assert outcomes(passing)["OVERSIGHT"].status == ResultStatus.PASS
        result = outcomes(failing)["OVERSIGHT"]
        assert result.status == ResultStatus.FAIL
        assert "size(system.human_oversight_description)" in result.reason
        assert outcomes(exempt)["OVERSIGHT"].status == ResultStatus.NOT_APPLICABLE
        assert "INFO" not in outcomes(passing)  # informative requirements are not checked

    def test_evidence_outcomes_follow_the_review(self, floor, city):
        registration = live(city, operator_role=OperatorRole.DEPLOYER)
        assert outcomes(registration)["FRIA-DOC"].reason == "Evidence needed: The signed assessment."
        the_filer = filer(registration.organization)
        evidence = services.evidence_submit(
            registration=registration,
            actor=the_filer,
            framework=floor.framework,
            requirement_code="FRIA-DOC",
            statement="Signed by the director.",
            url="https://example.org/fria.pdf",
        )
        assert "awaits a regulator's review" in outcomes(registration)["FRIA-DOC"].reason
        services.evidence_review(evidence=evidence, actor=regulator(city), accept=True, comment="Complete.")
        assert outcomes(registration)["FRIA-DOC"].status == ResultStatus.PASS

    def test_a_valid_waiver_is_honoured_until_it_expires(self, floor, city):
        registration = live(city, human_oversight_description="")
        services.waiver_grant(
            registration=registration,
            actor=regulator(city),
            framework=floor.framework,
            requirement_code="OVERSIGHT",
            justification="Pilot ends next month.",
            expires_on=ON + datetime.timedelta(days=30),
        )
        assert outcomes(registration)["OVERSIGHT"].status == ResultStatus.WAIVED
        later = evaluate_registrations(
            Registration.objects.filter(pk=registration.pk), on=ON + datetime.timedelta(days=31)
        )
        assert (
            next(o for k, (_i, o) in later[registration.pk].items() if k[1] == "OVERSIGHT").status == ResultStatus.FAIL
        )

    def test_a_rule_that_fails_to_evaluate_is_an_error_not_a_crash(self, floor, city):
        registration = live(city, human_oversight_description="ok")
        # Corrupt a published rule behind the services' back, as a bad migration might.
        floor.requirements.filter(code="OVERSIGHT").update(check_rule="params.min_chars / 0 > 1")
        assert outcomes(registration)["OVERSIGHT"].status == ResultStatus.ERROR


class ImpactPreviewTests:
    def test_counts_the_registrations_a_draft_newly_fails(self, floor, region, city):
        author = community_member(region, CommunityRole.POLICY_AUTHOR)
        framework = services.framework_create(actor=author, community=region, urn="urn:test:region", name="Region")
        draft = services.version_create_draft(framework=framework, actor=author, version="1")
        services.requirement_save(
            version=draft,
            actor=author,
            data={"code": "WEB", "title": "Public page", "kind": "rule", "check": "size(system.website) > 0"},
        )
        services.override_save(
            version=draft,
            actor=author,
            target_framework=floor.framework,
            target_code="OVERSIGHT",
            parameter="min_chars",
            value=40,
        )
        with_site = live(city, website="https://example.org/ai", human_oversight_description="x" * 50)
        no_site_a = live(city, human_oversight_description="Short but fine.")  # 15 chars: passes 10, fails 40
        no_site_b = live(region, human_oversight_description="x" * 50)
        live(CommunityFactory(slug="elsewhere"))  # outside the region: never counted
        RegistrationFactory(community=city, status=RegistrationStatus.RETIRED)  # retired: not counted
        RegistrationFactory(community=city, system=AISystemFactory(website=""))  # a draft: in no register yet

        preview = impact_preview(draft, on=ON)

        rows = {row["code"]: row for row in preview["requirements"]}
        assert preview["evaluated_registrations"] == 3
        assert rows["WEB"]["newly_failing"] == 2
        assert sorted(rows["WEB"]["registrations"]) == sorted([no_site_a.pk, no_site_b.pk])
        assert rows["OVERSIGHT"]["newly_failing"] == 1
        assert rows["OVERSIGHT"]["registrations"] == [no_site_a.pk]
        assert rows["OVERSIGHT"]["params"] == {"min_chars": 40}
        assert preview["newly_failing_registrations"] == 2
        assert with_site.pk not in rows["WEB"]["registrations"]


class DiffTests:
    def test_diff_lists_added_removed_changed_and_overrides(self, floor, region):
        author = community_member(region, CommunityRole.POLICY_AUTHOR)
        framework = services.framework_create(actor=author, community=region, urn="urn:test:region", name="Region")
        first = services.version_create_draft(framework=framework, actor=author, version="1")
        for code in ("A", "B"):
            services.requirement_save(version=first, actor=author, data={"code": code, "title": code, "check": "true"})
        services.version_publish(version=first, actor=author)
        second = services.version_create_draft(framework=framework, actor=author, version="2")
        services.requirement_save(version=second, actor=author, data={"code": "A", "title": "A, clarified"})
        services.requirement_delete(version=second, actor=author, code="B")
        services.requirement_save(version=second, actor=author, data={"code": "C", "title": "C", "check": "true"})
        services.override_save(
            version=second,
            actor=author,
            target_framework=floor.framework,
            target_code="OVERSIGHT",
            parameter="min_chars",
            value=20,
        )
        diff = version_diff(second, first)
        assert [r["code"] for r in diff["added"]] == ["C"]
        assert [r["code"] for r in diff["removed"]] == ["B"]
        assert diff["changed"] == {"A": {"title": ["A", "A, clarified"]}}
        assert diff["overrides"] == [
            {"framework": "urn:test:floor", "code": "OVERSIGHT", "parameter": "min_chars", "before": None, "after": 20}
        ]


class EvidenceTests:
    @pytest.fixture
    def registration(self, floor, city):
        return live(city, operator_role=OperatorRole.DEPLOYER)

    def submit(self, registration, floor, **kwargs):
        return services.evidence_submit(
            registration=registration,
            actor=filer(registration.organization),
            framework=floor.framework,
            requirement_code=kwargs.pop("code", "FRIA-DOC"),
            statement="Attached.",
            **kwargs,
        )

    def test_upload_is_stored_under_a_random_name(self, registration, floor):
        upload = SimpleUploadedFile("../../etc/report.pdf", b"%PDF-1.4 test", content_type="application/pdf")
        evidence = self.submit(registration, floor, file=upload)
        assert evidence.file_name == "report.pdf"
        assert evidence.file.name.startswith(f"evidence/{registration.pk}/")
        assert ".." not in evidence.file.name
        assert AuditEvent.objects.filter(action="evidence.submitted", registration_id=registration.pk).exists()

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("tool.exe", b"MZ", "not accepted"),
            ("report.pdf", b"MZ\x90\x00", "does not match"),
        ],
    )
    def test_bad_uploads_are_refused(self, registration, floor, name, content, message):
        with pytest.raises(ValidationError, match=message):
            self.submit(registration, floor, file=SimpleUploadedFile(name, content))

    def test_size_limit(self, registration, floor, settings):
        settings.EVIDENCE_MAX_BYTES = 10
        with pytest.raises(ValidationError, match="the limit is 10"):
            self.submit(registration, floor, file=SimpleUploadedFile("a.txt", b"x" * 11))

    def test_rule_requirements_take_no_evidence(self, registration, floor):
        with pytest.raises(ValidationError, match="checked by a rule"):
            self.submit(registration, floor, code="OVERSIGHT", url="https://example.org")

    def test_only_the_communitys_regulators_review_and_only_once(self, registration, floor, city):
        evidence = self.submit(registration, floor, url="https://example.org/fria")
        with pytest.raises(PermissionDenied):
            services.evidence_review(evidence=evidence, actor=regulator(CommunityFactory()), accept=True, comment="ok")
        services.evidence_review(evidence=evidence, actor=regulator(city), accept=False, comment="Unsigned.")
        evidence.refresh_from_db()
        assert evidence.status == EvidenceStatus.REJECTED
        with pytest.raises(InvalidTransition):
            services.evidence_review(evidence=evidence, actor=regulator(city), accept=True, comment="ok")


class WaiverTests:
    def test_filers_cannot_waive(self, floor, city):
        registration = live(city)
        with pytest.raises(PermissionDenied):
            services.waiver_grant(
                registration=registration,
                actor=filer(registration.organization),
                framework=floor.framework,
                requirement_code="OVERSIGHT",
                justification="Please.",
                expires_on=ON,
            )
        assert not registration.waivers.exists()

    def test_waiving_a_requirement_that_does_not_bind_is_refused(self, floor, city):
        registration = live(city)
        with pytest.raises(ValidationError, match="does not bind"):
            services.waiver_grant(
                registration=registration,
                actor=regulator(city),
                framework=floor.framework,
                requirement_code="NOPE",
                justification="x",
                expires_on=datetime.date(2099, 1, 1),
            )
