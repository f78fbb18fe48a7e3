"""The review queue and the regulator's decisions: registrations, assessments, evidence and waivers.

Each decision is a POST that htmx sends from a table row and answers with that row alone (the page keeps
its place); without JavaScript the same POST redirects back with a message. Objects are looked up with
`restrict(user, review)`, so someone who may not review gets 404, and the services decide the rest (state,
comment, own filing): what they refuse is shown as an error in the row, never as a server error.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from governance import services as governance_services
from governance.models import AssessmentStatus, Evidence, RiskAssessment, Waiver
from governance.selectors import effective_requirements
from registry import services
from registry.choices import CommunityRole, RegistrationStatus
from registry.models import Community, Registration
from registry.permissions import Action, user_scope
from registry.web.detail import assessment_rows
from registry.web.web_forms import (
    AssessmentDecisionForm,
    EvidenceDecisionForm,
    RegistrationDecisionForm,
    RetireForm,
    WaiverForm,
    call_service,
)

QUEUE_LIMIT = 50
DONE = {
    "approve": gettext_lazy("Approved."),
    "reject": gettext_lazy("Rejected."),
    "request_changes": gettext_lazy("Changes requested."),
    "accept": gettext_lazy("Accepted."),
    "return": gettext_lazy("Returned for changes."),
}


def _back(request, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = default
    return HttpResponseRedirect(target)


def _form_errors(form) -> str:
    return " ".join(str(message) for messages_ in form.errors.values() for message in messages_)


def _respond(request, form, *, partial: str, context: dict, done: str, default_url: str):
    """The row for htmx; otherwise a message and a redirect back to where the form was.

    On the registration page a decision changes more than its row (status badges, history), so htmx is told
    to reload the page once the decision is taken; a refused one still answers with the row and its error.
    """
    layout = request.POST.get("layout", "queue")
    if request.htmx and layout == "detail" and not form.errors:
        messages.success(request, done)
        return HttpResponseClientRefresh()
    if request.htmx:
        context = {**context, "layout": layout, "can_review": True}
        context["done"] = "" if form.errors else done
        return render(request, partial, context)
    if form.errors:
        messages.error(request, _form_errors(form))
    else:
        messages.success(request, done)
    return _back(request, default_url)


def _review_queue_url() -> str:
    return reverse("web:review-queue")


@login_required
@require_GET
def review_queue(request):
    user = request.user
    scope = user_scope(user)
    communities, selected, subtree = _queue_communities(request, scope)
    registrations = (
        Registration.objects.restrict(user, Action.REVIEW, scope=scope)
        .filter(status=RegistrationStatus.SUBMITTED)
        .select_related("system", "organization", "community")
        .order_by("submitted_at", "id")
    )
    assessments = (
        RiskAssessment.objects.restrict(user, Action.REVIEW, scope=scope)
        .filter(status=AssessmentStatus.SUBMITTED)
        .select_related("registration__system", "registration__community", "assessor")
        .order_by("submitted_at", "id")
    )
    evidence = (
        Evidence.objects.restrict(user, Action.REVIEW, scope=scope)
        .filter(status="submitted")
        .select_related("registration__system", "registration__community", "framework", "submitted_by")
        .order_by("submitted_at", "id")
    )
    if selected is not None:
        registrations = registrations.filter(community_id__in=subtree)
        assessments = assessments.filter(registration__community_id__in=subtree)
        evidence = evidence.filter(registration__community_id__in=subtree)
    context = {
        "registrations": list(registrations[:QUEUE_LIMIT]),
        "registration_count": registrations.count(),
        "assessments": assessment_rows(assessments[:QUEUE_LIMIT]),
        "assessment_count": assessments.count(),
        "evidence_list": list(evidence[:QUEUE_LIMIT]),
        "evidence_count": evidence.count(),
        "limit": QUEUE_LIMIT,
        "is_reviewer": user.is_superuser or bool(scope.communities(CommunityRole.REGULATOR)),
        "decision_form": RegistrationDecisionForm(),
        "evidence_form": EvidenceDecisionForm(),
        "assessment_form": AssessmentDecisionForm(),
        "can_review": True,
        "layout": "queue",
        "communities": communities,
        "selected": selected,
    }
    return render(request, "dashboard/review/queue.html", context)


def _queue_communities(request, scope):
    """The communities this regulator reviews, in tree order, and the one `?community=<slug>` narrows to
    (with its subtree's ids). A community the user does not regulate answers 404."""
    regulated = Community.objects.order_by("path")
    if not request.user.is_superuser:
        regulated = regulated.filter(pk__in=scope.communities(CommunityRole.REGULATOR))
    communities = list(regulated.only("pk", "slug", "name", "path"))
    top = min((community.depth for community in communities), default=0)
    for community in communities:
        community.indent = "— " * (community.depth - top)
    slug = request.GET.get("community")
    if not slug:
        return communities, None, []
    selected = next((community for community in communities if community.slug == slug), None)
    if selected is None:
        raise Http404(_("No such community in your review scope."))
    subtree = [community.pk for community in communities if community.path.startswith(selected.path)]
    return communities, selected, subtree


@login_required
@require_POST
def registration_decide(request, pk: int):
    registration = get_object_or_404(Registration.objects.restrict(request.user, Action.REVIEW), pk=pk)
    form = RegistrationDecisionForm(request.POST)
    decided = None
    if form.is_valid():
        decided = call_service(
            form,
            lambda: services.registration_transition(
                registration=registration,
                actor=request.user,
                action=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            ),
        )
    registration = Registration.objects.select_related("system", "organization", "community", "reviewer").get(pk=pk)
    return _respond(
        request,
        form,
        partial="dashboard/review/_registration_row.html",
        context={"registration": registration, "decision_form": form},
        done=DONE.get(form.cleaned_data.get("decision"), "") if decided else "",
        default_url=_review_queue_url(),
    )


@login_required
@require_POST
def evidence_decide(request, pk: int):
    evidence = get_object_or_404(Evidence.objects.restrict(request.user, Action.REVIEW), pk=pk)
    form = EvidenceDecisionForm(request.POST)
    reviewed = None
    if form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        reviewed = call_service(
            form,
            lambda: governance_services.evidence_review(
                evidence=evidence,
                actor=request.user,
                accept=accept,
                comment=form.cleaned_data["comment"],
                expires_on=form.cleaned_data["expires_on"] if accept else None,
            ),
        )
    evidence = Evidence.objects.select_related(
        "registration__system", "registration__community", "framework", "submitted_by", "reviewer"
    ).get(pk=pk)
    return _respond(
        request,
        form,
        partial="dashboard/review/_evidence_row.html",
        context={"evidence": evidence, "evidence_form": form},
        done=DONE.get(form.cleaned_data.get("decision"), "") if reviewed else "",
        default_url=_review_queue_url(),
    )


@login_required
@require_POST
def assessment_decide(request, pk: int):
    assessment = get_object_or_404(RiskAssessment.objects.restrict(request.user, Action.REVIEW), pk=pk)
    form = AssessmentDecisionForm(request.POST)
    reviewed = None
    if form.is_valid():
        service = (
            governance_services.assessment_accept
            if form.cleaned_data["decision"] == "accept"
            else governance_services.assessment_return
        )
        reviewed = call_service(
            form, lambda: service(assessment=assessment, actor=request.user, comment=form.cleaned_data["comment"])
        )
    assessment = RiskAssessment.objects.select_related(
        "registration__system", "registration__community", "assessor", "reviewer"
    ).get(pk=pk)
    return _respond(
        request,
        form,
        partial="dashboard/review/_assessment_row.html",
        context={"row": assessment_rows([assessment])[0], "assessment_form": form},
        done=DONE.get(form.cleaned_data.get("decision"), "") if reviewed else "",
        default_url=_review_queue_url(),
    )


@login_required
@require_POST
def registration_retire(request, pk: int):
    """Take an approved registration off the register: its filers or its regulators may, with a comment."""
    registration = get_object_or_404(Registration.objects.restrict(request.user, Action.VIEW), pk=pk)
    form = RetireForm(request.POST)
    if form.is_valid():
        call_service(
            form,
            lambda: services.registration_transition(
                registration=registration, actor=request.user, action="retire", comment=form.cleaned_data["comment"]
            ),
        )
    if form.errors:
        messages.error(request, _form_errors(form))
    else:
        messages.success(request, _("Retired: the registration is no longer in force."))
    return HttpResponseRedirect(reverse("web:registration-detail", args=[registration.pk]))


def waiver_section_context(user, registration: Registration, scope, *, can_review: bool, form=None) -> dict:
    """The waivers of a registration and, for its regulators, the form to grant one."""
    waivers = (
        Waiver.objects.restrict(user, Action.VIEW, scope=scope)
        .filter(registration=registration)
        .select_related("framework", "approved_by", "revoked_by")
        .order_by("-id")[:QUEUE_LIMIT]
    )
    if can_review and form is None:
        form = WaiverForm(requirements=effective_requirements(registration.community))
    return {
        "waivers": list(waivers),
        "waiver_form": form if can_review else None,
        "registration": registration,
        "today": timezone.localdate(),
    }


@login_required
@require_POST
def waiver_grant(request, pk: int):
    scope = user_scope(request.user)
    registration = get_object_or_404(
        Registration.objects.restrict(request.user, Action.REVIEW, scope=scope).select_related("community"), pk=pk
    )
    form = WaiverForm(request.POST, requirements=effective_requirements(registration.community))
    granted = None
    if form.is_valid():
        granted = call_service(
            form,
            lambda: governance_services.waiver_grant(
                registration=registration, actor=request.user, **form.service_data()
            ),
        )
    detail_url = reverse("web:registration-detail", args=[registration.pk]) + "#waivers"
    done = _("Waiver granted.") if granted else ""
    if request.htmx:
        next_form = WaiverForm(requirements=form.requirements.values()) if granted else form
        context = waiver_section_context(request.user, registration, scope, can_review=True, form=next_form)
        return render(request, "dashboard/detail/_waivers.html", {**context, "done": done})
    if form.errors:
        messages.error(request, _form_errors(form))
    else:
        messages.success(request, done)
    return _back(request, detail_url)
