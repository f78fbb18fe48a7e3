"""Browser forms for assessments, built from the instruments' own questionnaires (governance/instruments).

The form fields deliberately do not judge answers: the instrument's validator, called through the same
service the API uses, is the one judge, so a browser user and an API client get the same verdict and the
same messages naming the question. The fields only collect what was posted.
"""

import json
import re
from dataclasses import dataclass

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from governance.instruments import INSTRUMENTS, canada_aia, eu_ai_act, risk_register
from governance.instruments.surveyjs import CHOICE_TYPES, TEXT_MAX_LENGTH, Question

BOOLEAN_CHOICES = (("true", _("Yes")), ("false", _("No")))
COMMENT_MAX_LENGTH = 2500


def language() -> str:
    return (get_language() or "en").split("-")[0]


def localized(text, lang: str | None = None) -> str:
    """One language of an instrument's {"en": ..., "fr": ...} text, falling back to English."""
    if not isinstance(text, dict):
        return "" if text is None else str(text)
    lang = lang or language()
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")


@dataclass(frozen=True)
class SurveyPage:
    """A questionnaire page that holds at least one question (layout-only pages are skipped)."""

    name: str
    title: dict
    questions: tuple[Question, ...]

    def is_visible(self, answers: dict) -> bool:
        return any(question.is_visible(answers) for question in self.questions)


def survey_pages(instrument: str, version: str) -> list[SurveyPage] | None:
    """The answerable pages of a SurveyJS instrument version, or None for instruments of another shape."""
    if instrument == canada_aia.SLUG:
        questionnaire = canada_aia.questionnaire(version)
        pages, questions = questionnaire.pages, questionnaire.questions
    elif instrument == eu_ai_act.SLUG:
        pages, questions = eu_ai_act.questionnaire(version)
    else:
        return None
    result = []
    for page in pages:
        held = tuple(q for q in questions.values() if q.page == page.name)
        if held:
            result.append(SurveyPage(name=page.name, title=page.title, questions=held))
    return result


class LenientChoiceField(forms.ChoiceField):
    """Posts any value through; the instrument's validator names a value that is not a choice."""

    def valid_value(self, value):
        return True


class LenientMultipleChoiceField(forms.MultipleChoiceField):
    def valid_value(self, value):
        return True


def _field(question: Question, lang: str) -> forms.Field:
    label = localized(question.title, lang)
    help_text = localized(question.description, lang) if question.description else ""
    choices = [(choice.value, localized(choice.text, lang)) for choice in question.choices]
    common = {"label": label, "help_text": help_text, "required": False}
    if question.type in CHOICE_TYPES:
        widget = forms.RadioSelect if question.type == "radiogroup" else forms.Select
        if widget is forms.Select:
            choices = [("", "—"), *choices]
        return LenientChoiceField(choices=choices, widget=widget, **common)
    if question.type == "checkbox":
        return LenientMultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
    if question.type == "boolean":
        return LenientChoiceField(choices=BOOLEAN_CHOICES, widget=forms.RadioSelect, **common)
    widget = forms.Textarea(attrs={"rows": 4}) if question.type == "comment" else forms.TextInput
    field = forms.CharField(widget=widget, strip=True, **common)
    field.widget.attrs["maxlength"] = TEXT_MAX_LENGTH
    return field


def _initial(question: Question, value):
    if question.type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    return value


class PageForm(forms.Form):
    """One page of a questionnaire. `visible` names the questions shown given the answers saved so far."""

    def __init__(self, *args, page: SurveyPage, answers: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        lang = language()
        for question in page.questions:
            field = _field(question, lang)
            field.initial = _initial(question, answers.get(question.name))
            self.fields[question.name] = field
        self.visible = {q.name for q in page.questions if q.is_visible(answers)}

    def questions(self):
        """(bound field, question, visible) for the template, in questionnaire order."""
        return [(self[q.name], q, q.name in self.visible) for q in self.page.questions]

    def answers(self) -> dict:
        """The posted answers of this page in the instrument's JSON shape; blanks are left out."""
        answers = {}
        for question in self.page.questions:
            value = self.cleaned_data.get(question.name)
            if value in (None, "", []):
                continue
            if question.type == "boolean":
                value = {"true": True, "false": False}.get(value, value)
            answers[question.name] = value
        return answers

    def add_service_errors(self, messages: list[str]) -> None:
        """Put each of the validator's messages ("<question>: ...") on the field of the question it names."""
        for message in messages:
            name = next((q.name for q in self.page.questions if message.startswith(f"{q.name}:")), None)
            self.add_error(name, message)


def _instrument_choices():
    return [(slug, localized(instrument.name)) for slug, instrument in INSTRUMENTS.items()]


def _version_choices():
    choices = [("", _("Latest version"))]
    for slug, instrument in INSTRUMENTS.items():
        choices.append(
            (localized(instrument.name), [(f"{slug}:{version}", version) for version in instrument.versions])
        )
    return choices


class NewAssessmentForm(forms.Form):
    """Which instrument, and which of its versions, to answer (the latest unless one is chosen)."""

    instrument = forms.ChoiceField(label=_("Instrument"), widget=forms.RadioSelect)
    version = forms.ChoiceField(label=_("Version"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = _instrument_choices()
        self.fields["version"].choices = _version_choices()

    def clean(self):
        data = super().clean()
        slug, chosen = data.get("instrument"), data.get("version") or ""
        if slug and chosen:
            version_slug, _sep, version = chosen.partition(":")
            if version_slug != slug:
                self.add_error("version", _("Choose a version of the instrument you chose, or the latest."))
            data["version"] = version
        return data


SAVE_FILE_MAX_BYTES = 1024 * 1024
SAVE_FILE_TOO_LARGE = _("The file is larger than %(limit)d KiB; an AIA save file is a few kilobytes.")
SAVE_FILE_NOT_JSON = _("The file is not JSON: save it from the official AIA tool and upload it unchanged.")


class ImportAiaForm(forms.Form):
    """A save file of the official AIA tool, `{"version": ..., "data": {...}}`, uploaded as it is."""

    file = forms.FileField(label=_("Save file of the official AIA tool (.json)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > SAVE_FILE_MAX_BYTES:
            raise forms.ValidationError(SAVE_FILE_TOO_LARGE % {"limit": SAVE_FILE_MAX_BYTES // 1024})
        try:
            return json.loads(upload.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as error:
            raise forms.ValidationError(SAVE_FILE_NOT_JSON) from error


class DecisionForm(forms.Form):
    """A regulator's comment on accepting or returning an assessment (required to return it)."""

    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=COMMENT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


# Risk register ------------------------------------------------------------------------------------------

MITIGATION_STATUS = re.compile(rf"\s*\[({'|'.join(risk_register.MITIGATION_STATUSES)})\]\s*$")
RISK_STATUS_LABELS = {
    "open": _("Open"),
    "mitigating": _("Being mitigated"),
    "accepted": _("Accepted"),
    "closed": _("Closed"),
}


def _scale(labels: list[str]) -> list[tuple[str, str]]:
    return [("", "—")] + [(str(number), f"{number} · {label}") for number, label in enumerate(labels, start=1)]


class RiskForm(forms.Form):
    """One row of the register. Scales and statuses are judged by the register's own validator."""

    id = forms.CharField(label=_("Id"), required=False, max_length=100)
    title = forms.CharField(label=_("Risk"), required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.CharField(label=_("Category"), required=False)
    likelihood = LenientChoiceField(label=_("Likelihood"), required=False)
    severity = LenientChoiceField(label=_("Severity"), required=False)
    mitigations = forms.CharField(
        label=_("Mitigations"),
        required=False,
        help_text=_("One action a line; end a line with [planned], [in_progress] or [done] to give its status."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    owner = forms.CharField(label=_("Owner"), required=False)
    residual_likelihood = LenientChoiceField(label=_("Residual likelihood"), required=False)
    residual_severity = LenientChoiceField(label=_("Residual severity"), required=False)
    status = LenientChoiceField(label=_("Status"), required=False)

    def __init__(self, *args, matrix: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("likelihood", "residual_likelihood"):
            self.fields[name].choices = _scale(matrix["likelihood"])
        for name in ("severity", "residual_severity"):
            self.fields[name].choices = _scale(matrix["severity"])
        self.fields["status"].choices = list(RISK_STATUS_LABELS.items())

    @staticmethod
    def initial_for(risk: dict) -> dict:
        initial = {key: value for key, value in risk.items() if key != "mitigations"}
        lines = []
        for item in risk.get("mitigations", []) or []:
            if isinstance(item, dict):
                lines.append(f"{item.get('action', '')} [{item.get('status', 'planned')}]")
        initial["mitigations"] = "\n".join(lines)
        return initial

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(key) for key in self.fields if key != "status")

    def risk(self, number: int) -> dict:
        """The row in the register's JSON shape; an empty id becomes R<number>."""
        data = self.cleaned_data
        risk = {"id": data["id"] or f"R{number}"}
        for key in ("title", "description", "category", "owner"):
            if data[key]:
                risk[key] = data[key]
        for key in ("likelihood", "severity", "residual_likelihood", "residual_severity"):
            if data[key] not in (None, ""):
                risk[key] = int(data[key]) if str(data[key]).isdigit() else data[key]
        risk["status"] = data["status"] or "open"
        mitigations = []
        for line in (data["mitigations"] or "").splitlines():
            if not line.strip():
                continue
            match = MITIGATION_STATUS.search(line)
            action = line[: match.start()].strip() if match else line.strip()
            mitigations.append({"action": action, "status": match.group(1) if match else "planned"})
        if mitigations:
            risk["mitigations"] = mitigations
        return risk


class BaseRiskFormSet(forms.BaseFormSet):
    def __init__(self, *args, matrix: dict, **kwargs):
        self.matrix = matrix
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "matrix": self.matrix}

    def answers(self, previous: dict) -> dict:
        """The register's answers: the kept matrix (if one was given) and the non-blank, non-deleted rows."""
        risks, rows = [], []
        for form in self.forms:
            if form.is_blank() or (self.can_delete and self._should_delete_form(form)):
                continue
            risks.append(form.risk(len(risks) + 1))
            rows.append(form)
        self.rows = rows
        answers = {"risks": risks}
        if "matrix" in previous:
            answers["matrix"] = previous["matrix"]
        return answers

    def add_service_errors(self, messages: list[str]) -> None:
        """Put "risks[i].field: ..." messages on row i's field, everything else above the table."""
        for message in messages:
            match = re.match(r"risks\[(\d+)\](?:\.([a-z_]+))?", message)
            rows = getattr(self, "rows", [])
            if match and int(match.group(1)) < len(rows):
                form = rows[int(match.group(1))]
                field = match.group(2) if match.group(2) in form.fields else None
                form.add_error(field, message)
            else:
                self.non_form_errors().append(message)


RiskFormSet = forms.formset_factory(RiskForm, formset=BaseRiskFormSet, extra=2, can_delete=True, max_num=500)
