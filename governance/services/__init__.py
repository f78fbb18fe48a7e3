"""Every write to governance data goes through these functions: scope-checked and audited."""

from .evidence import evidence_review, evidence_submit, validate_upload, waiver_grant, waiver_revoke
from .frameworks import (
    DOCUMENT_FORMAT,
    baseline_adopt,
    content_hash,
    framework_create,
    override_save,
    requirement_delete,
    requirement_problems,
    requirement_save,
    version_create_draft,
    version_delete_draft,
    version_document,
    version_import,
    version_publish,
)

__all__ = [
    "DOCUMENT_FORMAT",
    "baseline_adopt",
    "content_hash",
    "evidence_review",
    "evidence_submit",
    "framework_create",
    "override_save",
    "requirement_delete",
    "requirement_problems",
    "requirement_save",
    "validate_upload",
    "version_create_draft",
    "version_delete_draft",
    "version_document",
    "version_import",
    "version_publish",
    "waiver_grant",
    "waiver_revoke",
]
