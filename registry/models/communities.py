from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choices import CommunityKind, CommunityRole
from registry.querysets import CommunityMembershipQuerySet, CommunityQuerySet

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", _("Use lowercase letters, digits and single hyphens, e.g. 'city-of-ottawa'.")
)


class Community(models.Model):
    """A jurisdiction that keeps its own register (nation, region, city, agency...).

    Communities form a tree; rules and oversight flow down it. `path` is a materialized path of ids
    ("1/4/9/") so that "this community and all its descendants" is one indexed prefix match, which every
    permission check and overview needs.
    """

    slug = models.SlugField(_("slug"), max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=CommunityKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("tree path"), max_length=1024, editable=False, db_index=True)
    jurisdiction_code = models.CharField(
        _("jurisdiction code"), max_length=32, blank=True, help_text=_("ISO 3166 code or local identifier.")
    )
    description = models.TextField(_("description"), max_length=5000, blank=True)
    website = models.URLField(_("website"), blank=True)
    public_register_enabled = models.BooleanField(_("public register enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CommunityQuerySet.as_manager()

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["path"]

    def __str__(self):
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1

    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent, read from the path without a query."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1]]


class CommunityMembership(models.Model):
    """A user's role in one community; regulators and viewers also oversee its descendants."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="community_memberships",
    )
    role = models.CharField(_("role"), max_length=32, choices=CommunityRole.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CommunityMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("community membership")
        verbose_name_plural = _("community memberships")
        ordering = ["community_id", "user_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["community", "user", "role"], name="community_membership_unique_role"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.community}"
