"""The governance REST API: authoring flow, import/export, rules, evidence, waivers, and a permission matrix.

The world (built through the services, on a small hand-written baseline):

    nation ─┬─ region ── city   registration (system of org acme, submitted, high risk)
            └─ other

    baseline "urn:test:floor" (mandatory, published): FRIA (rule, max_age_days = 365) and FRIA-DOC (evidence)
    region's framework "Region rules": v1 published (REG-0), v2 draft (REG-0, REG-A)
    region's framework "Region extras": no versions yet
"""

import datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import services
from governance.choices import EvidenceStatus, VersionStatus
from governance.models import (
    BaselineAdoption,
    Evidence,
    Framework,
    FrameworkVersion,
    ParameterOverride,
    Requirement,
    Waiver,
)
from registry.choices import CommunityRole, RegistrationStatus, RiskTier
from registry.models import AuditEvent, IdempotencyKey
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
FLOOR_URN = "urn:test:floor"
FLOOR = {
    "format": "commons-registry/framework-version@1",
    "urn": FLOOR_URN,
    "name": "Floor",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {
            "code": "FRIA",
            "title": "Fundamental rights impact assessment",
            "severity": "high",
            "kind": "rule",
            "applies_when": 'registration.risk_tier == "high"',
            "check": 'assessments.exists(a, a.instrument == "fria" && a.valid && a.age_days <= params.max_age_days)',
            "parameters": [{"name": "max_age_days", "type": "int", "default": 365, "direction": "lower_is_stricter"}],
        },
        {
            "code": "FRIA-DOC",
            "title": "Assessment on file",
            "kind": "evidence",
            "evidence": "The signed assessment.",
        },
    ],
}
INFORMATIVE = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:good-practice",
    "name": "Good practice",
    "version": "1",
    "binding": "informative",
    "requirements": [{"code": "GP-1", "title": "Publish a contact", "kind": "rule", "check": "true"}],
}
PDF = b"%PDF-1.4 a small but honest document"

ANONYMOUS = "anonymous"
UNRELATED = "unrelated"
AUTHOR = "author"
OTHER_AUTHOR = "other_author"
REGULATOR = "regulator"
PARENT_REGULATOR = "parent_regulator"
FILER = "filer"
ROLES = [ANONYMOUS, UNRELATED, AUTHOR, OTHER_AUTHOR, REGULATOR, PARENT_REGULATOR, FILER]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def rule(code, check="true", **fields):
    return {"code": code, "title": f"Requirement {code}", "kind": "rule", "check": check, **fields}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world():
    nation = CommunityFactory(slug="nation", kind="nation")
    region = CommunityFactory(slug="region", kind="region", parent=nation)
    city = CommunityFactory(slug="city", parent=region)
    other = CommunityFactory(slug="other", kind="region", parent=nation)
    floor, _created = services.version_import(document=FLOOR, actor=None, publish=True)
    organization = OrganizationFactory(slug="acme")
    users = {
        ANONYMOUS: None,
        UNRELATED: UserFactory(username=UNRELATED),
        AUTHOR: community_member(region, CommunityRole.POLICY_AUTHOR, username=AUTHOR),
        OTHER_AUTHOR: community_member(other, CommunityRole.POLICY_AUTHOR, username=OTHER_AUTHOR),
        REGULATOR: community_member(region, CommunityRole.REGULATOR, username=REGULATOR),
        PARENT_REGULATOR: community_member(nation, CommunityRole.REGULATOR, username=PARENT_REGULATOR),
        FILER: filer(organization, username=FILER),
    }
    other_regulator = community_member(other, CommunityRole.REGULATOR, username="other_regulator")
    author = users[AUTHOR]
    rules_framework = services.framework_create(
        actor=author, community=region, urn="urn:test:region", name="Region rules"
    )
    published = services.version_create_draft(framework=rules_framework, actor=author, version="1")
    services.requirement_save(version=published, actor=author, data=rule("REG-0"))
    services.version_publish(version=published, actor=author)
    draft = services.version_create_draft(framework=rules_framework, actor=author, version="2")
    services.requirement_save(version=draft, actor=author, data=rule("REG-A", "size(system.website) > 0"))
    extras = services.framework_create(actor=author, community=region, urn="urn:test:extras", name="Region extras")
    registration = RegistrationFactory(
        community=city,
        status=RegistrationStatus.SUBMITTED,
        risk_tier=RiskTier.HIGH,
        system=AISystemFactory(organization=organization, website=""),
    )
    evidence = services.evidence_submit(
        registration=registration,
        actor=users[FILER],
        framework=floor.framework,
        requirement_code="FRIA-DOC",
        statement="Signed by the director.",
        file=SimpleUploadedFile("fria.pdf", PDF, content_type="application/pdf"),
    )
    return SimpleNamespace(
        nation=nation,
        region=region,
        city=city,
        other=other,
        floor=floor,
        organization=organization,
        users=users,
        other_regulator=other_regulator,
        rules_framework=rules_framework,
        published=published,
        draft=draft,
        extras=extras,
        registration=registration,
        evidence=evidence,
    )


def version_url(version, suffix=""):
    return f"{API}/frameworks/{version.framework_id}/versions/{version.pk}/{suffix}"


def snapshot() -> dict:
    """What a refused request must leave untouched."""
    return {
        "frameworks": sorted(Framework.objects.values_list("urn", flat=True)),
        "versions": sorted(FrameworkVersion.objects.values_list("pk", "status", "content_hash")),
        "requirements": sorted(Requirement.objects.values_list("version_id", "code", "title", "check_rule")),
        "overrides": sorted(ParameterOverride.objects.values_list("version_id", "target_code", "parameter", "value")),
        "evidence": sorted(Evidence.objects.values_list("pk", "status", "reviewer_id")),
        "waivers": sorted(Waiver.objects.values_list("pk", "revoked_at")),
        "adoptions": sorted(BaselineAdoption.objects.values_list("community_id", "framework_id")),
        "audit": AuditEvent.objects.count(),
        "idempotency": IdempotencyKey.objects.count(),
    }


class AuthoringFlowApiTests:
    def test_author_drafts_tightens_previews_publishes_and_a_child_community_is_bound(self, world, client_for):
        client = client_for(world.users[AUTHOR])

        response = client.post(f"{API}/frameworks/", {"community": "region", "name": "Region AI rules"})
        assert response.status_code == 201, response.content
        framework = response.json()
        assert framework["urn"] == "urn:commons:community:region:region-ai-rules"
        assert (framework["community"], framework["is_baseline"], framework["published_version"]) == (
            "region",
            False,
            None,
        )
        versions = f"{API}/frameworks/{framework['id']}/versions/"

        response = client.post(versions, {"version": "2026.1", "notes": "First rules."})
        assert response.status_code == 201, response.content
        draft = response.json()
        assert (draft["status"], draft["created_by"], draft["requirements"]) == ("draft", AUTHOR, [])
        base = f"{versions}{draft['id']}/"

        response = client.post(
            f"{base}requirements/",
            rule("NOTICE", "size(system.website) > 0", severity="high", citation="By-law 12"),
        )
        assert response.status_code == 201, response.content
        assert response.json()["check"] == "size(system.website) > 0"

        response = client.post(
            f"{base}overrides/",
            {
                "framework": FLOOR_URN,
                "code": "FRIA",
                "parameter": "max_age_days",
                "value": 180,
                "justification": "Yearly is too slow here.",
            },
        )
        assert response.status_code == 201, response.content
        assert response.json()["framework"] == FLOOR_URN

        response = client.get(f"{base}preview/")
        assert response.status_code == 200, response.content
        preview = response.json()
        assert preview["evaluated_registrations"] == 1
        assert preview["newly_failing_registrations"] == 1
        rows = {row["code"]: row for row in preview["requirements"]}
        assert rows["NOTICE"]["newly_failing"] == 1
        assert rows["NOTICE"]["registrations"] == [world.registration.pk]
        assert rows["FRIA"]["params"] == {"max_age_days": 180}
        assert rows["FRIA"]["newly_failing"] == 0  # it failed before too

        response = client.get(f"{base}diff/")
        assert response.status_code == 400
        assert list(response.json()) == ["against"]

        response = client.post(f"{base}publish/", {"comment": "Adopted by council."})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "published"
        assert len(response.json()["content_hash"]) == 64

        response = client.get(f"{API}/communities/city/effective-requirements/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["community"], body["on"]) == ("city", timezone.localdate().isoformat())
        items = {(item["framework"], item["code"]): item for item in body["results"]}
        fria = items[FLOOR_URN, "FRIA"]
        assert fria["source_community"] is None
        assert fria["framework_name"] == "Floor"
        assert fria["params"] == {"max_age_days": 180}
        assert fria["tightened"] == [
            {"parameter": "max_age_days", "value": 180, "previous": 365, "community": "region"}
        ]
        notice = items[framework["urn"], "NOTICE"]
        assert notice["source_community"] == "region"
        assert (notice["severity"], notice["citation"], notice["check"]) == (
            "high",
            "By-law 12",
            "size(system.website) > 0",
        )
        assert notice["tightened"] == []

        # A second draft starts from what is in force and diffs against it by default.
        response = client.post(versions, {"version": "2026.2"})
        assert response.status_code == 201
        second = f"{versions}{response.json()['id']}/"
        assert client.patch(f"{second}requirements/NOTICE/", {"severity": "critical"}).status_code == 200
        response = client.get(f"{second}diff/")
        assert response.status_code == 200, response.content
        assert response.json()["changed"] == {"NOTICE": {"severity": ["high", "critical"]}}
        assert response.json()["added"] == response.json()["removed"] == []

    def test_effective_requirements_honour_the_date(self, world, client_for):
        client = client_for(world.users[UNRELATED])
        url = f"{API}/communities/city/effective-requirements/"
        response = client.get(url, {"on": "2026-13-01"})
        assert response.status_code == 400
        assert list(response.json()) == ["on"]
        codes = {item["code"] for item in results(client.get(url, {"on": "2026-06-01"}))}
        assert codes == {"FRIA", "FRIA-DOC", "REG-0"}  # published rules only; the draft binds nobody
        assert client.get(f"{API}/communities/nowhere/effective-requirements/").status_code == 404

    def test_invalid_rule_is_refused_naming_the_field_and_position(self, world, client_for):
        before = snapshot()
        response = client_for(world.users[AUTHOR]).post(
            version_url(world.draft, "requirements/"), rule("BAD", 'system.nme == "x"')
        )
        assert response.status_code == 400
        assert response.json() == {"check": ["line 1, column 8: 'system' has no field 'nme'; see the context schema"]}
        assert snapshot() == before

    def test_input_errors_name_their_fields(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        url = version_url(world.draft, "requirements/")
        before = snapshot()
        response = client.post(url, rule("DATES", effective_from="2027-01-01", effective_until="2026-01-01"))
        assert response.status_code == 400
        assert list(response.json()) == ["effective_until"]
        assert client.post(url, rule("REG-A")).json() == {
            "code": ["A requirement with this code already exists in this version."]
        }
        assert list(client.post(url, rule("X", severity="dire")).json()) == ["severity"]
        assert client.post(url, rule("X", colour="blue")).json() == {"colour": ["Unknown field."]}
        response = client.post(url, rule("X", kind="evidence"))
        assert set(response.json()) == {"check", "evidence"}
        response = client.post(
            version_url(world.draft, "overrides/"),
            {"framework": "urn:test:nope", "code": "FRIA", "parameter": "max_age_days", "value": 1},
        )
        assert response.json() == {"framework": ["No framework with this URN or id."]}
        response = client.post(
            version_url(world.draft, "overrides/"),
            {"framework": world.floor.framework_id, "code": "NOPE", "parameter": "max_age_days", "value": 1},
        )
        assert list(response.json()) == ["parameter"]
        assert snapshot() == before

    def test_loosening_a_baseline_is_refused_naming_it(self, world, client_for):
        before = snapshot()
        response = client_for(world.users[AUTHOR]).post(
            version_url(world.draft, "overrides/"),
            {"framework": FLOOR_URN, "code": "FRIA", "parameter": "max_age_days", "value": 400},
        )
        assert response.status_code == 400
        (message,) = response.json()["value"]
        assert message.startswith("400 would weaken Floor FRIA: max_age_days is 365 there")
        assert snapshot() == before

    def test_requirement_crud_by_code(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        url = version_url(world.draft, "requirements/")
        assert client.post(url, rule("GOV-1.1", parent="REG-A", order=3)).status_code == 201
        item = f"{url}GOV-1.1/"
        response = client.get(item)
        assert response.status_code == 200
        assert (response.json()["parent"], response.json()["order"]) == ("REG-A", 3)
        assert [r["code"] for r in results(client.get(url))] == ["GOV-1.1", "REG-A", "REG-0"]

        response = client.patch(item, {"title": "Renamed"})
        assert response.status_code == 200, response.content
        assert (response.json()["title"], response.json()["parent"]) == ("Renamed", "REG-A")

        response = client.put(item, {"code": "GOV-1.1", "title": "Replaced", "check": "true"})
        assert response.status_code == 200, response.content
        assert (response.json()["parent"], response.json()["order"]) == (None, 0)  # a PUT resets what it omits

        assert list(client.put(item, {"code": "GOV-9", "title": "X", "check": "true"}).json()) == ["code"]
        assert client.delete(item).status_code == 204
        assert client.get(item).status_code == 404
        assert client.delete(item).status_code == 404

    def test_a_published_version_cannot_be_edited(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        before = snapshot()
        responses = [
            client.post(version_url(world.published, "requirements/"), rule("NEW")),
            client.patch(version_url(world.published, "requirements/REG-0/"), {"title": "Changed"}),
            client.delete(version_url(world.published, "requirements/REG-0/")),
            client.post(
                version_url(world.published, "overrides/"),
                {"framework": FLOOR_URN, "code": "FRIA", "parameter": "max_age_days", "value": 10},
            ),
            client.post(version_url(world.published, "publish/")),
            client.delete(version_url(world.published)),
        ]
        assert [r.status_code for r in responses] == [409] * 6
        assert responses[0].json()["code"] == "invalid_transition"
        assert client.get(version_url(world.published, "preview/")).status_code == 409
        assert snapshot() == before

    def test_drafts_are_listed_only_to_those_who_may_see_them(self, world, client_for):
        url = f"{API}/frameworks/{world.rules_framework.pk}/versions/"
        assert [v["version"] for v in results(client_for(world.users[AUTHOR]).get(url))] == ["2", "1"]
        assert [v["version"] for v in results(client_for(world.users[PARENT_REGULATOR]).get(url))] == ["2", "1"]
        assert [v["version"] for v in results(client_for(world.users[FILER]).get(url))] == ["1"]
        published = client_for(world.users[FILER]).get(version_url(world.published)).json()
        assert [r["code"] for r in published["requirements"]] == ["REG-0"]
        assert client_for(world.users[FILER]).get(version_url(world.draft)).status_code == 404
        assert client_for(world.users[FILER]).get(f"{API}/frameworks/999999/versions/").status_code == 404

    def test_framework_list_and_filters(self, world, client_for):
        client = client_for(world.users[FILER])
        urns = lambda **query: [f["urn"] for f in results(client.get(f"{API}/frameworks/", query))]  # noqa: E731
        assert set(urns()) == {FLOOR_URN, "urn:test:region", "urn:test:extras"}
        assert urns(baseline="true") == [FLOOR_URN]
        assert set(urns(community="region")) == {"urn:test:region", "urn:test:extras"}
        assert urns(community="other") == []
        response = client.get(f"{API}/frameworks/{world.rules_framework.pk}/")
        assert response.json()["published_version"]["version"] == "1"

    def test_idempotency_key_replays_a_requirement_post(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        url = version_url(world.draft, "requirements/")
        first = client.post(url, rule("ONCE"), HTTP_IDEMPOTENCY_KEY="k-1")
        again = client.post(url, rule("ONCE"), HTTP_IDEMPOTENCY_KEY="k-1")
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Requirement.objects.filter(version=world.draft, code="ONCE").count() == 1
        assert client.post(url, rule("OTHER"), HTTP_IDEMPOTENCY_KEY="k-1").status_code == 422

    def test_schema_documents_the_governance_endpoints(self, client_for):
        response = client_for(UserFactory()).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        for path in [
            "/api/v1/frameworks/",
            "/api/v1/frameworks/import/",
            "/api/v1/frameworks/{framework_pk}/versions/{id}/publish/",
            "/api/v1/frameworks/{framework_pk}/versions/{version_pk}/requirements/{code}/",
            "/api/v1/communities/{slug}/effective-requirements/",
            "/api/v1/rules/validate/",
            "/api/v1/evidence/{id}/file/",
            "/api/v1/waivers/{id}/revoke/",
        ]:
            assert path in paths
        assert "Idempotency-Key" in [p["name"] for p in paths["/api/v1/evidence/"]["post"]["parameters"]]


class ImportExportApiTests:
    def test_round_trip(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        response = client.get(version_url(world.published, "export/"))
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="urn-test-region-1.json"'
        document = response.json()
        assert document["format"] == "commons-registry/framework-version@1"
        assert [r["code"] for r in document["requirements"]] == ["REG-0"]

        copy = {**document, "urn": "urn:test:region-copy", "version": "1"}
        body = {"document": copy, "community": "region", "publish": True}
        response = client.post(f"{API}/frameworks/import/", body)
        assert response.status_code == 201, response.content
        imported = response.json()
        assert (imported["framework_urn"], imported["status"]) == ("urn:test:region-copy", "published")
        exported = client.get(f"{API}/frameworks/{imported['framework']}/versions/{imported['id']}/export/").json()
        assert exported["requirements"] == document["requirements"]

        again = client.post(f"{API}/frameworks/import/", body)
        assert again.status_code == 200
        assert again.json()["id"] == imported["id"]

    def test_who_may_import(self, world, client_for):
        document = {**INFORMATIVE, "urn": "urn:test:region-more"}
        before = snapshot()
        outsider = client_for(world.users[OTHER_AUTHOR])
        assert (
            outsider.post(f"{API}/frameworks/import/", {"document": document, "community": "region"}).status_code == 403
        )
        # Even a document already imported answers 403 to a non-author, not the existing version.
        existing = {**FLOOR, "requirements": []}
        assert outsider.post(f"{API}/frameworks/import/", {"document": existing, "community": None}).status_code == 403
        author = client_for(world.users[AUTHOR])
        assert author.post(f"{API}/frameworks/import/", {"document": INFORMATIVE}).status_code == 403  # a baseline
        assert snapshot() == before
        root = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
        response = client_for(root).post(f"{API}/frameworks/import/", {"document": INFORMATIVE, "publish": True})
        assert response.status_code == 201, response.content
        assert Framework.objects.get(urn=INFORMATIVE["urn"]).is_baseline

    def test_bad_documents_are_refused_naming_the_problem(self, world, client_for):
        client = client_for(world.users[AUTHOR])
        url = f"{API}/frameworks/import/"
        before = snapshot()
        response = client.post(url, {"document": {"format": "something-else"}, "community": "region"})
        assert response.status_code == 400
        assert list(response.json()["document"]) == ["format"]
        broken = {**INFORMATIVE, "urn": "urn:test:broken", "requirements": [rule("B", "system.nme")]}
        response = client.post(url, {"document": broken, "community": "region"})
        assert response.status_code == 400
        assert list(response.json()["document"]) == ["requirements[B]"]
        assert list(client.post(url, {"document": "nope"}).json()) == ["document"]
        shapeless = {**INFORMATIVE, "requirements": "REG-1"}
        assert client.post(url, {"document": shapeless, "community": "region"}).json() == {
            "document": {"requirements": ["requirements must be a list of objects."]}
        }
        half_override = {**INFORMATIVE, "overrides": [{"framework": FLOOR_URN, "code": "FRIA"}]}
        assert client.post(url, {"document": half_override, "community": "region"}).json() == {
            "document": {"overrides": ["Each override needs parameter, value."]}
        }
        assert list(client.post(url, {"document": INFORMATIVE, "community": "atlantis"}).json()) == ["community"]
        assert snapshot() == before


class RuleApiTests:
    def test_context_schema(self, client_for):
        response = client_for(UserFactory()).get(f"{API}/rules/context-schema/")
        assert response.status_code == 200
        body = response.json()
        assert body["version"] == 1
        assert set(body["variables"]) == {"system", "registration", "assessments", "evidence", "params", "today"}
        assert body["variables"]["registration"]["fields"]["risk_tier"]["type"] == "string"
        assert client_for(None).get(f"{API}/rules/context-schema/").status_code == 401

    @pytest.mark.parametrize(
        ("expression", "parameters", "problems"),
        [
            ('registration.risk_tier == "high"', {}, []),
            ("params.max_age_days > 30", {"max_age_days": 90}, []),
            (
                'system.nme == "x"',
                {},
                [{"message": "'system' has no field 'nme'; see the context schema", "line": 1, "column": 8}],
            ),
            (
                "params.max_age_days > 30",
                {},
                [
                    {
                        "message": "'params' has no field 'max_age_days'; declare it as a parameter",
                        "line": 1,
                        "column": 8,
                    }
                ],
            ),
            (
                "size(system.name)",
                {},
                [{"message": "the rule must be true or false, but gives a int", "line": None, "column": None}],
            ),
        ],
    )
    def test_validate(self, client_for, expression, parameters, problems):
        response = client_for(UserFactory()).post(
            f"{API}/rules/validate/", {"expression": expression, "parameters": parameters}
        )
        assert response.status_code == 200, response.content
        assert response.json() == {"valid": not problems, "problems": problems}

    def test_validate_reports_syntax_errors_with_a_position(self, client_for):
        response = client_for(UserFactory()).post(f"{API}/rules/validate/", {"expression": "system.name =="})
        (problem,) = response.json()["problems"]
        assert problem["message"].startswith("syntax error")
        assert problem["line"] == 1
        assert list(client_for(UserFactory()).post(f"{API}/rules/validate/", {}).json()) == ["expression"]


class EvidenceApiTests:
    url = f"{API}/evidence/"

    def upload(self, world, client, name="fria.pdf", content=PDF, **fields):
        data = {
            "registration": world.registration.pk,
            "framework": FLOOR_URN,
            "requirement_code": "FRIA-DOC",
            "statement": "Signed by the director.",
            "file": SimpleUploadedFile(name, content),
            **fields,
        }
        return client.post(self.url, data, format="multipart")

    def test_filer_uploads_a_document(self, world, client_for):
        response = self.upload(world, client_for(world.users[FILER]), name="Assessment 2026.PDF")
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["file_name"], body["content_type"], body["file_size"]) == (
            "Assessment 2026.PDF",
            "application/pdf",
            len(PDF),
        )
        assert (body["status"], body["submitted_by"], body["framework"]) == ("submitted", FILER, FLOOR_URN)
        assert body["file_url"].endswith(f"/api/v1/evidence/{body['id']}/file/")
        assert AuditEvent.objects.filter(action="evidence.submitted").count() == 2

    def test_a_link_instead_of_a_file(self, world, client_for):
        response = client_for(world.users[FILER]).post(
            self.url,
            {
                "registration": world.registration.pk,
                "framework": world.floor.framework_id,
                "requirement_code": "FRIA-DOC",
                "statement": "Published online.",
                "url": "https://example.org/fria",
            },
        )
        assert response.status_code == 201, response.content
        assert response.json()["file_url"] is None
        assert client_for(world.users[FILER]).get(f"{self.url}{response.json()['id']}/file/").status_code == 404

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("fria.exe", PDF, "Files of type .exe are not accepted."),
            ("fria.pdf", b"MZ\x90\x00 not a pdf", "The file's content does not match its .pdf extension."),
            ("fria.pdf", PDF * 10, "The file is 360 bytes; the limit is 64."),
        ],
    )
    def test_bad_files_are_refused(self, world, client_for, settings, name, content, message):
        settings.EVIDENCE_MAX_BYTES = 64
        before = snapshot()
        response = self.upload(world, client_for(world.users[FILER]), name=name, content=content)
        assert response.status_code == 400
        (error,) = response.json()["file"]
        assert error.startswith(message)
        assert snapshot() == before

    def test_bad_references_are_named(self, world, client_for):
        client = client_for(world.users[FILER])
        hidden = RegistrationFactory(status=RegistrationStatus.SUBMITTED)
        before = snapshot()
        assert list(self.upload(world, client, registration=hidden.pk).json()) == ["registration"]
        assert list(self.upload(world, client, requirement_code="FRIA").json()) == ["requirement_code"]
        assert list(self.upload(world, client, requirement_code="NOPE").json()) == ["requirement_code"]
        assert list(self.upload(world, client, framework="urn:test:none").json()) == ["framework"]
        # A regulator sees the registration but does not file for it.
        assert self.upload(world, client_for(world.users[REGULATOR])).status_code == 403
        assert snapshot() == before

    def test_list_and_filter(self, world, client_for):
        url = self.url
        assert [e["id"] for e in results(client_for(world.users[FILER]).get(url))] == [world.evidence.pk]
        assert [e["id"] for e in results(client_for(world.users[REGULATOR]).get(url))] == [world.evidence.pk]
        assert results(client_for(world.other_regulator).get(url)) == []
        assert results(client_for(world.users[FILER]).get(url, {"registration": world.registration.pk + 1})) == []

    def test_regulator_accepts(self, world, client_for):
        url = f"{self.url}{world.evidence.pk}/accept/"
        expires = (timezone.localdate() + datetime.timedelta(days=365)).isoformat()
        response = client_for(world.users[REGULATOR]).post(url, {"comment": "Complete.", "expires_on": expires})
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["reviewer"], body["expires_on"]) == ("accepted", REGULATOR, expires)
        second = client_for(world.users[PARENT_REGULATOR]).post(url, {"comment": "Again."})
        assert second.status_code == 409

    def test_parent_regulator_rejects_and_a_comment_is_required(self, world, client_for):
        client = client_for(world.users[PARENT_REGULATOR])
        url = f"{self.url}{world.evidence.pk}/reject/"
        assert list(client.post(url, {}).json()) == ["comment"]
        response = client.post(url, {"comment": "Unsigned."})
        assert response.status_code == 200
        assert response.json()["status"] == "rejected"

    def test_who_may_review(self, world, client_for):
        url = f"{self.url}{world.evidence.pk}/accept/"
        before = snapshot()
        assert client_for(world.users[FILER]).post(url, {"comment": "Mine."}).status_code == 403
        assert client_for(world.other_regulator).post(url, {"comment": "Elsewhere."}).status_code == 404
        assert client_for(world.users[UNRELATED]).post(url, {"comment": "Hi."}).status_code == 404
        assert client_for(None).post(url, {"comment": "Hi."}).status_code == 401
        past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
        response = client_for(world.users[REGULATOR]).post(url, {"comment": "Ok.", "expires_on": past})
        assert list(response.json()) == ["expires_on"]
        assert snapshot() == before
        assert Evidence.objects.get().status == EvidenceStatus.SUBMITTED

    @pytest.mark.parametrize(
        ("role", "expected"),
        [(FILER, 200), (REGULATOR, 200), (PARENT_REGULATOR, 200), (AUTHOR, 200), (UNRELATED, 404), (ANONYMOUS, 401)],
    )
    def test_file_download(self, world, client_for, role, expected):
        response = client_for(world.users[role]).get(f"{self.url}{world.evidence.pk}/file/")
        assert response.status_code == expected
        if expected == 200:
            assert response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"] == 'attachment; filename="fria.pdf"'
            assert b"".join(response.streaming_content) == PDF

    def test_other_communitys_regulator_cannot_download(self, world, client_for):
        assert client_for(world.other_regulator).get(f"{self.url}{world.evidence.pk}/file/").status_code == 404
        assert client_for(world.other_regulator).get(f"{self.url}{world.evidence.pk}/").status_code == 404


class WaiverApiTests:
    url = f"{API}/waivers/"

    def grant(self, world, client, **fields):
        data = {
            "registration": world.registration.pk,
            "framework": FLOOR_URN,
            "requirement_code": "FRIA",
            "justification": "Assessment under way; due in spring.",
            "expires_on": (timezone.localdate() + datetime.timedelta(days=90)).isoformat(),
            **fields,
        }
        return client.post(self.url, data)

    def test_regulator_grants_and_revokes(self, world, client_for):
        regulator = client_for(world.users[REGULATOR])
        response = self.grant(world, regulator)
        assert response.status_code == 201, response.content
        waiver = response.json()
        assert (waiver["approved_by"], waiver["framework"], waiver["in_force"]) == (REGULATOR, FLOOR_URN, True)
        assert self.grant(world, regulator).json() == {
            "requirement_code": ["A valid waiver for this requirement already exists."]
        }
        assert [w["id"] for w in results(client_for(world.users[FILER]).get(self.url))] == [waiver["id"]]
        assert results(client_for(world.other_regulator).get(self.url)) == []

        revoke = f"{self.url}{waiver['id']}/revoke/"
        assert client_for(world.users[FILER]).post(revoke, {"comment": "Please."}).status_code == 403
        assert client_for(world.other_regulator).post(revoke, {}).status_code == 404
        response = regulator.post(revoke, {"comment": "Assessment received."})
        assert response.status_code == 200
        assert (response.json()["revoked_by"], response.json()["in_force"]) == (REGULATOR, False)
        assert regulator.post(revoke, {}).status_code == 409

    def test_who_may_grant(self, world, client_for):
        before = snapshot()
        assert self.grant(world, client_for(world.users[FILER])).status_code == 403
        assert list(self.grant(world, client_for(world.other_regulator)).json()) == ["registration"]
        past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
        assert list(self.grant(world, client_for(world.users[REGULATOR]), expires_on=past).json()) == ["expires_on"]
        assert snapshot() == before


class BaselineAdoptionApiTests:
    def test_regulator_adopts_an_informative_baseline_for_the_subtree(self, world, client_for):
        services.version_import(document=INFORMATIVE, actor=None, publish=True)
        url = f"{API}/communities/region/adopted-baselines/"
        before = snapshot()
        assert client_for(world.users[AUTHOR]).post(url, {"framework": INFORMATIVE["urn"]}).status_code == 403
        assert client_for(world.users[REGULATOR]).post(url, {"framework": "urn:test:region"}).status_code == 400
        assert snapshot() == before

        response = client_for(world.users[REGULATOR]).post(url, {"framework": INFORMATIVE["urn"]})
        assert response.status_code == 201, response.content
        assert response.json()["community"] == "region"
        assert client_for(world.users[REGULATOR]).post(url, {"framework": INFORMATIVE["urn"]}).status_code == 200
        effective = client_for(world.users[FILER]).get(f"{API}/communities/city/effective-requirements/")
        assert "GP-1" in {item["code"] for item in effective.json()["results"]}
        other = client_for(world.users[FILER]).get(f"{API}/communities/other/effective-requirements/")
        assert "GP-1" not in {item["code"] for item in other.json()["results"]}


# The permission matrix -----------------------------------------------------------------------------------


def _create_framework(world, client):
    return client.post(f"{API}/frameworks/", {"community": "region", "name": "New rules"})


def _create_draft(world, client):
    return client.post(f"{API}/frameworks/{world.extras.pk}/versions/", {"version": "1"})


def _add_requirement(world, client):
    return client.post(version_url(world.draft, "requirements/"), rule("REG-B"))


def _add_override(world, client):
    return client.post(
        version_url(world.draft, "overrides/"),
        {"framework": FLOOR_URN, "code": "FRIA", "parameter": "max_age_days", "value": 180},
    )


def _publish(world, client):
    return client.post(version_url(world.draft, "publish/"), {"comment": "Go."})


def _preview(world, client):
    return client.get(version_url(world.draft, "preview/"))


def _diff(world, client):
    return client.get(version_url(world.draft, "diff/"))


def _export(world, client):
    return client.get(version_url(world.draft, "export/"))


def _delete_draft(world, client):
    return client.delete(version_url(world.draft))


def _accept_evidence(world, client):
    return client.post(f"{API}/evidence/{world.evidence.pk}/accept/", {"comment": "Complete."})


ACTIONS = {
    "create framework": (_create_framework, 201),
    "create draft": (_create_draft, 201),
    "add requirement": (_add_requirement, 201),
    "add override": (_add_override, 201),
    "publish": (_publish, 200),
    "preview": (_preview, 200),
    "diff": (_diff, 200),
    "export": (_export, 200),
    "delete draft": (_delete_draft, 204),
    "evidence accept": (_accept_evidence, 200),
}
READS = {"preview", "diff", "export"}
WRITES_OF_THE_DRAFT = ["add requirement", "add override", "publish", "delete draft"]

# What each role may do; anything else is refused with the status given (404 when the draft or the evidence
# is hidden from the role, 403 when it is visible but the role may not act on it).
EXPECTED = {
    UNRELATED: {"create framework": 403, "create draft": 403, "evidence accept": 404},
    AUTHOR: {"evidence accept": 403},
    OTHER_AUTHOR: {"create framework": 403, "create draft": 403, "evidence accept": 404},
    REGULATOR: {"create framework": 403, "create draft": 403, **dict.fromkeys(WRITES_OF_THE_DRAFT, 403)},
    PARENT_REGULATOR: {"create framework": 403, "create draft": 403, **dict.fromkeys(WRITES_OF_THE_DRAFT, 403)},
    FILER: {"create framework": 403, "create draft": 403, "evidence accept": 403},
}
HIDDEN_DRAFT = {UNRELATED, OTHER_AUTHOR, FILER}


def expected_status(role, name) -> int:
    if role == ANONYMOUS:
        return 401
    allowed = ACTIONS[name][1]
    if role in HIDDEN_DRAFT and name not in ("create framework", "create draft", "evidence accept"):
        return 404
    return EXPECTED[role].get(name, allowed)


class PermissionMatrixApiTests:
    """Every role by every governance action: allowed, 401, 403 or 404, and refusals change nothing."""

    @pytest.mark.parametrize("name", list(ACTIONS))
    @pytest.mark.parametrize("role", ROLES)
    def test_matrix(self, world, client_for, role, name):
        call, allowed = ACTIONS[name]
        expected = expected_status(role, name)
        before = snapshot()

        response = call(world, client_for(world.users[role]))

        assert response.status_code == expected, response.content
        if expected != allowed or name in READS:
            assert snapshot() == before
        else:
            assert snapshot() != before

    def test_the_matrix_grants_each_action_to_someone(self):
        for name in ACTIONS:
            assert any(expected_status(role, name) == ACTIONS[name][1] for role in ROLES), name

    def test_a_published_draft_is_now_public(self, world, client_for):
        assert _publish(world, client_for(world.users[AUTHOR])).status_code == 200
        world.draft.refresh_from_db()
        assert world.draft.status == VersionStatus.PUBLISHED
        assert client_for(world.users[FILER]).get(version_url(world.draft)).status_code == 200
        # ... and previews are only for drafts.
        assert _preview(world, client_for(world.users[AUTHOR])).status_code == 409


class QueryCountApiTests:
    """Governance lists cost the same number of queries for one row as for twenty (no N+1)."""

    def add(self, world, endpoint, count):
        for n in range(count):
            if endpoint == "frameworks":
                framework = Framework.objects.create(
                    urn=f"urn:test:n{count}-{n}", name=f"N{count}-{n}", community=world.region
                )
                FrameworkVersion.objects.create(framework=framework, version="1", status=VersionStatus.PUBLISHED)
            elif endpoint == "versions":
                FrameworkVersion.objects.create(
                    framework=world.rules_framework, version=f"0.{count}.{n}", status=VersionStatus.RETIRED
                )
            elif endpoint == "evidence":
                Evidence.objects.create(
                    registration=world.registration,
                    framework=world.floor.framework,
                    requirement_code="FRIA-DOC",
                    statement="Linked.",
                    url="https://example.org/x",
                    submitted_by=world.users[FILER],
                    reviewer=world.users[REGULATOR],
                )
            else:
                Waiver.objects.create(
                    registration=world.registration,
                    framework=world.floor.framework,
                    requirement_code="FRIA",
                    justification="Why not.",
                    approved_by=world.users[REGULATOR],
                    expires_on=timezone.localdate() + datetime.timedelta(days=9),
                )

    @pytest.mark.parametrize("endpoint", ["frameworks", "versions", "evidence", "waivers"])
    def test_list_queries_do_not_grow_with_rows(self, world, client_for, endpoint):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        url = {"versions": f"{API}/frameworks/{world.rules_framework.pk}/versions/"}.get(endpoint, f"{API}/{endpoint}/")
        client = client_for(world.users[REGULATOR])
        counts = []
        for count in (1, 20):
            self.add(world, endpoint, count)
            with CaptureQueriesContext(connection) as queries:
                rows = results(client.get(url))
            counts.append(len(queries))
        assert len(rows) > 20
        assert counts[0] == counts[1], counts
