from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .communities import Community


def import_upload_to(instance, filename):
    import uuid
    from pathlib import Path

    return f"imports/{instance.community_id}/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"


class ImportJob(models.Model):
    """One uploaded register file, imported into a community by a worker (issue 7).

    The row is the job's state for the API and the dashboard: status, counts, progress and the row-level
    report live here rather than in Celery's result backend, so a client polls the database.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="import_jobs"
    )
    format = models.CharField(_("format"), max_length=32)
    file = models.FileField(_("file"), upload_to=import_upload_to, max_length=300)
    file_name = models.CharField(_("original file name"), max_length=255, blank=True)
    mapping = models.JSONField(_("column mapping"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("rows in file"), default=0)
    done = models.PositiveIntegerField(_("rows processed"), default=0)
    rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.format} import #{self.pk} into {self.community_id}"
