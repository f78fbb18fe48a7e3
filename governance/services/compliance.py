"""Compliance runs: start sweeps and on-change checks, judge chunks of registrations, write only deltas.

A run is planned once (the rule set of every community in scope, computed for the run's day, and keyset
chunks of registration ids), then each chunk is judged by `governance.engine` and written in one
transaction that also marks the chunk done, so a chunk redelivered after its worker died either finds
its work committed or redoes all of it. Unchanged registrations write nothing; changed ones upsert their
compact state row, add `ComplianceChange` rows, open, close or reopen findings and update the
registration's overall `compliance_status`.
"""

import datetime
import hashlib
import json
import logging
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance import engine
from governance.choices import FindingStatus, RequirementKind, ResultCode, RunStatus, RunTrigger
from governance.evaluation import LIVE_EXCLUDED, result_reason
from governance.models import (
    ComplianceChange,
    ComplianceChunk,
    ComplianceRun,
    ComplianceSnapshot,
    Evidence,
    Finding,
    RegistrationCompliance,
    RiskAssessment,
    RuleSet,
    RuleSetItem,
    Waiver,
)
from governance.models.compliance import ACTIVE_RUN_STATUSES
from governance.selectors import effective_requirements
from registry.choices import ComplianceStatus, RegistrationStatus
from registry.models import Community, Registration
from registry.permissions import Action

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
# A sweep still queued or running after this long lost its worker for good: it no longer holds the lock.
STALE_AFTER = datetime.timedelta(hours=6)

SWEEP_ALREADY_RUNNING = gettext_lazy("A sweep of this scope is already queued or running.")
NOT_A_REGULATOR = gettext_lazy("Only regulators of this community or of a community above it may start its sweep.")

# Codes that open (or keep open) a finding, and codes that close one. `R` closes: the organization has
# answered and the regulator's review is pending (the registration counts as pending, not at risk).
# `X` does neither: a rule that cannot be evaluated is the policy author's problem, not the filer's.
OPENS_FINDING = {ResultCode.FAILED, ResultCode.EVIDENCE_NEEDED}
CLOSES_FINDING = {
    ResultCode.PASSED,
    ResultCode.EVIDENCE_ACCEPTED,
    ResultCode.EVIDENCE_IN_REVIEW,
    ResultCode.NOT_APPLICABLE,
    ResultCode.WAIVED,
}


class SweepAlreadyRunning(ValidationError):
    """Only one sweep per scope at a time (the run table's `compliance_run_one_active_sweep` constraint)."""

    def __init__(self, message=SWEEP_ALREADY_RUNNING):
        super().__init__(message, code="sweep_running")


def compliance_status_of(*, checked: bool, codes: str, earliest_open_due: datetime.date | None, today) -> str:
    """A registration's overall status, from its current checks and its open findings.

    - `pending`: never checked, or no open finding while some evidence awaits a regulator's review (`R`);
    - `non_compliant`: an open finding is past its due date;
    - `at_risk`: open findings, none past due (the organization is inside its remediation period);
    - `compliant`: otherwise. Rule errors (`X`) are the policy author's problem and open no finding.
    """
    if not checked:
        return ComplianceStatus.PENDING
    if earliest_open_due is not None:
        return ComplianceStatus.NON_COMPLIANT if earliest_open_due < today else ComplianceStatus.AT_RISK
    if ResultCode.EVIDENCE_IN_REVIEW in codes:
        return ComplianceStatus.PENDING
    return ComplianceStatus.COMPLIANT


# Starting runs ------------------------------------------------------------------------------------------


def _lock_key(community: Community | None) -> str:
    return f"sweep:{community.pk}" if community is not None else "sweep:all"


def compliance_run_start(*, community: Community | None, actor=None, trigger: str = RunTrigger.MANUAL):
    """Queue a sweep of `community` and its descendants (every community when None).

    Raises SweepAlreadyRunning when a sweep of the same scope is queued or running; a run stuck longer
    than STALE_AFTER (its worker and broker message lost) is marked failed first so it cannot block for ever.
    A person (`actor`) must regulate the community (every community: a superuser), checked again here
    whatever the view checked; beat, the seed and the operator's command pass no actor.
    """
    from governance import tasks

    if actor is not None:
        _check_may_sweep(actor, community)

    lock_key = _lock_key(community)
    ComplianceRun.objects.filter(
        lock_key=lock_key, status__in=ACTIVE_RUN_STATUSES, created_at__lt=timezone.now() - STALE_AFTER
    ).update(status=RunStatus.FAILED, finished_at=timezone.now(), error=_("Abandoned: no worker finished it."))
    try:
        with transaction.atomic():
            run = ComplianceRun.objects.create(
                trigger=trigger,
                community=community,
                lock_key=lock_key,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise SweepAlreadyRunning() from None
    transaction.on_commit(lambda: tasks.sweep.delay(run.pk))
    return run


def _check_may_sweep(actor, community: Community | None) -> None:
    if getattr(actor, "is_superuser", False) and getattr(actor, "is_active", False):
        return
    allowed = community is not None and (
        Community.objects.restrict(actor, Action.REVIEW).filter(pk=community.pk).exists()
    )
    if not allowed:
        raise PermissionDenied(NOT_A_REGULATOR)


def compliance_sweep_after_commit(*, community: Community | None = None) -> None:
    """Sweep once the caller's transaction commits (the demo seed: results on the dashboards at once);
    nothing happens when a sweep of that scope is already under way."""

    def start():
        try:
            compliance_run_start(community=community, trigger=RunTrigger.MANUAL)
        except SweepAlreadyRunning:
            logger.info("sweep after commit skipped: one is already running")

    transaction.on_commit(start)


def compliance_check_registrations(*, registration_ids, trigger: str = RunTrigger.CHANGE) -> ComplianceRun:
    """Queue a check of exactly these registrations (a run without a lock: on-change checks never wait)."""
    from governance import tasks

    ids = sorted({int(pk) for pk in registration_ids})
    run = ComplianceRun.objects.create(trigger=trigger, scope={"registrations": ids})
    transaction.on_commit(lambda: tasks.check_registrations.delay(run.pk))
    return run


ALL_COMMUNITIES = object()


def compliance_check_after_commit(registration_ids=(), *, community=None) -> None:
    """The on-change hook: once the caller's transaction commits, check exactly the affected registrations.

    Called by every service that changes what a check reads: with the ids of the registrations it touched
    (a registration, a system's registrations, an assessment's, evidence's or waiver's), or with
    `community=` for a change of the rules themselves (publishing a version, adopting a baseline), which
    reaches every live registration of that community and below (`ALL_COMMUNITIES` for a global baseline),
    checked in chunks like a sweep without holding a sweep's lock. Drafts and retired registrations are
    skipped when the check runs.
    """
    if community is not None:
        scope = None if community is ALL_COMMUNITIES else community
        transaction.on_commit(lambda: _check_community(scope))
        return
    ids = sorted({int(pk) for pk in registration_ids})
    if ids:
        transaction.on_commit(lambda: _check_live(ids))


def _check_live(ids: list[int]) -> None:
    _close_findings_of_departed(ids)
    live = list(engine.live_registrations().filter(pk__in=ids).values_list("pk", flat=True))
    if live:
        compliance_check_registrations(registration_ids=live)


def _close_findings_of_departed(ids: list[int]) -> None:
    """A registration that left the register (retired or rejected) owes nothing more: its open findings
    close. Its last results stay readable as they were; it is no longer checked."""
    Finding.objects.filter(
        registration_id__in=ids,
        registration__status__in=[RegistrationStatus.RETIRED, RegistrationStatus.REJECTED],
        status=FindingStatus.OPEN,
    ).update(status=FindingStatus.CLOSED, closed_at=timezone.now())


def _check_community(community: Community | None) -> None:
    from governance import tasks

    run = ComplianceRun.objects.create(trigger=RunTrigger.CHANGE, community=community)
    transaction.on_commit(lambda: tasks.check_registrations.delay(run.pk))


# Planning -----------------------------------------------------------------------------------------------


def ruleset_for(community: Community, *, on: datetime.date) -> RuleSet:
    """The shared rule set of the requirements checked in `community` on `on`, created once (race-safe)."""
    items = [
        item
        for item in effective_requirements(community, on=on)
        if item.requirement.kind != RequirementKind.INFORMATIVE
    ]
    rows = [
        (item.framework.pk, item.requirement.pk, item.requirement.code, item.requirement.severity, item.params)
        for item in items
    ]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
    ruleset = RuleSet.objects.filter(digest=digest).first()
    if ruleset is not None:
        return ruleset
    try:
        with transaction.atomic():
            ruleset = RuleSet.objects.create(digest=digest)
            RuleSetItem.objects.bulk_create(
                RuleSetItem(
                    ruleset=ruleset,
                    position=position,
                    framework_id=framework_id,
                    requirement_id=requirement_id,
                    requirement_code=code,
                    severity=severity,
                    params=params,
                )
                for position, (framework_id, requirement_id, code, severity, params) in enumerate(rows, start=1)
            )
    except IntegrityError:
        ruleset = RuleSet.objects.get(digest=digest)
    return ruleset


def _scope_registrations(run: ComplianceRun):
    registrations = engine.live_registrations()
    if "registrations" in run.scope:
        return registrations.filter(pk__in=run.scope["registrations"])
    if run.community_id is not None:
        return registrations.filter(community__path__startswith=run.community.path)
    return registrations


def _run_day(run: ComplianceRun) -> datetime.date:
    return datetime.date.fromisoformat(run.scope["day"])


def run_plan(*, run_id: int) -> list[int]:
    """Mark a run running and split it into chunks once; returns the ids of chunks still to do.

    Idempotent: a redelivered planning task finds the chunks already made and returns those not done.
    """
    with transaction.atomic():
        run = ComplianceRun.objects.select_for_update(of=("self",)).select_related("community").get(pk=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            return []
        if run.status == RunStatus.QUEUED:
            run.status = RunStatus.RUNNING
            run.started_at = timezone.now()
            run.scope = {**run.scope, "day": timezone.localdate().isoformat()}
            run.save(update_fields=["status", "started_at", "scope"])
    if not run.chunks.exists():
        day = _run_day(run)
        registrations = _scope_registrations(run)
        community_ids = set(registrations.values_list("community_id", flat=True).distinct())
        rulesets = {
            str(community.pk): ruleset_for(community, on=day).pk
            for community in Community.objects.filter(pk__in=community_ids)
        }
        ids = list(registrations.order_by("pk").values_list("pk", flat=True))
        with transaction.atomic():
            run = ComplianceRun.objects.select_for_update().get(pk=run_id)
            if not run.chunks.exists():
                ComplianceChunk.objects.bulk_create(
                    ComplianceChunk(run=run, first_id=part[0], last_id=part[-1], size=len(part))
                    for part in (ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE))
                )
                run.scope = {**run.scope, "rulesets": rulesets}
                run.total = len(ids)
                run.save(update_fields=["scope", "total"])
    pending = list(run.chunks.filter(done=False).order_by("first_id").values_list("pk", flat=True))
    if not pending:
        run_finish(run_id=run_id)
    return pending


# Judging a chunk ----------------------------------------------------------------------------------------


def run_check_chunk(*, run_id: int, chunk_id: int) -> bool:
    """Judge and write one chunk, once: False when it was already done (a redelivery)."""
    with transaction.atomic():
        chunk = ComplianceChunk.objects.select_for_update().filter(pk=chunk_id, run_id=run_id).first()
        if chunk is None or chunk.done:
            return False
        run = ComplianceRun.objects.select_related("community").get(pk=run_id)
        chunk.attempts += 1
        registrations = _scope_registrations(run).filter(pk__gte=chunk.first_id, pk__lte=chunk.last_id)
        stats = check_registrations(registrations, run=run, day=_run_day(run))
        chunk.done = True
        chunk.finished_at = timezone.now()
        chunk.save(update_fields=["done", "attempts", "finished_at"])
        ComplianceRun.objects.filter(pk=run_id).update(
            done=F("done") + stats["checked"],
            evaluations=F("evaluations") + stats["evaluations"],
            changes=F("changes") + stats["changes"],
        )
    return True


def run_fail_chunk(*, run_id: int, chunk_id: int, error: str) -> None:
    """Record a chunk that could not be judged (a bug or a database failure, not a rule error)."""
    with transaction.atomic():
        chunk = ComplianceChunk.objects.select_for_update().filter(pk=chunk_id, run_id=run_id, done=False).first()
        if chunk is None:
            return
        chunk.done = True
        chunk.attempts += 1
        chunk.finished_at = timezone.now()
        chunk.save(update_fields=["done", "attempts", "finished_at"])
        ComplianceRun.objects.filter(pk=run_id).update(failed=F("failed") + chunk.size, error=error[:2000])


def run_finish(*, run_id: int) -> bool:
    """Close the run once no chunk is left (exactly once, whichever chunk finishes last); sweeps then
    upsert the day's snapshots."""
    if ComplianceChunk.objects.filter(run_id=run_id, done=False).exists():
        return False
    with transaction.atomic():
        run = ComplianceRun.objects.select_for_update(of=("self",)).select_related("community").get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return False
        run.status = RunStatus.FAILED if run.failed else RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        if run.lock_key:
            communities = Community.objects.all()
            if run.community_id is not None:
                communities = communities.filter(path__startswith=run.community.path)
            compliance_snapshot_upsert(community_ids=list(communities.values_list("pk", flat=True)))
    return True


def check_registrations(registrations, *, run: ComplianceRun, day: datetime.date) -> dict:
    """Judge `registrations` (a queryset of live ones in one id range) and write what changed.

    Must run inside a transaction. Returns counts: checked, evaluations, changes.
    """
    rulesets = {int(k): v for k, v in run.scope.get("rulesets", {}).items()}

    def missing(community_id):
        ruleset_id = ruleset_for(Community.objects.get(pk=community_id), on=day).pk
        rulesets[community_id] = ruleset_id
        return ruleset_id

    rows, evaluations = engine.evaluate_chunk(registrations, rulesets=rulesets, today=day, ruleset_for=missing)
    if not rows:
        return {"checked": 0, "evaluations": 0, "changes": 0}
    now = timezone.now()
    # Id ranges, not IN lists of thousands of ids: rows outside `rows` (not live) are simply not used.
    in_range = {"registration_id__gte": rows[0].id, "registration_id__lte": rows[-1].id}
    old = {
        pk: (ruleset_id, codes, errors)
        for pk, ruleset_id, codes, errors in RegistrationCompliance.objects.filter(**in_range).values_list(
            "registration_id", "ruleset_id", "codes", "errors"
        )
    }
    changed = [row for row in rows if old.get(row.id) != (row.ruleset_id, row.codes, row.errors)]
    _upsert_state(changed, run=run, now=now)
    change_rows = _change_rows(changed, old, run=run, now=now)
    ComplianceChange.objects.bulk_create(change_rows, batch_size=2000)
    opened, closed, reopened = _write_findings(changed, day=day, now=now)
    earliest = dict(
        Finding.objects.filter(**in_range, status=FindingStatus.OPEN)
        .values("registration_id")
        .annotate(due=Min("due_on"))
        .values_list("registration_id", "due")
    )
    statuses = {}
    news = []
    for row in rows:
        status = compliance_status_of(checked=True, codes=row.codes, earliest_open_due=earliest.get(row.id), today=day)
        if status != row.compliance_status:
            statuses[row.id] = status
        if status != row.compliance_status or row.id in opened or row.id in closed or row.id in reopened:
            news.append(
                {
                    "registration": row.id,
                    "from": row.compliance_status,
                    "to": status,
                    "opened": opened.get(row.id, []),
                    "closed": closed.get(row.id, []),
                    "reopened": reopened.get(row.id, []),
                    "run": run.pk,
                }
            )
    _update_statuses(statuses)
    if news:
        from governance.notifications import notify_status_changes

        notify_status_changes(news)
    return {"checked": len(rows), "evaluations": evaluations, "changes": len(change_rows)}


def _upsert_state(changed, *, run, now) -> None:
    if not changed:
        return
    if connection.vendor != "postgresql":
        # `make run` without a server (SQLite): the same rows through the ORM; PostgreSQL takes the fast path.
        RegistrationCompliance.objects.bulk_create(
            [
                RegistrationCompliance(
                    registration_id=row.id,
                    ruleset_id=row.ruleset_id,
                    codes=row.codes,
                    errors=row.errors,
                    checked_at=now,
                    run=run,
                )
                for row in changed
            ],
            update_conflicts=True,
            unique_fields=["registration"],
            update_fields=["ruleset", "codes", "errors", "checked_at", "run"],
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO governance_registrationcompliance
                (registration_id, ruleset_id, codes, errors, checked_at, run_id)
            SELECT t.r, t.s, t.c, t.e::jsonb, %s, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
                AS t(r, s, c, e)
            ON CONFLICT (registration_id) DO UPDATE SET ruleset_id = EXCLUDED.ruleset_id, codes = EXCLUDED.codes,
                errors = EXCLUDED.errors, checked_at = EXCLUDED.checked_at, run_id = EXCLUDED.run_id
            """,
            [
                now,
                run.pk,
                [row.id for row in changed],
                [row.ruleset_id for row in changed],
                [row.codes for row in changed],
                [json.dumps(row.errors) for row in changed],
            ],
        )


def _update_statuses(statuses: dict[int, str]) -> None:
    if not statuses:
        return
    if connection.vendor != "postgresql":
        for status in set(statuses.values()):
            ids = [pk for pk, value in statuses.items() if value == status]
            Registration.objects.filter(pk__in=ids).update(compliance_status=status)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE registry_registration AS r SET compliance_status = t.s
            FROM unnest(%s::bigint[], %s::text[]) AS t(id, s) WHERE r.id = t.id
            """,
            [list(statuses), list(statuses.values())],
        )


def _keyed(ruleset_id: int, codes: str) -> dict:
    items = engine.load_ruleset(ruleset_id).items
    return {(item.framework_id, item.code): code for item, code in zip(items, codes, strict=False)}


def _change_rows(changed, old, *, run, now) -> list[ComplianceChange]:
    """History rows for checks whose code changed (none on a registration's first check)."""
    rows = []
    for row in changed:
        previous = old.get(row.id)
        if previous is None:
            continue
        if previous[0] == row.ruleset_id and previous[1] == row.codes:
            continue
        if previous[0] == row.ruleset_id:
            items = engine.load_ruleset(row.ruleset_id).items
            pairs = [
                ((items[i].framework_id, items[i].code), a, b)
                for i, (a, b) in enumerate(zip(previous[1], row.codes, strict=False))
                if a != b
            ]
        else:
            before = _keyed(previous[0], previous[1])
            pairs = [(key, before.get(key), code) for key, code in _keyed(row.ruleset_id, row.codes).items()]
        for (framework_id, code), from_code, to_code in pairs:
            if from_code is not None and from_code != to_code:
                rows.append(
                    ComplianceChange(
                        registration_id=row.id,
                        framework_id=framework_id,
                        requirement_code=code,
                        from_code=from_code,
                        to_code=to_code,
                        run=run,
                        changed_at=now,
                    )
                )
    return rows


def _write_findings(changed, *, day, now):
    """Open, close and reopen findings of registrations whose checks changed; returns finding ids by
    registration for each of the three. Scans result codes with str.find, not item by item."""
    opened, closed, reopened = defaultdict(list), defaultdict(list), defaultdict(list)
    if not changed:
        return opened, closed, reopened
    existing = defaultdict(dict)
    for pk, registration_id, framework_id, code, status in Finding.objects.filter(
        registration_id__gte=changed[0].id, registration_id__lte=changed[-1].id
    ).values_list("pk", "registration_id", "framework_id", "requirement_code", "status"):
        existing[registration_id][(framework_id, code)] = (pk, status)
    to_create, to_close, to_reopen = [], [], []
    for row in changed:
        ruleset = engine.load_ruleset(row.ruleset_id)
        mine = existing.get(row.id, {})
        for failing in OPENS_FINDING:
            position = row.codes.find(failing)
            while position != -1:
                item = ruleset.items[position]
                found = mine.get((item.framework_id, item.code))
                if found is None or found[1] == FindingStatus.CLOSED:
                    fields = {
                        "code": failing,
                        "severity": item.severity,
                        "title": item.requirement.title[:300],
                        "reason": result_reason(failing, item.requirement),
                        "due_on": day + datetime.timedelta(days=item.due_days),
                    }
                    if found is None:
                        to_create.append((row.id, row.organization_id, item.framework_id, item.code, fields))
                    else:
                        to_reopen.append((found[0], row.id, fields))
                position = row.codes.find(failing, position + 1)
        for key, (pk, status) in mine.items():
            if status != FindingStatus.OPEN:
                continue
            index = ruleset.by_key.get(key)
            if index is None or row.codes[index] in CLOSES_FINDING:  # passing now, or no longer required
                to_close.append((pk, row.id))
    for pk, registration_id in _insert_findings(to_create, now=now):
        opened[registration_id].append(pk)
    if to_close:
        Finding.objects.filter(pk__in=[pk for pk, _r in to_close]).update(status=FindingStatus.CLOSED, closed_at=now)
        for pk, registration_id in to_close:
            closed[registration_id].append(pk)
    if to_reopen:  # one statement for the chunk: a tightened rule can reopen thousands at once
        Finding.objects.bulk_update(
            [
                Finding(
                    pk=pk,
                    status=FindingStatus.OPEN,
                    closed_at=None,
                    reopened_at=now,
                    reopened_count=F("reopened_count") + 1,
                    **fields,
                )
                for pk, _registration_id, fields in to_reopen
            ],
            [
                "status",
                "closed_at",
                "reopened_at",
                "reopened_count",
                *sorted({n for _p, _r, f in to_reopen for n in f}),
            ],
            batch_size=2000,
        )
        for pk, registration_id, _fields in to_reopen:
            reopened[registration_id].append(pk)
    return opened, closed, reopened


def _insert_findings(rows, *, now) -> list[tuple[int, int]]:
    """One INSERT of many new findings (a first sweep opens thousands); returns (id, registration id)."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = Finding.objects.bulk_create(
            [
                Finding(
                    registration_id=r[0],
                    organization_id=r[1],
                    framework_id=r[2],
                    requirement_code=r[3],
                    title=r[4]["title"],
                    severity=r[4]["severity"],
                    status=FindingStatus.OPEN,
                    code=str(r[4]["code"]),
                    reason=r[4]["reason"],
                    opened_at=now,
                    due_on=r[4]["due_on"],
                )
                for r in rows
            ]
        )
        return [(finding.pk, finding.registration_id) for finding in created]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO governance_finding (registration_id, organization_id, framework_id, requirement_code, title,
                severity, status, code, reason, opened_at, due_on, reopened_count)
            SELECT t.r, t.o, t.f, t.c, t.title, t.severity, %s, t.code, t.reason, %s, t.due, 0
            FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::date[]) AS t(r, o, f, c, title, severity, code, reason, due)
            RETURNING id, registration_id
            """,
            [
                FindingStatus.OPEN.value,
                now,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
                [r[4]["title"] for r in rows],
                [r[4]["severity"] for r in rows],
                [str(r[4]["code"]) for r in rows],
                [r[4]["reason"] for r in rows],
                [r[4]["due_on"] for r in rows],
            ],
        )
        return cursor.fetchall()


# Snapshots and expiries ---------------------------------------------------------------------------------


def compliance_snapshot_upsert(*, community_ids, day: datetime.date | None = None) -> int:
    """Upsert each community's count of its own live registrations by status for `day` (today)."""
    day = day or timezone.localdate()
    counts = defaultdict(dict)
    for community_id, status, count in (
        Registration.objects.exclude(status__in=LIVE_EXCLUDED)
        .filter(community_id__in=community_ids)
        .values_list("community_id", "compliance_status")
        .annotate(count=Count("pk"))
        .values_list("community_id", "compliance_status", "count")
    ):
        counts[community_id][status] = count
    snapshots = [
        ComplianceSnapshot(
            community_id=community_id,
            date=day,
            **{status: counts[community_id].get(status, 0) for status in ComplianceStatus.values},
        )
        for community_id in community_ids
    ]
    ComplianceSnapshot.objects.bulk_create(
        snapshots,
        update_conflicts=True,
        unique_fields=["community", "date"],
        update_fields=list(ComplianceStatus.values),
    )
    return len(snapshots)


EXPIRY_LOOKBACK = datetime.timedelta(days=7)


def compliance_check_expiries(*, today: datetime.date | None = None) -> dict:
    """The hourly check: re-check registrations whose assessment, waiver or accepted evidence stopped being
    valid since the previous expiry check, and move registrations whose open finding passed its due date
    from at risk to non-compliant. Returns what it did."""
    today = today or timezone.localdate()
    previous = (
        ComplianceRun.objects.filter(trigger=RunTrigger.SCHEDULE, scope__has_key="expiries")
        .order_by("-id")
        .values_list("scope", flat=True)
        .first()
    )
    since = datetime.date.fromisoformat(previous["expiries"]) if previous else today - EXPIRY_LOOKBACK
    ended = {"gt": since, "lte": today}
    ids = set()
    for model, date_field in ((RiskAssessment, "valid_until"), (Waiver, "expires_on"), (Evidence, "expires_on")):
        lookup = {f"{date_field}__{op}": value for op, value in ended.items()}
        ids |= set(model.objects.filter(**lookup).values_list("registration_id", flat=True))
    live = set(Registration.objects.exclude(status__in=LIVE_EXCLUDED).filter(pk__in=ids).values_list("pk", flat=True))
    run = None
    with transaction.atomic():
        overdue = list(
            Registration.objects.filter(
                compliance_status=ComplianceStatus.AT_RISK,
                findings__status=FindingStatus.OPEN,
                findings__due_on__lt=today,
            )
            .distinct()
            .values_list("pk", "compliance_status")
        )
        if overdue:
            _update_statuses({pk: ComplianceStatus.NON_COMPLIANT for pk, _status in overdue})
            from governance.notifications import notify_status_changes

            notify_status_changes(
                [
                    {
                        "registration": pk,
                        "from": status,
                        "to": ComplianceStatus.NON_COMPLIANT,
                        "opened": [],
                        "closed": [],
                        "reopened": [],
                        "run": None,
                    }
                    for pk, status in overdue
                ]
            )
        if live:  # the run also marks how far expiries were checked; with nothing to check, no run row
            run = compliance_check_registrations(registration_ids=live, trigger=RunTrigger.SCHEDULE)
            run.scope = {**run.scope, "expiries": today.isoformat()}
            run.save(update_fields=["scope"])
        compliance_snapshot_upsert(community_ids=list(Community.objects.values_list("pk", flat=True)), day=today)
    return {"rechecked": len(live), "overdue": len(overdue), "run": run.pk if run else None}


__all__ = [
    "ALL_COMMUNITIES",
    "CHUNK_SIZE",
    "SweepAlreadyRunning",
    "check_registrations",
    "compliance_check_after_commit",
    "compliance_check_expiries",
    "compliance_check_registrations",
    "compliance_run_start",
    "compliance_snapshot_upsert",
    "compliance_status_of",
    "compliance_sweep_after_commit",
    "ruleset_for",
    "run_check_chunk",
    "run_fail_chunk",
    "run_finish",
    "run_plan",
]
