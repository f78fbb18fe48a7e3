"""Forms for filing and reviewing in the dashboard.

They only shape input: every rule is enforced by the services the API calls too (registry/services,
governance/services), and `add_service_errors` puts what a service refused back on the form, so a filing
made in the browser is judged exactly like one made through the API.
"""

import datetime

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import fields_for_model
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from registry.choices import DataCategory, Disclosure, RiskTier, Technique
from registry.errors import COMMENT_REQUIRED, InvalidTransition
from registry.models import AISystem, Community, Organization
from registry.models.registrations import disclosure_level
from registry.models.systems import DISCLOSABLE_FIELDS
from registry.permissions import Action

WITHHELD_NEEDS_REASON = _("Withholding a field requires a reason.")
EXPIRY_IN_PAST = _("The expiry date must be in the future.")
CHOOSE_REQUIREMENT = _("Choose a requirement that binds this registration.")

# The system form, in the order a filer thinks about their system.
SYSTEM_FIELDSETS = [
    (_("The system"), ["name", "external_id", "purpose", "intended_use", "benefits", "topic", "tags"]),
    (
        _("How it works"),
        ["technical_description", "techniques", "model_name", "vendor", "inputs", "data_categories", "training_data"],
    ),
    (
        _("Decisions and people"),
        [
            "outputs",
            "operator_role",
            "decision_role",
            "human_oversight",
            "human_oversight_description",
            "affected_persons",
        ],
    ),
    (_("Risks and legal basis"), ["risks", "proportionality", "legal_basis"]),
    (_("Lifecycle"), ["lifecycle_stage", "start_date", "end_date"]),
    (
        _("Links and contact"),
        ["website", "documentation_url", "source_code_url", "privacy_assessment_url", "contact_name", "contact_email"],
    ),
]
SYSTEM_FORM_FIELDS = [name for _legend, names in SYSTEM_FIELDSETS for name in names]
MULTI_CHOICE_FIELDS = {"techniques": Technique, "data_categories": DataCategory}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def call_service(form: forms.Form, call):
    """Call a service; put what it refuses on the form. Returns the service's result, or None on refusal."""
    try:
        return call()
    except ValidationError as error:
        add_service_errors(form, error)
    except InvalidTransition as error:
        form.add_error(None, str(error.message))
    except PermissionDenied as error:
        form.add_error(None, str(error) or _("You do not have permission to perform this action."))
    return None


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, or above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


class FieldsetsMixin:
    fieldsets: list[tuple[str, list[str]]] = []
    required_css_class = "required"  # the label gets it, and app styles mark it

    def grouped_fields(self):
        """[(legend, [bound fields])] for the template, skipping fields this form does not have."""
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in self.fieldsets]


def _formfield(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"  # a filer typing "example.org" means the secure site
    return field.formfield(**kwargs)


def _system_fields() -> dict:
    fields = fields_for_model(
        AISystem,
        formfield_callback=_formfield,
        fields=[name for name in SYSTEM_FORM_FIELDS if name not in MULTI_CHOICE_FIELDS],
        widgets={
            "start_date": DateInput(),
            "end_date": DateInput(),
        },
    )
    for name, choices in MULTI_CHOICE_FIELDS.items():
        fields[name] = forms.MultipleChoiceField(
            label=capfirst(AISystem._meta.get_field(name).verbose_name),
            choices=choices.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
    for field in fields.values():
        if isinstance(field.widget, forms.Textarea):
            field.widget.attrs["rows"] = 3 if field.max_length and field.max_length <= 2500 else 5
    return {name: fields[name] for name in SYSTEM_FORM_FIELDS}


class SystemForm(FieldsetsMixin, forms.Form):
    """An AI system's facts. The organization is chosen when filing, and fixed afterwards."""

    fieldsets = [(_("Organization"), ["organization"]), *SYSTEM_FIELDSETS]

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        for name, field in _system_fields().items():
            self.fields[name] = field
        if organizations is not None:
            self.fields = {
                "organization": forms.ModelChoiceField(
                    label=_("Organization"),
                    queryset=organizations,
                    empty_label=None,
                    help_text=_("The organization that files and answers for this system."),
                ),
                **self.fields,
            }

    def service_data(self) -> dict:
        """Keyword arguments for system_create / system_update."""
        return {name: self.cleaned_data[name] for name in SYSTEM_FORM_FIELDS}

    @staticmethod
    def initial_for(system: AISystem) -> dict:
        return {name: getattr(system, name) for name in SYSTEM_FORM_FIELDS}


class CommunityChoiceField(forms.ModelChoiceField):
    """Communities in tree order, indented by depth, so the filer sees which register sits under which."""

    def label_from_instance(self, community):
        return f"{'— ' * community.depth}{community.name}"


def _disclosure_fields(name: str) -> tuple[str, str]:
    return f"disclosure_{name}_level", f"disclosure_{name}_reason"


class RegistrationForm(forms.Form):
    """A registration's own fields plus, per disclosable field, who may see it and why it is withheld."""

    required_css_class = "required"

    deployment_context = forms.CharField(
        label=_("Deployment context"),
        required=False,
        max_length=2500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Where and how the system is used in this community."),
    )
    deployment_date = forms.DateField(label=_("Deployed in this community since"), required=False, widget=DateInput())
    risk_tier = forms.ChoiceField(label=_("Risk tier"), choices=RiskTier.choices, initial=RiskTier.UNASSESSED)

    def __init__(self, *args, systems=None, disclosure: dict | None = None, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        if systems is not None:
            # Creating: choose the system (only those the user files for) and the register to file it in.
            self.fields = {
                "system": forms.ModelChoiceField(label=_("AI system"), queryset=systems, empty_label=None),
                "community": CommunityChoiceField(
                    label=_("Community"),
                    queryset=Community.objects.order_by("path"),
                    help_text=_("The register this system is filed in: where it is used."),
                ),
                **self.fields,
            }
        disclosure = disclosure or {}
        for name in DISCLOSABLE_FIELDS:
            level_name, reason_name = _disclosure_fields(name)
            label = AISystem._meta.get_field(name).verbose_name
            self.fields[level_name] = forms.ChoiceField(
                label=_("Disclosure of %(field)s") % {"field": label},
                choices=Disclosure.choices,
                initial=disclosure_level(disclosure, name),
            )
            self.fields[reason_name] = forms.CharField(
                label=_("Reason for %(field)s") % {"field": label},
                required=False,
                max_length=1000,
                initial=(disclosure.get(name) or {}).get("reason", ""),
            )

    def disclosure_rows(self):
        """[(field label, level bound field, reason bound field)] for the disclosure table."""
        rows = []
        for name in DISCLOSABLE_FIELDS:
            level_name, reason_name = _disclosure_fields(name)
            rows.append((AISystem._meta.get_field(name).verbose_name, self[level_name], self[reason_name]))
        return rows

    def clean(self):
        cleaned = super().clean()
        for name in DISCLOSABLE_FIELDS:
            level_name, reason_name = _disclosure_fields(name)
            if cleaned.get(level_name) == Disclosure.WITHHELD and not (cleaned.get(reason_name) or "").strip():
                self.add_error(reason_name, WITHHELD_NEEDS_REASON)
        return cleaned

    def disclosure(self) -> dict:
        """The per-field settings that differ from the defaults, or carry a reason."""
        value = {}
        for name in DISCLOSABLE_FIELDS:
            level_name, reason_name = _disclosure_fields(name)
            level, reason = self.cleaned_data[level_name], self.cleaned_data[reason_name].strip()
            if level != disclosure_level({}, name) or reason:
                value[name] = {"level": level, "reason": reason}
        return value

    def service_data(self) -> dict:
        """Keyword arguments for registration_create / registration_update."""
        return {
            "deployment_context": self.cleaned_data["deployment_context"],
            "deployment_date": self.cleaned_data["deployment_date"],
            "risk_tier": self.cleaned_data["risk_tier"],
            "disclosure": self.disclosure(),
        }


def comment_field():
    return forms.CharField(
        label=_("Comment"),
        max_length=2500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": COMMENT_REQUIRED},
    )


class RegistrationDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("approve", _("Approve")),
            ("request_changes", _("Request changes")),
            ("reject", _("Reject")),
        ],
    )
    comment = comment_field()


class RetireForm(forms.Form):
    comment = comment_field()


def _future_date(value):
    if value is not None and value <= timezone.localdate():
        raise ValidationError(EXPIRY_IN_PAST)
    return value


class EvidenceDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=[("accept", _("Accept")), ("reject", _("Reject"))])
    comment = comment_field()
    expires_on = forms.DateField(
        label=_("Accepted until"),
        required=False,
        widget=DateInput(),
        help_text=_("Optional; only for accepted evidence."),
    )

    def clean_expires_on(self):
        return _future_date(self.cleaned_data.get("expires_on"))


class AssessmentDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("accept", _("Accept")), ("return", _("Return for changes"))]
    )
    comment = comment_field()


class WaiverForm(forms.Form):
    """Waive one requirement that binds the registration; `requirements` are its effective requirements."""

    requirement = forms.ChoiceField(label=_("Requirement"), error_messages={"invalid_choice": CHOOSE_REQUIREMENT})
    justification = forms.CharField(label=_("Justification"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    expires_on = forms.DateField(label=_("Expires on"), widget=DateInput())

    def __init__(self, *args, requirements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.requirements = {f"{item.framework.pk}:{item.requirement.code}": item for item in requirements}
        self.fields["requirement"].choices = [
            (key, f"{item.requirement.code} · {item.requirement.title} ({item.framework.name})")
            for key, item in self.requirements.items()
        ]
        if not self.is_bound:
            self.fields["expires_on"].initial = timezone.localdate() + datetime.timedelta(days=90)

    def clean_expires_on(self):
        return _future_date(self.cleaned_data.get("expires_on"))

    def service_data(self) -> dict:
        item = self.requirements[self.cleaned_data["requirement"]]
        return {
            "framework": item.framework,
            "requirement_code": item.requirement.code,
            "justification": self.cleaned_data["justification"],
            "expires_on": self.cleaned_data["expires_on"],
        }


def filing_organizations(user, scope=None):
    """The organizations `user` files for: the choices of the system form."""
    return Organization.objects.restrict(user, Action.FILE, scope=scope).order_by("name")
