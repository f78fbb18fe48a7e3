from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choices import OrganizationRole
from registry.querysets import OrganizationMembershipQuerySet, OrganizationQuerySet

from .communities import slug_validator


class Organization(models.Model):
    """A provider or deployer that files AI systems into communities' registers."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2 code."))
    registration_number = models.CharField(_("company or public-body number"), max_length=64, blank=True)
    lei = models.CharField(_("legal entity identifier (LEI)"), max_length=20, blank=True)
    website = models.URLField(_("website"), blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class OrganizationMembership(models.Model):
    """A user's single role in an organization: admins manage members, filers file."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="organization_memberships",
    )
    role = models.CharField(_("role"), max_length=32, choices=OrganizationRole.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OrganizationMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization membership")
        verbose_name_plural = _("organization memberships")
        ordering = ["organization_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="organization_membership_unique_user"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.organization}"
