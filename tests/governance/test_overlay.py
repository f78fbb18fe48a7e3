"""The overlay: inheritance down the tree, tighten allowed, loosen refused, effective dates, immutability."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from governance import services
from governance.choices import VersionStatus
from governance.models import FrameworkVersion, Requirement
from governance.selectors import effective_requirements
from registry.choices import CommunityRole
from registry.errors import InvalidTransition
from registry.services import community_create, community_member_add

pytestmark = pytest.mark.django_db

BASELINE = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:baseline:floor",
    "name": "Test floor",
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
            "code": "LATER",
            "title": "Applies from 2030",
            "kind": "rule",
            "check": "true",
            "effective_from": "2030-01-01",
        },
    ],
}


@pytest.fixture
def admin():
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw")


@pytest.fixture
def tree(admin):
    nation = community_create(actor=admin, slug="nation", name="Nation", kind="nation")
    region = community_create(actor=admin, slug="region", name="Region", kind="region", parent=nation)
    city = community_create(actor=admin, slug="city", name="City", kind="city", parent=region)
    other = community_create(actor=admin, slug="other", name="Other", kind="region", parent=nation)
    return nation, region, city, other


@pytest.fixture
def baseline():
    version, _created = services.version_import(document=BASELINE, actor=None, publish=True, builtin=True)
    return version


def author_of(community, admin, username):
    user = get_user_model().objects.create_user(username, password="pw")
    community_member_add(community=community, actor=admin, user=user, role=CommunityRole.POLICY_AUTHOR)
    return user


def community_draft(community, author, urn):
    framework = services.framework_create(actor=author, community=community, urn=urn, name=f"{community} rules")
    return services.version_create_draft(framework=framework, actor=author, version="1")


def fria_params(community, on=datetime.date(2026, 6, 1)):
    (item,) = [e for e in effective_requirements(community, on=on) if e.requirement.code == "FRIA"]
    return item


class OverlayTests:
    def test_every_community_inherits_a_mandatory_baseline(self, tree, baseline):
        _nation, _region, _city, _other = tree
        for community in tree:
            assert fria_params(community).params == {"max_age_days": 365}

    def test_effective_dates_filter_requirements(self, tree, baseline):
        city = tree[2]
        codes = lambda on: {e.requirement.code for e in effective_requirements(city, on=on)}  # noqa: E731
        assert codes(datetime.date(2029, 12, 31)) == {"FRIA"}
        assert codes(datetime.date(2030, 1, 1)) == {"FRIA", "LATER"}

    def test_region_tightens_and_its_children_inherit_but_siblings_do_not(self, admin, tree, baseline):
        nation, region, city, other = tree
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        services.override_save(
            version=draft,
            actor=author,
            target_framework=baseline.framework,
            target_code="FRIA",
            parameter="max_age_days",
            value=180,
            justification="Yearly is too slow here.",
        )
        assert fria_params(city).params["max_age_days"] == 365  # a draft binds nobody
        services.version_publish(version=draft, actor=author)
        assert fria_params(region).params["max_age_days"] == 180
        item = fria_params(city)
        assert item.params["max_age_days"] == 180
        assert item.tightenings[0].community == "region"
        assert item.source_community is None  # the requirement itself still comes from the baseline
        assert fria_params(other).params["max_age_days"] == 365
        assert fria_params(nation).params["max_age_days"] == 365

    def test_loosening_is_refused_naming_the_baseline(self, admin, tree, baseline):
        region = tree[1]
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        with pytest.raises(ValidationError) as error:
            services.override_save(
                version=draft,
                actor=author,
                target_framework=baseline.framework,
                target_code="FRIA",
                parameter="max_age_days",
                value=400,
            )
        assert "would weaken Test floor FRIA" in str(error.value)
        assert not draft.overrides.exists()

    def test_child_cannot_loosen_what_its_parent_tightened(self, admin, tree, baseline):
        _nation, region, city, _other = tree
        region_author = author_of(region, admin, "region-author")
        draft = community_draft(region, region_author, "urn:test:region")
        services.override_save(
            version=draft,
            actor=region_author,
            target_framework=baseline.framework,
            target_code="FRIA",
            parameter="max_age_days",
            value=180,
        )
        services.version_publish(version=draft, actor=region_author)
        city_author = author_of(city, admin, "city-author")
        city_draft = community_draft(city, city_author, "urn:test:city")
        with pytest.raises(ValidationError, match="is 180 there"):
            services.override_save(
                version=city_draft,
                actor=city_author,
                target_framework=baseline.framework,
                target_code="FRIA",
                parameter="max_age_days",
                value=300,
            )
        services.override_save(
            version=city_draft,
            actor=city_author,
            target_framework=baseline.framework,
            target_code="FRIA",
            parameter="max_age_days",
            value=90,
        )
        services.version_publish(version=city_draft, actor=city_author)
        assert [t.community for t in fria_params(city).tightenings] == ["region", "city"]
        assert fria_params(city).params["max_age_days"] == 90

    def test_community_requirements_reach_descendants_only(self, admin, tree, baseline):
        nation, region, city, other = tree
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        services.requirement_save(
            version=draft,
            actor=author,
            data={
                "code": "REG-1",
                "title": "Publish a plain-language notice",
                "kind": "rule",
                "check": "size(system.website) > 0",
                "severity": "medium",
            },
        )
        services.version_publish(version=draft, actor=author)
        codes = lambda c: {e.requirement.code for e in effective_requirements(c, on=datetime.date(2026, 6, 1))}  # noqa: E731
        assert "REG-1" in codes(city)
        assert "REG-1" in codes(region)
        assert "REG-1" not in codes(nation)
        assert "REG-1" not in codes(other)


class AuthoringTests:
    def test_invalid_rule_is_refused_with_position_and_nothing_saved(self, admin, tree, baseline):
        region = tree[1]
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        with pytest.raises(ValidationError) as error:
            services.requirement_save(
                version=draft,
                actor=author,
                data={"code": "BAD", "title": "Bad", "kind": "rule", "check": 'system.nme == "x"'},
            )
        assert error.value.message_dict["check"] == [
            "line 1, column 8: 'system' has no field 'nme'; see the context schema"
        ]
        assert not Requirement.objects.filter(code="BAD").exists()

    def test_published_version_is_immutable(self, admin, tree, baseline):
        with pytest.raises(InvalidTransition):
            services.requirement_save(version=baseline, actor=admin, data={"code": "FRIA", "title": "Changed"})
        assert Requirement.objects.get(version=baseline, code="FRIA").title == "Fundamental rights impact assessment"

    def test_publishing_retires_the_previous_version_and_records_a_hash(self, admin, tree, baseline):
        region = tree[1]
        author = author_of(region, admin, "region-author")
        first = community_draft(region, author, "urn:test:region")
        services.version_publish(version=first, actor=author)
        second = services.version_create_draft(framework=first.framework, actor=author, version="2")
        services.version_publish(version=second, actor=author)
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.status == VersionStatus.RETIRED
        assert second.status == VersionStatus.PUBLISHED
        assert len(second.content_hash) == 64

    def test_another_communitys_author_cannot_write(self, admin, tree, baseline):
        _nation, region, _city, other = tree
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        outsider = author_of(other, admin, "other-author")
        with pytest.raises(PermissionDenied):
            services.requirement_save(version=draft, actor=outsider, data={"code": "X", "title": "X", "check": "true"})
        with pytest.raises(PermissionDenied):
            services.version_publish(version=draft, actor=outsider)
        assert FrameworkVersion.objects.get(pk=draft.pk).status == VersionStatus.DRAFT

    def test_export_then_import_round_trips(self, admin, tree, baseline):
        document = services.version_document(baseline)
        document["urn"] = "urn:test:copy"
        copy, created = services.version_import(document=document, actor=None, publish=True)
        assert created
        exported = services.version_document(copy)
        assert exported["requirements"] == services.version_document(baseline)["requirements"]
        again, created_again = services.version_import(document=document, actor=None, publish=True)
        assert (again.pk, created_again) == (copy.pk, False)


class FrameworkUpdateTests:
    def test_authors_edit_details_and_the_change_is_audited(self, admin, tree, baseline):
        from registry.models import AuditEvent

        region = tree[1]
        author = author_of(region, admin, "region-author")
        framework = community_draft(region, author, "urn:test:region").framework
        services.framework_update(framework=framework, actor=author, name="Region rules, 2027")
        framework.refresh_from_db()
        assert framework.name == "Region rules, 2027"
        event = AuditEvent.objects.filter(action="framework.updated").get()
        assert event.changes["name"][1] == "Region rules, 2027"

    def test_only_instance_administrators_change_a_baselines_binding(self, admin, tree, baseline):
        from governance.choices import Binding

        author = author_of(tree[1], admin, "region-author")
        with pytest.raises(PermissionDenied):
            services.framework_update(framework=baseline.framework, actor=author, binding=Binding.INFORMATIVE)
        services.framework_update(framework=baseline.framework, actor=admin, binding=Binding.INFORMATIVE)
        baseline.framework.refresh_from_db()
        assert baseline.framework.binding == Binding.INFORMATIVE
        assert not [e for e in effective_requirements(tree[2]) if e.requirement.code == "FRIA"]

    def test_a_community_framework_has_no_binding_to_change(self, admin, tree, baseline):
        author = author_of(tree[1], admin, "region-author")
        framework = community_draft(tree[1], author, "urn:test:region").framework
        with pytest.raises(ValidationError, match="cannot be changed"):
            services.framework_update(framework=framework, actor=author, binding="mandatory")


class OverrideDeleteTests:
    def test_removing_a_tightening_restores_the_inherited_value(self, admin, tree, baseline):
        region, city = tree[1], tree[2]
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        target = {"target_framework": baseline.framework, "target_code": "FRIA", "parameter": "max_age_days"}
        services.override_save(version=draft, actor=author, value=100, **target)
        services.override_delete(version=draft, actor=author, **target)
        services.version_publish(version=draft, actor=author)
        assert fria_params(city).params == {"max_age_days": 365}

    def test_a_published_tightening_cannot_be_removed(self, admin, tree, baseline):
        region = tree[1]
        author = author_of(region, admin, "region-author")
        draft = community_draft(region, author, "urn:test:region")
        target = {"target_framework": baseline.framework, "target_code": "FRIA", "parameter": "max_age_days"}
        services.override_save(version=draft, actor=author, value=100, **target)
        services.version_publish(version=draft, actor=author)
        with pytest.raises(InvalidTransition):
            services.override_delete(version=draft, actor=author, **target)
        assert draft.overrides.count() == 1
