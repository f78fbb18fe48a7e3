"""Canada's Algorithmic Impact Assessment (AIA), scored exactly as the official tool scores it.

The questionnaires are the official tool's own files (canada-ca/aia-eia-js `src/survey-enfr.json` at each
release, MIT; see data/aia/README.md), one per version, bilingual EN/FR. The scoring follows the rules in
shared/data/README.md ("Canada AIA: how the official tool scores"):

- a choice's points are the number after its value's last hyphen (`item3-4` is worth 4; `item2` is worth
  0); a checkbox answer is worth the sum of its ticked choices;
- a question counts towards the raw impact score (`-RS`), the mitigation score (`-MS`) or nothing (`-NS`,
  or no suffix) by the suffix of its name, or else of its parent panel's name; only radiogroup, dropdown
  and checkbox questions count;
- maxima are static per version: a question's largest choice (the sum of all choices for a checkbox),
  over every scored question including those `visibleIf` may hide;
- if the mitigation score reaches 80 % of half the maximum mitigation score (design and implementation
  pages both count in the maximum), the current score is 85 % of the raw score rounded half up, as
  JavaScript's `Math.round` does; otherwise it is the raw score;
- the impact level compares the current score with the maximum raw score: ≤ 25 % I, ≤ 50 % II,
  ≤ 75 % III, above IV.

Where we are stricter than the tool: answers to questions that other answers hide are not counted (the
tool would count whatever its save file holds); they are dropped and reported as warnings instead.
"""

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from . import surveyjs
from .surveyjs import Evaluation, Question

SLUG = "canada-aia"
DATA = Path(__file__).parent / "data" / "aia"
VERSIONS = ("v0.9", "v0.9.1", "v0.10.0", "v1.0.1")
LATEST = "v1.0.1"
SCORED_TYPES = {"radiogroup", "dropdown", "checkbox"}
RAW, MITIGATION, NOT_SCORED = "RS", "MS", "NS"

# The official tool's constants (calculateFinalScore in canada-ca/aia-eia-js src/store.ts).
MITIGATION_SHARE = 0.8
DEDUCTION = 0.15
LEVEL_THRESHOLDS = (0.25, 0.5, 0.75)

UNKNOWN_VERSION = _("%(version)s is not a version of the AIA questionnaire; known versions: %(versions)s.")
IGNORED_KEY = _("%(name)s: not a question of AIA %(version)s; ignored, as the official tool ignores it.")
IGNORED_VALUE = _("%(problem)s Ignored, as it is not part of the questionnaire.")
NOT_A_SAVE_FILE = _('Give the official tool\'s save file: an object with "version" and "data".')
DATA_NOT_OBJECT = _('The save file\'s "data" must be an object of answers.')


def js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (8.5 → 9, -8.5 → -8), unlike Python's round (8.5 → 8)."""
    lower = math.floor(value)
    return lower + 1 if value - lower >= 0.5 else lower


_JS_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_JS_RADIX = {"0x": 16, "0o": 8, "0b": 2}


def _js_number(text: str) -> float:
    """JavaScript's Number(text), for the forms a choice value's suffix can take; NaN as math.nan."""
    text = text.strip()
    if text == "":
        return 0
    if _JS_DECIMAL.match(text):
        number = float(text)
        return int(number) if number.is_integer() else number
    radix = _JS_RADIX.get(text[:2].lower())
    if radix:
        try:
            return int(text[2:], radix)
        except ValueError:
            return math.nan
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return float(text.replace("Infinity", "inf"))
    return math.nan


def points(value) -> float:
    """The points a choice value is worth: the number after its last hyphen, else 0 (parseEmbeddedValue)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return sum(points(item) for item in value if isinstance(item, str | int | float))
    if not isinstance(value, str) or "-" not in value:
        return 0
    number = _js_number(value[value.rindex("-") + 1 :])
    return 0 if isinstance(number, float) and math.isnan(number) else number


def _suffix(name: str) -> str:
    for suffix in (RAW, MITIGATION, NOT_SCORED):
        if name and name.endswith(f"-{suffix}"):
            return suffix
    return ""


def score_type(question: Question) -> str:
    """RS, MS or NS: from the question's name, else its parent panel's name; only choice questions count."""
    if question.type not in SCORED_TYPES:
        return NOT_SCORED
    return _suffix(question.name) or _suffix(question.parent) or NOT_SCORED


def question_maximum(question: Question) -> float:
    values = [points(choice.value) for choice in question.choices]
    if question.type == "checkbox":
        return sum(values)
    return max([0, *values])


@dataclass(frozen=True)
class Questionnaire:
    version: str
    pages: tuple[surveyjs.Page, ...]
    questions: dict[str, Question]
    score_types: dict[str, str]
    max_raw_score: float
    max_mitigation_score: float

    @property
    def scored(self) -> dict[str, str]:
        return {name: kind for name, kind in self.score_types.items() if kind != NOT_SCORED}


@cache
def questionnaire(version: str) -> Questionnaire:
    if version not in VERSIONS:
        raise KeyError(version)
    document = json.loads((DATA / f"survey-enfr_{version}.json").read_text(encoding="utf-8"))
    pages, questions = surveyjs.read_questions(document)
    types = {q.name: score_type(q) for q in questions}
    return Questionnaire(
        version=version,
        pages=tuple(pages),
        questions={q.name: q for q in questions},
        score_types=types,
        max_raw_score=sum(question_maximum(q) for q in questions if types[q.name] == RAW),
        max_mitigation_score=sum(question_maximum(q) for q in questions if types[q.name] == MITIGATION),
    )


@cache
def requirements_by_level() -> dict:
    return json.loads((DATA / "requirements_by_impact_level_enfr.json").read_text(encoding="utf-8"))


def obligations(level: int) -> list[dict]:
    """What the Directive on Automated Decision-Making requires at `level` (1–4), in English and French."""
    if level not in (1, 2, 3, 4):
        return []
    document = requirements_by_level()
    return [
        {
            "title": {"en": en["title"], "fr": fr["title"]},
            "text": {"en": en["elements"][level - 1]["text"], "fr": fr["elements"][level - 1]["text"]},
        }
        for en, fr in zip(document["en"]["elements"], document["fr"]["elements"], strict=True)
    ]


def impact_level(current: float, max_raw: float) -> int:
    first, second, third = LEVEL_THRESHOLDS
    if current <= max_raw * first:
        return 1
    if current <= max_raw * second:
        return 2
    if current <= max_raw * third:
        return 3
    return 4


def score(survey: Questionnaire, answers: dict) -> dict:
    """The official tool's calculateFinalScore over already-validated, visible answers."""
    raw = sum(points(answers.get(name)) for name, kind in survey.score_types.items() if kind == RAW)
    mitigation = sum(points(answers.get(name)) for name, kind in survey.score_types.items() if kind == MITIGATION)
    # The maximum spans the design and the implementation pages; an assessment answers one of them.
    threshold_met = mitigation >= MITIGATION_SHARE * (survey.max_mitigation_score / 2)
    current = js_round((1 - DEDUCTION) * raw) if threshold_met else raw
    return {
        "raw_score": raw,
        "mitigation_score": mitigation,
        "current_score": current,
        "impact_level": impact_level(current, survey.max_raw_score),
        "max_raw_score": survey.max_raw_score,
        "max_mitigation_score": survey.max_mitigation_score,
        "mitigation_deduction": threshold_met,
    }


def evaluate(version: str, answers: dict, *, save_file: bool = False) -> Evaluation:
    """Validate `answers` against the questionnaire of `version` and score them.

    Answers given through our API are refused when a key is not a question or a value is not one of its
    choices. An official save file (`save_file=True`) is read as the official tool reads it: keys that
    are not questions of its version are ignored, and so are values that are not choices of the question
    (the tool would parse points out of them; we never count what the questionnaire does not offer);
    both are listed as warnings.
    """
    survey = questionnaire(version)
    errors, warnings, known = [], [], {}
    for name, value in answers.items():
        question = survey.questions.get(name)
        if question is None:
            if save_file:
                warnings.append(surveyjs.warning(name, IGNORED_KEY % {"name": name, "version": version}))
            else:
                errors.append(surveyjs.NOT_A_QUESTION % {"name": name, "instrument": SLUG, "version": version})
            continue
        if save_file:
            value = _salvage(question, value, warnings)
            if value is None:
                continue
        problem = surveyjs.check_answer(question, value)
        if problem and save_file:
            warnings.append(surveyjs.warning(name, IGNORED_VALUE % {"problem": problem}))
        elif problem:
            errors.append(problem)
        else:
            known[name] = value
    kept, hidden = surveyjs.visible_answers(survey.questions, known)
    warnings.extend(hidden)
    return Evaluation(answers=kept, result=score(survey, kept), warnings=warnings, errors=errors)


def _salvage(question: Question, value, warnings: list):
    """Keep a save file's checkbox answer minus the ticks that are not choices of the question."""
    if question.type != "checkbox" or not isinstance(value, list):
        return value
    kept = []
    for item in value:
        if isinstance(item, str) and item in question.choice_values and item not in kept:
            kept.append(item)
        else:
            problem = surveyjs.NOT_A_CHOICE % {
                "name": question.name,
                "value": item,
                "choices": ", ".join(question.choice_values),
            }
            warnings.append(surveyjs.warning(question.name, IGNORED_VALUE % {"problem": problem}))
    return kept or None


def read_save_file(document) -> tuple[str, dict]:
    """The (version, answers) of the official tool's save file, `{"version": ..., "data": {...}}`."""
    if not isinstance(document, dict) or "version" not in document or "data" not in document:
        raise ValueError(NOT_A_SAVE_FILE)
    version = document["version"]
    if version not in VERSIONS:
        raise ValueError(UNKNOWN_VERSION % {"version": version, "versions": ", ".join(VERSIONS)})
    if not isinstance(document["data"], dict):
        raise ValueError(DATA_NOT_OBJECT)
    return version, document["data"]
