"""EU AI Act risk classification: a path to each tier, with the reasons and articles that led there."""

import pytest

from governance.instruments import eu_ai_act, risk_register

NOTHING_APPLIES = {
    "operator_role": "deployer",
    "scope_exclusions": ["none"],
    "article_5_practices": ["none"],
    "annex_i_product": "no",
    "annex_iii_applies": "no",
    "article_50_cases": ["none"],
}


def classify(**answers):
    evaluation = eu_ai_act.evaluate("v1.0", {**NOTHING_APPLIES, **answers})
    assert evaluation.errors == []
    return evaluation


def citations(evaluation) -> list[str]:
    return [reason["citation"] for reason in evaluation.result["reasons"]]


class ClassifierTests:
    def test_minimal_when_nothing_applies(self):
        evaluation = classify()
        assert evaluation.result["tier"] == "minimal"
        assert evaluation.incomplete == []
        assert citations(evaluation) == ["Articles 5, 6 and 50"]

    def test_prohibited_practice(self):
        evaluation = classify(article_5_practices=["social_scoring"], annex_iii_applies="yes", annex_iii_areas=["5a"])
        assert evaluation.result["tier"] == "prohibited"
        assert citations(evaluation) == ["Article 5(1)(c)"]  # the prohibition decides; nothing else is reasoned

    def test_real_time_biometric_identification_without_an_exception_is_prohibited(self):
        evaluation = classify(article_5_practices=["realtime_rbi_law_enforcement"], article_5_1_h_exception="no")
        assert evaluation.result["tier"] == "prohibited"
        assert citations(evaluation) == ["Article 5(1)(h)"]

    def test_real_time_biometric_identification_under_an_exception_is_high_risk(self):
        evaluation = classify(article_5_practices=["realtime_rbi_law_enforcement"], article_5_1_h_exception="yes")
        assert evaluation.result["tier"] == "high"
        assert citations(evaluation) == ["Article 5(1)(h)(i)–(iii), Annex III point 1(a)"]

    def test_high_through_annex_i_product_with_third_party_assessment(self):
        evaluation = classify(annex_i_product="yes", annex_i_legislation="medical_devices", annex_i_third_party="yes")
        assert evaluation.result["tier"] == "high"
        assert citations(evaluation) == ["Article 6(1), Annex I"]
        assert "Medical devices (Regulation (EU) 2017/745)" in evaluation.result["reasons"][0]["text"]

    def test_annex_i_product_without_third_party_assessment_is_not_high(self):
        evaluation = classify(annex_i_product="yes", annex_i_legislation="toys", annex_i_third_party="no")
        assert evaluation.result["tier"] == "minimal"

    def test_high_through_annex_iii(self):
        evaluation = classify(
            operator_role="deployer",
            annex_iii_applies="yes",
            annex_iii_areas=["4a", "5b"],
            annex_iii_profiling="no",
            article_6_3_conditions=["none"],
        )
        assert evaluation.result["tier"] == "high"
        assert citations(evaluation) == ["Article 6(2), Annex III point 4(a)", "Article 6(2), Annex III point 5(b)"]
        assert "Article 26" in evaluation.result["obligations"]

    def test_article_6_3_exemption_lowers_an_annex_iii_use(self):
        evaluation = classify(
            annex_iii_applies="yes",
            annex_iii_areas=["3b"],
            annex_iii_profiling="no",
            article_6_3_conditions=["narrow_procedural"],
        )
        assert evaluation.result["tier"] == "minimal"
        [reason] = evaluation.result["reasons"]
        assert reason["citation"] == "Article 6(2), Annex III point 3(b); Article 6(3), 6(4), 49(2)"
        assert "not high-risk: Performs a narrow procedural task (Article 6(3)(a))" in reason["text"]

    def test_exempt_annex_iii_use_with_a_chatbot_is_limited(self):
        evaluation = classify(
            annex_iii_applies="yes",
            annex_iii_areas=["5d"],
            annex_iii_profiling="no",
            article_6_3_conditions=["preparatory"],
            article_50_cases=["interacts_with_people"],
        )
        assert evaluation.result["tier"] == "limited"
        assert citations(evaluation)[-1] == "Article 50(1)"

    def test_profiling_is_never_exempt(self):
        evaluation = classify(
            annex_iii_applies="yes",
            annex_iii_areas=["4a"],
            annex_iii_profiling="yes",
            article_6_3_conditions=["narrow_procedural"],  # hidden by the profiling answer
        )
        assert evaluation.result["tier"] == "high"
        assert citations(evaluation) == ["Article 6(2), Annex III point 4(a); Article 6(3), last subparagraph"]
        assert [w["question"] for w in evaluation.warnings] == ["article_6_3_conditions"]

    def test_limited_through_article_50(self):
        evaluation = classify(article_50_cases=["synthetic_content", "deep_fake"])
        assert evaluation.result["tier"] == "limited"
        assert citations(evaluation) == ["Article 50(2)", "Article 50(4)"]

    def test_outside_the_scope(self):
        evaluation = classify(scope_exclusions=["military"], article_5_practices=["social_scoring"])
        assert evaluation.result["tier"] == "minimal"
        assert citations(evaluation) == ["Article 2(3)"]

    def test_missing_answers_are_listed_for_submission(self):
        evaluation = eu_ai_act.evaluate("v1.0", {"annex_iii_applies": "yes"})
        assert "annex_iii_areas: an answer is required." in evaluation.incomplete
        assert "operator_role: an answer is required." in evaluation.incomplete

    @pytest.mark.parametrize(
        ("answers", "message"),
        [
            ({"operator_role": "vendor"}, "operator_role: vendor is not one of the choices"),
            ({"article_5_practices": ["none", "social_scoring"]}, "article_5_practices: none cannot be combined"),
            ({"tier": "minimal"}, "tier: not a question of eu-ai-act-risk v1.0."),
        ],
    )
    def test_bad_answers_name_the_question(self, answers, message):
        [error] = eu_ai_act.evaluate("v1.0", answers).errors
        assert error.startswith(message)


class RiskRegisterTests:
    RISK = {
        "id": "R1",
        "title": "Wrongful denial of benefits",
        "likelihood": 4,
        "severity": 5,
        "owner": "Benefits director",
        "mitigations": [{"action": "Human review of every denial", "status": "done"}],
        "residual_likelihood": 2,
        "residual_severity": 4,
        "status": "mitigating",
    }

    def test_inherent_and_residual_risk_on_the_default_matrix(self):
        evaluation = risk_register.evaluate("v1.0", {"risks": [self.RISK]})
        assert evaluation.errors == evaluation.incomplete == []
        [row] = evaluation.result["risks"]
        assert (row["inherent_score"], row["inherent_level"]) == (20, "critical")
        assert (row["residual_score"], row["residual_level"]) == (8, "medium")
        assert evaluation.result["highest_residual_level"] == "medium"

    def test_a_configured_matrix(self):
        matrix = {
            "likelihood": ["Low", "Medium", "High"],
            "severity": ["Low", "Medium", "High"],
            "bands": [{"up_to": 2, "level": "green"}, {"up_to": 4, "level": "amber"}, {"up_to": 9, "level": "red"}],
        }
        risk = {**self.RISK, "likelihood": 3, "severity": 3, "residual_likelihood": 1, "residual_severity": 2}
        evaluation = risk_register.evaluate("v1.0", {"matrix": matrix, "risks": [risk]})
        [row] = evaluation.result["risks"]
        assert (row["inherent_level"], row["residual_level"]) == ("red", "green")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"likelihood": 6}, "risks[0].likelihood: give a whole number from 1 to 5."),
            ({"residual_severity": 5, "residual_likelihood": 5}, "risks[0]: the residual risk cannot exceed"),
            ({"status": "ignored"}, "risks[0].status: give one of open, mitigating, accepted, closed."),
            ({"impact": 3}, "risks[0].impact: not a field of the risk register."),
        ],
    )
    def test_errors_name_the_field(self, change, message):
        evaluation = risk_register.evaluate("v1.0", {"risks": [{**self.RISK, **change}]})
        assert evaluation.errors[0].startswith(message)

    def test_an_empty_register_cannot_be_submitted(self):
        assert risk_register.evaluate("v1.0", {}).incomplete == ["risks: record at least one risk."]
