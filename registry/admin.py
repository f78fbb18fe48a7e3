"""The Django admin for the registry: a console for staff that writes only through `registry.services`.

Communities, organizations and memberships are edited here, each save going through its service so paths,
permission checks and the audit trail are the same as through the API. AI systems and registrations are
read-only: their changes belong to the filing workflow (API and dashboard), where versions and reviews are
recorded. The audit trail is read-only too.

How service errors reach the page: Django admin saves a form as soon as `is_valid()` passes, inside one
transaction. `ServiceModelForm` calls the service as the last step of its validation, so a ValidationError,
PermissionDenied or InvalidTransition becomes a form error on the re-rendered page instead of a 500; the
change pages therefore have no editable inlines, whose separate validation could fail after the save.
Deletions call their service from `delete_model`; a refusal rolls the transaction back and is shown as an
error message.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registry import services
from registry.errors import InvalidTransition
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    Organization,
    OrganizationMembership,
    Registration,
    RegistrationVersion,
)
from registry.permissions import Action

SERVICE_ERRORS = (ValidationError, PermissionDenied, InvalidTransition)
PERMISSION_DENIED = _("You do not have permission to perform this action.")


def error_messages(error: Exception) -> list[str]:
    """Readable messages of a service error, whatever its kind."""
    if isinstance(error, ValidationError):
        return [str(message) for message in error.messages]
    if isinstance(error, InvalidTransition):
        return [str(error.message)]
    return [str(error) or str(PERMISSION_DENIED)]


class ServiceRefused(Exception):
    """A service refused a deletion; raised out of the admin's transaction so that it rolls back."""

    def __init__(self, error: Exception):
        super().__init__(error)
        self.messages = error_messages(error)


class ServiceModelForm(forms.ModelForm):
    """A model form whose validation ends by saving through a service, so service errors are form errors."""

    actor = None  # the requesting user, set per request by ServiceAdmin.get_form

    def save_through_service(self):
        """Call the service with the cleaned data; return the saved instance."""
        raise NotImplementedError

    def service_data(self, names) -> dict:
        return {name: self.cleaned_data[name] for name in names if name in self.fields and name in self.cleaned_data}

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self._errors or getattr(self, "saved_through_service", False):
            return
        if self.empty_permitted and not self.has_changed():
            return
        try:
            with transaction.atomic():
                self.instance = self.save_through_service()
        except SERVICE_ERRORS as error:
            self.add_service_error(error)
        else:
            self.saved_through_service = True

    def add_service_error(self, error: Exception) -> None:
        if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            for name, field_errors in error.error_dict.items():
                self.add_error(name if name in self.fields else None, ValidationError(field_errors))
        else:
            self.add_error(None, error_messages(error))

    def save(self, commit=True):
        # Already saved by the service during validation; there is nothing left to write.
        return self.instance

    def save_m2m(self):
        """These models have no many-to-many fields; the admin calls this after `save(commit=False)`."""


class ServiceAdmin(admin.ModelAdmin):
    """Base for admins whose forms save through services; objects shown are those the user may see."""

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, Action.VIEW)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        """The form saved `obj` through its service while it was validated."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete without the services
        return actions

    def delete_model(self, request, obj):
        try:
            self.delete_through_service(request, obj)
        except SERVICE_ERRORS as error:
            raise ServiceRefused(error) from error

    def delete_through_service(self, request, obj):
        raise PermissionDenied

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefused as refusal:  # the admin's transaction has rolled back
            for message in refusal.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])
            )


class ReadOnlyAdminMixin:
    """Shown, never written: the workflow (API, dashboard, services) is the only way to change these."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admin_link(obj, text=None):
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or obj)


# Communities --------------------------------------------------------------------------------------------------


class CommunityForm(ServiceModelForm):
    class Meta:
        model = Community
        fields = [
            "name",
            "slug",
            "kind",
            "parent",
            "jurisdiction_code",
            "description",
            "website",
            "public_register_enabled",
        ]

    def save_through_service(self):
        data = self.service_data(services.communities.COMMUNITY_FIELDS)
        if self.instance.pk:
            return services.community_update(community=self.instance, actor=self.actor, **data)
        return services.community_create(actor=self.actor, **data)


@admin.register(Community)
class CommunityAdmin(ServiceAdmin):
    form = CommunityForm
    list_display = ["name", "slug", "kind", "parent", "path", "jurisdiction_code", "public_register_enabled"]
    list_filter = ["kind", "public_register_enabled"]
    list_select_related = ["parent"]
    search_fields = ["name", "slug", "jurisdiction_code"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "members", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "parent", "path", "jurisdiction_code"]}),
        (_("Public information"), {"fields": ["description", "website", "public_register_enabled"]}),
        (_("Members"), {"fields": ["members"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # registrations and frameworks hang off a community; there is no deletion service

    @admin.display(description=_("members"))
    def members(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        memberships = obj.memberships.select_related("user").order_by("user__username", "role")
        add_url = reverse("admin:registry_communitymembership_add") + f"?community={obj.pk}"
        listing = format_html_join(
            "",
            "<li>{} · {}</li>",
            ((admin_link(m, m.user.get_username()), m.get_role_display()) for m in memberships),
        )
        return format_html('<ul>{}</ul><a href="{}">{}</a>', listing, add_url, _("Add a member"))


class CommunityMembershipForm(ServiceModelForm):
    class Meta:
        model = CommunityMembership
        fields = ["community", "user", "role"]

    def save_through_service(self):
        membership, _created = services.community_member_add(
            community=self.instance.community,
            actor=self.actor,
            user=self.instance.user,
            role=self.cleaned_data["role"],
        )
        return membership


@admin.register(CommunityMembership)
class CommunityMembershipAdmin(ServiceAdmin):
    """Add and remove roles; a role is never edited in place (remove it and add another)."""

    form = CommunityMembershipForm
    list_display = ["user", "role", "community", "created_at"]
    list_filter = ["role", "community__kind"]
    list_select_related = ["user", "community"]
    search_fields = ["user__username", "user__email", "community__name", "community__slug"]
    autocomplete_fields = ["community", "user"]
    actions = ["remove_memberships"]

    def has_change_permission(self, request, obj=None):
        return False

    def delete_through_service(self, request, obj):
        services.community_member_remove(community=obj.community, actor=request.user, user=obj.user, role=obj.role)

    @admin.action(description=_("Remove selected memberships"), permissions=["delete"])
    def remove_memberships(self, request, queryset):
        remove_in_one_transaction(self, request, queryset)


# Organizations ------------------------------------------------------------------------------------------------


class OrganizationForm(ServiceModelForm):
    class Meta:
        model = Organization
        fields = [
            "name",
            "slug",
            "country",
            "registration_number",
            "lei",
            "website",
            "contact_name",
            "contact_email",
            "description",
        ]

    def save_through_service(self):
        data = self.service_data(services.organizations.ORGANIZATION_FIELDS)
        if self.instance.pk:
            return services.organization_update(organization=self.instance, actor=self.actor, **data)
        return services.organization_create(actor=self.actor, **data)


@admin.register(Organization)
class OrganizationAdmin(ServiceAdmin):
    form = OrganizationForm
    list_display = ["name", "slug", "country", "registration_number", "contact_email"]
    list_filter = ["country"]
    search_fields = ["name", "slug", "registration_number", "lei", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["members", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "country", "registration_number", "lei", "website"]}),
        (_("Contact"), {"fields": ["contact_name", "contact_email", "description"]}),
        (_("Members"), {"fields": ["members"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # systems and registrations hang off an organization; there is no deletion service

    @admin.display(description=_("members"))
    def members(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        memberships = obj.memberships.select_related("user").order_by("user__username")
        add_url = reverse("admin:registry_organizationmembership_add") + f"?organization={obj.pk}"
        listing = format_html_join(
            "",
            "<li>{} · {}</li>",
            ((admin_link(m, m.user.get_username()), m.get_role_display()) for m in memberships),
        )
        return format_html('<ul>{}</ul><a href="{}">{}</a>', listing, add_url, _("Add a member"))


class OrganizationMembershipForm(ServiceModelForm):
    class Meta:
        model = OrganizationMembership
        fields = ["organization", "user", "role"]

    def save_through_service(self):
        # On a change page organization and user are read-only: the instance still carries them.
        membership, _created = services.organization_member_set(
            organization=self.instance.organization,
            actor=self.actor,
            user=self.instance.user,
            role=self.cleaned_data["role"],
        )
        return membership


@admin.register(OrganizationMembership)
class OrganizationMembershipAdmin(ServiceAdmin):
    """One role per user and organization; changing the role goes through `organization_member_set`."""

    form = OrganizationMembershipForm
    list_display = ["user", "role", "organization", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__username", "user__email", "organization__name", "organization__slug"]
    autocomplete_fields = ["organization", "user"]
    actions = ["remove_memberships"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "user", "created_at"] if obj else []

    def delete_through_service(self, request, obj):
        services.organization_member_remove(organization=obj.organization, actor=request.user, user=obj.user)

    @admin.action(description=_("Remove selected memberships"), permissions=["delete"])
    def remove_memberships(self, request, queryset):
        remove_in_one_transaction(self, request, queryset)


def remove_in_one_transaction(model_admin: ServiceAdmin, request, queryset) -> None:
    """Remove memberships through their service, all or none: one refusal (the last admin) undoes the rest."""
    count = 0
    try:
        with transaction.atomic():
            for membership in queryset:
                model_admin.delete_model(request, membership)
                count += 1
    except ServiceRefused as refusal:
        for message in refusal.messages:
            model_admin.message_user(request, message, messages.ERROR)
        return
    model_admin.message_user(
        request,
        ngettext("Removed %(count)d membership.", "Removed %(count)d memberships.", count) % {"count": count},
        messages.SUCCESS,
    )


# AI systems and registrations (read-only) ---------------------------------------------------------------------


class SystemRegistrationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Registration
    fields = ["registration", "community", "status", "risk_tier", "version", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("registrations of this system")

    @admin.display(description=_("registration"))
    def registration(self, obj):
        return admin_link(obj, f"#{obj.pk}")


@admin.register(AISystem)
class AISystemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "external_id", "operator_role", "decision_role", "lifecycle_stage"]
    list_filter = [
        "lifecycle_stage",
        "operator_role",
        "decision_role",
        "human_oversight",
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["organization"]
    search_fields = ["name", "external_id", "vendor", "model_name", "organization__name", "tags"]
    inlines = [SystemRegistrationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, Action.VIEW)


class RegistrationVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RegistrationVersion
    fields = ["number", "created_by", "created_at", "snapshot"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]


@admin.register(Registration)
class RegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "status", "risk_tier", "community", "organization", "version", "updated_at"]
    list_filter = [
        "status",
        "risk_tier",
        ("community", admin.RelatedOnlyFieldListFilter),
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["system", "community", "organization"]
    search_fields = ["system__name", "system__external_id", "community__name", "organization__name"]
    date_hierarchy = "created_at"
    inlines = [RegistrationVersionInline]
    readonly_fields = ["system_link", "history"]
    fieldsets = [
        (None, {"fields": ["system_link", "organization", "community", "status", "risk_tier", "version"]}),
        (_("Deployment"), {"fields": ["deployment_context", "deployment_date", "disclosure"]}),
        (_("Review"), {"fields": ["reviewer", "review_comment", "submitted_at", "decided_at", "retired_at"]}),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at", "history"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, Action.VIEW)

    @admin.display(description=_("AI system"))
    def system_link(self, obj):
        return admin_link(obj.system)

    @admin.display(description=_("audit trail"))
    def history(self, obj):
        url = reverse("admin:registry_auditevent_changelist") + f"?registration_id={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Changes to this registration"))


# Audit trail (read-only) --------------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The trail has no restricting queryset of its own (it outlives its targets), so superusers only."""

    list_display = ["created_at", "actor_username", "action", "target_type", "target_repr", "comment"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_repr", "actor_username", "comment"]
    date_hierarchy = "created_at"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
