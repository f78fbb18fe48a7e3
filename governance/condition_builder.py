"""Simple rules without typing CEL: a field of the rule context, an operator and a value become one expression.

Policy authors who do not want to write CEL pick `system.operator_role` `==` `deployer` in the console and get
`system.operator_role == "deployer"`. This function is the one place that turns such a choice into CEL (the
console's script asks it through a small JSON endpoint), so quoting, list membership and the allowed values are
decided here, and every expression it returns has passed `validate_rule`.
"""

import json

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules import REGISTRATION_SCHEMA, SYSTEM_SCHEMA, validate_rule

# operator -> label shown to authors
OPERATORS = {
    "==": gettext_lazy("equals"),
    "!=": gettext_lazy("does not equal"),
    "in": gettext_lazy("is one of (comma-separated)"),
    "contains": gettext_lazy("contains"),
    "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"),
}
# "variable.field" -> (CEL type, allowed values or None, description), for the variables a simple rule can test.
FIELDS = {
    **{f"system.{name}": spec for name, spec in SYSTEM_SCHEMA.items()},
    **{f"registration.{name}": spec for name, spec in REGISTRATION_SCHEMA.items()},
}

UNKNOWN_FIELD = gettext_lazy("Unknown field %(field)s; choose one of the system or registration fields.")
UNKNOWN_OPERATOR = gettext_lazy("Unknown operator %(operator)s.")
NEEDS_VALUE = gettext_lazy("Enter a value to compare %(field)s with.")
NOT_A_NUMBER = gettext_lazy("%(field)s is a number; %(value)s is not a whole number.")
NOT_ALLOWED = gettext_lazy("%(value)s is not a value of %(field)s; use one of: %(values)s.")
LIST_NEEDS_MEMBERSHIP = gettext_lazy("%(field)s is a list: use “contains” or “is one of”.")
NUMBER_HAS_NO_TEXT = gettext_lazy("%(field)s is a number: use “equals”, “does not equal” or “is one of”.")
NOT_TEXT = gettext_lazy("The value must be text.")


class ConditionError(ValueError):
    """The choice cannot be written as a rule; the message says why, for the author."""


def field_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields grouped by variable, for a select with optgroups."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, (kind, _values, description) in FIELDS.items():
        variable = name.split(".", 1)[0]
        groups.setdefault(variable, []).append((name, f"{name} ({kind}): {description}"))
    return list(groups.items())


def _literal(value, kind: str) -> str:
    if kind == "int":
        return str(value)
    # A JSON string is a valid CEL string: the same escapes for quotes, backslashes and control characters.
    return json.dumps(value, ensure_ascii=False)


def _scalar(field: str, kind: str, allowed, value, *, check_allowed: bool = True):
    if isinstance(value, bool) or value is None:
        raise ConditionError(NEEDS_VALUE % {"field": field})
    if kind == "int":
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConditionError(NOT_A_NUMBER % {"field": field, "value": value}) from None
    if not isinstance(value, str | int):
        raise ConditionError(NOT_TEXT)
    value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConditionError(NOT_TEXT) from None
    if check_allowed and allowed and value not in allowed:
        shown = ", ".join(json.dumps(v) for v in allowed)
        raise ConditionError(NOT_ALLOWED % {"value": json.dumps(value), "field": field, "values": shown})
    return value


def _values(field: str, kind: str, allowed, value) -> list:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    items = [item.strip() if isinstance(item, str) else item for item in items]
    items = [item for item in items if item != ""]
    if not items:
        raise ConditionError(NEEDS_VALUE % {"field": field})
    return [_scalar(field, kind, allowed, item) for item in items]


def build_condition(field: str, operator: str, value=None) -> str:
    """The CEL expression for `field operator value`; raises ConditionError with a message for the author.

    >>> build_condition("registration.risk_tier", "in", "high, limited")
    'registration.risk_tier in ["high", "limited"]'
    """
    if field not in FIELDS:
        raise ConditionError(UNKNOWN_FIELD % {"field": field})
    if operator not in OPERATORS:
        raise ConditionError(UNKNOWN_OPERATOR % {"operator": operator})
    kind, allowed, _description = FIELDS[field]
    is_list = kind.startswith("list(")
    element = kind[5:-1] if is_list else kind

    if operator in ("is_empty", "is_not_empty"):
        if kind == "int":
            raise ConditionError(NUMBER_HAS_NO_TEXT % {"field": field})
        expression = f"size({field}) {'==' if operator == 'is_empty' else '>'} 0"
    elif is_list:
        if operator == "contains":
            expression = f"{_literal(_scalar(field, element, allowed, value), element)} in {field}"
        elif operator == "in":
            options = ", ".join(_literal(v, element) for v in _values(field, element, allowed, value))
            expression = f"{field}.exists(item, item in [{options}])"
        else:
            raise ConditionError(LIST_NEEDS_MEMBERSHIP % {"field": field})
    elif operator == "in":
        expression = f"{field} in [{', '.join(_literal(v, kind) for v in _values(field, kind, allowed, value))}]"
    elif operator == "contains":
        if kind == "int":
            raise ConditionError(NUMBER_HAS_NO_TEXT % {"field": field})
        # A substring, so any text goes, even for fields with a fixed set of values.
        expression = f"{field}.contains({_literal(_scalar(field, kind, allowed, value, check_allowed=False), kind)})"
    else:
        expression = f"{field} {operator} {_literal(_scalar(field, kind, allowed, value), kind)}"

    problems = validate_rule(expression)
    if problems:  # a bug here, not the author's mistake: never hand out a rule that would be refused on save
        raise ConditionError(
            _("Could not build a valid rule: %(problems)s") % {"problems": "; ".join(map(str, problems))}
        )
    return expression
