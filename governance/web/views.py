"""Assessments in the browser: filers answer an instrument page by page; regulators accept or return it.

Every lookup starts from the restricting querysets, so an assessment or registration the user may not see
answers 404; one they may see but not act on answers 403. Every write goes through the same services as
the API (governance/services/assessments.py), so the browser validates and scores exactly as the API does.
Visibility (`visibleIf`) is decided on the server from the saved answers each time a page is saved; the
optional script only shows and hides questions sooner.
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from governance import services
from governance.instruments import INSTRUMENTS, canada_aia, eu_ai_act, risk_register
from governance.models import AssessmentStatus, RiskAssessment
from governance.services.assessments import EDITABLE
from governance.web.forms import (
    BOOLEAN_CHOICES,
    DecisionForm,
    ImportAiaForm,
    NewAssessmentForm,
    PageForm,
    RiskForm,
    RiskFormSet,
    SurveyPage,
    language,
    localized,
    survey_pages,
)
from registry.choices import RiskTier
from registry.errors import InvalidTransition
from registry.models import Registration
from registry.permissions import Action, user_scope

MORE_QUESTIONS = gettext_lazy("Your answers opened more questions on this page; please answer them too.")
DRAFT_SAVED = gettext_lazy("Your answers are saved as a draft.")
NO_REGISTRATION = gettext_lazy("Name the registration to assess: ?registration=<id>.")
IMPORTED = gettext_lazy("Save file imported as a draft assessment.")
IMPORTED_WITH_WARNINGS = gettext_lazy(
    "Save file imported as a draft assessment; %(count)d answer(s) were ignored, as listed under Warnings."
)
PAGE_SIZE = 50
LEVELS = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _pk(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def _restrict(model, user, action: Action):
    """`model.objects.restrict()` with the user's memberships read once per request, not once per check."""
    scope = getattr(user, "_assessment_scope", None)
    if scope is None and user.is_authenticated and not user.is_superuser:
        scope = user._assessment_scope = user_scope(user)
    return model.objects.restrict(user, action, scope=scope)


def _registration(user, pk) -> Registration:
    registration = (
        _restrict(Registration, user, Action.VIEW)
        .select_related("system", "community", "organization")
        .filter(pk=_pk(pk))
        .first()
    )
    if registration is None:
        raise Http404
    return registration


def _assessment(user, pk) -> RiskAssessment:
    assessment = (
        _restrict(RiskAssessment, user, Action.VIEW)
        .select_related("registration__system", "registration__community", "assessor", "reviewer")
        .filter(pk=_pk(pk))
        .first()
    )
    if assessment is None:
        raise Http404
    return assessment


def _may(model, user, pk, action: Action) -> bool:
    return _restrict(model, user, action).filter(pk=pk).exists()


def _filed(user, pk) -> RiskAssessment:
    """An assessment the user may edit: 404 when hidden, 403 when only visible (a regulator, a viewer)."""
    assessment = _assessment(user, pk)
    if not _may(RiskAssessment, user, assessment.pk, Action.FILE):
        raise PermissionDenied
    return assessment


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [str(message) for messages_ in error.message_dict.values() for message in messages_]
    return [str(message) for message in error.messages]


# Presentation -------------------------------------------------------------------------------------------


def _display(question, value) -> str:
    if value in (None, "", []):
        return ""
    texts = {choice.value: localized(choice.text) for choice in question.choices}
    if isinstance(value, bool):
        return str(dict(BOOLEAN_CHOICES)["true" if value else "false"])
    if isinstance(value, list):
        return "; ".join(texts.get(item, item) for item in value)
    return texts.get(value, value)


def answer_sections(pages: list[SurveyPage], answers: dict) -> list[dict]:
    """The visible pages with their visible questions and answers, in the active language."""
    sections = []
    for page in pages:
        rows = [
            {"name": q.name, "title": localized(q.title), "answer": _display(q, answers.get(q.name))}
            for q in page.questions
            if q.is_visible(answers)
        ]
        if rows:
            sections.append({"name": page.name, "title": localized(page.title), "rows": rows})
    return sections


_LINK = re.compile(r"&lt;a href=&quot;(https://[^&\s]+)&quot;&gt;(.*?)&lt;/a&gt;")


def rich_text(text: str) -> str:
    """The Directive's obligation texts carry a few plain links: keep those, escape everything else."""
    escaped = re.sub(r"\n{3,}", "\n\n", str(escape(text)).replace("\r", ""))
    return mark_safe(_LINK.sub(r'<a href="\1" rel="noopener">\2</a>', escaped))


def result_context(assessment: RiskAssessment, *, obligations: bool = True) -> dict:
    """What the result block shows: scores and level with the Directive's obligations, or tier and reasons.

    Lists show only the headline, so they leave the obligations' long texts out (`obligations=False`)."""
    result = assessment.result or {}
    lang = language()
    if assessment.instrument == canada_aia.SLUG:
        level = result.get("impact_level")
        items = canada_aia.obligations(level) if obligations else []
        texts = [
            {"title": localized(item["title"], lang), "text": rich_text(localized(item["text"], lang))}
            for item in items
        ]
        return {"kind": "aia", "result": result, "level": LEVELS.get(level, ""), "obligations": texts}
    if assessment.instrument == eu_ai_act.SLUG:
        tier = result.get("tier", "")
        label = RiskTier(tier).label if tier in RiskTier.values else tier
        return {
            "kind": "eu",
            "result": result,
            "tier": tier,
            "tier_label": label,
            "reasons": result.get("reasons", []),
            "obligations": result.get("obligations", []),
        }
    titles = {
        risk.get("id"): risk.get("title", "")
        for risk in (assessment.answers or {}).get("risks", [])
        if isinstance(risk, dict)
    }
    rows = [row | {"title": titles.get(row.get("id"), "")} for row in result.get("risks", [])]
    return {"kind": "register", "result": result, "risks": rows}


def _instrument_name(assessment: RiskAssessment) -> str:
    instrument = INSTRUMENTS.get(assessment.instrument)
    return localized(instrument.name) if instrument else assessment.instrument


def _visible_pages(pages: list[SurveyPage], answers: dict) -> list[SurveyPage]:
    return [page for page in pages if page.is_visible(answers)]


def _page_url(assessment, page: SurveyPage | None) -> str:
    if page is None:
        return reverse("assessments:review", args=[assessment.pk])
    return reverse("assessments:page", args=[assessment.pk, page.name])


def _first_page_url(assessment) -> str:
    pages = survey_pages(assessment.instrument, assessment.version)
    if pages is None:
        return reverse("assessments:risks", args=[assessment.pk])
    visible = _visible_pages(pages, assessment.answers)
    return _page_url(assessment, visible[0] if visible else None)


def _base_context(request, assessment: RiskAssessment) -> dict:
    return {
        "assessment": assessment,
        "registration": assessment.registration,
        "instrument_name": _instrument_name(assessment),
        "editable": assessment.status in EDITABLE,
    }


# Views --------------------------------------------------------------------------------------------------


@login_required
def assessment_list(request):
    """A registration's assessments (or every assessment the user may see), with a start button for filers."""
    assessments = _restrict(RiskAssessment, request.user, Action.VIEW).select_related(
        "registration__system", "registration__community"
    )
    registration = None
    if request.GET.get("registration"):
        registration = _registration(request.user, request.GET["registration"])
        assessments = assessments.filter(registration=registration)
    status = request.GET.get("status", "")
    if status:
        if status not in AssessmentStatus.values:
            return HttpResponseBadRequest(_("Unknown status."))
        assessments = assessments.filter(status=status)
    page = Paginator(assessments.order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"assessment": a, "name": _instrument_name(a), "summary": result_context(a, obligations=False)}
        for a in page.object_list
    ]
    can_file = registration is not None and _may(Registration, request.user, registration.pk, Action.FILE)
    return render(
        request,
        "assessments/list.html",
        {
            "registration": registration,
            "page": page,
            "rows": rows,
            "can_file": can_file,
            "status": status,
            "statuses": AssessmentStatus.choices,
        },
    )


def _filing_registration(request) -> Registration:
    """The registration named in the query (or form): 400 when missing, 404 when hidden, 403 when only seen."""
    raw = request.GET.get("registration") or request.POST.get("registration")
    if not raw:
        raise BadRequest(NO_REGISTRATION)
    registration = _registration(request.user, raw)
    if not _may(Registration, request.user, registration.pk, Action.FILE):
        raise PermissionDenied
    return registration


@login_required
def assessment_import(request):
    """Upload a save file of Canada's official AIA tool; it is read as the tool reads it, and scored here."""
    registration = _filing_registration(request)
    form = ImportAiaForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.assessment_import_aia(
                actor=request.user, registration=registration, file=form.cleaned_data["file"]
            )
        except ValidationError as error:
            for message in _messages(error):
                form.add_error("file", message)
        else:
            if assessment.warnings:
                messages.warning(request, IMPORTED_WITH_WARNINGS % {"count": len(assessment.warnings)})
            else:
                messages.success(request, IMPORTED)
            return redirect("assessments:detail", pk=assessment.pk)
    return render(
        request,
        "assessments/import.html",
        {"registration": registration, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def assessment_new(request):
    """Choose an instrument and version for a registration; creates an empty draft and opens its first page."""
    registration = _filing_registration(request)
    initial = {"instrument": request.GET.get("instrument", canada_aia.SLUG)}
    form = NewAssessmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.assessment_create(
                actor=request.user,
                registration=registration,
                instrument=form.cleaned_data["instrument"],
                version=form.cleaned_data["version"] or None,
                answers={},
            )
        except ValidationError as error:
            for message in _messages(error):
                form.add_error(None, message)
        else:
            messages.success(request, _("Assessment started. Your answers are saved as you go from page to page."))
            return redirect(_first_page_url(assessment))
    return render(
        request,
        "assessments/new.html",
        {"registration": registration, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def assessment_page(request, pk, page):
    """One page of the questionnaire: saved as a draft through the service, then the next visible page."""
    assessment = _filed(request.user, pk)
    if assessment.status not in EDITABLE:
        messages.info(
            request,
            _("This assessment is %(status)s and can no longer be changed.")
            % {"status": assessment.get_status_display().lower()},
        )
        return redirect("assessments:detail", pk=assessment.pk)
    pages = survey_pages(assessment.instrument, assessment.version)
    current = next((p for p in pages or [] if p.name == page), None)
    if current is None:
        raise Http404
    answers = assessment.answers
    if not current.is_visible(answers):
        # Hidden by the answers given so far: go on to the next page that is shown.
        later = [p for p in pages[pages.index(current) + 1 :] if p.is_visible(answers)]
        return redirect(_page_url(assessment, later[0] if later else None))

    form = PageForm(request.POST or None, page=current, answers=answers)
    if request.method == "POST" and form.is_valid():
        names = {q.name for q in current.questions}
        merged = {name: value for name, value in answers.items() if name not in names} | form.answers()
        try:
            assessment = services.assessment_update(assessment=assessment, actor=request.user, answers=merged)
        except ValidationError as error:
            form.add_service_errors(_messages(error))
        except InvalidTransition as error:
            messages.error(request, str(error.message))
            return redirect("assessments:detail", pk=assessment.pk)
        else:
            return _after_save(request, assessment, pages, current, form)

    visible = _visible_pages(pages, answers)
    position = visible.index(current)
    context = _base_context(request, assessment) | {
        "form": form,
        "page": current,
        "page_title": localized(current.title),
        "pages": [{"name": p.name, "title": localized(p.title), "url": _page_url(assessment, p)} for p in visible],
        "position": position + 1,
        "count": len(visible),
        "has_previous": position > 0,
        "conditions": {q.name: [c.source for c in q.conditions] for q in current.questions if q.conditions},
        "answers": answers,
    }
    return render(request, "assessments/page.html", context, status=400 if form.errors else 200)


def _after_save(request, assessment, pages, current, form):
    answers = assessment.answers
    # Questions this save revealed and nobody has answered yet (the script may have shown and filled some).
    revealed = [
        q for q in current.questions if q.is_visible(answers) and q.name not in form.visible and q.name not in answers
    ]
    if revealed and current.is_visible(answers):
        messages.info(request, MORE_QUESTIONS)
        return redirect(_page_url(assessment, current))
    action = request.POST.get("action", "next")
    if action == "save" and current.is_visible(answers):
        messages.success(request, DRAFT_SAVED)
        return redirect(_page_url(assessment, current))
    index = pages.index(current)
    if action == "previous":
        earlier = [p for p in pages[:index] if p.is_visible(answers)]
        if earlier:
            return redirect(_page_url(assessment, earlier[-1]))
    later = [p for p in pages[index + 1 :] if p.is_visible(answers)]
    return redirect(_page_url(assessment, later[0] if later else None))


@login_required
def assessment_risks(request, pk):
    """The risk register as one table of rows (blank rows to add more); saved through the same service."""
    assessment = _filed(request.user, pk)
    if assessment.instrument != risk_register.SLUG:
        raise Http404
    if assessment.status not in EDITABLE:
        return redirect("assessments:detail", pk=assessment.pk)
    previous = assessment.answers or {}
    matrix = previous.get("matrix") if isinstance(previous.get("matrix"), dict) else None
    matrix = {**risk_register.DEFAULT_MATRIX, **(matrix or {})}
    initial = [RiskForm.initial_for(risk) for risk in previous.get("risks", []) if isinstance(risk, dict)]
    formset = RiskFormSet(request.POST or None, initial=initial, matrix=matrix, prefix="risks")
    if request.method == "POST" and formset.is_valid():
        try:
            answers = formset.answers(previous)
            assessment = services.assessment_update(assessment=assessment, actor=request.user, answers=answers)
        except ValidationError as error:
            formset.add_service_errors(_messages(error))
        except InvalidTransition as error:
            messages.error(request, str(error.message))
            return redirect("assessments:detail", pk=assessment.pk)
        else:
            if request.POST.get("action") == "next":
                return redirect("assessments:review", pk=assessment.pk)
            messages.success(request, DRAFT_SAVED)
            return redirect("assessments:risks", pk=assessment.pk)
    has_errors = bool(formset.non_form_errors()) or any(form.errors for form in formset.forms)
    context = _base_context(request, assessment) | {"formset": formset, "matrix": matrix}
    return render(request, "assessments/risks.html", context, status=400 if has_errors else 200)


def _incomplete(assessment, pages: list[SurveyPage], problems) -> list[dict]:
    """Each missing answer with the title of its question and a link to its page."""
    where = {q.name: (q, page) for page in pages for q in page.questions}
    items = []
    for problem in map(str, problems):
        name = problem.split(":", 1)[0]
        question, page = where.get(name, (None, None))
        items.append(
            {
                "message": problem,
                "title": localized(question.title) if question else "",
                "url": _page_url(assessment, page) if page else "",
            }
        )
    return items


def _review_context(request, assessment, errors=()):
    pages = survey_pages(assessment.instrument, assessment.version) or []
    instrument = INSTRUMENTS[assessment.instrument]
    evaluation = instrument.evaluate(assessment.version, assessment.answers)
    return _base_context(request, assessment) | {
        "sections": answer_sections(pages, assessment.answers),
        "edit_url": _first_page_url(assessment),
        "incomplete": _incomplete(assessment, pages, evaluation.incomplete),
        "errors": list(errors),
        "summary": result_context(assessment),
        "warnings": assessment.warnings,
    }


@login_required
def assessment_review(request, pk):
    """Everything answered, the provisional result, what is still missing, and the Submit button."""
    assessment = _filed(request.user, pk)
    if assessment.status not in EDITABLE:
        return redirect("assessments:detail", pk=assessment.pk)
    return render(request, "assessments/review.html", _review_context(request, assessment))


@login_required
@require_POST
def assessment_submit(request, pk):
    assessment = _filed(request.user, pk)
    try:
        assessment = services.assessment_submit(assessment=assessment, actor=request.user)
    except ValidationError as error:
        context = _review_context(request, assessment, errors=_messages(error))
        return render(request, "assessments/review.html", context, status=400)
    except InvalidTransition as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Assessment submitted for review."))
    return redirect("assessments:detail", pk=assessment.pk)


def _detail_context(request, assessment, decision_form=None, decision_error=""):
    pages = survey_pages(assessment.instrument, assessment.version)
    can_edit = assessment.status in EDITABLE and _may(RiskAssessment, request.user, assessment.pk, Action.FILE)
    can_review = assessment.status == AssessmentStatus.SUBMITTED and _may(
        RiskAssessment, request.user, assessment.pk, Action.REVIEW
    )
    return _base_context(request, assessment) | {
        "summary": result_context(assessment),
        "sections": answer_sections(pages, assessment.answers) if pages is not None else [],
        "warnings": assessment.warnings,
        "can_edit": can_edit,
        "can_review": can_review,
        "edit_url": _first_page_url(assessment) if can_edit else "",
        "decision_form": decision_form or DecisionForm(),
        "decision_error": decision_error,
    }


@login_required
def assessment_detail(request, pk):
    """The result: scores and impact level with its obligations, or the tier with its reasons and articles."""
    assessment = _assessment(request.user, pk)
    return render(request, "assessments/detail.html", _detail_context(request, assessment))


def _decide(request, pk, service, done_message):
    """Accept or return through the service; htmx gets the review panel back, other browsers a redirect."""
    assessment = _assessment(request.user, pk)
    form = DecisionForm(request.POST)
    error, status = "", 200
    if form.is_valid():
        try:
            assessment = service(assessment=assessment, actor=request.user, comment=form.cleaned_data["comment"])
        except ValidationError as exc:
            for message in _messages(exc):
                form.add_error("comment", message)
            status = 400
        except PermissionDenied as exc:
            error, status = str(exc) or _("You may not review this assessment."), 403
        except InvalidTransition as exc:
            error, status = str(exc.message), 409
    else:
        status = 400
    if status == 200 and not request.htmx:
        messages.success(request, done_message)
        return redirect("assessments:detail", pk=assessment.pk)
    if status == 200:
        assessment = _assessment(request.user, pk)
    context = _detail_context(request, assessment, decision_form=form if status != 200 else None, decision_error=error)
    if request.htmx:
        context["decided"] = status == 200
        # htmx swaps only successful responses, so the panel with its error comes back as 200.
        return render(request, "assessments/_review_panel.html", context)
    return render(request, "assessments/detail.html", context, status=status)


@login_required
@require_POST
def assessment_accept(request, pk):
    return _decide(request, pk, services.assessment_accept, _("Assessment accepted."))


@login_required
@require_POST
def assessment_return(request, pk):
    return _decide(request, pk, services.assessment_return, _("Assessment returned for changes."))
