from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who changed what, when, from what to what.

    Written by services, so changes made by workers and bulk imports are recorded too. Targets are kept as
    plain ids rather than foreign keys so that the trail outlives the objects it describes.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_username = models.CharField(_("actor username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=100)
    target_id = models.BigIntegerField(_("target id"))
    target_repr = models.CharField(_("target"), max_length=300, blank=True)
    registration_id = models.BigIntegerField(_("registration id"), null=True, blank=True, db_index=True)
    system_id = models.BigIntegerField(_("system id"), null=True, blank=True, db_index=True)
    community_id = models.BigIntegerField(_("community id"), null=True, blank=True, db_index=True)
    organization_id = models.BigIntegerField(_("organization id"), null=True, blank=True, db_index=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True, help_text=_('{"field": [before, after]}'))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self):
        return f"{self.actor_username or 'system'} {self.action} {self.target_repr}"
