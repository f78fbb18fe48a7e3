from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.choices import DataCategory, DecisionRole, HumanOversight, LifecycleStage, OperatorRole, Technique
from registry.querysets import AISystemQuerySet

from .organizations import Organization

# Long free-text answers: generous, but bounded so a client cannot store megabytes in one field.
LONG_TEXT = 5000
MEDIUM_TEXT = 2500


class AISystem(models.Model):
    """The facts about one AI system, owned by the organization that files it.

    The fields are a superset of EU AI Act Annex VIII section A, the UK ATRS and the Dutch publication
    standard v1.0, so one record can be exported to each. Only name and purpose are required: whether the
    rest is complete is for the compliance rules to judge (a missing field becomes a finding), not for
    validation to refuse.
    """

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="systems"
    )
    external_id = models.CharField(
        _("external identifier"),
        max_length=100,
        blank=True,
        help_text=_("The organization's own identifier, e.g. an inventory use-case id; unique per organization."),
    )
    name = models.CharField(_("name"), max_length=200)
    purpose = models.TextField(_("purpose"), max_length=LONG_TEXT, help_text=_("What problem the system solves."))
    intended_use = models.TextField(_("intended use"), max_length=LONG_TEXT, blank=True)
    benefits = models.TextField(_("expected benefits and impact"), max_length=MEDIUM_TEXT, blank=True)
    technical_description = models.TextField(
        _("how it works"), max_length=LONG_TEXT, blank=True, help_text=_("Methods, models and logic, in plain words.")
    )
    operator_role = models.CharField(_("operator role"), max_length=32, choices=OperatorRole.choices, blank=True)
    techniques = models.JSONField(_("techniques"), default=list, blank=True)
    inputs = models.TextField(_("inputs and data sources"), max_length=MEDIUM_TEXT, blank=True)
    data_categories = models.JSONField(_("data categories"), default=list, blank=True)
    training_data = models.TextField(_("training and evaluation data"), max_length=MEDIUM_TEXT, blank=True)
    outputs = models.TextField(_("outputs"), max_length=MEDIUM_TEXT, blank=True)
    decision_role = models.CharField(_("role in decisions"), max_length=32, choices=DecisionRole.choices, blank=True)
    human_oversight = models.CharField(_("human oversight"), max_length=32, choices=HumanOversight.choices, blank=True)
    human_oversight_description = models.TextField(_("human oversight in practice"), max_length=MEDIUM_TEXT, blank=True)
    affected_persons = models.TextField(_("affected persons"), max_length=MEDIUM_TEXT, blank=True)
    risks = models.TextField(_("risks and their management"), max_length=MEDIUM_TEXT, blank=True)
    proportionality = models.TextField(_("proportionality and alternatives"), max_length=MEDIUM_TEXT, blank=True)
    legal_basis = models.TextField(_("legal basis"), max_length=MEDIUM_TEXT, blank=True)
    topic = models.CharField(_("topic area"), max_length=200, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=32, choices=LifecycleStage.choices, default=LifecycleStage.PLANNED
    )
    start_date = models.DateField(_("in use since"), null=True, blank=True)
    end_date = models.DateField(_("in use until"), null=True, blank=True)
    vendor = models.CharField(_("vendor or supplier"), max_length=200, blank=True)
    model_name = models.CharField(_("model or product used"), max_length=200, blank=True)
    website = models.URLField(_("public information page"), max_length=500, blank=True)
    documentation_url = models.URLField(_("technical documentation"), max_length=500, blank=True)
    source_code_url = models.URLField(_("source code"), max_length=500, blank=True)
    privacy_assessment_url = models.URLField(_("privacy impact assessment"), max_length=500, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    tags = models.CharField(_("keywords"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AISystemQuerySet.as_manager()

    class Meta:
        verbose_name = _("AI system")
        verbose_name_plural = _("AI systems")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="aisystem_unique_external_id_per_org",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="aisystem_end_after_start",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for name, choices in (("techniques", Technique), ("data_categories", DataCategory)):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                errors[name] = _("Give a list of values.")
                continue
            unknown = sorted(set(value) - set(choices.values))
            if unknown:
                errors[name] = _("Unknown values: %(values)s. Allowed: %(allowed)s.") % {
                    "values": ", ".join(unknown),
                    "allowed": ", ".join(choices.values),
                }
            elif len(set(value)) != len(value):
                errors[name] = _("Each value may appear once.")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = _("The end date is before the start date.")
        if errors:
            raise ValidationError(errors)


# Fields a filer may mark public, restricted or withheld per registration. Contact details default to
# restricted: a public register should not expose a named official's inbox unless the filer chooses to.
DISCLOSABLE_FIELDS = [
    "purpose",
    "intended_use",
    "benefits",
    "technical_description",
    "operator_role",
    "techniques",
    "inputs",
    "data_categories",
    "training_data",
    "outputs",
    "decision_role",
    "human_oversight",
    "human_oversight_description",
    "affected_persons",
    "risks",
    "proportionality",
    "legal_basis",
    "topic",
    "lifecycle_stage",
    "start_date",
    "end_date",
    "vendor",
    "model_name",
    "website",
    "documentation_url",
    "source_code_url",
    "privacy_assessment_url",
    "contact_name",
    "contact_email",
    "tags",
]
DEFAULT_RESTRICTED_FIELDS = {"contact_name", "contact_email"}
