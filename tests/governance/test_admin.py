"""The policy console (/policy/): who gets in, what they see, and every write going through the services."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from guardian.shortcuts import assign_perm

from governance import services
from governance.admin import policy_site
from governance.choices import VersionStatus
from governance.condition_builder import ConditionError, build_condition
from governance.models import Framework, FrameworkVersion, ParameterOverride, Requirement
from governance.rules import validate_rule
from registry.choices import CommunityKind, CommunityRole, RegistrationStatus, RiskTier
from registry.models import AuditEvent
from registry.services import community_create, community_member_add
from tests.factories import AISystemFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"
FLOOR = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:policy-floor",
    "name": "Test floor",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {
            "code": "FLOOR-1",
            "title": "Assessment is recent",
            "kind": "rule",
            "applies_when": 'registration.risk_tier == "high"',
            "check": "registration.age_days <= params.max_age_days",
            "parameters": [{"name": "max_age_days", "type": "int", "default": 365, "direction": "lower_is_stricter"}],
        }
    ],
}


def community_document(urn, name, requirements):
    return {"format": FLOOR["format"], "urn": urn, "name": name, "version": "1", "requirements": requirements}


CITY_RULES = community_document(
    "urn:test:elmtown",
    "Elmtown rules",
    [
        {"code": "CITY-1", "title": "Purpose described", "kind": "rule", "check": "size(system.purpose) > 0"},
        {"code": "CITY-2", "title": "Vendor named", "kind": "rule", "check": "size(system.vendor) > 0"},
    ],
)


def url(name, *args):
    from django.urls import reverse

    return reverse(f"policy:{name}", args=args)


def version_url(version, view="change"):
    return url(f"governance_frameworkversion_{view}", version.pk)


def framework_url(framework, view="change"):
    return url(f"governance_framework_{view}", framework.pk)


def make_user(username, **fields):
    return User.objects.create_user(username, f"{username}@example.org", PASSWORD, **fields)


@pytest.fixture
def root():
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def tree(root):
    nation = community_create(actor=root, slug="testland", name="Testland", kind=CommunityKind.NATION)
    region = community_create(actor=root, slug="north", name="North Shire", kind=CommunityKind.REGION, parent=nation)
    city = community_create(actor=root, slug="elmtown", name="Elmtown", kind=CommunityKind.CITY, parent=region)
    other = community_create(actor=root, slug="south", name="South Shire", kind=CommunityKind.REGION, parent=nation)
    return nation, region, city, other


def member(community, root, username, role=CommunityRole.POLICY_AUTHOR):
    user = make_user(username)
    community_member_add(community=community, actor=root, user=user, role=role)
    return user


@pytest.fixture
def floor():
    version, _created = services.version_import(document=FLOOR, actor=None, publish=True, builtin=True)
    return version


@pytest.fixture
def author(tree, root):
    return member(tree[2], root, "city-author")


@pytest.fixture
def frameworks(tree, root, floor, author):
    """Published frameworks: the city's own, its region's (an ancestor's) and another region's."""
    _nation, region, city, other = tree
    city_v1, _created = services.version_import(document=CITY_RULES, actor=author, community=city, publish=True)
    region_author = member(region, root, "region-author")
    region_v1, _created = services.version_import(
        document=community_document("urn:test:north", "North Shire rules", []),
        actor=region_author,
        community=region,
        publish=True,
    )
    other_author = member(other, root, "south-author")
    other_v1, _created = services.version_import(
        document=community_document("urn:test:south", "South Shire rules", []),
        actor=other_author,
        community=other,
        publish=True,
    )
    return {"city": city_v1, "region": region_v1, "other": other_v1, "floor": floor}


@pytest.fixture
def draft(frameworks, author):
    return services.version_create_draft(framework=frameworks["city"].framework, actor=author, version="2")


@pytest.fixture
def console(client, author):
    client.force_login(author)
    return client


def form_data(response) -> dict:
    """The POST body the change page would send unchanged: every inline form's current values."""
    data = {"_save": "Save"}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for form in [formset.management_form, *formset.forms]:
            for name in form.fields:
                value = form[name].value()
                if value is None or value is False:
                    continue
                data[form.add_prefix(name)] = "on" if value is True else str(value)
    return data


def add_requirement(data, **fields) -> dict:
    index = int(data["requirements-TOTAL_FORMS"])
    data["requirements-TOTAL_FORMS"] = str(index + 1)
    defaults = {"order": "0", "kind": "rule", "severity": "medium", "applies_when": "true", "parameters": "[]"}
    for name, value in {**defaults, **fields}.items():
        data[f"requirements-{index}-{name}"] = value
    return data


def row_of(data, code) -> str:
    return next(key[: -len("-code")] for key, value in data.items() if key.endswith("-code") and value == code)


class PolicySiteAccessTests:
    def test_a_policy_author_who_is_not_staff_signs_in(self, client, author):
        assert not author.is_staff
        response = client.post(url("login"), {"username": "city-author", "password": PASSWORD, "next": url("index")})
        assert response.status_code == 302
        assert response.url == url("index")
        page = client.get(url("index"))
        assert page.status_code == 200
        assert "Commons Registry — policy console" in page.content.decode()

    def test_an_unrelated_user_cannot_sign_in_and_is_sent_to_the_login_page(self, client, tree):
        make_user("passer-by")
        response = client.post(url("login"), {"username": "passer-by", "password": PASSWORD})
        assert response.status_code == 200
        assert "policy author" in response.content.decode()
        client.force_login(User.objects.get(username="passer-by"))
        response = client.get(url("governance_framework_changelist"))
        assert response.status_code == 302
        assert response.url.startswith(url("login"))

    def test_a_regulator_is_not_a_policy_author(self, client, tree, root):
        client.force_login(member(tree[2], root, "city-regulator", CommunityRole.REGULATOR))
        assert client.get(url("index")).status_code == 302

    def test_anonymous_visitors_are_sent_to_the_login_page(self, client, frameworks):
        response = client.get(framework_url(frameworks["city"].framework))
        assert response.status_code == 302
        assert response.url.startswith(url("login"))

    def test_a_guardian_grant_admits_and_makes_that_one_framework_editable(self, client, frameworks):
        guest = make_user("guest-author")
        granted = frameworks["other"].framework
        assign_perm("governance.author_framework", guest, granted)
        client.force_login(guest)
        listing = client.get(url("governance_framework_changelist")).content.decode()
        assert "South Shire rules" in listing
        assert "Elmtown rules" not in listing
        assert client.get(url("governance_framework_new_draft", granted.pk)).status_code == 200

    def test_the_normal_admin_shows_frameworks_to_superusers_read_only(self, client, root, frameworks):
        client.force_login(root)
        page = client.get(f"/admin/governance/framework/{frameworks['city'].framework.pk}/change/")
        assert page.status_code == 200
        assert "View framework" in page.content.decode()


class FrameworkScopeTests:
    def test_the_list_shows_own_ancestors_and_baselines_but_not_other_communities(self, console, frameworks):
        page = console.get(url("governance_framework_changelist")).content.decode()
        assert "Elmtown rules" in page
        assert "North Shire rules" in page
        assert "Test floor" in page
        assert "Global baseline" in page
        assert "South Shire rules" not in page

    def test_another_communitys_framework_and_versions_answer_404(self, console, frameworks):
        other = frameworks["other"]
        assert console.get(framework_url(other.framework)).status_code == 404
        assert console.get(version_url(other)).status_code == 404
        assert console.get(version_url(other, "diff")).status_code == 404
        assert console.get(url("governance_framework_new_draft", other.framework.pk)).status_code == 404

    def test_baselines_and_ancestors_frameworks_are_read_only(self, console, frameworks):
        for key in ("floor", "region"):
            framework = frameworks[key].framework
            page = console.get(framework_url(framework)).content.decode()
            assert "View framework" in page
            assert "New draft" not in page
            assert console.get(url("governance_framework_new_draft", framework.pk)).status_code == 403
        floor = frameworks["floor"]
        page = console.get(version_url(floor)).content.decode()
        assert "View framework version" in page
        assert 'name="requirements-0-title"' not in page

    def test_the_own_framework_offers_a_new_draft(self, console, frameworks):
        framework = frameworks["city"].framework
        page = console.get(framework_url(framework)).content.decode()
        assert "New draft" in page
        response = console.post(
            url("governance_framework_new_draft", framework.pk), {"version": "2", "notes": "Spring"}
        )
        draft = framework.versions.get(status=VersionStatus.DRAFT)
        assert response.status_code == 302
        assert response.url == version_url(draft)
        assert list(draft.requirements.values_list("code", flat=True)) == ["CITY-1", "CITY-2"]
        assert AuditEvent.objects.filter(action="framework.draft_created", target_id=draft.pk).exists()

    def test_a_second_draft_is_refused_with_a_message_not_a_500(self, console, draft):
        response = console.post(url("governance_framework_new_draft", draft.framework_id), {"version": "3"})
        assert response.status_code == 200
        assert "already has a draft version" in response.content.decode()

    def test_adding_a_framework_goes_through_the_service_for_an_own_community(self, console, tree, frameworks):
        _nation, _region, city, other = tree
        fields = {"urn": "urn:test:elmtown-extra", "name": "Elmtown extra rules", "short_name": "", "_save": "Save"}
        refused = console.post(url("governance_framework_add"), {**fields, "community": other.pk})
        assert refused.status_code == 200
        assert "Select a valid choice" in refused.content.decode()
        response = console.post(url("governance_framework_add"), {**fields, "community": city.pk})
        assert response.status_code == 302
        framework = Framework.objects.get(urn="urn:test:elmtown-extra")
        assert framework.community == city
        assert AuditEvent.objects.filter(action="framework.created", target_id=framework.pk).exists()


class FrameworkDetailsTests:
    def test_an_author_renames_their_framework_but_cannot_set_a_binding(self, console, frameworks):
        framework = frameworks["city"].framework
        response = console.post(
            framework_url(framework),
            {
                "name": "Harbour City rules 2027",
                "short_name": "",
                "description": "",
                "source_url": "",
                "licence_notice": "",
                "binding": "mandatory",
                "_save": "Save",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        framework.refresh_from_db()
        assert framework.name == "Harbour City rules 2027"
        assert framework.binding == "informative"  # the field is not in the author's form
        assert AuditEvent.objects.filter(action="framework.updated", target_id=framework.pk).exists()

    def test_a_superuser_makes_a_baseline_informative_in_the_console(self, client, root, frameworks):
        client.force_login(root)
        framework = frameworks["floor"].framework
        page = client.get(framework_url(framework)).content.decode()
        assert 'name="binding"' in page
        response = client.post(
            framework_url(framework),
            {
                "name": framework.name,
                "short_name": framework.short_name,
                "description": framework.description,
                "source_url": "",
                "licence_notice": "",
                "binding": "informative",
                "_save": "Save",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        framework.refresh_from_db()
        assert framework.binding == "informative"

    def test_an_author_cannot_post_to_a_baseline(self, console, frameworks):
        framework = frameworks["floor"].framework
        response = console.post(framework_url(framework), {"name": "Mine now", "binding": "informative"})
        assert response.status_code == 403
        framework.refresh_from_db()
        assert framework.name != "Mine now"


class RequirementEditingTests:
    def test_an_invalid_rule_is_shown_next_to_the_field_and_nothing_is_saved(self, console, draft):
        page = console.get(version_url(draft))
        data = form_data(page)
        data[f"{row_of(data, 'CITY-2')}-title"] = "Vendor and model named"  # a valid change in the same submission
        add_requirement(data, code="CITY-3", title="Website", check_rule="size(system.nme) > 0")
        events = AuditEvent.objects.count()
        response = console.post(version_url(draft), data)
        assert response.status_code == 200
        content = response.content.decode()
        assert "line 1, column 13: &#x27;system&#x27; has no field &#x27;nme&#x27;" in content
        assert not draft.requirements.filter(code="CITY-3").exists()
        assert draft.requirements.get(code="CITY-2").title == "Vendor named"
        assert AuditEvent.objects.count() == events

    def test_a_valid_requirement_is_saved_and_audited(self, console, draft):
        data = add_requirement(
            form_data(console.get(version_url(draft))),
            code="CITY-3",
            title="Website published",
            severity="high",
            applies_when='registration.risk_tier == "high"',
            check_rule="size(system.website) > 0",
            parent=str(draft.requirements.get(code="CITY-1").pk),
        )
        response = console.post(version_url(draft), data)
        assert response.status_code == 302
        requirement = draft.requirements.get(code="CITY-3")
        assert (requirement.check_rule, requirement.severity, requirement.parent.code) == (
            "size(system.website) > 0",
            "high",
            "CITY-1",
        )
        event = AuditEvent.objects.get(action="framework.requirement_saved", changes__requirement=[None, "CITY-3"])
        assert event.actor.username == "city-author"

    def test_editing_and_deleting_requirements_go_through_the_services(self, console, draft):
        data = form_data(console.get(version_url(draft)))
        data[f"{row_of(data, 'CITY-1')}-check_rule"] = "size(system.purpose) >= 20"
        data[f"{row_of(data, 'CITY-2')}-DELETE"] = "on"
        response = console.post(version_url(draft), data)
        assert response.status_code == 302
        assert draft.requirements.get(code="CITY-1").check_rule == "size(system.purpose) >= 20"
        assert not draft.requirements.filter(code="CITY-2").exists()
        assert AuditEvent.objects.filter(action="framework.requirement_deleted", target_id=draft.pk).exists()

    def test_an_empty_in_force_range_is_a_form_error(self, console, draft):
        data = form_data(console.get(version_url(draft)))
        row = row_of(data, "CITY-1")
        data.update({f"{row}-effective_from": "2027-01-01", f"{row}-effective_until": "2026-01-01"})
        response = console.post(version_url(draft), data)
        assert response.status_code == 200
        assert draft.requirements.get(code="CITY-1").effective_from is None

    def test_a_published_version_cannot_be_edited(self, console, frameworks):
        published = frameworks["city"]
        page = console.get(version_url(published))
        content = page.content.decode()
        assert "View framework version" in content
        assert 'name="requirements-0-title"' not in content
        assert "Publish…" not in content
        response = console.post(version_url(published), {"requirements-0-title": "Changed", "_save": "Save"})
        assert response.status_code == 403
        assert published.requirements.get(code="CITY-1").title == "Purpose described"
        assert console.get(version_url(published, "publish")).status_code == 302

    def test_a_looser_override_names_the_baseline_it_would_weaken(self, console, draft, floor):
        data = form_data(console.get(version_url(draft)))
        data["overrides-TOTAL_FORMS"] = "1"
        row = {"target_framework": floor.framework_id, "target_code": "FLOOR-1", "parameter": "max_age_days"}
        data.update({f"overrides-0-{name}": value for name, value in row.items()})
        response = console.post(version_url(draft), {**data, "overrides-0-value": "400"})
        assert response.status_code == 200
        assert "400 would weaken Test floor FLOOR-1" in response.content.decode()
        assert not ParameterOverride.objects.exists()
        response = console.post(version_url(draft), {**data, "overrides-0-value": "180"})
        assert response.status_code == 302
        assert draft.overrides.get().value == 180
        assert AuditEvent.objects.filter(action="framework.parameter_tightened", target_id=draft.pk).exists()

    def test_requirement_fields_carry_the_condition_builder(self, console, draft):
        content = console.get(version_url(draft)).content.decode()
        assert "governance/condition_builder.js" in content
        assert "<legend>Condition builder</legend>" in content
        assert url("condition_builder") in content


def live(community, website):
    return RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        risk_tier=RiskTier.HIGH,
        system=AISystemFactory(name=f"System at {website or 'nowhere'}", website=website),
    )


class DiffImpactPublishTests:
    def test_the_diff_shows_old_and_new_values_side_by_side(self, console, draft, author):
        services.requirement_save(version=draft, actor=author, code="CITY-2", data={"title": "Vendor and model named"})
        services.requirement_delete(version=draft, actor=author, code="CITY-1")
        page = console.get(version_url(draft, "diff"))
        content = page.content.decode()
        assert page.status_code == 200
        assert "1 changed requirement" in content
        assert "<caption>CITY-2</caption>" in content
        assert '<td class="diff-old"><pre>Vendor named</pre></td>' in content
        assert '<td class="diff-new"><pre>Vendor and model named</pre></td>' in content
        assert "1 removed requirement" in content
        assert "Before (1)" in content

    def test_the_impact_preview_counts_and_lists_the_newly_failing_registrations(self, console, draft, tree, author):
        city = tree[2]
        failing = [live(city, ""), live(city, "")]
        passing = live(city, "https://example.org")
        services.requirement_save(
            version=draft,
            actor=author,
            data={"code": "CITY-3", "title": "Website published", "check": "size(system.website) > 0"},
        )
        page = console.get(version_url(draft, "impact"))
        content = page.content.decode()
        assert page.status_code == 200
        (row,) = page.context["impact"]["requirements"]
        assert (row["code"], row["newly_failing"]) == ("CITY-3", 2)
        assert '<td class="newly-failing">2</td>' in content
        for registration in failing:
            assert url("registry_registration_change", registration.pk) in content
        assert url("registry_registration_change", passing.pk) not in content
        assert console.get(url("registry_registration_change", failing[0].pk)).status_code == 200

    def test_publishing_asks_for_confirmation_then_publishes_and_audits(self, console, draft, author, frameworks):
        services.requirement_save(
            version=draft,
            actor=author,
            data={"code": "CITY-3", "title": "Website", "check": "size(system.website) > 0"},
        )
        change_page = console.get(version_url(draft)).content.decode()
        assert version_url(draft, "publish") in change_page
        confirmation = console.get(version_url(draft, "publish"))
        content = confirmation.content.decode()
        assert "1 requirement added" in content
        assert '<label for="id_comment">Comment for the audit trail</label>' in content
        assert draft.status == VersionStatus.DRAFT
        response = console.post(version_url(draft, "publish"), {"comment": "Websites are now required."})
        assert response.status_code == 302
        draft.refresh_from_db()
        assert draft.status == VersionStatus.PUBLISHED
        assert draft.content_hash
        assert FrameworkVersion.objects.get(pk=frameworks["city"].pk).status == VersionStatus.RETIRED
        event = AuditEvent.objects.get(action="framework.published", target_id=draft.pk)
        assert (event.actor, event.comment) == (author, "Websites are now required.")
        assert [str(m) for m in get_messages(response.wsgi_request)] == [
            "Published 2. The compliance checks now use it."
        ]

    def test_a_refused_publication_is_a_message_not_a_500(self, console, draft):
        Requirement.objects.filter(version=draft, code="CITY-1").update(check_rule="size(system.nme) > 0")
        response = console.post(version_url(draft, "publish"), {"comment": ""}, follow=True)
        assert response.status_code == 200
        assert "CITY-1 check: line 1, column 13" in response.content.decode()
        draft.refresh_from_db()
        assert draft.status == VersionStatus.DRAFT

    def test_another_authors_draft_cannot_be_published(self, client, draft, tree, root):
        client.force_login(member(tree[3], root, "stranger-author"))
        assert client.post(version_url(draft, "publish"), {"comment": ""}).status_code == 404
        draft.refresh_from_db()
        assert draft.status == VersionStatus.DRAFT

    def test_deleting_a_draft_goes_through_the_service(self, console, draft):
        response = console.post(version_url(draft, "delete"), {"post": "yes"})
        assert response.status_code == 302
        assert not FrameworkVersion.objects.filter(pk=draft.pk).exists()
        assert AuditEvent.objects.filter(action="framework.draft_deleted", target_id=draft.pk).exists()


class ConditionBuilderTests:
    @pytest.mark.parametrize(
        ("field", "operator", "value", "expected"),
        [
            ("system.operator_role", "==", "deployer", 'system.operator_role == "deployer"'),
            ("registration.risk_tier", "!=", "minimal", 'registration.risk_tier != "minimal"'),
            ("registration.risk_tier", "in", "high, limited", 'registration.risk_tier in ["high", "limited"]'),
            ("system.purpose", "contains", "triage", 'system.purpose.contains("triage")'),
            ("system.website", "is_empty", "", "size(system.website) == 0"),
            ("system.website", "is_not_empty", None, "size(system.website) > 0"),
            ("system.techniques", "contains", "biometrics", '"biometrics" in system.techniques'),
            (
                "system.data_categories",
                "in",
                ["children", "health"],
                'system.data_categories.exists(item, item in ["children", "health"])',
            ),
            ("registration.communities", "contains", "elmtown", '"elmtown" in registration.communities'),
            ("registration.age_days", "==", "30", "registration.age_days == 30"),
            ("registration.age_days", "in", "7, 30", "registration.age_days in [7, 30]"),
        ],
    )
    def test_builds_valid_cel(self, field, operator, value, expected):
        expression = build_condition(field, operator, value)
        assert expression == expected
        assert validate_rule(expression) == []

    @pytest.mark.parametrize(
        "value",
        ['say "hi"', "back\\slash", "two\nlines", "tab\there", "it's", "Montréal 日本", "\x07bell", '"); true || ("'],
    )
    def test_strings_are_quoted_and_escaped(self, value):
        import cel

        expression = build_condition("system.vendor", "==", value)
        assert validate_rule(expression) == []
        context = {"system": {"vendor": value}}
        assert cel.compile(expression).execute(context) is True
        assert cel.compile(expression).execute({"system": {"vendor": value + "x"}}) is False

    @pytest.mark.parametrize(
        ("field", "operator", "value", "message"),
        [
            ("system.nme", "==", "x", "Unknown field system.nme"),
            ("system.name", "~=", "x", "Unknown operator"),
            ("registration.risk_tier", "==", "extreme", '"extreme" is not a value of registration.risk_tier'),
            ("system.techniques", "==", "biometrics", "is a list"),
            ("system.techniques", "contains", "telepathy", "is not a value of system.techniques"),
            ("registration.age_days", "==", "thirty", "not a whole number"),
            ("registration.age_days", "is_empty", "", "is a number"),
            ("system.name", "in", " , ", "Enter a value"),
            ("system.name", "==", "\ud800", "must be text"),
        ],
    )
    def test_refuses_what_it_cannot_write(self, field, operator, value, message):
        with pytest.raises(ConditionError, match=message):
            build_condition(field, operator, value)

    def test_the_console_endpoint_wraps_the_function(self, console):
        endpoint = url("condition_builder")
        ok = console.get(endpoint, {"field": "registration.risk_tier", "operator": "==", "value": "high"})
        assert ok.json() == {"expression": 'registration.risk_tier == "high"'}
        refused = console.get(endpoint, {"field": "system.nme", "operator": "==", "value": "x"})
        assert refused.status_code == 400
        assert "Unknown field" in refused.json()["error"]

    def test_the_endpoint_is_for_console_users_only(self, client, tree):
        client.force_login(make_user("passer-by"))
        assert client.get(url("condition_builder"), {"field": "system.name"}).status_code == 302


def test_the_policy_site_is_mounted_at_policy():
    assert url("index") == "/policy/"
    assert policy_site.site_header == "Commons Registry — policy console"
