import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from registry import errors, services
from registry.choices import CommunityKind, CommunityRole, RegistrationStatus, RiskTier
from registry.errors import InvalidTransition
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    OrganizationMembership,
    Registration,
    RegistrationVersion,
)
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    community_member,
    filer,
    org_admin,
    regulator,
)

pytestmark = pytest.mark.django_db

Status = RegistrationStatus


def paths(*communities):
    return [Community.objects.get(pk=community.pk).path for community in communities]


def last_event():
    return AuditEvent.objects.order_by("-id").first()


def messages(error: ValidationError, field: str) -> list[str]:
    return error.message_dict[field]


class CommunityTreeTests:
    @pytest.fixture
    def staff(self):
        return UserFactory(is_staff=True)

    def make(self, staff, slug, parent=None):
        return services.community_create(
            actor=staff, slug=slug, name=slug.title(), kind=CommunityKind.REGION, parent=parent
        )

    def test_create_sets_materialized_path_from_parent(self, staff):
        nation = self.make(staff, "canada")
        region = self.make(staff, "ontario", nation)
        city = self.make(staff, "ottawa", region)

        assert paths(nation, region, city) == [
            f"{nation.pk}/",
            f"{nation.pk}/{region.pk}/",
            f"{nation.pk}/{region.pk}/{city.pk}/",
        ]
        assert city.ancestor_ids() == [nation.pk, region.pk]
        event = last_event()
        assert (event.action, event.actor, event.community_id) == ("community.created", staff, city.pk)
        assert event.changes["slug"] == [None, "ottawa"]
        assert event.changes["parent"] == [None, region.pk]

    def test_create_refused_for_non_staff(self):
        with pytest.raises(PermissionDenied):
            services.community_create(actor=UserFactory(), slug="x", name="X", kind=CommunityKind.CITY)
        assert not Community.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_moving_a_community_moves_its_whole_subtree(self, staff):
        canada = self.make(staff, "canada")
        ontario = self.make(staff, "ontario", canada)
        ottawa = self.make(staff, "ottawa", ontario)
        kanata = self.make(staff, "kanata", ottawa)
        quebec = self.make(staff, "quebec", canada)
        france = self.make(staff, "france")

        services.community_update(community=ontario, actor=staff, parent=france)

        assert paths(ontario, ottawa, kanata) == [
            f"{france.pk}/{ontario.pk}/",
            f"{france.pk}/{ontario.pk}/{ottawa.pk}/",
            f"{france.pk}/{ontario.pk}/{ottawa.pk}/{kanata.pk}/",
        ]
        assert paths(canada, quebec) == [f"{canada.pk}/", f"{canada.pk}/{quebec.pk}/"]
        assert list(Community.objects.subtree_of(Community.objects.get(pk=france.pk))) == [
            france,
            ontario,
            ottawa,
            kanata,
        ]
        event = last_event()
        assert (event.action, event.actor) == ("community.updated", staff)
        assert event.changes == {"parent": [canada.pk, france.pk]}

    def test_moving_to_the_root(self, staff):
        canada = self.make(staff, "canada")
        ontario = self.make(staff, "ontario", canada)
        ottawa = self.make(staff, "ottawa", ontario)

        services.community_update(community=ontario, actor=staff, parent=None)

        assert paths(ontario, ottawa) == [f"{ontario.pk}/", f"{ontario.pk}/{ottawa.pk}/"]

    @pytest.mark.parametrize("new_parent", ["itself", "child", "grandchild"])
    def test_moving_under_itself_or_a_descendant_is_refused(self, staff, new_parent):
        canada = self.make(staff, "canada")
        ontario = self.make(staff, "ontario", canada)
        ottawa = self.make(staff, "ottawa", ontario)
        target = {"itself": canada, "child": ontario, "grandchild": ottawa}[new_parent]
        events = AuditEvent.objects.count()

        with pytest.raises(ValidationError) as raised:
            services.community_update(community=canada, actor=staff, parent=target)

        assert messages(raised.value, "parent") == [str(errors.PARENT_CYCLE)]
        assert paths(canada, ontario, ottawa) == [
            f"{canada.pk}/",
            f"{canada.pk}/{ontario.pk}/",
            f"{canada.pk}/{ontario.pk}/{ottawa.pk}/",
        ]
        assert Community.objects.get(pk=canada.pk).parent is None
        assert AuditEvent.objects.count() == events

    def test_update_refused_for_a_regulator(self):
        community = CommunityFactory()
        with pytest.raises(PermissionDenied):
            services.community_update(community=community, actor=regulator(community), name="Renamed")
        assert Community.objects.get(pk=community.pk).name == community.name

    def test_update_without_change_writes_no_event(self, staff):
        community = self.make(staff, "canada")
        events = AuditEvent.objects.count()
        services.community_update(community=community, actor=staff, name=community.name)
        assert AuditEvent.objects.count() == events


class CommunityMembershipTests:
    def test_adding_is_idempotent(self):
        community = CommunityFactory()
        staff = UserFactory(is_staff=True)
        user = UserFactory()

        first, created = services.community_member_add(
            community=community, actor=staff, user=user, role=CommunityRole.VIEWER
        )
        again, created_again = services.community_member_add(
            community=community, actor=staff, user=user, role=CommunityRole.VIEWER
        )

        assert (created, created_again) == (True, False)
        assert first.pk == again.pk
        assert CommunityMembership.objects.filter(community=community, user=user).count() == 1
        assert list(AuditEvent.objects.values_list("action", "actor", "changes")) == [
            (
                "community.member_added",
                staff.pk,
                {"member": [None, {"username": user.username, "role": "viewer"}]},
            )
        ]

    def test_regulator_of_an_ancestor_manages_members_below(self):
        parent = CommunityFactory()
        child = CommunityFactory(parent=parent)
        user = UserFactory()

        services.community_member_add(community=child, actor=regulator(parent), user=user, role=CommunityRole.REGULATOR)

        assert CommunityMembership.objects.filter(community=child, user=user, role="regulator").exists()

    @pytest.mark.parametrize("role", [CommunityRole.VIEWER, CommunityRole.POLICY_AUTHOR])
    def test_non_regulators_cannot_add_members(self, role):
        community = CommunityFactory()
        actor = community_member(community, role)
        with pytest.raises(PermissionDenied):
            services.community_member_add(community=community, actor=actor, user=UserFactory(), role="regulator")
        assert CommunityMembership.objects.count() == 1

    def test_regulator_of_a_child_cannot_manage_the_parent(self):
        parent = CommunityFactory()
        child = CommunityFactory(parent=parent)
        with pytest.raises(PermissionDenied):
            services.community_member_add(
                community=parent, actor=regulator(child), user=UserFactory(), role="regulator"
            )

    def test_unknown_role_is_refused(self):
        community = CommunityFactory()
        with pytest.raises(ValidationError) as raised:
            services.community_member_add(
                community=community, actor=UserFactory(is_staff=True), user=UserFactory(), role="overlord"
            )
        assert "role" in raised.value.message_dict
        assert not CommunityMembership.objects.exists()

    def test_remove_one_role_or_all(self):
        community = CommunityFactory()
        staff = UserFactory(is_staff=True)
        user = community_member(community, CommunityRole.VIEWER)
        community_member(community, CommunityRole.POLICY_AUTHOR, user=user)

        removed = services.community_member_remove(community=community, actor=staff, user=user, role="viewer")
        assert removed == 1
        assert list(CommunityMembership.objects.filter(user=user).values_list("role", flat=True)) == ["policy_author"]

        assert services.community_member_remove(community=community, actor=staff, user=user) == 1
        assert not CommunityMembership.objects.filter(user=user).exists()
        event = last_event()
        assert (event.action, event.actor) == ("community.member_removed", staff)
        assert event.changes == {"member": [{"username": user.username, "roles": ["policy_author"]}, None]}

    def test_removing_a_non_member_changes_nothing(self):
        community = CommunityFactory()
        assert (
            services.community_member_remove(community=community, actor=regulator(community), user=UserFactory()) == 0
        )
        assert not AuditEvent.objects.exists()


class OrganizationMembershipTests:
    def test_set_adds_then_changes_the_single_role(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)
        user = UserFactory()

        _, created = services.organization_member_set(organization=organization, actor=admin, user=user, role="filer")
        membership, created_again = services.organization_member_set(
            organization=organization, actor=admin, user=user, role="admin"
        )

        assert (created, created_again) == (True, False)
        assert membership.role == "admin"
        assert OrganizationMembership.objects.filter(organization=organization, user=user).count() == 1
        assert list(AuditEvent.objects.values_list("action", "changes")) == [
            ("organization.member_set", {"member": [None, {"username": user.username, "role": "filer"}]}),
            (
                "organization.member_set",
                {
                    "member": [
                        {"username": user.username, "role": "filer"},
                        {"username": user.username, "role": "admin"},
                    ]
                },
            ),
        ]

    def test_setting_the_same_role_again_writes_nothing(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)
        user = filer(organization)
        services.organization_member_set(organization=organization, actor=admin, user=user, role="filer")
        assert not AuditEvent.objects.exists()

    def test_filer_cannot_manage_members(self):
        organization = OrganizationFactory()
        org_admin(organization)
        actor = filer(organization)
        with pytest.raises(PermissionDenied):
            services.organization_member_set(organization=organization, actor=actor, user=UserFactory(), role="filer")
        assert OrganizationMembership.objects.count() == 2

    def test_remove(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)
        user = filer(organization)

        assert services.organization_member_remove(organization=organization, actor=admin, user=user) == 1

        assert not OrganizationMembership.objects.filter(user=user).exists()
        event = last_event()
        assert (event.action, event.actor, event.organization_id) == (
            "organization.member_removed",
            admin,
            organization.pk,
        )
        assert event.changes == {"member": [{"username": user.username, "role": "filer"}, None]}

    def test_last_admin_cannot_be_removed(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)

        with pytest.raises(ValidationError) as raised:
            services.organization_member_remove(organization=organization, actor=admin, user=admin)

        assert messages(raised.value, "role") == [str(errors.LAST_ADMIN)]
        assert OrganizationMembership.objects.filter(user=admin, role="admin").exists()
        assert not AuditEvent.objects.exists()

    def test_last_admin_cannot_be_demoted(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)

        with pytest.raises(ValidationError) as raised:
            services.organization_member_set(organization=organization, actor=admin, user=admin, role="filer")

        assert messages(raised.value, "role") == [str(errors.LAST_ADMIN)]
        assert OrganizationMembership.objects.get(user=admin).role == "admin"
        assert not AuditEvent.objects.exists()

    def test_an_admin_can_step_down_when_another_remains(self):
        organization = OrganizationFactory()
        admin = org_admin(organization)
        other = org_admin(organization)

        services.organization_member_set(organization=organization, actor=admin, user=admin, role="filer")
        services.organization_member_remove(organization=organization, actor=other, user=admin)

        assert list(OrganizationMembership.objects.values_list("user", "role")) == [(other.pk, "admin")]


class AISystemServiceTests:
    def test_external_id_is_unique_per_organization_with_a_clear_message(self):
        organization = OrganizationFactory()
        actor = filer(organization)
        services.system_create(actor=actor, organization=organization, name="A", purpose="p", external_id="INV-1")
        with pytest.raises(ValidationError) as error:
            services.system_create(actor=actor, organization=organization, name="B", purpose="p", external_id="INV-1")
        assert error.value.message_dict == {"external_id": [errors.DUPLICATE_EXTERNAL_ID]}
        other = OrganizationFactory()
        services.system_create(actor=filer(other), organization=other, name="C", purpose="p", external_id="INV-1")
        assert AISystem.objects.filter(external_id="INV-1").count() == 2

    def test_create_by_a_filer_is_audited(self):
        organization = OrganizationFactory()
        actor = filer(organization)

        system = services.system_create(
            actor=actor,
            organization=organization,
            name="Benefits triage",
            purpose="Sort claims.",
            techniques=["rule_based"],
        )

        assert system.organization == organization
        event = last_event()
        assert (event.action, event.actor, event.actor_username) == ("system.created", actor, actor.username)
        assert (event.system_id, event.organization_id, event.target_id) == (system.pk, organization.pk, system.pk)
        assert event.changes["name"] == [None, "Benefits triage"]
        assert event.changes["techniques"] == [None, ["rule_based"]]

    @pytest.mark.parametrize("who", ["unrelated", "other_filer", "regulator"])
    def test_create_refused_outside_the_organization(self, who):
        organization = OrganizationFactory()
        actor = {
            "unrelated": UserFactory,
            "other_filer": lambda: filer(OrganizationFactory()),
            "regulator": lambda: regulator(CommunityFactory()),
        }[who]()
        with pytest.raises(PermissionDenied):
            services.system_create(actor=actor, organization=organization, name="X", purpose="Y")
        assert not AISystem.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_create_refuses_unknown_techniques(self):
        organization = OrganizationFactory()
        with pytest.raises(ValidationError) as raised:
            services.system_create(
                actor=filer(organization), organization=organization, name="X", purpose="Y", techniques=["bogus"]
            )
        assert "bogus" in messages(raised.value, "techniques")[0]
        assert not AISystem.objects.exists()

    def test_update_records_before_and_after(self):
        system = AISystemFactory(name="Old name", vendor="Acme")
        actor = filer(system.organization)

        services.system_update(system=system, actor=actor, name="New name", vendor="Acme")

        assert AISystem.objects.get(pk=system.pk).name == "New name"
        event = last_event()
        assert (event.action, event.actor) == ("system.updated", actor)
        assert event.changes == {"name": ["Old name", "New name"]}

    def test_update_refused_for_a_regulator_who_can_see_it(self):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        actor = regulator(registration.community)
        assert AISystem.objects.restrict(actor).filter(pk=registration.system_id).exists()

        with pytest.raises(PermissionDenied):
            services.system_update(system=registration.system, actor=actor, name="Hijacked")
        assert AISystem.objects.get(pk=registration.system_id).name == registration.system.name

    def test_delete_a_never_submitted_system(self):
        registration = RegistrationFactory()  # a draft
        system = registration.system
        actor = filer(system.organization)

        services.system_delete(system=system, actor=actor)

        assert not AISystem.objects.filter(pk=system.pk).exists()
        assert not Registration.objects.exists()
        event = last_event()
        assert (event.action, event.actor, event.target_id) == ("system.deleted", actor, system.pk)
        assert event.changes["name"] == [system.name, None]

    @pytest.mark.parametrize("status", [Status.SUBMITTED, Status.APPROVED, Status.REJECTED, Status.RETIRED])
    def test_delete_refused_once_any_registration_was_submitted(self, status):
        registration = RegistrationFactory(status=status)
        actor = filer(registration.organization)

        with pytest.raises(InvalidTransition) as raised:
            services.system_delete(system=registration.system, actor=actor)

        assert raised.value.message == errors.SYSTEM_DELETE_SUBMITTED
        assert AISystem.objects.filter(pk=registration.system_id).exists()
        assert not AuditEvent.objects.exists()


class RegistrationCreateTests:
    def test_create_a_draft(self):
        system = AISystemFactory()
        community = CommunityFactory()
        actor = filer(system.organization)

        registration = services.registration_create(
            actor=actor, system=system, community=community, deployment_context="Front desk", risk_tier=RiskTier.HIGH
        )

        registration.refresh_from_db()
        assert registration.status == Status.DRAFT
        assert registration.organization == system.organization
        assert registration.created_by == actor
        assert registration.version == 0
        event = last_event()
        assert (event.action, event.actor, event.registration_id) == ("registration.created", actor, registration.pk)
        assert (event.system_id, event.community_id, event.organization_id) == (
            system.pk,
            community.pk,
            system.organization_id,
        )
        assert event.changes["status"] == [None, "draft"]
        assert event.changes["risk_tier"] == [None, "high"]

    def test_refused_for_someone_outside_the_organization(self):
        system = AISystemFactory()
        community = CommunityFactory()
        with pytest.raises(PermissionDenied):
            services.registration_create(actor=regulator(community), system=system, community=community)
        assert not Registration.objects.exists()

    @pytest.mark.parametrize("status", [Status.DRAFT, Status.SUBMITTED, Status.APPROVED, Status.CHANGES_REQUESTED])
    def test_a_second_live_registration_in_the_same_community_is_refused(self, status):
        existing = RegistrationFactory(status=status)
        actor = filer(existing.organization)

        with pytest.raises(ValidationError) as raised:
            services.registration_create(actor=actor, system=existing.system, community=existing.community)

        assert messages(raised.value, "community") == [str(errors.ALREADY_REGISTERED)]
        assert Registration.objects.count() == 1

    @pytest.mark.parametrize("status", [Status.REJECTED, Status.RETIRED])
    def test_filing_again_is_allowed_after_rejection_or_retirement(self, status):
        existing = RegistrationFactory(status=status)

        again = services.registration_create(
            actor=filer(existing.organization), system=existing.system, community=existing.community
        )

        assert again.pk != existing.pk
        assert again.status == Status.DRAFT
        assert Registration.objects.filter(system=existing.system, community=existing.community).count() == 2

    def test_the_same_system_in_another_community_is_allowed(self):
        existing = RegistrationFactory(status=Status.APPROVED)
        other = CommunityFactory()
        services.registration_create(actor=filer(existing.organization), system=existing.system, community=other)
        assert Registration.objects.count() == 2

    def test_withheld_disclosure_needs_a_reason(self):
        system = AISystemFactory()
        with pytest.raises(ValidationError) as raised:
            services.registration_create(
                actor=filer(system.organization),
                system=system,
                community=CommunityFactory(),
                disclosure={"vendor": {"level": "withheld"}},
            )
        assert messages(raised.value, "disclosure") == ["vendor: withholding a field requires a reason."]
        assert not Registration.objects.exists()


class RegistrationUpdateTests:
    @pytest.mark.parametrize("status", [Status.DRAFT, Status.CHANGES_REQUESTED])
    def test_editable_while_draft_or_changes_requested(self, status):
        registration = RegistrationFactory(status=status, deployment_context="Before")
        actor = filer(registration.organization)

        services.registration_update(registration=registration, actor=actor, deployment_context="After")

        assert Registration.objects.get(pk=registration.pk).deployment_context == "After"
        event = last_event()
        assert (event.action, event.actor) == ("registration.updated", actor)
        assert event.changes == {"deployment_context": ["Before", "After"]}

    @pytest.mark.parametrize("status", [Status.SUBMITTED, Status.APPROVED, Status.REJECTED, Status.RETIRED])
    def test_not_editable_in_other_states(self, status):
        registration = RegistrationFactory(status=status, deployment_context="Before")

        with pytest.raises(InvalidTransition) as raised:
            services.registration_update(
                registration=registration, actor=filer(registration.organization), deployment_context="After"
            )

        assert raised.value.message == errors.NOT_EDITABLE
        assert Registration.objects.get(pk=registration.pk).deployment_context == "Before"
        assert not AuditEvent.objects.exists()

    def test_status_cannot_be_set_directly(self):
        registration = RegistrationFactory()
        with pytest.raises(ValidationError) as raised:
            services.registration_update(
                registration=registration, actor=filer(registration.organization), status=Status.APPROVED
            )
        assert "status" in raised.value.message_dict
        assert Registration.objects.get(pk=registration.pk).status == Status.DRAFT

    def test_a_regulator_cannot_edit(self):
        registration = RegistrationFactory(status=Status.CHANGES_REQUESTED)
        with pytest.raises(PermissionDenied):
            services.registration_update(
                registration=registration, actor=regulator(registration.community), deployment_context="Edited"
            )


class RegistrationWorkflowTests:
    @pytest.fixture
    def parties(self):
        parent = CommunityFactory(kind=CommunityKind.NATION)
        community = CommunityFactory(parent=parent)
        registration = RegistrationFactory(community=community)
        return {
            "registration": registration,
            "filer": filer(registration.organization),
            "regulator": regulator(community),
            "parent_regulator": regulator(parent),
        }

    def transition(self, registration, actor, action, comment=""):
        return services.registration_transition(registration=registration, actor=actor, action=action, comment=comment)

    def test_submit_then_approve(self, parties):
        registration, actor, reviewer = parties["registration"], parties["filer"], parties["regulator"]

        submitted = self.transition(registration, actor, "submit")
        assert (submitted.status, submitted.version) == (Status.SUBMITTED, 1)
        assert submitted.submitted_at is not None

        approved = self.transition(registration, reviewer, "approve", "Complete and clear.")

        stored = Registration.objects.get(pk=registration.pk)
        assert approved.status == stored.status == Status.APPROVED
        assert (stored.reviewer, stored.review_comment) == (reviewer, "Complete and clear.")
        assert stored.decided_at is not None
        assert list(AuditEvent.objects.values_list("action", "actor", "changes", "comment")) == [
            ("registration.submit", actor.pk, {"status": ["draft", "submitted"]}, ""),
            ("registration.approve", reviewer.pk, {"status": ["submitted", "approved"]}, "Complete and clear."),
        ]

    def test_reject(self, parties):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        self.transition(registration, parties["regulator"], "reject", "Prohibited practice.")
        stored = Registration.objects.get(pk=registration.pk)
        assert (stored.status, stored.review_comment) == (Status.REJECTED, "Prohibited practice.")
        assert last_event().changes == {"status": ["submitted", "rejected"]}

    def test_changes_requested_then_resubmitted(self, parties):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        self.transition(registration, parties["regulator"], "request_changes", "Describe the oversight.")
        assert Registration.objects.get(pk=registration.pk).status == Status.CHANGES_REQUESTED

        resubmitted = self.transition(registration, parties["filer"], "submit")

        assert (resubmitted.status, resubmitted.version) == (Status.SUBMITTED, 2)
        # A fresh submission clears the previous decision so the regulator reviews it anew.
        assert (resubmitted.reviewer, resubmitted.review_comment) == (None, "")

    @pytest.mark.parametrize("retirer", ["filer", "regulator"])
    def test_approved_registration_is_retired(self, parties, retirer):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        self.transition(registration, parties["regulator"], "approve", "OK")

        self.transition(registration, parties[retirer], "retire", "Decommissioned.")

        stored = Registration.objects.get(pk=registration.pk)
        assert stored.status == Status.RETIRED
        assert stored.retired_at is not None
        event = last_event()
        assert (event.action, event.actor, event.comment) == (
            "registration.retire",
            parties[retirer],
            "Decommissioned.",
        )
        assert event.changes == {"status": ["approved", "retired"]}

    @pytest.mark.parametrize(
        ("status", "action"),
        [
            (Status.DRAFT, "approve"),
            (Status.DRAFT, "reject"),
            (Status.DRAFT, "retire"),
            (Status.SUBMITTED, "submit"),
            (Status.SUBMITTED, "retire"),
            (Status.APPROVED, "submit"),
            (Status.APPROVED, "approve"),
            (Status.APPROVED, "reject"),
            (Status.APPROVED, "request_changes"),
            (Status.CHANGES_REQUESTED, "approve"),
            (Status.CHANGES_REQUESTED, "retire"),
            (Status.REJECTED, "submit"),
            (Status.REJECTED, "approve"),
            (Status.REJECTED, "retire"),
            (Status.RETIRED, "submit"),
            (Status.RETIRED, "approve"),
            (Status.RETIRED, "retire"),
        ],
    )
    def test_invalid_transitions_are_refused(self, status, action):
        registration = RegistrationFactory(status=status)
        # Someone entitled to the action in principle: filers submit, everything else a regulator may do.
        if action == "submit":
            actor = filer(registration.organization)
        else:
            actor = regulator(registration.community)
            if status == Status.DRAFT:  # regulators cannot see drafts at all; the filer can retire
                actor = filer(registration.organization)

        with pytest.raises((InvalidTransition, PermissionDenied)) as raised:
            self.transition(registration, actor, action, "A comment.")

        if status == Status.DRAFT and action in ("approve", "reject"):
            assert isinstance(raised.value, PermissionDenied)
        else:
            assert isinstance(raised.value, InvalidTransition)
        assert Registration.objects.get(pk=registration.pk).status == status
        assert not AuditEvent.objects.exists()
        assert not RegistrationVersion.objects.exists()

    def test_the_error_names_the_state_and_the_action(self):
        registration = RegistrationFactory(status=Status.APPROVED)
        with pytest.raises(InvalidTransition) as raised:
            self.transition(registration, regulator(registration.community), "approve", "Again")
        assert raised.value.message == "A registration that is approved cannot be approved."

    @pytest.mark.parametrize("action", ["approve", "reject", "request_changes", "retire"])
    @pytest.mark.parametrize("comment", ["", "   "])
    def test_decisions_require_a_comment(self, action, comment):
        status = Status.APPROVED if action == "retire" else Status.SUBMITTED
        registration = RegistrationFactory(status=status)

        with pytest.raises(ValidationError) as raised:
            self.transition(registration, regulator(registration.community), action, comment)

        assert messages(raised.value, "comment") == [str(errors.COMMENT_REQUIRED)]
        assert Registration.objects.get(pk=registration.pk).status == status
        assert not AuditEvent.objects.exists()

    def test_a_regulator_cannot_review_a_filing_of_their_own_organization(self, parties):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        conflicted = regulator(registration.community)
        organization_member_user = filer(registration.organization, user=conflicted)
        assert organization_member_user == conflicted

        for action in ("approve", "reject", "request_changes"):
            with pytest.raises(PermissionDenied) as raised:
                self.transition(registration, conflicted, action, "Looks fine to me.")
            assert str(raised.value) == str(errors.OWN_FILING_REVIEW)

        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED

    def test_a_regulator_of_an_ancestor_community_can_review(self, parties):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")

        self.transition(registration, parties["parent_regulator"], "approve", "Approved at national level.")

        stored = Registration.objects.get(pk=registration.pk)
        assert (stored.status, stored.reviewer) == (Status.APPROVED, parties["parent_regulator"])

    @pytest.mark.parametrize("who", ["sibling_regulator", "child_regulator", "viewer", "policy_author", "filer"])
    def test_others_cannot_review(self, parties, who):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        community = registration.community
        actor = {
            "sibling_regulator": lambda: regulator(CommunityFactory(parent=community.parent)),
            "child_regulator": lambda: regulator(CommunityFactory(parent=community)),
            "viewer": lambda: community_member(community, CommunityRole.VIEWER),
            "policy_author": lambda: community_member(community, CommunityRole.POLICY_AUTHOR),
            "filer": lambda: parties["filer"],
        }[who]()

        with pytest.raises(PermissionDenied):
            self.transition(registration, actor, "approve", "OK")
        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED

    def test_a_regulator_cannot_submit_for_the_organization(self, parties):
        with pytest.raises(PermissionDenied):
            self.transition(parties["registration"], parties["regulator"], "submit")
        assert Registration.objects.get(pk=parties["registration"].pk).status == Status.DRAFT

    def test_each_submission_keeps_a_numbered_snapshot(self, parties):
        registration, actor, reviewer = parties["registration"], parties["filer"], parties["regulator"]
        services.registration_update(registration=registration, actor=actor, deployment_context="First context")
        self.transition(registration, actor, "submit")
        self.transition(registration, reviewer, "request_changes", "More detail.")
        services.registration_update(registration=registration, actor=actor, deployment_context="Second context")
        services.system_update(system=registration.system, actor=actor, vendor="New vendor")
        self.transition(registration, actor, "submit")

        versions = list(RegistrationVersion.objects.filter(registration=registration))
        assert [version.number for version in versions] == [1, 2]
        assert [version.created_by for version in versions] == [actor, actor]
        assert [version.snapshot["registration"]["deployment_context"] for version in versions] == [
            "First context",
            "Second context",
        ]
        assert [version.snapshot["registration"]["status"] for version in versions] == ["submitted", "submitted"]
        assert [version.snapshot["system"]["vendor"] for version in versions] == ["Acme Analytics", "New vendor"]
        assert Registration.objects.get(pk=registration.pk).version == 2

    def test_only_submissions_create_versions(self, parties):
        registration = parties["registration"]
        self.transition(registration, parties["filer"], "submit")
        self.transition(registration, parties["regulator"], "approve", "OK")
        self.transition(registration, parties["filer"], "retire", "Done")
        assert RegistrationVersion.objects.filter(registration=registration).count() == 1


class RegistrationAccessGrantTests:
    def test_a_regulator_grants_and_revokes_one_reader(self):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        other = RegistrationFactory(status=Status.SUBMITTED, community=registration.community)
        actor = regulator(registration.community)
        auditor = UserFactory()

        services.registration_grant_access(registration=registration, actor=actor, user=auditor)

        assert list(Registration.objects.restrict(auditor)) == [registration]
        assert other not in Registration.objects.restrict(auditor)
        event = last_event()
        assert (event.action, event.actor, event.changes) == (
            "registration.access_granted",
            actor,
            {"reader": [None, auditor.username]},
        )

        services.registration_revoke_access(registration=registration, actor=actor, user=auditor)

        assert not Registration.objects.restrict(auditor).exists()
        assert last_event().action == "registration.access_revoked"

    def test_granting_twice_or_revoking_nothing_records_nothing(self):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        actor = regulator(registration.community)
        auditor = UserFactory()
        services.registration_grant_access(registration=registration, actor=actor, user=auditor)
        events = AuditEvent.objects.count()

        services.registration_grant_access(registration=registration, actor=actor, user=auditor)
        services.registration_revoke_access(registration=registration, actor=actor, user=UserFactory())

        assert AuditEvent.objects.count() == events

    def test_a_filer_cannot_grant(self):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        with pytest.raises(PermissionDenied):
            services.registration_grant_access(
                registration=registration, actor=filer(registration.organization), user=UserFactory()
            )


class AuditTrailTests:
    """Every service that changes something leaves an event naming the actor, the action and the change."""

    def test_organization_create_and_update(self):
        staff = UserFactory(is_staff=True)
        organization = services.organization_create(actor=staff, slug="acme", name="Acme")
        services.organization_update(organization=organization, actor=staff, name="Acme Inc.")

        assert list(AuditEvent.objects.values_list("action", "actor_username", "organization_id")) == [
            ("organization.created", staff.username, organization.pk),
            ("organization.updated", staff.username, organization.pk),
        ]
        assert last_event().changes == {"name": ["Acme", "Acme Inc."]}
        assert last_event().target_type == "registry.organization"

    def test_the_trail_outlives_the_actor(self):
        system = AISystemFactory()
        actor = filer(system.organization)
        services.system_update(system=system, actor=actor, name="Renamed")
        actor.delete()
        event = last_event()
        assert (event.actor, event.actor_username) == (None, actor.username)
