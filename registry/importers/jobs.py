"""Import jobs: an upload stored with the default storage, run by a worker, its state kept on the row."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Community, ImportJob
from registry.permissions import Action

from . import FORMATS, importer_class
from .base import NOT_ALLOWED, ImportFormatError, can_import
from .csv_mapping import MappingError, validate_mapping

logger = logging.getLogger(__name__)

UNKNOWN_FORMAT = _("Unknown format %(format)s; use one of %(formats)s.")
MAPPING_REQUIRED = _("A csv import needs a column mapping.")
MAPPING_NOT_ALLOWED = _("Only a csv import takes a column mapping.")
INTERNAL_ERROR = _("The import failed with an internal error; nothing was imported.")


def import_jobs_visible(user):
    """Staff see every job; regulators the jobs of communities they regulate; anyone the jobs they started."""
    if not (user and user.is_authenticated and user.is_active):
        return ImportJob.objects.none()
    if user.is_staff or user.is_superuser:
        return ImportJob.objects.all()
    regulated = Community.objects.restrict(user, Action.REVIEW).values("pk")
    return ImportJob.objects.filter(Q(community__in=regulated) | Q(created_by=user))


@transaction.atomic
def import_job_create(*, actor, community, format: str, file, mapping=None, dry_run: bool = False) -> ImportJob:
    if not can_import(actor, community):
        raise PermissionDenied(NOT_ALLOWED)
    if format not in FORMATS:
        raise ValidationError({"format": UNKNOWN_FORMAT % {"format": format, "formats": ", ".join(FORMATS)}})
    if format == "csv":
        if mapping is None:
            raise ValidationError({"mapping": MAPPING_REQUIRED})
        try:
            validate_mapping(mapping)
        except MappingError as error:
            raise ValidationError({"mapping": error.messages}) from error
    elif mapping is not None:
        raise ValidationError({"mapping": MAPPING_NOT_ALLOWED})
    job = ImportJob(
        community=community,
        format=format,
        mapping=mapping,
        dry_run=dry_run,
        created_by=actor,
        file_name=getattr(file, "name", "")[:255],
    )
    job.file.save(getattr(file, "name", "upload"), file, save=False)
    job.save()
    from registry.tasks import run_import_job

    transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job once: a second delivery of the same task finds it no longer queued and does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    job = ImportJob.objects.select_related("community", "created_by").get(pk=job_id)
    if not claimed:
        return job

    def progress(done, total):
        ImportJob.objects.filter(pk=job_id).update(done=done, total=total)

    try:
        importer = importer_class(job.format)(
            community=job.community, actor=job.created_by, options={"mapping": job.mapping} if job.mapping else {}
        )
        with job.file.open("rb") as stream:
            report = importer.run(stream, dry_run=job.dry_run, progress=progress)
    except (ImportFormatError, MappingError, PermissionDenied) as error:
        job.status, job.error = ImportJob.Status.FAILED, str(error)
    except Exception:
        logger.exception("Import job %s failed", job_id)
        job.status, job.error = ImportJob.Status.FAILED, str(INTERNAL_ERROR)
    else:
        data = report.as_dict()
        job.status = ImportJob.Status.SUCCEEDED
        job.total = job.done = data["total"]
        job.rejected = data["rejected_count"]
        job.report = data
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "total", "done", "rejected", "report", "finished_at"])
    return job
