"""The compliance engine's outcomes: every result code, waivers, evidence states, rule errors, memoization."""

import datetime

import pytest
from django.utils import timezone

from governance import engine, services
from governance.choices import RequirementKind, ResultCode, ResultStatus
from governance.evaluation import evaluate_registrations
from governance.models import ComplianceResult, Evidence, RegistrationCompliance, Requirement
from governance.services.compliance import compliance_run_start
from registry.choices import OperatorRole, RegistrationStatus, RiskTier
from registry.models import Registration
from tests.factories import AISystemFactory, CommunityFactory, RegistrationFactory, filer, regulator

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()
DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:engine",
    "name": "Engine",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "ALWAYS", "title": "Always passes", "kind": "rule", "check": "true"},
        {
            "code": "VENDOR",
            "title": "Vendor named",
            "kind": "rule",
            "check": 'system.vendor != ""',
            "severity": "high",
        },
        {
            "code": "MINIMAL-ONLY",
            "title": "Only for minimal risk",
            "kind": "rule",
            "applies_when": 'registration.risk_tier == "minimal"',
            "check": "false",
        },
        {
            "code": "DOC",
            "title": "Documentation on file",
            "kind": "evidence",
            "applies_when": 'system.operator_role == "deployer"',
            "evidence": "The technical documentation.",
        },
        {"code": "BROKEN", "title": "Broken later", "kind": "rule", "check": "true"},
        {"code": "NOTE", "title": "Background", "kind": "informative"},
    ],
}


@pytest.fixture
def version():
    version, _created = services.version_import(document=DOCUMENT, actor=None, publish=True)
    return version


@pytest.fixture
def community():
    return CommunityFactory(slug="engine-town")


def live(community, risk_tier=RiskTier.HIGH, **system_fields):
    system_fields.setdefault("operator_role", OperatorRole.DEPLOYER)
    return RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        risk_tier=risk_tier,
        system=AISystemFactory(**system_fields),
    )


def sweep(django_capture_on_commit_callbacks, community=None):
    with django_capture_on_commit_callbacks(execute=True):
        run = compliance_run_start(community=community, trigger="manual")
    run.refresh_from_db()
    return run


def results(registration) -> dict[str, str]:
    rows = ComplianceResult.objects.filter(registration=registration).order_by("id")
    return {row.requirement_code: row.code for row in rows}


class EngineOutcomeTests:
    def test_each_code_with_its_status(self, version, community, django_capture_on_commit_callbacks):
        registration = live(community, vendor="")
        exempt = live(community, risk_tier=RiskTier.MINIMAL, operator_role=OperatorRole.PROVIDER)

        run = sweep(django_capture_on_commit_callbacks)

        assert run.status == "succeeded"
        assert results(registration) == {
            "ALWAYS": "P",
            "VENDOR": "F",
            "MINIMAL-ONLY": "N",
            "DOC": "E",
            "BROKEN": "P",
        }
        assert results(exempt)["MINIMAL-ONLY"] == "F"
        assert results(exempt)["DOC"] == "N"
        statuses = dict(
            ComplianceResult.objects.filter(registration=registration).values_list("requirement_code", "status")
        )
        assert statuses["VENDOR"] == ResultStatus.FAIL and statuses["MINIMAL-ONLY"] == ResultStatus.NOT_APPLICABLE
        assert "NOTE" not in results(registration)  # informative requirements are not checked

    def test_drafts_and_retired_registrations_are_not_judged(
        self, version, community, django_capture_on_commit_callbacks
    ):
        draft = RegistrationFactory(community=community, status=RegistrationStatus.DRAFT)
        retired = RegistrationFactory(community=community, status=RegistrationStatus.RETIRED)

        run = sweep(django_capture_on_commit_callbacks)

        assert run.total == 0
        assert not RegistrationCompliance.objects.filter(registration__in=[draft, retired]).exists()

    def test_evidence_needed_in_review_accepted(self, version, community, django_capture_on_commit_callbacks):
        registration = live(community)
        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["DOC"] == "E"

        evidence = services.evidence_submit(
            registration=registration,
            actor=filer(registration.organization),
            framework=version.framework,
            requirement_code="DOC",
            statement="Attached.",
            url="https://example.org/doc.pdf",
        )
        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["DOC"] == "R"

        services.evidence_review(evidence=evidence, actor=regulator(community), accept=True, comment="Fine.")
        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["DOC"] == "V"

        Evidence.objects.filter(pk=evidence.pk).update(expires_on=TODAY)
        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["DOC"] == "E"  # expired evidence no longer counts

    def test_a_valid_waiver_makes_a_failure_waived_until_it_expires(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registration = live(community, vendor="")
        waiver = services.waiver_grant(
            registration=registration,
            actor=regulator(community),
            framework=version.framework,
            requirement_code="VENDOR",
            justification="Procurement under way.",
            expires_on=TODAY + datetime.timedelta(days=10),
        )

        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["VENDOR"] == "W"

        type(waiver).objects.filter(pk=waiver.pk).update(expires_on=TODAY)
        sweep(django_capture_on_commit_callbacks)
        assert results(registration)["VENDOR"] == "F"

    def test_a_rule_error_is_recorded_and_the_run_completes(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registration = live(community)
        Requirement.objects.filter(version=version, code="BROKEN").update(check_rule="system.vendor > 3")

        run = sweep(django_capture_on_commit_callbacks)

        assert run.status == "succeeded" and run.done == 1
        assert results(registration)["BROKEN"] == "X"
        state = RegistrationCompliance.objects.get(registration=registration)
        position = str(state.codes.index("X") + 1)
        assert "could not be evaluated" in state.errors[position]
        assert not registration.findings.filter(requirement_code="BROKEN").exists()

    def test_the_engine_agrees_with_the_impact_preview_evaluator(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registrations = [
            live(community, vendor=""),
            live(community, risk_tier=RiskTier.MINIMAL),
            live(community, operator_role=OperatorRole.PROVIDER),
        ]
        services.waiver_grant(
            registration=registrations[0],
            actor=regulator(community),
            framework=version.framework,
            requirement_code="DOC",
            justification="Later.",
            expires_on=TODAY + datetime.timedelta(days=3),
        )
        sweep(django_capture_on_commit_callbacks)

        preview = evaluate_registrations(Registration.objects.filter(pk__in=[r.pk for r in registrations]), on=TODAY)
        for registration in registrations:
            expected = {key[1]: outcome.status for key, (_item, outcome) in preview[registration.pk].items()}
            got = dict(
                ComplianceResult.objects.filter(registration=registration).values_list("requirement_code", "status")
            )
            assert got == expected


class MemoTests:
    def test_paths_a_rule_reads(self):
        reads = engine.rule_reads('registration.risk_tier == "high" && "x" in system.techniques && size(evidence) > 0')
        assert reads == {("registration", "risk_tier"), ("system", "techniques"), ("evidence", None)}
        assert engine.rule_reads('system.vendor == "a.b"') == {("system", "vendor")}
        assert engine.rule_reads("((") == set()

    def test_identical_registrations_share_one_evaluation(self, version, community, django_capture_on_commit_callbacks):
        for _n in range(5):
            live(community, vendor="Acme")
        sweep(django_capture_on_commit_callbacks)
        state = RegistrationCompliance.objects.filter(registration__community=community).first()
        compiled = engine.load_ruleset(state.ruleset_id)

        assert len(compiled.memo) == 1  # five registrations, one fingerprint of the values the rules read
        assert [item.kind for item in compiled.items].count(RequirementKind.EVIDENCE) == 1

    def test_due_days_from_the_parameter_or_the_severity(self):
        assert engine.due_days("critical", {}) == 14
        assert engine.due_days("low", {"finding_due_days": 7}) == 7
        assert engine.due_days("high", {"finding_due_days": 0}) == 30


def test_checked_at_is_when_the_result_was_written(version, community, django_capture_on_commit_callbacks):
    registration = live(community)
    before = timezone.now()
    sweep(django_capture_on_commit_callbacks)
    assert RegistrationCompliance.objects.get(registration=registration).checked_at >= before
    assert ResultCode.PASSED in RegistrationCompliance.objects.get(registration=registration).codes


LISTS = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:lists",
    "name": "Lists",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {
            "code": "ASSESSED",
            "title": "An accepted assessment",
            "kind": "rule",
            "check": "assessments.exists(a, a.valid)",
        },
        {
            "code": "ANY-EVIDENCE",
            "title": "Some evidence submitted",
            "kind": "rule",
            "check": 'evidence.exists(e, e.status == "submitted")',
        },
        {"code": "YOUNG", "title": "Recent", "kind": "rule", "check": "registration.age_days < 30"},
        {"code": "DATED", "title": "Dated", "kind": "rule", "check": 'today > timestamp("2020-01-01T00:00:00Z")'},
        {"code": "PAPER", "title": "Paper", "kind": "evidence", "evidence": "A paper."},
    ],
}


class WholeVariableTests:
    def test_rules_reading_lists_age_and_today_agree_with_the_preview(
        self, community, django_capture_on_commit_callbacks
    ):
        version, _created = services.version_import(document=LISTS, actor=None, publish=True)
        plain = live(community)
        with_evidence = live(community)
        services.evidence_submit(
            registration=with_evidence,
            actor=filer(with_evidence.organization),
            framework=version.framework,
            requirement_code="PAPER",
            statement="Here.",
            url="https://example.org/paper.pdf",
        )
        old = live(community)
        Registration.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=90))

        sweep(django_capture_on_commit_callbacks)

        assert results(plain) == {"ASSESSED": "F", "ANY-EVIDENCE": "F", "YOUNG": "P", "DATED": "P", "PAPER": "E"}
        assert results(with_evidence)["ANY-EVIDENCE"] == "P" and results(with_evidence)["PAPER"] == "R"
        assert results(old)["YOUNG"] == "F"
        registrations = [plain, with_evidence, old]
        preview = evaluate_registrations(Registration.objects.filter(pk__in=[r.pk for r in registrations]), on=TODAY)
        for registration in registrations:
            expected = {key[1]: outcome.status for key, (_item, outcome) in preview[registration.pk].items()}
            got = dict(
                ComplianceResult.objects.filter(registration=registration).values_list("requirement_code", "status")
            )
            assert got == expected


def test_long_texts_are_told_apart_by_their_digest(community, django_capture_on_commit_callbacks):
    document = {
        **DOCUMENT,
        "urn": "urn:test:texts",
        "requirements": [
            {"code": "NO-FRAUD", "title": "No fraud", "kind": "rule", "check": '!system.purpose.contains("fraud")'}
        ],
    }
    services.version_import(document=document, actor=None, publish=True)
    long = "Triage of incoming requests for the front desk of the city, sorted by urgency and topic, "
    clean = live(community, purpose=long + "nothing else.")
    flagged = live(community, purpose=long + "and fraud.")

    sweep(django_capture_on_commit_callbacks)

    assert results(clean) == {"NO-FRAUD": "P"}
    assert results(flagged) == {"NO-FRAUD": "F"}
