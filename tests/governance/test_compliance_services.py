"""Compliance runs through the services: deltas only, findings, overall status, the sweep lock, on-change
hooks, snapshots and the expiry check."""

import datetime
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance import services, tasks
from governance.choices import FindingStatus, RunStatus, RunTrigger
from governance.models import (
    ComplianceChange,
    ComplianceChunk,
    ComplianceRun,
    ComplianceSnapshot,
    Finding,
    RegistrationCompliance,
    Waiver,
)
from governance.services import compliance
from governance.services.compliance import SweepAlreadyRunning, compliance_run_start, compliance_status_of
from registry import services as registry_services
from registry.choices import ComplianceStatus, OperatorRole, RegistrationStatus, RiskTier
from tests.factories import AISystemFactory, CommunityFactory, RegistrationFactory, filer, org_admin, regulator

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()
DOCUMENT = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:test:services",
    "name": "Services",
    "version": "1",
    "binding": "mandatory",
    "requirements": [
        {
            "code": "VENDOR",
            "title": "Vendor named",
            "kind": "rule",
            "check": 'system.vendor != ""',
            "severity": "critical",
        },
        {
            "code": "DOC",
            "title": "Documentation on file",
            "kind": "evidence",
            "applies_when": 'system.operator_role == "deployer"',
            "evidence": "The technical documentation.",
            "severity": "low",
        },
    ],
}


@pytest.fixture
def version():
    version, _created = services.version_import(document=DOCUMENT, actor=None, publish=True)
    return version


@pytest.fixture
def community():
    return CommunityFactory(slug="services-town")


def live(community, **system_fields):
    system_fields.setdefault("operator_role", OperatorRole.PROVIDER)
    return RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        risk_tier=RiskTier.HIGH,
        system=AISystemFactory(**system_fields),
    )


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run(community=None):
        with django_capture_on_commit_callbacks(execute=True):
            run = compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
        run.refresh_from_db()
        return run

    return run


def finding(registration, code):
    return Finding.objects.get(registration=registration, requirement_code=code)


class DeltaTests:
    def test_a_second_sweep_without_change_writes_nothing(self, version, community, sweep):
        failing = live(community, vendor="")
        live(community)
        first = sweep()
        assert first.done == 2 and first.changes == 0  # a first check writes no history
        state = RegistrationCompliance.objects.get(registration=failing)
        findings = list(Finding.objects.values_list("pk", "status", "opened_at"))

        second = sweep()

        assert second.status == RunStatus.SUCCEEDED and second.done == 2 and second.changes == 0
        assert not ComplianceChange.objects.exists()
        assert list(Finding.objects.values_list("pk", "status", "opened_at")) == findings
        again = RegistrationCompliance.objects.get(registration=failing)
        assert (again.checked_at, again.run_id) == (state.checked_at, state.run_id)  # not rewritten

    def test_a_changed_result_is_written_with_its_history(self, version, community, sweep):
        registration = live(community, vendor="")
        sweep()
        registration.system.vendor = "Acme"
        registration.system.save()

        run = sweep()

        assert run.changes == 1
        change = ComplianceChange.objects.get(registration=registration)
        assert (change.requirement_code, change.from_code, change.to_code, change.run_id) == (
            "VENDOR",
            "F",
            "P",
            run.pk,
        )


class FindingTests:
    def test_open_close_reopen(self, version, community, sweep):
        registration = live(community, vendor="")
        sweep()
        opened = finding(registration, "VENDOR")
        assert opened.status == FindingStatus.OPEN
        assert opened.organization_id == registration.organization_id
        assert opened.severity == "critical" and opened.due_on == TODAY + datetime.timedelta(days=14)
        assert opened.title == "Vendor named" and "system.vendor" in opened.reason

        registration.system.vendor = "Acme"
        registration.system.save()
        sweep()
        opened.refresh_from_db()
        assert opened.status == FindingStatus.CLOSED and opened.closed_at is not None

        registration.system.vendor = ""
        registration.system.save()
        sweep()
        opened.refresh_from_db()
        assert opened.status == FindingStatus.OPEN and opened.reopened_count == 1 and opened.reopened_at
        assert opened.closed_at is None
        assert Finding.objects.filter(registration=registration).count() == 1

    def test_retiring_a_registration_closes_its_open_findings(
        self, version, community, sweep, django_capture_on_commit_callbacks
    ):
        registration = live(community, vendor="")
        sweep()
        assert finding(registration, "VENDOR").status == FindingStatus.OPEN

        with django_capture_on_commit_callbacks(execute=True):
            registry_services.registration_transition(
                registration=registration,
                actor=regulator(community),
                action="retire",
                comment="Decommissioned in March.",
            )

        closed = finding(registration, "VENDOR")
        assert closed.status == FindingStatus.CLOSED and closed.closed_at is not None

    def test_a_waiver_closes_the_finding(self, version, community, sweep):
        registration = live(community, vendor="")
        sweep()
        Waiver.objects.create(
            registration=registration,
            framework=version.framework,
            requirement_code="VENDOR",
            justification="Later.",
            expires_on=TODAY + datetime.timedelta(days=5),
        )
        sweep()
        assert finding(registration, "VENDOR").status == FindingStatus.CLOSED

    def test_notifications_name_the_findings(self, version, community, sweep, monkeypatch):
        sent = []
        monkeypatch.setattr("governance.notifications.notify_status_changes", sent.extend)
        registration = live(community, vendor="")
        run = sweep()
        opened = finding(registration, "VENDOR")
        assert sent == [
            {
                "registration": registration.pk,
                "from": ComplianceStatus.PENDING,
                "to": ComplianceStatus.AT_RISK,
                "opened": [opened.pk],
                "closed": [],
                "reopened": [],
                "run": run.pk,
            }
        ]
        sent.clear()
        sweep()
        assert sent == []  # nothing changed, nobody is told


class StatusTests:
    def test_the_rules(self):
        assert compliance_status_of(checked=False, codes="", earliest_open_due=None, today=TODAY) == "pending"
        assert compliance_status_of(checked=True, codes="PPR", earliest_open_due=None, today=TODAY) == "pending"
        assert compliance_status_of(checked=True, codes="PNWVX", earliest_open_due=None, today=TODAY) == "compliant"
        assert compliance_status_of(checked=True, codes="PF", earliest_open_due=TODAY, today=TODAY) == "at_risk"
        yesterday = TODAY - datetime.timedelta(days=1)
        assert compliance_status_of(checked=True, codes="F", earliest_open_due=yesterday, today=TODAY) == (
            "non_compliant"
        )

    def test_statuses_written_on_registrations(self, version, community, sweep):
        good = live(community)
        bad = live(community, vendor="")
        in_review = live(community, operator_role=OperatorRole.DEPLOYER)
        services.evidence_submit(
            registration=in_review,
            actor=filer(in_review.organization),
            framework=version.framework,
            requirement_code="DOC",
            statement="Here.",
            url="https://example.org/doc.pdf",
        )
        never = live(CommunityFactory())
        never.refresh_from_db()
        assert never.compliance_status == ComplianceStatus.PENDING

        sweep(community)

        statuses = {r.pk: r.compliance_status for r in type(good).objects.filter(community=community)}
        assert statuses == {
            good.pk: ComplianceStatus.COMPLIANT,
            bad.pk: ComplianceStatus.AT_RISK,
            in_review.pk: ComplianceStatus.PENDING,
        }
        Finding.objects.filter(registration=bad).update(due_on=TODAY - datetime.timedelta(days=1))
        sweep(community)
        bad.refresh_from_db()
        assert bad.compliance_status == ComplianceStatus.NON_COMPLIANT


class LockTests:
    def test_a_second_sweep_of_the_same_scope_is_refused(self, community):
        compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
        with pytest.raises(SweepAlreadyRunning) as error:
            compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
        assert "already queued or running" in error.value.messages[0]
        compliance_run_start(community=None, trigger=RunTrigger.MANUAL)  # another scope may run

    def test_a_beat_tick_while_a_sweep_runs_does_nothing(self, community, django_capture_on_commit_callbacks):
        running = compliance_run_start(community=community, trigger=RunTrigger.SCHEDULE)
        with django_capture_on_commit_callbacks() as callbacks:
            assert tasks.scheduled_sweep(community.slug) is None
            assert tasks.scheduled_sweep(community.slug) is None
        assert callbacks == []
        assert list(ComplianceRun.objects.filter(community=community)) == [running]

    def test_a_stale_sweep_no_longer_holds_the_lock(self, community):
        stuck = compliance_run_start(community=community, trigger=RunTrigger.SCHEDULE)
        ComplianceRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - datetime.timedelta(days=1))
        fresh = compliance_run_start(community=community, trigger=RunTrigger.SCHEDULE)
        stuck.refresh_from_db()
        assert stuck.status == RunStatus.FAILED and fresh.status == RunStatus.QUEUED

    def test_a_finished_sweep_releases_the_lock(self, version, community, sweep):
        assert sweep(community).status == RunStatus.SUCCEEDED
        assert sweep(community).status == RunStatus.SUCCEEDED


class SweepPermissionTests:
    def test_only_the_communitys_regulators_and_those_above_start_its_sweep(self, community):
        child = CommunityFactory(parent=community)
        outsider = regulator(CommunityFactory())

        with pytest.raises(PermissionDenied):
            compliance_run_start(community=child, actor=outsider, trigger=RunTrigger.MANUAL)
        with pytest.raises(PermissionDenied):
            compliance_run_start(community=None, actor=regulator(community), trigger=RunTrigger.MANUAL)
        assert not ComplianceRun.objects.exists()

        run = compliance_run_start(community=child, actor=regulator(community), trigger=RunTrigger.MANUAL)
        assert run.created_by.pk and run.community == child


class ChunkTests:
    def test_chunks_cover_every_registration_once_and_redelivery_is_harmless(self, version, community, monkeypatch):
        monkeypatch.setattr(compliance, "CHUNK_SIZE", 2)
        registrations = [live(community, vendor="" if n % 2 else "Acme") for n in range(5)]
        run = ComplianceRun.objects.create(trigger=RunTrigger.MANUAL, lock_key="sweep:test")
        chunk_ids = compliance.run_plan(run_id=run.pk)
        assert len(chunk_ids) == 3
        assert compliance.run_plan(run_id=run.pk) == chunk_ids  # planning twice makes no new chunks

        for chunk_id in chunk_ids:
            assert compliance.run_check_chunk(run_id=run.pk, chunk_id=chunk_id)
            assert not compliance.run_check_chunk(run_id=run.pk, chunk_id=chunk_id)  # a redelivery
        assert compliance.run_finish(run_id=run.pk)
        assert not compliance.run_finish(run_id=run.pk)

        run.refresh_from_db()
        assert (run.status, run.total, run.done, run.failed) == (RunStatus.SUCCEEDED, 5, 5, 0)
        assert RegistrationCompliance.objects.filter(registration__in=registrations).count() == 5
        assert Finding.objects.count() == 2
        assert ComplianceChunk.objects.filter(run=run, done=True).count() == 3

    def test_a_chunk_that_crashes_is_counted_as_failed(self, version, community, monkeypatch):
        live(community)
        run = ComplianceRun.objects.create(trigger=RunTrigger.MANUAL, lock_key="sweep:test")
        (chunk_id,) = compliance.run_plan(run_id=run.pk)

        def crash(*args, **kwargs):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(compliance, "check_registrations", crash)
        tasks.check_chunk(run.pk, chunk_id)

        run.refresh_from_db()
        assert (run.status, run.failed, run.error) == (RunStatus.FAILED, 1, "RuntimeError: disk on fire")


class OnChangeHookTests:
    def queued(self, callbacks):
        """Run the captured callbacks: the registrations the on-change run checks."""
        before = set(ComplianceRun.objects.values_list("pk", flat=True))
        for callback in callbacks:
            callback()
        runs = ComplianceRun.objects.exclude(pk__in=before)
        return [run.scope["registrations"] for run in runs]

    def test_updating_a_registration_checks_it_after_commit(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registration = live(community)
        RegistrationFactory(community=community, status=RegistrationStatus.APPROVED)
        registration.status = RegistrationStatus.CHANGES_REQUESTED
        registration.save()
        with django_capture_on_commit_callbacks() as callbacks:
            registry_services.registration_update(
                registration=registration, actor=filer(registration.organization), deployment_context="Front desk."
            )
        assert not ComplianceRun.objects.exists()  # nothing before the commit
        assert self.queued(callbacks) == [[registration.pk]]

    def test_updating_a_system_checks_its_live_registrations(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registration = live(community)
        other = RegistrationFactory(
            system=registration.system, community=CommunityFactory(), status=RegistrationStatus.APPROVED
        )
        RegistrationFactory(system=registration.system, community=CommunityFactory())  # a draft is not checked
        with django_capture_on_commit_callbacks() as callbacks:
            registry_services.system_update(
                system=registration.system, actor=org_admin(registration.organization), vendor="Other"
            )
        assert self.queued(callbacks) == [sorted([registration.pk, other.pk])]

    def test_evidence_and_waivers_check_their_registration(
        self, version, community, django_capture_on_commit_callbacks
    ):
        registration = live(community, operator_role=OperatorRole.DEPLOYER)
        with django_capture_on_commit_callbacks() as callbacks:
            evidence = services.evidence_submit(
                registration=registration,
                actor=filer(registration.organization),
                framework=version.framework,
                requirement_code="DOC",
                statement="Here.",
                url="https://example.org/doc.pdf",
            )
        assert self.queued(callbacks) == [[registration.pk]]
        with django_capture_on_commit_callbacks() as callbacks:
            services.evidence_review(evidence=evidence, actor=regulator(community), accept=True, comment="Ok.")
            services.waiver_grant(
                registration=registration,
                actor=regulator(community),
                framework=version.framework,
                requirement_code="VENDOR",
                justification="Later.",
                expires_on=TODAY + datetime.timedelta(days=3),
            )
        assert self.queued(callbacks) == [[registration.pk], [registration.pk]]

    def test_publishing_checks_the_communitys_live_registrations(self, community, django_capture_on_commit_callbacks):
        inside = live(CommunityFactory(parent=community))
        outside = live(CommunityFactory())
        document = {**DOCUMENT, "urn": "urn:test:local", "binding": "informative"}
        with django_capture_on_commit_callbacks() as callbacks:
            services.version_import(document=document, actor=None, community=community, publish=True)
        assert not ComplianceRun.objects.exists()
        with django_capture_on_commit_callbacks(execute=True):
            for callback in callbacks:
                callback()
        run = ComplianceRun.objects.get()
        assert (run.trigger, run.community, run.lock_key, run.status, run.done) == (
            RunTrigger.CHANGE,
            community,
            None,
            RunStatus.SUCCEEDED,
            1,
        )
        assert RegistrationCompliance.objects.get(registration=inside).codes == "NP"
        assert not RegistrationCompliance.objects.filter(registration=outside).exists()

    def test_publishing_a_global_baseline_checks_every_live_registration(
        self, community, django_capture_on_commit_callbacks
    ):
        registrations = [live(community), live(CommunityFactory())]
        with django_capture_on_commit_callbacks(execute=True):
            services.version_import(document=DOCUMENT, actor=None, publish=True)
        run = ComplianceRun.objects.get()
        assert (run.community, run.total, run.done) == (None, 2, 2)
        assert RegistrationCompliance.objects.filter(registration__in=registrations).count() == 2

    def test_an_on_change_check_updates_the_result(self, version, community, django_capture_on_commit_callbacks):
        registration = live(community, vendor="")
        with django_capture_on_commit_callbacks(execute=True):
            registry_services.system_update(
                system=registration.system, actor=org_admin(registration.organization), vendor="Acme"
            )
        run = ComplianceRun.objects.get(trigger=RunTrigger.CHANGE)
        assert (run.status, run.done) == (RunStatus.SUCCEEDED, 1)
        assert RegistrationCompliance.objects.get(registration=registration).codes == "NP"


class SnapshotAndExpiryTests:
    def test_a_sweep_upserts_the_days_snapshot(self, version, community, sweep):
        live(community)
        live(community, vendor="")
        sweep(community)
        sweep(community)
        snapshot = ComplianceSnapshot.objects.get(community=community)
        assert (snapshot.date, snapshot.compliant, snapshot.at_risk, snapshot.non_compliant, snapshot.pending) == (
            timezone.localdate(),
            1,
            1,
            0,
            0,
        )

    def test_expired_waivers_are_rechecked_and_overdue_findings_count(
        self, version, community, sweep, django_capture_on_commit_callbacks
    ):
        waived = live(community, vendor="")
        overdue = live(community, vendor="")
        Waiver.objects.create(
            registration=waived,
            framework=version.framework,
            requirement_code="VENDOR",
            justification="Later.",
            expires_on=TODAY + datetime.timedelta(days=1),
        )
        sweep(community)
        Waiver.objects.filter(registration=waived).update(expires_on=TODAY)
        Finding.objects.filter(registration=overdue).update(due_on=TODAY - datetime.timedelta(days=1))

        with django_capture_on_commit_callbacks(execute=True):
            outcome = tasks.check_expiries()

        assert (outcome["rechecked"], outcome["overdue"]) == (1, 1)
        overdue.refresh_from_db()
        waived.refresh_from_db()
        assert overdue.compliance_status == ComplianceStatus.NON_COMPLIANT
        assert waived.compliance_status == ComplianceStatus.AT_RISK
        assert finding(waived, "VENDOR").status == FindingStatus.OPEN
        with django_capture_on_commit_callbacks(execute=True):
            again = tasks.check_expiries()
        assert (again["rechecked"], again["run"]) == (0, None)  # the same expiry is not checked twice
        assert ComplianceRun.objects.filter(scope__has_key="expiries").count() == 1


class SweepCommandTests:
    def test_sweeps_and_prints_the_counts(self, version, community, django_capture_on_commit_callbacks):
        live(community)
        live(community, vendor="")
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("compliance_sweep", "--community", community.slug, "--wait", stdout=out)
        text = out.getvalue()
        assert "succeeded" in text and "2/2" in text
        assert "compliant: 1" in text and "at risk: 1" in text

    def test_an_unknown_community_is_a_clear_error(self):
        with pytest.raises(CommandError, match="No community with the slug 'atlantis'"):
            call_command("compliance_sweep", "--community", "atlantis")

    def test_a_running_sweep_is_a_clear_error(self, community):
        compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
        with pytest.raises(CommandError, match="already queued or running"):
            call_command("compliance_sweep", "--community", community.slug)
