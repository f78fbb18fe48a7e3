"""factory_boy factories for the registry, seeded by sequence so test data is deterministic.

Factories write rows directly (no audit events, no permission checks) so that tests can set up any state
cheaply; tests that exercise a service call the service itself.
"""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from registry.choices import CommunityKind, CommunityRole, OrganizationRole, RegistrationStatus
from registry.models import (
    AISystem,
    Community,
    CommunityMembership,
    Organization,
    OrganizationMembership,
    Registration,
)

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)
    is_active = True


class CommunityFactory(factory.django.DjangoModelFactory):
    """A community with a correct materialized path: the parent's path plus its own id."""

    class Meta:
        model = Community

    slug = factory.Sequence(lambda n: f"community-{n}")
    name = factory.Sequence(lambda n: f"Community {n}")
    kind = CommunityKind.CITY
    parent = None
    path = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        community = super()._create(model_class, *args, **kwargs)
        parent = community.parent
        community.path = f"{parent.path if parent else ''}{community.pk}/"
        community.save(update_fields=["path"])
        return community


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"organization-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    country = "CA"


class AISystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AISystem

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"System {n}")
    purpose = factory.Sequence(lambda n: f"Triage of service requests, case {n}.")
    vendor = "Acme Analytics"


class RegistrationFactory(factory.django.DjangoModelFactory):
    """A registration; a status other than draft also sets the timestamps that status implies."""

    class Meta:
        model = Registration

    system = factory.SubFactory(AISystemFactory)
    organization = factory.LazyAttribute(lambda registration: registration.system.organization)
    community = factory.SubFactory(CommunityFactory)
    status = RegistrationStatus.DRAFT
    deployment_context = "Used by the city's front desk."
    submitted_at = factory.LazyAttribute(
        lambda registration: None if registration.status == RegistrationStatus.DRAFT else timezone.now()
    )
    version = factory.LazyAttribute(lambda registration: 0 if registration.status == RegistrationStatus.DRAFT else 1)


def community_member(community, role=CommunityRole.REGULATOR, user=None, **user_fields):
    """A user holding `role` in `community` (created unless given)."""
    user = user or UserFactory(**user_fields)
    CommunityMembership.objects.create(community=community, user=user, role=role)
    return user


def organization_member(organization, role=OrganizationRole.FILER, user=None, **user_fields):
    """A user holding `role` in `organization` (created unless given)."""
    user = user or UserFactory(**user_fields)
    OrganizationMembership.objects.create(organization=organization, user=user, role=role)
    return user


def regulator(community, **user_fields):
    return community_member(community, CommunityRole.REGULATOR, **user_fields)


def filer(organization, **user_fields):
    return organization_member(organization, OrganizationRole.FILER, **user_fields)


def org_admin(organization, **user_fields):
    return organization_member(organization, OrganizationRole.ADMIN, **user_fields)
