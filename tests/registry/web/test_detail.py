"""The registration page in the dashboard: sections, disclosure, version diff, compliance reasons, scoping.

The world (`build_world`, shared with the review and filing tests):

    nation ─┬─ region ── city     registration: "Pothole finder" of acme, submitted in city
            └─ other               (vendor withheld "Commercial confidentiality")

    baseline "urn:test:web-floor" (mandatory, published): FLOOR-1 (rule), FLOOR-DOC (evidence)
    region's framework "Region rules": REG-1 (rule)
"""

import html
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from governance import services as governance_services
from governance.models import Finding, RegistrationCompliance, RuleSet, RuleSetItem
from registry import services
from registry.choices import CommunityRole, RegistrationStatus, RiskTier
from registry.models import RegistrationVersion
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    community_member,
    filer,
    regulator,
)

pytestmark = pytest.mark.django_db

FLOOR = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:web-floor",
    "name": "Web floor",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "FLOOR-1", "title": "Purpose stated", "kind": "rule", "check": "true", "severity": "high"},
        {"code": "FLOOR-DOC", "title": "Assessment on file", "kind": "evidence", "evidence": "The signed file."},
    ],
}
PDF = b"%PDF-1.4 a small document"


def build_world():
    nation = CommunityFactory(slug="nation", kind="nation", name="Nation")
    region = CommunityFactory(slug="region", kind="region", parent=nation, name="Region")
    city = CommunityFactory(slug="city", parent=region, name="City of Riverton")
    other = CommunityFactory(slug="other", kind="region", parent=nation, name="Other Region")
    floor, _created = governance_services.version_import(document=FLOOR, actor=None, publish=True)
    organization = OrganizationFactory(slug="acme", name="Acme Transit")
    other_organization = OrganizationFactory(slug="globex", name="Globex")
    users = SimpleNamespace(
        filer=filer(organization, username="filer"),
        regulator=regulator(region, username="regulator"),
        other_regulator=regulator(other, username="other-regulator"),
        viewer=community_member(city, CommunityRole.VIEWER, username="viewer"),
        other_filer=filer(other_organization, username="other-filer"),
    )
    author = community_member(region, CommunityRole.POLICY_AUTHOR, username="author")
    region_rules = governance_services.framework_create(
        actor=author, community=region, urn="urn:test:web-region", name="Region rules"
    )
    version = governance_services.version_create_draft(framework=region_rules, actor=author, version="1")
    governance_services.requirement_save(
        version=version,
        actor=author,
        data={"code": "REG-1", "title": "Human oversight described", "kind": "rule", "check": "true"},
    )
    governance_services.version_publish(version=version, actor=author)
    system = AISystemFactory(
        organization=organization,
        name="Pothole finder",
        purpose="Find potholes in street imagery.",
        vendor="Roadeye BV",
        contact_name="Jo Official",
    )
    registration = RegistrationFactory(
        system=system,
        community=city,
        status=RegistrationStatus.DRAFT,
        risk_tier=RiskTier.HIGH,
        disclosure={"vendor": {"level": "withheld", "reason": "Commercial confidentiality"}},
    )
    registration = services.registration_transition(registration=registration, actor=users.filer, action="submit")
    return SimpleNamespace(
        nation=nation,
        region=region,
        city=city,
        other=other,
        floor=floor,
        region_rules=region_rules,
        organization=organization,
        other_organization=other_organization,
        users=users,
        system=system,
        registration=registration,
    )


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail_url(registration) -> str:
    return f"/registrations/{registration.pk}/"


@pytest.fixture
def world():
    return build_world()


def record_compliance(world, codes: str, errors=None):
    """Write the engine's compact state for the registration: one code per requirement, floor first."""
    ruleset = RuleSet.objects.create(digest="w" * 64)
    requirements = [
        (world.floor.framework, world.floor.requirements.get(code="FLOOR-1")),
        (world.floor.framework, world.floor.requirements.get(code="FLOOR-DOC")),
        (world.region_rules, world.region_rules.versions.get().requirements.get(code="REG-1")),
    ]
    for position, (framework, requirement) in enumerate(requirements, start=1):
        RuleSetItem.objects.create(
            ruleset=ruleset,
            position=position,
            framework=framework,
            requirement=requirement,
            requirement_code=requirement.code,
            severity=requirement.severity,
        )
    RegistrationCompliance.objects.create(
        registration=world.registration, ruleset=ruleset, codes=codes, errors=errors or {}, checked_at=timezone.now()
    )


class RegistrationDetailTests:
    def test_regulator_sees_every_section(self, world):
        response = client_as(world.users.regulator).get(detail_url(world.registration))

        assert response.status_code == 200
        page = response.content.decode()
        assert "<h1>Pothole finder</h1>" in page
        for heading in ("Record", "Review", "Versions", "Risk assessments", "Compliance", "Waivers"):
            assert f">{heading}</h2>" in page
        assert '>Findings <span class="badge">0</span></h2>' in page
        assert ">Evidence</h2>" in page and ">History</h2>" in page
        assert "Filed by Acme Transit in the register of City of Riverton" in page
        assert "registration.submit" in page  # the audit trail
        assert 'name="decision" value="approve"' in page  # the regulator may decide here too

    def test_withheld_field_shows_its_reason_and_defaults_show_their_level(self, world):
        page = client_as(world.users.filer).get(detail_url(world.registration)).content.decode()

        vendor = page[page.index('id="field-vendor"') :]
        vendor = vendor[: vendor.index("</tr>")]
        assert "Roadeye BV" in vendor
        assert "Withheld" in vendor
        assert "Withheld because: Commercial confidentiality" in vendor
        contact = page[page.index('id="field-contact_name"') :]
        assert "Restricted to regulators" in contact[: contact.index("</tr>")]
        purpose = page[page.index('id="field-purpose"') :]
        assert ">Public</span>" in purpose[: purpose.index("</tr>")]
        counts = page[page.index('id="disclosure-counts"') :]
        assert "Withheld: 1" in counts[: counts.index("</ul>")]

    def test_filer_sees_edit_actions_but_no_decision(self, world):
        page = client_as(world.users.filer).get(detail_url(world.registration)).content.decode()

        assert "Edit system" in page
        assert 'name="decision"' not in page
        assert "Submit for review" not in page  # submitted: nothing to edit until the regulator decides
        assert f'href="/assessments/new/?registration={world.registration.pk}"' in page

    def test_regulators_open_the_assessments_but_do_not_start_one(self, world):
        page = client_as(world.users.regulator).get(detail_url(world.registration)).content.decode()

        assert f'href="/assessments/?registration={world.registration.pk}"' in page
        assert "/assessments/new/" not in page

    def test_hidden_registrations_answer_404(self, world):
        url = detail_url(world.registration)
        assert client_as(world.users.other_regulator).get(url).status_code == 404
        assert client_as(world.users.other_filer).get(url).status_code == 404
        draft = RegistrationFactory(community=world.city, system=AISystemFactory(organization=world.organization))
        assert client_as(world.users.regulator).get(detail_url(draft)).status_code == 404  # drafts stay private
        assert client_as(world.users.regulator).get("/registrations/999999/").status_code == 404

    def test_anonymous_visitors_are_sent_to_log_in(self, world):
        response = Client().get(detail_url(world.registration))
        assert response.status_code == 302
        assert "login" in response["Location"]

    def test_viewer_reads_but_cannot_decide(self, world):
        page = client_as(world.users.viewer).get(detail_url(world.registration)).content.decode()
        assert "<h1>Pothole finder</h1>" in page
        assert 'name="decision"' not in page
        assert "Grant a waiver" not in page


class VersionDiffTests:
    def test_a_resubmission_shows_what_changed_word_by_word(self, world):
        registration = services.registration_transition(
            registration=world.registration, actor=world.users.regulator, action="request_changes", comment="More."
        )
        services.system_update(system=world.system, actor=world.users.filer, purpose="Find cracks in street imagery.")
        services.registration_update(
            registration=registration, actor=world.users.filer, deployment_context="Used by road crews."
        )
        services.registration_transition(registration=registration, actor=world.users.filer, action="submit")
        assert RegistrationVersion.objects.filter(registration=registration).count() == 2

        page = client_as(world.users.regulator).get(detail_url(registration)).content.decode()

        section = page[page.index('id="version-2"') : page.index('id="version-1"')]
        assert "Changes since version 1:" in section
        assert "Purpose (system)" in section
        assert "<del" in section and ">potholes</del>" in section
        assert ">cracks</ins>" in section
        assert "Deployment context (registration)" in section
        assert ">road crews.</ins>" in section
        assert "Vendor" not in section  # unchanged fields are not listed

    def test_changes_not_yet_submitted_are_shown_to_the_filer(self, world):
        registration = services.registration_transition(
            registration=world.registration, actor=world.users.regulator, action="request_changes", comment="More."
        )
        services.registration_update(registration=registration, actor=world.users.filer, risk_tier=RiskTier.LIMITED)

        page = client_as(world.users.filer).get(detail_url(registration)).content.decode()

        pending = page[page.index('id="pending-changes"') :]
        assert "Changes not yet submitted" in pending
        assert ">high</del>" in pending and ">limited</ins>" in pending
        assert "Submit for review" in page


class ComplianceSectionTests:
    def test_results_show_reason_and_where_the_rule_came_from(self, world):
        record_compliance(world, "XRP", errors={"1": "no such key: 'system.colour'"})

        page = client_as(world.users.regulator).get(detail_url(world.registration)).content.decode()

        floor = page[page.index(f'id="compliance-framework-{world.floor.framework.pk}"') :]
        floor = floor[: floor.index("</details>")]
        assert "Global baseline" in floor
        rows = floor.split("<tr>")[2:]
        assert "FLOOR-1" in rows[0] and "no such key: &#x27;system.colour&#x27;" in rows[0]  # errors first
        assert "FLOOR-DOC" in rows[1] and "Evidence was submitted and awaits a regulator&#x27;s review." in rows[1]
        region = page[page.index(f'id="compliance-framework-{world.region_rules.pk}"') :]
        region = region[: region.index("</details>")]
        assert "rules of Region" in region
        assert "REG-1" in region and "Check passed." in region
        first, second = (
            f"compliance-framework-{world.floor.framework.pk}",
            f"compliance-framework-{world.region_rules.pk}",
        )
        assert page.index(first) < page.index(second)  # the failing framework comes first
        summary = page[page.index('id="compliance-summary"') :]
        summary = summary[: summary.index("</ul>")]
        assert "Fail: 1" in summary and "Error: 1" in summary and "Pass: 1" in summary

    def test_a_failure_names_the_failing_rule_and_a_missing_document_what_is_asked(self, world):
        record_compliance(world, "FEP")
        floor_1 = world.floor.requirements.get(code="FLOOR-1")
        floor_doc = world.floor.requirements.get(code="FLOOR-DOC")

        page = html.unescape(client_as(world.users.filer).get(detail_url(world.registration)).content.decode())

        assert f"Check failed: {floor_1.check_rule}" in page
        assert f"Evidence needed: {floor_doc.evidence}" in page

    def test_findings_waivers_evidence_and_assessments_are_listed(self, world):
        record_compliance(world, "FEP")
        Finding.objects.create(
            registration=world.registration,
            organization=world.organization,
            framework=world.floor.framework,
            requirement_code="FLOOR-1",
            title="Purpose stated",
            severity="high",
            code="F",
            reason="Check failed.",
            opened_at=timezone.now(),
            due_on=timezone.localdate(),
        )
        governance_services.evidence_submit(
            registration=world.registration,
            actor=world.users.filer,
            framework=world.floor.framework,
            requirement_code="FLOOR-DOC",
            statement="Signed by the director.",
            file=SimpleUploadedFile("fria.pdf", PDF),
        )
        governance_services.waiver_grant(
            registration=world.registration,
            actor=world.users.regulator,
            framework=world.floor.framework,
            requirement_code="FLOOR-1",
            justification="Being rewritten.",
            expires_on=timezone.localdate() + timezone.timedelta(days=30),
        )

        page = client_as(world.users.regulator).get(detail_url(world.registration)).content.decode()

        findings = page[page.index('id="findings-table"') :]
        assert "Purpose stated" in findings[: findings.index("</table>")]
        waivers = page[page.index('id="waivers-table"') :]
        assert "Being rewritten." in waivers[: waivers.index("</table>")]
        assert "Signed by the director." in page
        assert 'name="decision" value="accept"' in page  # the evidence awaits this regulator

    def test_query_count_is_bounded(self, world, django_assert_max_num_queries):
        record_compliance(world, "PPP")
        client = client_as(world.users.regulator)
        with django_assert_max_num_queries(25):
            assert client.get(detail_url(world.registration)).status_code == 200
