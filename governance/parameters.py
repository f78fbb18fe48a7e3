"""Requirement parameters: declared with a type, a default and the direction in which they get stricter.

A community may override a parameter only in the stricter direction, so the global floor can be raised
but never lowered. This module is the one place that knows what "stricter" means.
"""

from django.utils.translation import gettext as _

from governance.choices import Direction, ParameterType

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
PYTHON_TYPES = {ParameterType.INT: int, ParameterType.BOOL: bool, ParameterType.STRING: str}


def coerce(declaration: dict, value):
    """Return `value` as the declared type, or raise ValueError with a readable message."""
    expected = PYTHON_TYPES[declaration["type"]]
    if expected is int and isinstance(value, bool):
        raise ValueError(_("%(name)s must be a whole number.") % {"name": declaration["name"]})
    if not isinstance(value, expected):
        raise ValueError(
            _("%(name)s must be of type %(type)s.") % {"name": declaration["name"], "type": declaration["type"]}
        )
    return value


def is_at_least_as_strict(direction: str, candidate, reference) -> bool:
    if direction == Direction.LOWER_IS_STRICTER:
        return candidate <= reference
    if direction == Direction.HIGHER_IS_STRICTER:
        return candidate >= reference
    if direction == Direction.TRUE_IS_STRICTER:
        return bool(candidate) or not reference
    return candidate == reference


def declaration_errors(declarations) -> list[str]:
    """Problems with a requirement's `parameters` list, as messages for the policy author."""
    import re

    if not isinstance(declarations, list):
        return [_("Parameters must be a list of declarations.")]
    errors, seen = [], set()
    for index, declaration in enumerate(declarations, start=1):
        if not isinstance(declaration, dict):
            errors.append(_("Parameter %(n)d must be an object.") % {"n": index})
            continue
        name = declaration.get("name", "")
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            errors.append(_("Parameter %(n)d: name must be snake_case, e.g. max_age_days.") % {"n": index})
            continue
        if name in seen:
            errors.append(_("Parameter %(name)s is declared twice.") % {"name": name})
        seen.add(name)
        if declaration.get("type") not in ParameterType.values:
            errors.append(
                _("%(name)s: type must be one of %(types)s.") % {"name": name, "types": ", ".join(ParameterType.values)}
            )
            continue
        if declaration.get("direction") not in Direction.values:
            errors.append(
                _("%(name)s: direction must be one of %(values)s.")
                % {"name": name, "values": ", ".join(Direction.values)}
            )
        try:
            coerce(declaration, declaration.get("default"))
        except ValueError as error:
            errors.append(_("Default of %(message)s") % {"message": error})
        unknown = set(declaration) - {"name", "type", "default", "direction", "description"}
        if unknown:
            errors.append(_("%(name)s: unknown keys %(keys)s.") % {"name": name, "keys": ", ".join(sorted(unknown))})
    return errors
