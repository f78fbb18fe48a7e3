"""Notifications on compliance transitions: who gets e-mail, what it says, and nothing before commit."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from governance import services
from governance.models import Finding
from governance.notifications import notify_status_changes
from registry.choices import ComplianceStatus, RegistrationStatus
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    filer,
    org_admin,
    regulator,
)

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:notifications",
    "name": "Notifications",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": "N-1", "title": "Keep a risk register", "kind": "rule", "check": "true", "severity": "high"},
        {"code": "N-2", "title": "Publish a model card", "kind": "rule", "check": "true", "severity": "low"},
    ],
}


@pytest.fixture
def world():
    """A nation → region → city tree, a registration in the city, and people around it."""
    nation = CommunityFactory(name="Northland", kind="nation")
    region = CommunityFactory(name="Lakeshore", kind="region", parent=nation)
    city = CommunityFactory(name="Riverton", parent=region)
    sibling = CommunityFactory(name="Elsewhere", parent=nation)
    organization = OrganizationFactory(name="Avalon IT")
    other_organization = OrganizationFactory(name="HealthCore")
    registration = RegistrationFactory(
        system=AISystemFactory(organization=organization, name="Pothole detector"),
        community=city,
        status=RegistrationStatus.SUBMITTED,
    )
    return {
        "registration": registration,
        "organization": organization,
        "admin": org_admin(organization, email="admin@avalon.example"),
        "filer": filer(organization, email="filer@avalon.example"),
        "other_admin": org_admin(other_organization, email="admin@healthcore.example"),
        "city_regulator": regulator(city, email="city@gov.example"),
        "nation_regulator": regulator(nation, email="nation@gov.example"),
        "sibling_regulator": regulator(sibling, email="sibling@gov.example"),
    }


@pytest.fixture
def finding(world):
    version, _created = services.version_import(document=DOCUMENT, actor=None, publish=True)
    registration = world["registration"]
    return Finding.objects.create(
        registration=registration,
        organization=registration.organization,
        framework=version.framework,
        requirement_code="N-1",
        title="Keep a risk register",
        severity="high",
        code="f",
        reason="No risk register on file.",
        opened_at=timezone.now(),
        due_on=datetime.date(2027, 1, 31),
    )


def change(registration, finding=None, **overrides):
    return {
        "registration": registration.pk,
        "from": ComplianceStatus.COMPLIANT,
        "to": ComplianceStatus.NON_COMPLIANT,
        "opened": [finding.pk] if finding else [],
        "closed": [],
        "reopened": [],
        "run": None,
        **overrides,
    }


class NotifyStatusChangesEmailTests:
    def test_admins_and_overseeing_regulators_are_told_and_nobody_else(
        self, world, finding, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            notify_status_changes([change(world["registration"], finding)])

        recipients = sorted(address for message in mailoutbox for address in message.to)
        assert recipients == ["admin@avalon.example", "city@gov.example", "nation@gov.example"]

    def test_the_message_names_the_system_the_transition_and_the_findings(
        self, world, finding, mailoutbox, django_capture_on_commit_callbacks
    ):
        registration = world["registration"]
        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(registration, finding)])

        message = next(message for message in mailoutbox if message.to == ["admin@avalon.example"])
        assert message.subject == "[Commons Registry] Pothole detector in Riverton: Non-compliant"
        assert "Compliance status: Compliant → Non-compliant" in message.body
        assert "Findings opened:" in message.body
        assert "N-1 Keep a risk register (High), due 2027-01-31" in message.body
        assert f"/registrations/{registration.pk}/" in message.body

    def test_regulators_are_not_told_about_drafts(self, world, mailoutbox, django_capture_on_commit_callbacks):
        registration = world["registration"]
        registration.status = RegistrationStatus.DRAFT
        registration.save(update_fields=["status"])

        with django_capture_on_commit_callbacks(execute=True):
            notify_status_changes([change(registration)])

        assert [message.to for message in mailoutbox] == [["admin@avalon.example"]]

    def test_nothing_is_sent_when_the_transaction_rolls_back(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            notify_status_changes([change(world["registration"])])
            raise RuntimeError("the engine's chunk failed")

        assert callbacks == []
        assert mailoutbox == []

    def test_nothing_is_queued_for_changes_that_change_nothing(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        unchanged = change(world["registration"], to=ComplianceStatus.COMPLIANT)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notify_status_changes([unchanged])

        assert callbacks == []
        assert mailoutbox == []

    def test_one_digest_per_person_when_several_registrations_change(
        self, world, mailoutbox, django_capture_on_commit_callbacks
    ):
        first = world["registration"]
        second = RegistrationFactory(
            system=AISystemFactory(organization=world["organization"], name="Chatbot"),
            community=first.community,
            status=RegistrationStatus.APPROVED,
        )
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notify_status_changes([change(first), change(second, to=ComplianceStatus.AT_RISK)])

        assert len(callbacks) == 1
        admin_messages = [message for message in mailoutbox if message.to == ["admin@avalon.example"]]
        assert len(admin_messages) == 1
        assert admin_messages[0].subject == "[Commons Registry] Compliance changed for 2 registrations"
        assert "Pothole detector in Riverton" in admin_messages[0].body
        assert "Compliance status: Compliant → At risk" in admin_messages[0].body
