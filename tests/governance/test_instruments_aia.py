"""Canada's AIA: every version's maxima, the official tool's test case, published assessments, rounding."""

import json
from pathlib import Path

import pytest

from governance.instruments import canada_aia
from governance.instruments.surveyjs import Condition, ConditionSyntaxError

PUBLISHED = Path(__file__).parent / "data" / "aia_published"

# Pinned from the questionnaire files: the sum of each scored question's largest choice (all choices for a
# checkbox), hidden questions included; the mitigation maximum spans the design and implementation pages.
MAXIMA = {
    "v0.9": (107, 90),
    "v0.9.1": (107, 90),
    "v0.10.0": (126, 92),
    "v1.0.1": (167, 154),
}


def build_answers(version: str, *, raw: int, mitigation: int, phase: str = "item2") -> dict:
    """Answers worth exactly `raw` impact and `mitigation` points, using only questions visible from the start."""
    survey = canada_aia.questionnaire(version)
    answers = {"projectDetailsPhase": phase}
    remaining = {canada_aia.RAW: raw, canada_aia.MITIGATION: mitigation}
    for name, question in survey.questions.items():
        kind = survey.score_types[name]
        if kind not in remaining or not remaining[kind] or not question.is_visible({"projectDetailsPhase": phase}):
            continue
        if question.type == "checkbox":
            picked = []
            for choice in question.choices:
                worth = canada_aia.points(choice.value)
                if 0 < worth <= remaining[kind]:
                    picked.append(choice.value)
                    remaining[kind] -= worth
            if picked:
                answers[name] = picked
            continue
        fitting = [c.value for c in question.choices if 0 < canada_aia.points(c.value) <= remaining[kind]]
        if fitting:
            best = max(fitting, key=canada_aia.points)
            answers[name] = best
            remaining[kind] -= canada_aia.points(best)
    assert remaining == {canada_aia.RAW: 0, canada_aia.MITIGATION: 0}, remaining
    return answers


class MaximaTests:
    @pytest.mark.parametrize("version", canada_aia.VERSIONS)
    def test_each_version_pins_its_maxima(self, version):
        survey = canada_aia.questionnaire(version)
        print(f"{version}: max raw {survey.max_raw_score}, max mitigation {survey.max_mitigation_score}")
        assert (survey.max_raw_score, survey.max_mitigation_score) == MAXIMA[version]

    def test_hidden_questions_count_in_the_maximum(self):
        survey = canada_aia.questionnaire("v1.0.1")
        hidden_scored = [
            q for q in survey.questions.values() if q.conditions[1:] and survey.score_types[q.name] != "NS"
        ]
        assert hidden_scored  # follow-up questions that visibleIf hides are scored...
        visible_only = sum(
            canada_aia.question_maximum(q)
            for q in survey.questions.values()
            if survey.score_types[q.name] == "RS" and not q.conditions
        )
        assert visible_only < survey.max_raw_score  # ...and their maxima are included

    def test_score_type_comes_from_the_name_or_the_parent_panel(self):
        survey = canada_aia.questionnaire("v1.0.1")
        assert survey.questions["riskProfile1"].parent == "riskProfilePanel-RS"
        assert survey.score_types["riskProfile1"] == "RS"
        assert survey.score_types["projectDetailsDepartment-NS"] == "NS"
        assert survey.score_types["riskProfile2A"] == "NS"  # a comment never counts, whatever its panel

    def test_points_follow_the_last_hyphen(self):
        assert canada_aia.points("item3-4") == 4
        assert canada_aia.points("item2") == 0
        assert canada_aia.points("item1-x") == 0
        assert canada_aia.points(["item1-1", "item2-2", "item9"]) == 3


class OfficialToolTestCaseTests:
    """canada-ca/aia-eia-js tests/unit/store.spec.ts, "calcScore getter is properly calculated if data is
    defined": three ticked decision sectors worth 1 each give [raw 3, mitigation 0, current 3, level 1]."""

    DATA = {
        "projectDetailsRespondent": "name",
        "projectDetailsJob": "position",
        "projectDetailsDepartment-NS": "item061",
        "projectDetailsBranch": "test",
        "projectDetailsTitle": "project",
        "projectDetailsPhase": "item1",
        "projectDetailsDescription": "desc",
        "decisionSector1": ["item1-1", "item2-1", "item3-1"],
    }

    @pytest.mark.parametrize("version", canada_aia.VERSIONS)
    def test_calc_score(self, version):
        evaluation = canada_aia.evaluate(version, self.DATA, save_file=True)
        result = evaluation.result
        got = [result["raw_score"], result["mitigation_score"], result["current_score"], result["impact_level"]]
        assert got == [3, 0, 3, 1]


class PublishedAssessmentTests:
    @pytest.mark.parametrize(
        ("file", "version", "expected", "ignored"),
        [
            (
                "published_01396e33_Original_choice_answers.json",
                "v0.10.0",
                {"raw_score": 41, "mitigation_score": 35, "current_score": 41, "impact_level": 2},
                ["impact1", "impact2", "consultationImplementation4"],
            ),
            (
                "published_452e10be_Original_choice_answers.json",
                "v1.0.1",
                {"raw_score": 58, "mitigation_score": 69, "current_score": 49, "impact_level": 2},
                [],
            ),
            (
                "published_cea9985f_2021_Update_2.json",
                "v0.9",
                {"raw_score": 39, "mitigation_score": 36, "current_score": 33, "impact_level": 2},
                ["consultationImplementation2-NS", "consultationImplementation4-NS"],
            ),
        ],
    )
    def test_published_save_files_import_and_score(self, file, version, expected, ignored):
        document = json.loads((PUBLISHED / file).read_text())
        read_version, data = canada_aia.read_save_file(document)
        evaluation = canada_aia.evaluate(read_version, data, save_file=True)
        assert read_version == version
        assert evaluation.errors == []
        assert {key: evaluation.result[key] for key in expected} == expected
        assert [w["question"] for w in evaluation.warnings] == ignored

    def test_a_tick_that_is_not_a_choice_is_ignored_not_counted(self):
        document = json.loads((PUBLISHED / "published_01396e33_Original_choice_answers.json").read_text())
        evaluation = canada_aia.evaluate("v0.10.0", document["data"], save_file=True)
        assert evaluation.answers["consultationImplementation4"] == ["item7", "item9"]
        assert "item10 is not one of the choices" in evaluation.warnings[-1]["message"]

    def test_bad_save_files_are_refused(self):
        with pytest.raises(ValueError, match="version"):
            canada_aia.read_save_file({"data": {}})
        with pytest.raises(ValueError, match=r"v2\.0 is not a version"):
            canada_aia.read_save_file({"version": "v2.0", "data": {}})
        with pytest.raises(ValueError, match="must be an object"):
            canada_aia.read_save_file({"version": "v0.9", "data": []})


class RoundingTests:
    """The deduction is Math.round(0.85 × raw): halves round up, where Python's round() goes to even."""

    @pytest.mark.parametrize(("raw", "current"), [(10, 9), (50, 43), (90, 77), (130, 111)])
    def test_half_points_round_up_with_the_mitigation_deduction(self, raw, current):
        answers = build_answers("v1.0.1", raw=raw, mitigation=62)  # 62 ≥ 80 % of 154 / 2 = 61.6
        result = canada_aia.evaluate("v1.0.1", answers).result
        assert (result["raw_score"], result["mitigation_score"]) == (raw, 62)
        assert result["mitigation_deduction"] is True
        assert result["current_score"] == current
        assert round(0.85 * raw) == current - 1  # what a naive Python port would report

    @pytest.mark.parametrize("raw", [10, 50, 90, 130])
    def test_no_deduction_just_below_the_mitigation_threshold(self, raw):
        answers = build_answers("v1.0.1", raw=raw, mitigation=61)
        result = canada_aia.evaluate("v1.0.1", answers).result
        assert result["mitigation_deduction"] is False
        assert result["current_score"] == raw

    def test_threshold_reached_exactly_counts(self):
        # v0.9: 80 % of 90 / 2 is exactly 36, and ≥ includes it (the published cea9985f file sits on it).
        result = canada_aia.evaluate("v0.9", build_answers("v0.9", raw=10, mitigation=36)).result
        assert result["mitigation_deduction"] is True
        assert result["current_score"] == 9

    def test_js_round(self):
        assert [canada_aia.js_round(x) for x in (8.5, 42.5, 76.5, 110.5, 8.49, -8.5, 0.49999999999999994)] == [
            9,
            43,
            77,
            111,
            8,
            -8,
            0,
        ]

    @pytest.mark.parametrize(("current", "level"), [(41, 1), (42, 2), (83, 2), (84, 3), (125, 3), (126, 4), (167, 4)])
    def test_level_boundaries_against_the_maximum(self, current, level):
        # v1.0.1: 25 % of 167 = 41.75, 50 % = 83.5, 75 % = 125.25.
        assert canada_aia.impact_level(current, 167) == level


class HiddenAndUnknownAnswerTests:
    def test_an_answer_to_a_hidden_question_is_ignored_with_a_warning(self):
        answers = build_answers("v1.0.1", raw=10, mitigation=0)
        answers["aboutDataSourceType1"] = "item2-0"
        answers.pop("aboutDataSourceType2", None)
        assert canada_aia.evaluate("v1.0.1", answers).result["raw_score"] == 10
        # aboutDataSourceType2 (up to 6 raw points) only shows when aboutDataSourceType1 is "item1-0".
        answers["aboutDataSourceType2"] = ["item1-2", "item2-4"]
        evaluation = canada_aia.evaluate("v1.0.1", answers)
        assert evaluation.result["raw_score"] == 10
        assert "aboutDataSourceType2" not in evaluation.answers
        [warning] = evaluation.warnings
        assert warning["question"] == "aboutDataSourceType2"
        assert 'hidden by your other answers ({aboutDataSourceType1} = "item1-0")' in warning["message"]

    def test_a_whole_hidden_page_is_ignored(self):
        # Phase item2 (implementation) hides the design pages: their mitigation answers do not count.
        answers = {"projectDetailsPhase": "item2", "dataQualityDesign1": "item1-3"}
        evaluation = canada_aia.evaluate("v1.0.1", answers)
        assert evaluation.result["mitigation_score"] == 0
        assert [w["question"] for w in evaluation.warnings] == ["dataQualityDesign1"]

    def test_a_follow_up_of_a_hidden_follow_up_is_hidden_too(self):
        answers = {
            "projectDetailsPhase": "item1",
            "consultationDesign1": "item2-0",  # hides consultationDesign2...
            "consultationDesign2": ["item9"],  # ...so the "other" text it would show is hidden as well
            "consultationDesign2-other": "Citizens' panel",
        }
        evaluation = canada_aia.evaluate("v1.0.1", answers)
        assert [w["question"] for w in evaluation.warnings] == ["consultationDesign2", "consultationDesign2-other"]
        assert evaluation.answers == {"projectDetailsPhase": "item1", "consultationDesign1": "item2-0"}

    def test_unknown_keys_are_refused_through_the_api_and_ignored_in_a_save_file(self):
        answers = {"projectDetailsPhase": "item1", "impact1": "item1-3"}
        refused = canada_aia.evaluate("v1.0.1", answers)
        assert refused.errors == ["impact1: not a question of canada-aia v1.0.1."]
        imported = canada_aia.evaluate("v1.0.1", answers, save_file=True)
        assert imported.errors == []
        assert imported.warnings == [
            {
                "question": "impact1",
                "message": "impact1: not a question of AIA v1.0.1; ignored, as the official tool ignores it.",
            }
        ]

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("riskProfile1", "item9-9", "riskProfile1: item9-9 is not one of the choices (item1-3, item2-0)."),
            ("riskProfile1", 3, "riskProfile1: give one choice as a string."),
            ("decisionSector1", "item1-1", "decisionSector1: give a list of choices."),
            ("decisionSector1", ["item1-1", "item1-1"], "decisionSector1: item1-1 is chosen twice."),
            ("projectDetailsTitle", ["x"], "projectDetailsTitle: give text."),
        ],
    )
    def test_wrong_values_and_types_name_the_question(self, name, value, message):
        evaluation = canada_aia.evaluate("v1.0.1", {"projectDetailsPhase": "item1", name: value})
        assert evaluation.errors == [message]


class ConditionTests:
    @pytest.mark.parametrize(
        ("expression", "answers", "expected"),
        [
            ('{a} = "x"', {"a": "x"}, True),
            ('{a} = "x"', {}, False),
            ('{a} contains "item1"', {"a": ["item10", "item2"]}, False),  # list: whole items
            ('{a} contains "item1-3"', {"a": "item1-3"}, True),  # text: substring
            ('{a} contains ["item6"]', {"a": ["item6", "item7"]}, True),
            ('({a} = "x" or {a} = "y") and {b} = "z"', {"a": "y", "b": "z"}, True),
            ('{a} = "x" or {a} = "y" and {b} = "z"', {"a": "x"}, True),  # and binds tighter
            ('{fairnessDesign24} = "item1-2" and {fairnessDesign24A} = "item1-1" ', {}, False),
        ],
    )
    def test_the_syntax_the_questionnaires_use(self, expression, answers, expected):
        assert Condition.parse(expression).evaluate(answers) is expected

    @pytest.mark.parametrize("expression", ['{a} != "x"', "{a} = 3", "isContainerReady({a})", '{a} notcontains "x"'])
    def test_other_syntax_is_refused(self, expression):
        with pytest.raises(ConditionSyntaxError):
            Condition.parse(expression)

    @pytest.mark.parametrize("version", canada_aia.VERSIONS)
    def test_every_version_is_bilingual(self, version):
        survey = canada_aia.questionnaire(version)
        titled = [q for q in survey.questions.values() if q.title.get("fr")]
        assert len(titled) >= 0.9 * len(survey.questions)

    def test_obligations_follow_the_level(self):
        level_four = canada_aia.obligations(4)
        assert [item["title"]["en"] for item in level_four][-1] == "Approval for the system to operate"
        assert level_four[-1]["text"] == {"en": "Treasury Board", "fr": "Conseil du Trésor"}
        assert canada_aia.obligations(1)[2]["text"]["en"] == "None"  # no peer review at level I
