from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from registry import errors, services
from registry.choices import CommunityKind, CommunityRole, OrganizationRole, RegistrationStatus
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    Organization,
    OrganizationMembership,
    Registration,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
REGISTRY_MODELS = [model for model in admin.site._registry if model._meta.app_label == "registry"]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def tree(admin_user):
    nation = services.community_create(actor=admin_user, slug="testland", name="Testland", kind=CommunityKind.NATION)
    region = services.community_create(
        actor=admin_user, slug="north-shire", name="North Shire", kind=CommunityKind.REGION, parent=nation
    )
    city = services.community_create(
        actor=admin_user, slug="elmtown", name="Elmtown", kind=CommunityKind.CITY, parent=region
    )
    return nation, region, city


@pytest.fixture
def organization(admin_user):
    return services.organization_create(actor=admin_user, slug="acme-ai", name="Acme AI")


@pytest.fixture
def registration(admin_user, tree, organization):
    system = services.system_create(
        actor=admin_user, organization=organization, name="Queue Predictor", purpose="Predict queue lengths."
    )
    registration = services.registration_create(actor=admin_user, system=system, community=tree[2])
    return services.registration_transition(registration=registration, actor=admin_user, action="submit")


def community_form(**overrides):
    data = {
        "name": "Lakeview",
        "slug": "lakeview",
        "kind": CommunityKind.CITY,
        "parent": "",
        "jurisdiction_code": "",
        "description": "",
        "website": "",
        "public_register_enabled": "on",
        "_save": "Save",
    }
    return {**data, **overrides}


class AdminPagesTests:
    def test_every_registry_model_is_registered(self):
        names = {model.__name__ for model in REGISTRY_MODELS}
        assert {
            "Community",
            "CommunityMembership",
            "Organization",
            "OrganizationMembership",
            "AISystem",
            "Registration",
            "AuditEvent",
        } <= names

    def test_changelists_and_detail_pages_render_with_demo_data(self, admin_client, settings):
        settings.DEBUG = True
        call_command("seed_demo", stdout=StringIO())
        settings.DEBUG = False
        for model in REGISTRY_MODELS:
            response = admin_client.get(admin_url(model, "changelist"))
            assert response.status_code == 200, model
            assert response.context["cl"].result_count == model.objects.count() > 0, model
            obj = model.objects.first()
            assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200, model

    def test_add_pages_render_where_adding_is_allowed(self, admin_client, tree, organization):
        for model in (Community, Organization, CommunityMembership, OrganizationMembership):
            assert admin_client.get(admin_url(model, "add")).status_code == 200, model
        response = admin_client.get(admin_url(Community, "change", tree[1].pk))
        assert b"Add a member" in response.content

    def test_filters_and_search(self, admin_client, registration):
        url = admin_url(Registration, "changelist")
        response = admin_client.get(url, {"status": RegistrationStatus.SUBMITTED, "q": "Queue"})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [registration]
        response = admin_client.get(url, {"status": RegistrationStatus.APPROVED})
        assert list(response.context["cl"].result_list) == []
        response = admin_client.get(
            admin_url(AuditEvent, "changelist"),
            {"action": "registration.submit", "target_type": "registry.registration"},
        )
        assert [event.registration_id for event in response.context["cl"].result_list] == [registration.pk]
        response = admin_client.get(admin_url(AuditEvent, "changelist"), {"registration_id": registration.pk})
        assert response.status_code == 200
        assert {event.action for event in response.context["cl"].result_list} == {
            "registration.created",
            "registration.submit",
        }


class CommunityAdminTests:
    def test_adding_a_community_sets_its_path_and_writes_the_audit_trail(self, admin_client, admin_user, tree):
        region = tree[1]
        response = admin_client.post(admin_url(Community, "add"), community_form(parent=region.pk))
        assert response.status_code == 302
        community = Community.objects.get(slug="lakeview")
        assert community.parent == region
        assert community.path == f"{region.path}{community.pk}/"
        event = AuditEvent.objects.get(action="community.created", target_id=community.pk)
        assert event.actor == admin_user
        assert event.changes["slug"] == [None, "lakeview"]

    def test_moving_a_community_moves_its_subtree(self, admin_client, admin_user, tree):
        _nation, region, city = tree
        other = services.community_create(actor=admin_user, slug="other", name="Other", kind=CommunityKind.NATION)
        data = community_form(name=region.name, slug=region.slug, kind=region.kind, parent=other.pk)
        response = admin_client.post(admin_url(Community, "change", region.pk), data)
        assert response.status_code == 302
        city.refresh_from_db()
        assert city.path == f"{other.path}{region.pk}/{city.pk}/"
        assert AuditEvent.objects.filter(action="community.updated", target_id=region.pk).count() == 1

    def test_a_service_refusal_is_a_form_error_not_a_500(self, admin_client, tree):
        nation, _region, city = tree
        data = community_form(name=nation.name, slug=nation.slug, kind=nation.kind, parent=city.pk)
        response = admin_client.post(admin_url(Community, "change", nation.pk), data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["parent"] == [str(errors.PARENT_CYCLE)]
        nation.refresh_from_db()
        assert nation.parent is None and nation.path == f"{nation.pk}/"
        assert not AuditEvent.objects.filter(action="community.updated").exists()

    def test_a_duplicate_slug_is_a_form_error(self, admin_client, tree):
        response = admin_client.post(admin_url(Community, "add"), community_form(slug=tree[0].slug))
        assert response.status_code == 200
        assert "slug" in response.context["adminform"].form.errors
        assert Community.objects.count() == 3

    def test_communities_and_organizations_cannot_be_deleted(self, admin_client, tree, organization):
        assert admin_client.post(admin_url(Community, "delete", tree[2].pk), {"post": "yes"}).status_code == 403
        assert admin_client.post(admin_url(Organization, "delete", organization.pk), {"post": "yes"}).status_code == 403
        assert Community.objects.filter(pk=tree[2].pk).exists()
        assert Organization.objects.filter(pk=organization.pk).exists()


class MembershipAdminTests:
    def test_adding_a_community_member_goes_through_the_service(self, admin_client, tree):
        user = User.objects.create_user("rita")
        data = {"community": tree[1].pk, "user": user.pk, "role": CommunityRole.REGULATOR, "_save": "Save"}
        response = admin_client.post(admin_url(CommunityMembership, "add"), data)
        assert response.status_code == 302
        assert CommunityMembership.objects.filter(community=tree[1], user=user, role=CommunityRole.REGULATOR).exists()
        event = AuditEvent.objects.get(action="community.member_added")
        assert event.changes["member"] == [None, {"username": "rita", "role": "regulator"}]

    def test_removing_a_community_member_goes_through_the_service(self, admin_client, admin_user, tree):
        user = User.objects.create_user("rita")
        membership, _ = services.community_member_add(
            community=tree[0], actor=admin_user, user=user, role=CommunityRole.VIEWER
        )
        response = admin_client.post(admin_url(CommunityMembership, "delete", membership.pk), {"post": "yes"})
        assert response.status_code == 302
        assert not CommunityMembership.objects.filter(pk=membership.pk).exists()
        assert AuditEvent.objects.filter(action="community.member_removed").count() == 1

    def test_community_memberships_are_not_edited_in_place(self, admin_client, admin_user, tree):
        user = User.objects.create_user("rita")
        membership, _ = services.community_member_add(
            community=tree[0], actor=admin_user, user=user, role=CommunityRole.VIEWER
        )
        data = {"community": tree[0].pk, "user": user.pk, "role": CommunityRole.REGULATOR}
        response = admin_client.post(admin_url(CommunityMembership, "change", membership.pk), data)
        assert response.status_code == 403

    def test_adding_an_organization_and_its_admin(self, admin_client, admin_user):
        data = {"name": "Bright Data", "slug": "bright-data", "country": "XN", "_save": "Save"}
        assert admin_client.post(admin_url(Organization, "add"), data).status_code == 302
        organization = Organization.objects.get(slug="bright-data")
        assert AuditEvent.objects.filter(action="organization.created", target_id=organization.pk).exists()
        user = User.objects.create_user("olga")
        data = {"organization": organization.pk, "user": user.pk, "role": OrganizationRole.ADMIN, "_save": "Save"}
        assert admin_client.post(admin_url(OrganizationMembership, "add"), data).status_code == 302
        assert OrganizationMembership.objects.get(organization=organization, user=user).role == OrganizationRole.ADMIN
        assert AuditEvent.objects.filter(action="organization.member_set").count() == 1

    def test_demoting_the_last_admin_is_a_form_error(self, admin_client, admin_user, organization):
        user = User.objects.create_user("olga")
        membership, _ = services.organization_member_set(
            organization=organization, actor=admin_user, user=user, role=OrganizationRole.ADMIN
        )
        data = {"role": OrganizationRole.FILER, "_save": "Save"}
        response = admin_client.post(admin_url(OrganizationMembership, "change", membership.pk), data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["role"] == [str(errors.LAST_ADMIN)]
        membership.refresh_from_db()
        assert membership.role == OrganizationRole.ADMIN

    def test_changing_a_role_goes_through_the_service(self, admin_client, admin_user, organization):
        olga, pete = User.objects.create_user("olga"), User.objects.create_user("pete")
        services.organization_member_set(organization=organization, actor=admin_user, user=olga, role="admin")
        membership, _ = services.organization_member_set(
            organization=organization, actor=admin_user, user=pete, role="filer"
        )
        data = {"role": OrganizationRole.ADMIN, "_save": "Save"}
        response = admin_client.post(admin_url(OrganizationMembership, "change", membership.pk), data)
        assert response.status_code == 302
        membership.refresh_from_db()
        assert membership.role == OrganizationRole.ADMIN
        event = AuditEvent.objects.filter(action="organization.member_set").last()
        assert event.changes["member"] == [{"username": "pete", "role": "filer"}, {"username": "pete", "role": "admin"}]

    def test_removing_the_last_admin_is_refused_with_a_message(self, admin_client, admin_user, organization):
        user = User.objects.create_user("olga")
        membership, _ = services.organization_member_set(
            organization=organization, actor=admin_user, user=user, role=OrganizationRole.ADMIN
        )
        url = admin_url(OrganizationMembership, "delete", membership.pk)
        response = admin_client.post(url, {"post": "yes"})
        assert response.status_code == 302
        assert response.url == admin_url(OrganizationMembership, "change", membership.pk)
        assert [str(message) for message in get_messages(response.wsgi_request)] == [str(errors.LAST_ADMIN)]
        assert OrganizationMembership.objects.filter(pk=membership.pk).exists()
        assert not AuditEvent.objects.filter(action="organization.member_removed").exists()

    def test_bulk_removal_is_all_or_nothing(self, admin_client, admin_user, organization):
        olga, pete = User.objects.create_user("olga"), User.objects.create_user("pete")
        services.organization_member_set(organization=organization, actor=admin_user, user=olga, role="admin")
        services.organization_member_set(organization=organization, actor=admin_user, user=pete, role="filer")
        ids = list(OrganizationMembership.objects.values_list("pk", flat=True))
        response = admin_client.post(
            admin_url(OrganizationMembership, "changelist"),
            {"action": "remove_memberships", "_selected_action": ids},
        )
        assert response.status_code == 302
        assert OrganizationMembership.objects.count() == 2
        assert [str(message) for message in get_messages(response.wsgi_request)] == [str(errors.LAST_ADMIN)]


class ReadOnlyAdminTests:
    def test_registrations_are_not_editable(self, admin_client, registration):
        change_url = admin_url(Registration, "change", registration.pk)
        response = admin_client.get(change_url)
        assert response.status_code == 200
        assert response.context["title"].startswith("View")
        assert b'name="_save"' not in response.content
        assert str(registration.system).encode() in response.content
        response = admin_client.post(change_url, {"status": RegistrationStatus.APPROVED, "risk_tier": "minimal"})
        assert response.status_code == 403
        assert admin_client.get(admin_url(Registration, "add")).status_code == 403
        assert admin_client.post(admin_url(Registration, "delete", registration.pk), {"post": "yes"}).status_code == 403
        registration.refresh_from_db()
        assert registration.status == RegistrationStatus.SUBMITTED
        assert b"delete_selected" not in admin_client.get(admin_url(Registration, "changelist")).content

    def test_systems_and_audit_events_are_read_only(self, admin_client, registration):
        for model in (AISystem, AuditEvent):
            obj = model.objects.first()
            assert admin_client.get(admin_url(model, "add")).status_code == 403
            assert admin_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
            assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403

    def test_the_audit_trail_is_for_superusers_only(self, client, registration):
        staff = User.objects.create_user("stefan", is_staff=True)
        staff.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
        client.force_login(staff)
        assert client.get(admin_url(AuditEvent, "changelist")).status_code == 403
        assert client.get(admin_url(Registration, "changelist")).status_code == 200
