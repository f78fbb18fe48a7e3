"""Evidence and waivers: filers show a requirement is met; regulators accept, reject or waive."""

import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from governance.choices import EvidenceStatus, RequirementKind
from governance.models import Evidence, Framework, Waiver
from governance.selectors import effective_requirements
from registry.errors import InvalidTransition
from registry.models import Registration
from registry.permissions import Action
from registry.services.audit import audit_record
from registry.services.common import locked_for

from .compliance import compliance_check_after_commit

ALLOWED_EXTENSIONS = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# Magic numbers of the binary types, so a renamed executable is not accepted as a PDF.
SIGNATURES = {
    ".pdf": b"%PDF",
    ".png": b"\x89PNG",
    ".jpg": b"\xff\xd8",
    ".jpeg": b"\xff\xd8",
    ".docx": b"PK",
    ".xlsx": b"PK",
    ".odt": b"PK",
    ".ods": b"PK",
}
NOT_EFFECTIVE = _("%(code)s of %(framework)s does not bind this registration's community.")


def _audit(registration, *, actor, action, target, changes, comment=""):
    audit_record(
        actor=actor,
        action=action,
        target=target,
        changes=changes,
        comment=comment,
        registration_id=registration.pk,
        system_id=registration.system_id,
        community_id=registration.community_id,
        organization_id=registration.organization_id,
    )


def _effective_requirement(registration: Registration, framework: Framework, code: str):
    for item in effective_requirements(registration.community):
        if item.framework.pk == framework.pk and item.requirement.code == code:
            return item
    raise ValidationError({"requirement_code": NOT_EFFECTIVE % {"code": code, "framework": framework}})


def validate_upload(upload) -> tuple[str, str]:
    """Check an uploaded document's size, extension and signature; return (extension, content type)."""
    extension = Path(upload.name or "").suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ValidationError(
            {
                "file": _("Files of type %(ext)s are not accepted. Allowed: %(allowed)s.")
                % {"ext": extension or _("(none)"), "allowed": ", ".join(sorted(ALLOWED_EXTENSIONS))}
            }
        )
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError(
            {
                "file": _("The file is %(size)d bytes; the limit is %(limit)d.")
                % {"size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES}
            }
        )
    signature = SIGNATURES.get(extension)
    if signature:
        head = upload.read(len(signature))
        upload.seek(0)
        if head != signature:
            raise ValidationError(
                {"file": _("The file's content does not match its %(ext)s extension.") % {"ext": extension}}
            )
    return extension, ALLOWED_EXTENSIONS[extension]


@transaction.atomic
def evidence_submit(
    *,
    registration: Registration,
    actor,
    framework: Framework,
    requirement_code: str,
    statement: str,
    file=None,
    url: str = "",
) -> Evidence:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.FILE)
    item = _effective_requirement(registration, framework, requirement_code)
    if item.requirement.kind != RequirementKind.EVIDENCE:
        raise ValidationError(
            {"requirement_code": _("%(code)s is checked by a rule; it takes no evidence.") % {"code": requirement_code}}
        )
    if not file and not url:
        raise ValidationError({"file": _("Attach a document or give a link.")})
    evidence = Evidence(
        registration=registration,
        framework=framework,
        requirement_code=requirement_code,
        statement=statement,
        url=url or "",
        submitted_by=actor,
    )
    if file:
        _extension, content_type = validate_upload(file)
        evidence.file_name = Path(file.name).name[:255]
        evidence.file_size = file.size
        evidence.content_type = content_type
        evidence.file = file
    evidence.full_clean(exclude=["file"])
    evidence.save()
    _audit(
        registration,
        actor=actor,
        action="evidence.submitted",
        target=evidence,
        changes={"evidence": [None, {"requirement": requirement_code, "file": evidence.file_name, "url": url}]},
        comment=statement[:500],
    )
    compliance_check_after_commit([evidence.registration_id])
    return evidence


@transaction.atomic
def evidence_review(*, evidence: Evidence, actor, accept: bool, comment: str, expires_on: datetime.date | None = None):
    evidence = locked_for(
        Evidence.objects.select_related("registration"), pk=evidence.pk, actor=actor, action=Action.REVIEW
    )
    if evidence.status != EvidenceStatus.SUBMITTED:
        raise InvalidTransition(
            _("This evidence was already %(status)s.") % {"status": evidence.get_status_display().lower()}
        )
    if not (comment or "").strip():
        raise ValidationError({"comment": _("A comment is required for this decision.")})
    if evidence.submitted_by_id == actor.pk:
        raise PermissionDenied(_("You cannot review evidence you submitted."))
    if expires_on is not None and expires_on <= timezone.localdate():
        raise ValidationError({"expires_on": _("The expiry date must be in the future.")})
    evidence.status = EvidenceStatus.ACCEPTED if accept else EvidenceStatus.REJECTED
    evidence.reviewer = actor
    evidence.review_comment = comment.strip()
    evidence.reviewed_at = timezone.now()
    evidence.expires_on = expires_on if accept else None
    evidence.save(update_fields=["status", "reviewer", "review_comment", "reviewed_at", "expires_on"])
    _audit(
        evidence.registration,
        actor=actor,
        action=f"evidence.{evidence.status}",
        target=evidence,
        changes={"status": [EvidenceStatus.SUBMITTED, evidence.status]},
        comment=comment,
    )
    compliance_check_after_commit([evidence.registration_id])
    return evidence


@transaction.atomic
def waiver_grant(
    *,
    registration: Registration,
    actor,
    framework: Framework,
    requirement_code: str,
    justification: str,
    expires_on: datetime.date,
) -> Waiver:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.REVIEW)
    _effective_requirement(registration, framework, requirement_code)
    if not (justification or "").strip():
        raise ValidationError({"justification": _("A waiver needs a justification.")})
    if expires_on <= timezone.localdate():
        raise ValidationError({"expires_on": _("The expiry date must be in the future.")})
    if Waiver.objects.filter(
        registration=registration,
        framework=framework,
        requirement_code=requirement_code,
        revoked_at__isnull=True,
        expires_on__gt=timezone.localdate(),
    ).exists():
        raise ValidationError({"requirement_code": _("A valid waiver for this requirement already exists.")})
    waiver = Waiver.objects.create(
        registration=registration,
        framework=framework,
        requirement_code=requirement_code,
        justification=justification.strip(),
        approved_by=actor,
        expires_on=expires_on,
    )
    _audit(
        registration,
        actor=actor,
        action="waiver.granted",
        target=waiver,
        changes={"waiver": [None, {"requirement": requirement_code, "expires_on": expires_on.isoformat()}]},
        comment=justification,
    )
    compliance_check_after_commit([waiver.registration_id])
    return waiver


@transaction.atomic
def waiver_revoke(*, waiver: Waiver, actor, comment: str = "") -> Waiver:
    waiver = locked_for(Waiver.objects.select_related("registration"), pk=waiver.pk, actor=actor, action=Action.REVIEW)
    if waiver.revoked_at is not None:
        raise InvalidTransition(_("This waiver was already revoked."))
    waiver.revoked_at = timezone.now()
    waiver.revoked_by = actor
    waiver.save(update_fields=["revoked_at", "revoked_by"])
    _audit(
        waiver.registration,
        actor=actor,
        action="waiver.revoked",
        target=waiver,
        changes={"revoked_at": [None, waiver.revoked_at.isoformat()]},
        comment=comment,
    )
    compliance_check_after_commit([waiver.registration_id])
    return waiver
