import pytest

from governance.rules import RuleError, context_schema, evaluate, validate_rule


def messages(source, **params):
    return [str(problem) for problem in validate_rule(source, parameters=params)]


class ValidateRuleTests:
    @pytest.mark.parametrize(
        "source",
        [
            'registration.risk_tier == "high" && system.operator_role == "deployer"',
            'assessments.exists(a, a.instrument == "fria" && a.valid && a.age_days <= params.max_age_days)',
            '"biometrics" in system.techniques',
            "size(system.human_oversight_description) > 0",
            'today > timestamp("2025-01-01T00:00:00Z")',
            '"system.nme" == system.name',  # field-like text inside a string is not a reference
        ],
    )
    def test_good_rules_have_no_problems(self, source):
        assert messages(source, max_age_days=365) == []

    def test_syntax_error_reports_line_and_column(self):
        (problem,) = messages("system.name == ")
        assert problem.startswith("line 1, column 16: syntax error")

    def test_unknown_field_is_reported_with_its_position_even_behind_a_short_circuit(self):
        assert messages('false && system.nme == "x"') == [
            "line 1, column 17: 'system' has no field 'nme'; see the context schema"
        ]

    def test_unknown_field_on_a_later_line(self):
        (problem,) = messages('registration.risk_tier == "high" &&\n  system.operatr_role == "deployer"')
        assert problem.startswith("line 2, column 10: 'system' has no field 'operatr_role'")

    def test_undeclared_parameter(self):
        (problem,) = messages("registration.age_days <= params.max_days", max_age_days=365)
        assert "'params' has no field 'max_days'; declare it as a parameter" in problem

    def test_unknown_variable(self):
        (problem,) = messages("foo == 1")
        assert "unknown variable 'foo'" in problem

    def test_type_error(self):
        (problem,) = messages("system.name > 5")
        assert problem.startswith("type error")

    def test_unknown_field_of_a_list_element(self):
        (problem,) = messages('assessments.exists(a, a.tierx == "high")')
        assert "tierx" in problem

    def test_non_boolean_result(self):
        assert messages("size(system.purpose)") == ["the rule must be true or false, but gives a int"]

    def test_empty_rule(self):
        assert "empty" in messages("  ")[0]


class EvaluateTests:
    def test_evaluates_on_real_context(self):
        context = {"registration": {"risk_tier": "high"}, "system": {"operator_role": "deployer"}}
        assert evaluate('registration.risk_tier == "high" && system.operator_role == "deployer"', context) is True

    def test_runtime_failure_becomes_rule_error(self):
        with pytest.raises(RuleError):
            evaluate("system.name == 'x'", {"system": {}})


class ContextSchemaTests:
    def test_schema_documents_every_variable(self):
        schema = context_schema()
        assert set(schema["variables"]) == {"system", "registration", "assessments", "evidence", "params", "today"}
        assert "operator_role" in schema["variables"]["system"]["fields"]
