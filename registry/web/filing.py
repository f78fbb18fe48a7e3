"""Filing in the browser: organization members file and edit systems and registrations, and submit them.

The forms call the same services as the API (registry/services), so what the API refuses the browser
refuses too, with the same message on the field concerned. Lookups use `restrict(user, file)`: another
organization's system or registration answers 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from registry import services
from registry.errors import InvalidTransition
from registry.models import AISystem, Registration
from registry.permissions import Action, user_scope
from registry.services.registrations import EDITABLE_STATES
from registry.web.web_forms import RegistrationForm, SystemForm, call_service, filing_organizations

NOT_A_MEMBER = gettext_lazy("Only members of an organization can file AI systems.")
NO_SYSTEMS = gettext_lazy("File an AI system first; then register it in a community.")
SYSTEMS_PER_PAGE = 25


def _render_form(request, template, context, form):
    return render(request, template, {**context, "form": form}, status=400 if form.errors else 200)


@login_required
def system_list(request):
    """The systems the user files for, each with the registers it is filed in."""
    scope = user_scope(request.user)
    systems = (
        AISystem.objects.restrict(request.user, Action.FILE, scope=scope)
        .select_related("organization")
        .prefetch_related(
            Prefetch(
                "registrations", queryset=Registration.objects.select_related("community").order_by("community__name")
            )
        )
        .order_by("organization__name", "name", "id")
    )
    page = Paginator(systems, SYSTEMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/filing/system_list.html",
        {"page": page, "can_file": filing_organizations(request.user, scope).exists()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def system_create(request):
    organizations = filing_organizations(request.user)
    if not organizations.exists():
        raise PermissionDenied(NOT_A_MEMBER)
    form = SystemForm(request.POST or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        system = call_service(
            form,
            lambda: services.system_create(
                actor=request.user, organization=form.cleaned_data["organization"], **form.service_data()
            ),
        )
        if system is not None:
            messages.success(request, _("“%(name)s” is filed. Now register it in a community.") % {"name": system})
            return redirect(f"{reverse('web:registration-create')}?system={system.pk}")
    return _render_form(request, "dashboard/filing/system_form.html", {"system": None}, form)


@login_required
@require_http_methods(["GET", "POST"])
def system_edit(request, pk: int):
    system = get_object_or_404(
        AISystem.objects.restrict(request.user, Action.FILE).select_related("organization"), pk=pk
    )
    form = SystemForm(request.POST or None, initial=SystemForm.initial_for(system))
    if request.method == "POST" and form.is_valid():
        saved = call_service(
            form, lambda: services.system_update(system=system, actor=request.user, **form.service_data())
        )
        if saved is not None:
            messages.success(request, _("“%(name)s” is saved.") % {"name": saved})
            return redirect("web:system-list")
    return _render_form(request, "dashboard/filing/system_form.html", {"system": system}, form)


def _system_choice(request, systems):
    """The system named by ?system=<id>, which must be one the user files for (404 otherwise)."""
    value = request.GET.get("system")
    if not value:
        return None
    try:
        return systems.get(pk=int(value))
    except (ValueError, AISystem.DoesNotExist) as error:
        raise Http404(_("No such AI system.")) from error


@login_required
@require_http_methods(["GET", "POST"])
def registration_create(request):
    systems = AISystem.objects.restrict(request.user, Action.FILE).select_related("organization").order_by("name")
    if not systems.exists():
        if not filing_organizations(request.user).exists():
            raise PermissionDenied(NOT_A_MEMBER)
        messages.info(request, NO_SYSTEMS)
        return redirect("web:system-create")
    chosen = _system_choice(request, systems)
    form = RegistrationForm(request.POST or None, systems=systems, initial={"system": chosen} if chosen else None)
    if request.method == "POST" and form.is_valid():
        registration = call_service(
            form,
            lambda: services.registration_create(
                actor=request.user,
                system=form.cleaned_data["system"],
                community=form.cleaned_data["community"],
                **form.service_data(),
            ),
        )
        if registration is not None:
            messages.success(request, _("Registration created as a draft. Submit it when it is ready."))
            return redirect("web:registration-detail", pk=registration.pk)
    return _render_form(request, "dashboard/filing/registration_form.html", {"registration": None}, form)


@login_required
@require_http_methods(["GET", "POST"])
def registration_edit(request, pk: int):
    registration = get_object_or_404(
        Registration.objects.restrict(request.user, Action.FILE).select_related("system", "community"), pk=pk
    )
    if registration.status not in EDITABLE_STATES:
        messages.error(request, _("A registration can only be edited while it is a draft or changes were requested."))
        return redirect("web:registration-detail", pk=registration.pk)
    form = RegistrationForm(
        request.POST or None,
        disclosure=registration.disclosure,
        initial={
            "deployment_context": registration.deployment_context,
            "deployment_date": registration.deployment_date,
            "risk_tier": registration.risk_tier,
        },
    )
    if request.method == "POST" and form.is_valid():
        saved = call_service(
            form,
            lambda: services.registration_update(registration=registration, actor=request.user, **form.service_data()),
        )
        if saved is not None:
            messages.success(request, _("Registration saved."))
            return redirect("web:registration-detail", pk=registration.pk)
    return _render_form(request, "dashboard/filing/registration_form.html", {"registration": registration}, form)


@login_required
@require_POST
def registration_submit(request, pk: int):
    registration = get_object_or_404(Registration.objects.restrict(request.user, Action.FILE), pk=pk)
    try:
        services.registration_transition(registration=registration, actor=request.user, action="submit")
    except (InvalidTransition, PermissionDenied, ValidationError) as error:
        message = (
            error.message
            if isinstance(error, InvalidTransition)
            else " ".join(getattr(error, "messages", [])) or str(error)
        )
        messages.error(request, message)
    else:
        messages.success(request, _("Submitted for review."))
    return redirect("web:registration-detail", pk=registration.pk)
