from django import forms
from django.utils.translation import gettext_lazy as _

from registry.choices import LifecycleStage, RiskTier
from registry.public.selectors import DEFAULT_SORT

SORT_CHOICES = [
    ("name", _("Name, A to Z")),
    ("-name", _("Name, Z to A")),
    ("-date", _("Newest approval first")),
    ("date", _("Oldest approval first")),
]


class PublicRegisterFilterForm(forms.Form):
    """The public register's search box, filters and sort, read from the query string.

    The organization choices are the organizations that appear in this register, so a citizen never picks
    a filter that can only give an empty page.
    """

    q = forms.CharField(label=_("Search"), required=False, max_length=200, help_text=_("Name, purpose or organization"))
    organization = forms.ChoiceField(label=_("Organization"), required=False)
    risk_tier = forms.ChoiceField(
        label=_("Risk tier"), required=False, choices=[("", _("Any risk tier")), *RiskTier.choices]
    )
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), required=False, choices=[("", _("Any stage")), *LifecycleStage.choices]
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORT_CHOICES)

    def __init__(self, data=None, *, organizations=()):
        super().__init__(data)
        self.fields["organization"].choices = [
            ("", _("Any organization")),
            *((organization.slug, organization.name) for organization in organizations),
        ]

    def filters(self) -> dict:
        """The valid filters as keyword arguments for `public_register_search`; invalid ones are dropped."""
        if self.is_valid():
            data = self.cleaned_data
        else:
            data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        filters = {name: data.get(name) or "" for name in ("q", "organization", "risk_tier", "lifecycle_stage")}
        filters["q"] = filters["q"].strip()
        filters["sort"] = data.get("sort") or DEFAULT_SORT
        return filters
