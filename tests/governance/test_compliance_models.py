"""The compact compliance state and the per-check view read from it."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import services
from governance.choices import ResultStatus, RunStatus, RunTrigger
from governance.models import ComplianceResult, ComplianceRun, RegistrationCompliance, RuleSet, RuleSetItem
from registry.choices import RegistrationStatus
from tests.factories import CommunityFactory, RegistrationFactory, regulator

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:view",
    "name": "View",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {"code": f"R{n}", "title": f"Rule {n}", "kind": "rule", "check": "true", "severity": "high"} for n in range(4)
    ],
}


@pytest.fixture
def ruleset():
    version, _created = services.version_import(document=DOCUMENT, actor=None, publish=True)
    ruleset = RuleSet.objects.create(digest="d" * 64)
    for position, requirement in enumerate(version.requirements.order_by("code"), start=1):
        RuleSetItem.objects.create(
            ruleset=ruleset,
            position=position,
            framework=version.framework,
            requirement=requirement,
            requirement_code=requirement.code,
            severity=requirement.severity,
        )
    return ruleset


class ComplianceResultViewTests:
    def test_one_row_per_check_with_its_status(self, ruleset):
        registration = RegistrationFactory(status=RegistrationStatus.APPROVED)
        RegistrationCompliance.objects.create(
            registration=registration, ruleset=ruleset, codes="PFNX", checked_at=timezone.now()
        )

        rows = list(ComplianceResult.objects.filter(registration=registration).order_by("id"))

        assert [(r.requirement_code, r.code, r.status) for r in rows] == [
            ("R0", "P", ResultStatus.PASS),
            ("R1", "F", ResultStatus.FAIL),
            ("R2", "N", ResultStatus.NOT_APPLICABLE),
            ("R3", "X", ResultStatus.ERROR),
        ]
        assert rows[0].id == registration.pk * 100000 + 1
        assert rows[1].requirement.title == "Rule 1"

    def test_results_follow_the_registration_scope(self, ruleset):
        community = CommunityFactory()
        mine = RegistrationFactory(community=community, status=RegistrationStatus.SUBMITTED)
        other = RegistrationFactory(status=RegistrationStatus.SUBMITTED)
        for registration in (mine, other):
            RegistrationCompliance.objects.create(
                registration=registration, ruleset=ruleset, codes="PPPP", checked_at=timezone.now()
            )

        visible = ComplianceResult.objects.restrict(regulator(community))

        assert {r.registration_id for r in visible} == {mine.pk}


class ComplianceRunLockTests:
    def test_a_second_active_sweep_of_the_same_scope_is_refused(self):
        community = CommunityFactory()
        ComplianceRun.objects.create(trigger=RunTrigger.SCHEDULE, community=community, lock_key=f"sweep:{community.pk}")

        with pytest.raises(IntegrityError), transaction.atomic():
            ComplianceRun.objects.create(
                trigger=RunTrigger.MANUAL, community=community, lock_key=f"sweep:{community.pk}"
            )

    def test_a_finished_sweep_does_not_block_the_next(self):
        community = CommunityFactory()
        ComplianceRun.objects.create(
            trigger=RunTrigger.SCHEDULE, community=community, lock_key="sweep:x", status=RunStatus.SUCCEEDED
        )

        ComplianceRun.objects.create(trigger=RunTrigger.MANUAL, community=community, lock_key="sweep:x")

        assert ComplianceRun.objects.filter(lock_key="sweep:x").count() == 2
