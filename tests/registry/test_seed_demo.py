from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command

from registry.choices import CommunityKind, Disclosure, RegistrationStatus, RiskTier
from registry.demo import COMMUNITIES, DEMO_PASSWORD, REGISTRATIONS, SYSTEMS, USERS
from registry.management.commands.seed_demo import PRODUCTION_REFUSED
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    Organization,
    OrganizationMembership,
    Registration,
    RegistrationUserObjectPermission,
    RegistrationVersion,
)
from registry.permissions import Action

pytestmark = pytest.mark.django_db

User = get_user_model()


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def database_state() -> dict:
    """Everything a second run could touch: row counts, and the rows' own values and timestamps."""
    models = [
        User,
        Community,
        CommunityMembership,
        Organization,
        OrganizationMembership,
        AISystem,
        Registration,
        RegistrationVersion,
        RegistrationUserObjectPermission,
        AuditEvent,
    ]
    return {
        "counts": {model._meta.label: model.objects.count() for model in models},
        "users": list(User.objects.order_by("username").values_list("username", "password", "is_superuser")),
        "communities": list(Community.objects.order_by("slug").values_list("slug", "path", "updated_at")),
        "organizations": list(Organization.objects.order_by("slug").values_list("slug", "updated_at")),
        "systems": list(AISystem.objects.order_by("id").values_list("id", "external_id", "updated_at")),
        "registrations": list(Registration.objects.order_by("id").values_list("id", "status", "version", "updated_at")),
    }


@pytest.fixture
def debug_on(settings):
    # pytest-django turns DEBUG off for tests; `make run` seeds with DEBUG on.
    settings.DEBUG = True


@pytest.fixture
def seeded(debug_on):
    return seed()


class SeedDemoTests:
    def test_second_run_changes_nothing(self, seeded):
        before = database_state()
        output = seed()
        assert database_state() == before
        assert "nothing changed" in output
        assert before["counts"]["registry.Registration"] == len(REGISTRATIONS)
        assert before["counts"]["registry.AISystem"] == len(SYSTEMS)
        assert before["counts"]["registry.Community"] == len(COMMUNITIES)
        assert before["counts"][User._meta.label] == len(USERS)

    def test_a_partly_seeded_database_is_completed_without_duplicates(self, seeded):
        Registration.objects.filter(status=RegistrationStatus.DRAFT).delete()
        Community.objects.get(slug="digital-services-agency").registrations.all().delete()
        Community.objects.filter(slug="digital-services-agency").delete()
        seed()
        assert Registration.objects.count() == len(REGISTRATIONS)
        assert Community.objects.filter(slug="digital-services-agency").count() == 1

    def test_every_registration_status_is_present(self, seeded):
        statuses = set(Registration.objects.values_list("status", flat=True))
        assert statuses == set(RegistrationStatus.values)

    def test_statuses_were_reached_through_the_workflow(self, seeded):
        for registration in Registration.objects.exclude(status=RegistrationStatus.DRAFT):
            actions = list(AuditEvent.objects.filter(registration_id=registration.pk).values_list("action", flat=True))
            assert actions[0] == "registration.created"
            assert "registration.submit" in actions
            assert registration.versions.count() == registration.version >= 1
        decided = Registration.objects.filter(
            status__in=[RegistrationStatus.APPROVED, RegistrationStatus.REJECTED, RegistrationStatus.CHANGES_REQUESTED]
        )
        assert all(registration.review_comment for registration in decided)
        assert {registration.reviewer.username for registration in decided} == {
            "regulator-lakeshore",
            "regulator-northland",
        }

    def test_risk_tiers_and_a_withheld_field_with_its_reason(self, seeded):
        tiers = set(Registration.objects.values_list("risk_tier", flat=True))
        assert {RiskTier.HIGH, RiskTier.LIMITED, RiskTier.MINIMAL} <= tiers
        withheld = [
            setting
            for disclosure in Registration.objects.values_list("disclosure", flat=True)
            for setting in disclosure.values()
            if setting["level"] == Disclosure.WITHHELD
        ]
        assert withheld
        assert all(setting["reason"] for setting in withheld)

    def test_community_tree(self, seeded):
        nation = Community.objects.get(slug="northland")
        lakeshore = Community.objects.get(slug="lakeshore")
        assert nation.kind == CommunityKind.NATION and nation.parent is None
        assert Community.objects.get(slug="port-avalon").path.startswith(lakeshore.path)
        assert Community.objects.get(slug="riverton").parent == lakeshore
        assert Community.objects.get(slug="cedar-falls").parent.slug == "highlands"
        assert Community.objects.get(slug="kinwa-nation").kind == CommunityKind.INDIGENOUS_NATION
        assert Community.objects.filter(kind=CommunityKind.AGENCY).exists()
        assert Community.objects.subtree_of(nation).count() == Community.objects.count()
        assert AuditEvent.objects.filter(action="community.created", actor_username="admin").count() == len(COMMUNITIES)

    def test_every_demo_user_gets_an_api_token_with_the_documented_password(self, seeded, client):
        cache.clear()  # the login throttle counts per address in the cache
        for spec in USERS:
            response = client.post(
                "/api/v1/auth/token/",
                {"username": spec.username, "password": DEMO_PASSWORD},
                content_type="application/json",
            )
            assert response.status_code == 200, (spec.username, response.content)
            assert response.json()["token"]

    def test_roles_give_the_documented_scope(self, seeded):
        users = {user.username: user for user in User.objects.all()}
        riverton_triage = Registration.objects.get(system__external_id="HC-TRIAGE", community__slug="riverton")
        assert users["admin"].is_superuser and users["admin"].is_staff
        assert list(Registration.objects.restrict(users["auditor"], Action.VIEW)) == [riverton_triage]
        assert not users["auditor"].community_memberships.exists()
        assert not users["auditor"].organization_memberships.exists()
        lakeshore_review = Registration.objects.restrict(users["regulator-lakeshore"], Action.REVIEW)
        assert riverton_triage in lakeshore_review
        assert not lakeshore_review.filter(community__slug="cedar-falls").exists()
        national_review = Registration.objects.restrict(users["regulator-northland"], Action.REVIEW)
        assert national_review.filter(community__slug="cedar-falls").exists()
        filed = Registration.objects.restrict(users["filer-avalon-it"], Action.FILE)
        assert set(filed.values_list("organization__slug", flat=True)) == {"avalon-it"}
        assert Registration.objects.restrict(users["viewer-riverton"], Action.VIEW).filter(pk=riverton_triage.pk)

    def test_output_lists_accounts_password_and_urls(self, debug_on):
        output = seed()
        assert "Demo data created" in output
        assert f"password for all: {DEMO_PASSWORD}" in output
        for spec in USERS:
            assert spec.username in output
        assert "http://127.0.0.1:8000/admin/" in output
        assert "http://127.0.0.1:8000/api/docs/" in output

    def test_refuses_to_run_with_debug_off(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError) as raised:
            seed()
        assert str(raised.value) == PRODUCTION_REFUSED
        assert not User.objects.exists()
        assert not Community.objects.exists()

    def test_force_runs_with_debug_off(self, settings):
        settings.DEBUG = False
        seed(force=True)
        assert Registration.objects.count() == len(REGISTRATIONS)

    def test_an_admin_account_that_is_not_a_superuser_stops_the_seed(self, debug_on):
        User.objects.create_user("admin", password="something-else-entirely")
        with pytest.raises(CommandError, match="not an active superuser"):
            seed()
        assert not Community.objects.exists()
