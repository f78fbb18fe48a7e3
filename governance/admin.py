"""The policy console: a Django admin site where a community's policy authors write its frameworks.

`policy_site` (mounted at /policy/) admits active superusers, users holding the policy-author role in any
community and users granted `governance.author_framework` on a framework through django-guardian; they need not
be staff. An author sees the global baselines, their own communities' frameworks and their ancestors'; only the
frameworks `Framework.objects.restrict(user, Action.AUTHOR)` returns are editable, and every other framework
answers 404.

Every write goes through `governance.services`. Requirement and parameter-override inlines call their service
while the formset is validated, so a refused rule shows its message next to the field; when the page is shown
again with errors, the whole request's transaction is rolled back, so nothing of a refused submission is kept
(`ServiceInlineAdminMixin.changeform_view`). A draft's change page links to its diff against the published
version, to an impact preview computed by the evaluator the workers use, and to a publish confirmation.

The normal admin site gets the same models read-only, for superusers.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance import services
from governance.choices import VersionStatus
from governance.condition_builder import OPERATORS, ConditionError, build_condition, field_choices
from governance.evaluation import impact_preview
from governance.models import (
    BaselineAdoption,
    Evidence,
    Framework,
    FrameworkVersion,
    ParameterOverride,
    Requirement,
    Waiver,
)
from governance.selectors import binding_frameworks, version_diff
from registry.admin import SERVICE_ERRORS, ReadOnlyAdminMixin, ServiceModelForm, error_messages
from registry.choices import CommunityRole
from registry.models import Community, CommunityMembership, Registration
from registry.permissions import Action, is_active_user, user_scope

NOT_A_POLICY_AUTHOR = gettext_lazy(
    "Please enter the username and password of a policy author's account. Both fields may be case-sensitive."
)
TARGET_IS_FIXED = gettext_lazy("An override's requirement and parameter cannot be changed; add another row instead.")
PUBLISHED = gettext_lazy("Published %(version)s. The compliance checks now use it.")
DRAFT_CREATED = gettext_lazy("Created draft %(version)s; edit it below.")
NOTHING_PUBLISHED = gettext_lazy("Nothing is published yet: every requirement of this draft is new.")


# Who may use the console, and what they see --------------------------------------------------------------------


def holds_authoring_role(user) -> bool:
    """A superuser, a policy author of some community, or a user granted authorship of some framework."""
    from guardian.shortcuts import get_objects_for_user

    if not is_active_user(user):
        return False
    if user.is_superuser:
        return True
    if CommunityMembership.objects.filter(user=user, role=CommunityRole.POLICY_AUTHOR).exists():
        return True
    return get_objects_for_user(
        user, "governance.author_framework", Framework, accept_global_perms=False, with_superuser=False
    ).exists()


def authorable_ids(request) -> set[int]:
    """Ids of the frameworks the user may write, read once per request."""
    if not hasattr(request, "_authorable_framework_ids"):
        request._authorable_framework_ids = set(
            Framework.objects.restrict(request.user, Action.AUTHOR).values_list("pk", flat=True)
        )
    return request._authorable_framework_ids


def visible_frameworks(request):
    """Baselines, the frameworks the user authors, and those of their communities and every ancestor."""
    frameworks = Framework.objects.restrict(request.user, Action.VIEW)
    if request.user.is_superuser:
        return frameworks
    authorable = Framework.objects.restrict(request.user, Action.AUTHOR)
    own = user_scope(request.user).own_communities(CommunityRole.POLICY_AUTHOR)
    paths = Community.objects.filter(Q(pk__in=own) | Q(pk__in=authorable.values("community_id"))).values_list(
        "path", flat=True
    )
    lineage = {int(part) for community_path in paths for part in community_path.strip("/").split("/") if part}
    return frameworks.filter(
        Q(community__isnull=True) | Q(community_id__in=lineage) | Q(pk__in=authorable.values("pk"))
    )


def author_communities(user):
    """Communities the user may create frameworks for."""
    if user.is_superuser:
        return Community.objects.all()
    return Community.objects.filter(memberships__user=user, memberships__role=CommunityRole.POLICY_AUTHOR).distinct()


def policy_url(name: str, *args) -> str:
    return reverse(f"{policy_site.name}:{name}", args=args)


def version_url(version, view: str = "change") -> str:
    return policy_url(f"governance_frameworkversion_{view}", version.pk)


class PolicyAuthenticationForm(AdminAuthenticationForm):
    """The admin login, for policy authors instead of staff."""

    error_messages = {**AdminAuthenticationForm.error_messages, "invalid_login": NOT_A_POLICY_AUTHOR}

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)  # refuses inactive users; skips the staff check
        if not holds_authoring_role(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class PolicyAdminSite(admin.AdminSite):
    site_header = gettext_lazy("Commons Registry — policy console")
    site_title = gettext_lazy("Commons Registry policy console")
    index_title = gettext_lazy("Frameworks and their versions")
    login_form = PolicyAuthenticationForm

    def has_permission(self, request):
        return holds_authoring_role(request.user)

    def get_urls(self):
        urls = [
            path(
                "condition-builder/",
                self.admin_view(self.condition_builder_view),
                name="condition_builder",
            )
        ]
        return urls + super().get_urls()

    def condition_builder_view(self, request):
        """JSON wrapper of `build_condition`, for the console's condition builder script."""
        try:
            expression = build_condition(
                request.GET.get("field", ""), request.GET.get("operator", ""), request.GET.get("value", "")
            )
        except ConditionError as error:
            return JsonResponse({"error": str(error)}, status=400)
        return JsonResponse({"expression": expression})


policy_site = PolicyAdminSite(name="policy")


# Forms and widgets ---------------------------------------------------------------------------------------------


class CelTextarea(forms.Textarea):
    """A textarea for a CEL rule, with the condition builder below it."""

    class Media:
        js = ["governance/condition_builder.js"]
        css = {"all": ["governance/condition_builder.css"]}

    def __init__(self, attrs=None):
        super().__init__({"rows": 2, "cols": 90, "class": "vLargeTextField cel-rule", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        return render_to_string(
            "admin/governance/widgets/cel_field.html",
            {
                "textarea": super().render(name, value, attrs, renderer),
                "fields": field_choices(),
                "operators": OPERATORS.items(),
                "url": policy_url("condition_builder"),
            },
        )


def add_service_errors(form, error, field_names: dict | None = None) -> None:
    """A service's ValidationError on the form's fields (renamed through `field_names`), anything else on top."""
    field_names = field_names or {}
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for name, field_errors in error.error_dict.items():
            name = field_names.get(name, name)
            form.add_error(name if name in form.fields else None, ValidationError(field_errors))
    else:
        form.add_error(None, error_messages(error))


class ServiceInlineFormSet(forms.BaseInlineFormSet):
    """An inline formset that writes through services while it is validated, so refusals are form errors.

    `actor` is set per request by the inline's `get_formset`. The attributes the admin's change message reads
    (`new_objects`, `changed_objects`, `deleted_objects`) are filled as the services succeed.
    """

    actor = None

    def clean(self):
        super().clean()
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        if any(form.errors for form in self.forms) or self.non_form_errors():
            return
        refusals = []
        for form in self.deleted_forms:
            if form.instance.pk:
                try:
                    with transaction.atomic():
                        self.delete_through_service(form)
                except SERVICE_ERRORS as error:
                    refusals.extend(error_messages(error))
                else:
                    self.deleted_objects.append(form.instance)
        for form in self.forms:
            if form in self.deleted_forms or not form.has_changed():
                continue
            try:
                with transaction.atomic():
                    saved = self.save_through_service(form)
            except SERVICE_ERRORS as error:
                add_service_errors(form, error, self.service_field_names)
            else:
                if form.instance.pk:
                    self.changed_objects.append((saved, form.changed_data))
                else:
                    self.new_objects.append(saved)
        if refusals:
            raise ValidationError(refusals)

    service_field_names: dict = {}

    def save_through_service(self, form):
        raise NotImplementedError

    def delete_through_service(self, form):
        raise PermissionDenied


class RequirementFormSet(ServiceInlineFormSet):
    service_field_names = {"check": "check_rule"}  # the service speaks the document's key, the form the field's

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "parent" in form.fields:
            form.fields["parent"].queryset = Requirement.objects.filter(version=self.instance).order_by("order", "code")

    def save_through_service(self, form):
        to_service = {form_name: name for name, form_name in self.service_field_names.items()}
        data = {
            to_service.get(name, name): form.cleaned_data[name]
            for name in form.fields
            if name in form.cleaned_data and name not in ("id", "version", "parent", "DELETE")
        }
        if "parameters" in data:
            data["parameters"] = data["parameters"] or []
        if "parent" in form.fields:
            parent = form.cleaned_data.get("parent")
            # Read the parent's code now: an earlier row of this same submission may have renamed it.
            data["parent"] = (
                Requirement.objects.filter(pk=parent.pk).values_list("code", flat=True).first() if parent else None
            )
        original_code = form.initial.get("code") if form.instance.pk else None
        return services.requirement_save(version=self.instance, actor=self.actor, data=data, code=original_code)

    def delete_through_service(self, form):
        services.requirement_delete(version=self.instance, actor=self.actor, code=form.initial["code"])


class OverrideForm(forms.ModelForm):
    value = forms.JSONField(label=gettext_lazy("value"), help_text=gettext_lazy('JSON: 180, true or "text".'))

    class Meta:
        model = ParameterOverride
        fields = ["target_framework", "target_code", "parameter", "value", "justification"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and {"target_framework", "target_code", "parameter"} & set(self.changed_data):
            raise ValidationError(TARGET_IS_FIXED)
        return cleaned


class OverrideFormSet(ServiceInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        framework = self.instance.framework
        if "target_framework" in form.fields and framework.community_id:
            form.fields["target_framework"].queryset = binding_frameworks(framework.community).exclude(pk=framework.pk)

    def save_through_service(self, form):
        data = form.cleaned_data
        return services.override_save(
            version=self.instance,
            actor=self.actor,
            target_framework=data["target_framework"],
            target_code=data["target_code"],
            parameter=data["parameter"],
            value=data["value"],
            justification=data.get("justification", ""),
        )

    def delete_through_service(self, form):
        override = form.instance
        services.override_delete(
            version=self.instance,
            actor=self.actor,
            target_framework=override.target_framework,
            target_code=override.target_code,
            parameter=override.parameter,
        )


# Inlines --------------------------------------------------------------------------------------------------------


class HttpsLinksMixin:
    """Links typed without a scheme are https (Django 6's default; silences its deprecation warning)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class DraftInlineMixin(HttpsLinksMixin):
    """Editable on a draft the user authors; read-only everywhere else."""

    def _editable(self, request, obj) -> bool:
        return obj is not None and obj.is_editable and obj.framework_id in authorable_ids(request)

    def has_view_permission(self, request, obj=None):
        return True  # the version admin has already decided the user may see the version

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


class RequirementInline(DraftInlineMixin, admin.StackedInline):
    model = Requirement
    formset = RequirementFormSet
    fk_name = "version"
    extra = 0
    show_change_link = False
    fieldsets = [
        (None, {"fields": [("code", "order", "parent"), "title", ("kind", "severity"), "text"]}),
        (
            gettext_lazy("Rules"),
            {
                "fields": ["applies_when", "check_rule", "evidence", "parameters"],
                "description": gettext_lazy(
                    "Rules are CEL expressions over system, registration, assessments, evidence, params and today. "
                    "Use the condition builder under a rule to write a simple one."
                ),
            },
        ),
        (
            gettext_lazy("In force and source"),
            {"fields": [("effective_from", "effective_until"), "citation", "citation_url"]},
        ),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("applies_when", "check_rule"):
            kwargs["widget"] = CelTextarea
        elif db_field.name in ("text", "evidence"):
            kwargs["widget"] = forms.Textarea({"rows": 3, "cols": 90, "class": "vLargeTextField"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ParameterOverrideInline(DraftInlineMixin, admin.TabularInline):
    """Tightenings of inherited parameters; removing a row drops the tightening (services.override_delete)."""

    model = ParameterOverride
    form = OverrideForm
    formset = OverrideFormSet
    fk_name = "version"
    extra = 0
    fields = ["target_framework", "target_code", "parameter", "value", "justification"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "justification":
            kwargs["widget"] = forms.Textarea({"rows": 2, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


# Frameworks ----------------------------------------------------------------------------------------------------


class PolicyModelAdmin(HttpsLinksMixin, admin.ModelAdmin):
    """Scoped to what the user may see: hidden objects answer 404, not a redirect to the index."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("No %(name)s matches the given query.") % {"name": self.opts.verbose_name})
        return obj

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)  # the queryset decides which objects

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete without the services
        return actions

    def page_context(self, request, obj, title: str) -> dict:
        request.current_app = self.admin_site.name  # so that {% url 'admin:...' %} stays in this site
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": title,
            "subtitle": str(obj),
            "change_url": policy_url(f"{self.opts.app_label}_{self.opts.model_name}_change", obj.pk),
        }


class FrameworkForm(ServiceModelForm):
    source_url = forms.URLField(label=gettext_lazy("source"), max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = Framework
        fields = ["community", "urn", "name", "short_name", "description", "source_url", "licence_notice", "binding"]

    def save_through_service(self):
        if self.instance.pk:
            data = self.service_data(["name", "short_name", "description", "source_url", "licence_notice", "binding"])
            return services.framework_update(framework=self.instance, actor=self.actor, **data)
        data = self.service_data(["urn", "name", "short_name", "description", "source_url"])
        return services.framework_create(actor=self.actor, community=self.cleaned_data.get("community"), **data)


class NewDraftForm(forms.Form):
    version = forms.CharField(label=gettext_lazy("Version label"), max_length=40)
    notes = forms.CharField(label=gettext_lazy("Release notes"), required=False, widget=forms.Textarea({"rows": 4}))


def next_version_label(framework: Framework) -> str:
    labels = list(framework.versions.values_list("version", flat=True))
    numbers = [int(label) for label in labels if label.isdigit()]
    return str(max(numbers, default=0) + 1)


class FrameworkAdmin(PolicyModelAdmin):
    form = FrameworkForm
    list_display = ["name", "community_or_baseline", "binding", "published", "has_draft"]
    list_filter = ["binding"]
    search_fields = ["name", "short_name", "urn"]
    add_fieldsets = [(None, {"fields": ["community", "urn", "name", "short_name", "description", "source_url"]})]
    change_fields = [
        "name",
        "short_name",
        "urn",
        "community_or_baseline",
        "binding",
        "description",
        "source_url",
        "licence_notice",
        "versions_list",
    ]

    def get_queryset(self, request):
        return (
            visible_frameworks(request)
            .select_related("community")
            .annotate(
                published_label=Subquery(
                    FrameworkVersion.objects.filter(framework=OuterRef("pk"), status=VersionStatus.PUBLISHED).values(
                        "version"
                    )[:1]
                ),
                draft_exists=Exists(
                    FrameworkVersion.objects.filter(framework=OuterRef("pk"), status=VersionStatus.DRAFT)
                ),
            )
        )

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else [(None, {"fields": self.change_fields})]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.pk not in authorable_ids(request):
            return self.change_fields
        # Whether a baseline binds every community moves the global floor: instance administrators only.
        fixed = ["urn", "community_or_baseline", "versions_list"]
        return fixed if obj.is_baseline and request.user.is_superuser else [*fixed, "binding"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "community":
            kwargs["queryset"] = author_communities(request.user)
            kwargs["required"] = not request.user.is_superuser  # only instance administrators write baselines
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return request.user.is_superuser or author_communities(request.user).exists()

    def has_change_permission(self, request, obj=None):
        return bool(authorable_ids(request)) if obj is None else obj.pk in authorable_ids(request)

    def has_delete_permission(self, request, obj=None):
        return False  # there is no service to delete a framework; versions (drafts) are deleted instead

    def save_model(self, request, obj, form, change):
        """The form saved the framework through `framework_create` or `framework_update` while it was validated."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        framework = self.get_object(request, object_id)
        context = {"show_save_and_add_another": False}
        if framework.pk not in authorable_ids(request):
            context.update(show_save=False, show_save_and_continue=False)
        else:
            draft = framework.versions.filter(status=VersionStatus.DRAFT).first()
            context["policy_tools"] = (
                [{"url": version_url(draft), "label": _("Edit draft %(version)s") % {"version": draft.version}}]
                if draft
                else [{"url": policy_url("governance_framework_new_draft", framework.pk), "label": _("New draft")}]
            )
        return super().change_view(request, object_id, form_url, {**context, **(extra_context or {})})

    def get_urls(self):
        return [
            path(
                "<path:object_id>/new-draft/",
                self.admin_site.admin_view(self.new_draft_view),
                name="governance_framework_new_draft",
            ),
            *super().get_urls(),
        ]

    def new_draft_view(self, request, object_id):
        framework = self.get_object(request, object_id)
        if not self.has_change_permission(request, framework):
            raise PermissionDenied
        form = NewDraftForm(request.POST or None, initial={"version": next_version_label(framework)})
        if request.method == "POST" and form.is_valid():
            try:
                draft = services.version_create_draft(framework=framework, actor=request.user, **form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, DRAFT_CREATED % {"version": draft.version}, messages.SUCCESS)
                return HttpResponseRedirect(version_url(draft))
        context = {
            **self.page_context(request, framework, _("New draft of %(framework)s") % {"framework": framework}),
            "form": form,
            "published": framework.published_version(),
        }
        return TemplateResponse(request, "admin/governance/framework/new_draft.html", context)

    @admin.display(description=gettext_lazy("community"), ordering="community__name")
    def community_or_baseline(self, obj):
        return obj.community.name if obj.community_id else _("Global baseline")

    @admin.display(description=gettext_lazy("published version"), ordering="published_label")
    def published(self, obj):
        return getattr(obj, "published_label", None) or "-"

    @admin.display(description=gettext_lazy("draft?"), boolean=True)
    def has_draft(self, obj):
        return getattr(obj, "draft_exists", False)

    def get_object(self, request, object_id, from_field=None):
        framework = super().get_object(request, object_id, from_field)
        # For versions_list, which the admin calls with the object only: the versions this user may see.
        framework.visible_versions = list(
            FrameworkVersion.objects.restrict(request.user, Action.VIEW).filter(framework=framework)
        )
        return framework

    @admin.display(description=gettext_lazy("versions"))
    def versions_list(self, obj):
        versions = getattr(obj, "visible_versions", [])
        if not versions:
            return _("No versions yet.")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> · {}</li>',
                ((version_url(v), v.version, v.get_status_display()) for v in versions),
            ),
        )


# Framework versions ----------------------------------------------------------------------------------------------


def _shown(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list | dict | bool):
        return json.dumps(value, ensure_ascii=False, indent=1 if isinstance(value, list | dict) and value else None)
    return str(value)


DIFF_LABELS = {
    "check": Requirement._meta.get_field("check_rule").verbose_name,
    **{f.name: f.verbose_name for f in Requirement._meta.get_fields() if hasattr(f, "verbose_name")},
}


def comparison_base(version: FrameworkVersion):
    """What a version is compared with: the published version, or for the published one what it replaced."""
    published = version.framework.published_version()
    if published is not None and published.pk != version.pk:
        return published
    return version.based_on


def diff_for_display(version: FrameworkVersion, against) -> dict:
    if against is None:
        requirements = version.requirements.select_related("parent")
        return {
            "added": [{"code": r.code, "title": r.title} for r in requirements],
            "removed": [],
            "changed": [],
            "overrides": [
                {
                    "framework": o.target_framework.urn,
                    "code": o.target_code,
                    "parameter": o.parameter,
                    "before": "",
                    "after": _shown(o.value),
                }
                for o in version.overrides.select_related("target_framework")
            ],
        }
    diff = version_diff(version, against)
    return {
        "added": diff["added"],
        "removed": diff["removed"],
        "changed": [
            {
                "code": code,
                "fields": [
                    {"label": DIFF_LABELS.get(name, name), "old": _shown(old), "new": _shown(new)}
                    for name, (old, new) in fields.items()
                ],
            }
            for code, fields in diff["changed"].items()
        ],
        "overrides": [
            {**row, "before": _shown(row["before"]), "after": _shown(row["after"])} for row in diff["overrides"]
        ],
    }


def impact_for_display(request, version: FrameworkVersion) -> dict:
    """The impact preview, with the registrations the user may open as links and the rest counted."""
    preview = impact_preview(version)
    ids = {rid for row in preview["requirements"] for rid in row["registrations"]}
    visible = {
        r.pk: r
        for r in Registration.objects.restrict(request.user, Action.VIEW)
        .filter(pk__in=ids)
        .select_related("system", "community")
    }
    rows = []
    for row in preview["requirements"]:
        shown = [visible[rid] for rid in row["registrations"] if rid in visible]
        rows.append(
            {
                **row,
                "links": [
                    (policy_url("registry_registration_change", r.pk), str(r), r.get_status_display()) for r in shown
                ],
                "hidden": len(row["registrations"]) - len(shown),
                "more": row["newly_failing"] - len(row["registrations"]),
                "params": json.dumps(row["params"]) if row["params"] else "",
            }
        )
    return {**preview, "requirements": rows}


class PublishForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment for the audit trail"),
        required=False,
        max_length=2000,
        widget=forms.Textarea({"rows": 3, "cols": 80}),
    )


class FrameworkVersionAdmin(PolicyModelAdmin):
    list_display = ["__str__", "framework", "version", "status", "published_at"]
    list_filter = ["status"]
    list_select_related = ["framework"]
    search_fields = ["version", "framework__name", "framework__urn"]
    inlines = [RequirementInline, ParameterOverrideInline]
    fields = [
        "framework_link",
        "version",
        "status",
        "notes",
        "based_on",
        "created_by",
        "created_at",
        "published_by",
        "published_at",
        "content_hash",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            FrameworkVersion.objects.restrict(request.user, Action.VIEW)
            .filter(framework__in=visible_frameworks(request).values("pk"))
            .select_related("framework__community")
        )

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and obj.framework.is_baseline:  # baselines declare parameters; they override none
            inlines = [inline for inline in inlines if not isinstance(inline, ParameterOverrideInline)]
        return inlines

    def has_add_permission(self, request):
        return False  # drafts are created from their framework's page ("New draft")

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return bool(authorable_ids(request))
        return obj.is_editable and obj.framework_id in authorable_ids(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)  # drafts only, through version_delete_draft

    def save_model(self, request, obj, form, change):
        """The version's own fields are read-only; its inlines saved through their services."""

    def save_formset(self, request, form, formset, change):
        if not isinstance(formset, ServiceInlineFormSet):
            super().save_formset(request, form, formset, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if not isinstance(response, HttpResponseRedirect):
                # The page is shown again with errors: undo whatever rows of it the services did accept.
                transaction.set_rollback(True)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        tools = []
        if version.is_editable:
            tools.append({"url": version_url(version, "diff"), "label": _("Compare with published")})
            tools.append({"url": version_url(version, "impact"), "label": _("Preview impact")})
            if self.has_change_permission(request, version):
                tools.append({"url": version_url(version, "publish"), "label": _("Publish…")})
        elif comparison_base(version) is not None:
            tools.append({"url": version_url(version, "diff"), "label": _("Compare with previous")})
        return super().change_view(request, object_id, form_url, {"policy_tools": tools, **(extra_context or {})})

    def delete_model(self, request, obj):
        services.version_delete_draft(version=obj, actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SERVICE_ERRORS as error:  # the admin's transaction has rolled back
            for message in error_messages(error):
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(policy_url("governance_frameworkversion_change", object_id))

    def get_urls(self):
        views = [("diff", self.diff_view), ("impact", self.impact_view), ("publish", self.publish_view)]
        return [
            *(
                path(
                    f"<path:object_id>/{name}/",
                    self.admin_site.admin_view(view),
                    name=f"governance_frameworkversion_{name}",
                )
                for name, view in views
            ),
            *super().get_urls(),
        ]

    def diff_view(self, request, object_id):
        version = self.get_object(request, object_id)
        against = comparison_base(version)
        context = {
            **self.page_context(request, version, _("Changes in %(version)s") % {"version": version}),
            "against": against,
            "diff": diff_for_display(version, against),
            "nothing_published": NOTHING_PUBLISHED,
        }
        return TemplateResponse(request, "admin/governance/frameworkversion/diff.html", context)

    def impact_view(self, request, object_id):
        version = self.get_object(request, object_id)
        context = {
            **self.page_context(request, version, _("Impact of publishing %(version)s") % {"version": version}),
            "impact": impact_for_display(request, version),
        }
        return TemplateResponse(request, "admin/governance/frameworkversion/impact.html", context)

    def publish_view(self, request, object_id):
        version = self.get_object(request, object_id)
        if not version.is_editable:
            self.message_user(request, services.frameworks.PUBLISHED_IS_IMMUTABLE, messages.ERROR)
            return HttpResponseRedirect(version_url(version))
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.version_publish(version=version, actor=request.user, comment=form.cleaned_data["comment"])
            except SERVICE_ERRORS as error:
                for message in error_messages(error):
                    self.message_user(request, message, messages.ERROR)
            else:
                self.message_user(request, PUBLISHED % {"version": version.version}, messages.SUCCESS)
                return HttpResponseRedirect(version_url(version))
        against = comparison_base(version)
        context = {
            **self.page_context(request, version, _("Publish %(version)s?") % {"version": version}),
            "form": form,
            "against": against,
            "diff": diff_for_display(version, against),
            "impact": impact_for_display(request, version),
        }
        return TemplateResponse(request, "admin/governance/frameworkversion/publish.html", context)

    @admin.display(description=gettext_lazy("framework"))
    def framework_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', policy_url("governance_framework_change", obj.framework_id), obj.framework
        )


# Registrations, read-only: where an impact preview's links lead ----------------------------------------------------


class PolicyRegistrationAdmin(ReadOnlyAdminMixin, PolicyModelAdmin):
    list_display = ["__str__", "status", "risk_tier", "community", "organization"]
    list_filter = ["status", "risk_tier"]
    list_select_related = ["system", "community", "organization"]
    search_fields = ["system__name", "community__name", "organization__name"]
    fields = ["system", "organization", "community", "status", "risk_tier", "deployment_context", "deployment_date"]
    readonly_fields = fields

    def get_queryset(self, request):
        return Registration.objects.restrict(request.user, Action.VIEW)


policy_site.register(Framework, FrameworkAdmin)
policy_site.register(FrameworkVersion, FrameworkVersionAdmin)
policy_site.register(Registration, PolicyRegistrationAdmin)


# The normal admin site: the same data, read-only, for superusers ---------------------------------------------------


class SuperuserReadOnlyAdmin(ReadOnlyAdminMixin, HttpsLinksMixin, admin.ModelAdmin):
    """Frameworks are written in the policy console (/policy/), where the services and previews are."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class ReadOnlyRequirementInline(ReadOnlyAdminMixin, HttpsLinksMixin, admin.TabularInline):
    model = Requirement
    fk_name = "version"
    fields = ["code", "title", "kind", "severity", "applies_when", "check_rule", "effective_from", "effective_until"]
    readonly_fields = fields
    extra = 0


@admin.register(Framework)
class FrameworkReadOnlyAdmin(SuperuserReadOnlyAdmin):
    list_display = ["name", "community", "binding", "builtin", "updated_at"]
    list_filter = ["binding", "builtin"]
    list_select_related = ["community"]
    search_fields = ["name", "short_name", "urn"]


@admin.register(FrameworkVersion)
class FrameworkVersionReadOnlyAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "status", "published_at", "content_hash"]
    list_filter = ["status"]
    list_select_related = ["framework"]
    inlines = [ReadOnlyRequirementInline]


@admin.register(BaselineAdoption)
class BaselineAdoptionReadOnlyAdmin(SuperuserReadOnlyAdmin):
    list_display = ["community", "framework", "adopted_by", "created_at"]
    list_select_related = ["community", "framework", "adopted_by"]


@admin.register(Evidence)
class EvidenceReadOnlyAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "framework", "status", "submitted_at", "expires_on"]
    list_filter = ["status"]
    list_select_related = ["framework"]


@admin.register(Waiver)
class WaiverReadOnlyAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "framework", "approved_by", "expires_on", "revoked_at"]
    list_select_related = ["framework", "approved_by"]
