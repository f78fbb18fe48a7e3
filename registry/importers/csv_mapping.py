"""Any CSV, with a small JSON column mapping, so a community can bring its own spreadsheet (issue 7).

The mapping format, version 1:

    {
      "organization": {"column": "Department"},        or {"name": "City of Ottawa"} for one owner
      "id_column": "Ref",                              the natural key, unique per organization
      "delimiter": ",",                                optional, one character
      "columns": {
        "Title": "name",                               column → field
        "Status": {"field": "lifecycle_stage", "values": {"Live": "production"}, "default": "planned"},
        "Techniques": {"field": "techniques", "split": ";", "values": {"ML": "machine_learning"}}
      }
    }

Fields are the AI system's (except `external_id`, which `id_column` sets) and the registration's
`risk_tier`, `deployment_context` and `deployment_date`. `name` and `purpose` must be mapped. Choice
fields take our machine values after the value map; a value that maps to nothing known is reported as a
warning and the field keeps its default (or the mapping's `default`).
"""

import csv
import io

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from registry.choices import DataCategory, RiskTier, Technique
from registry.models import AISystem, Registration
from registry.services.systems import SYSTEM_FIELDS

from .base import (
    Importer,
    ImportFormatError,
    OrganizationSpec,
    Rejection,
    Row,
    clip,
    first_email,
    first_url,
    parse_date,
    read_text,
)

REGISTRATION_FIELDS = {"risk_tier", "deployment_context", "deployment_date"}
MAPPABLE_FIELDS = (SYSTEM_FIELDS - {"external_id"}) | REGISTRATION_FIELDS
LIST_FIELDS = {"techniques": Technique, "data_categories": DataCategory}
REQUIRED_FIELDS = {"name", "purpose"}

NOT_AN_OBJECT = _("The mapping must be a JSON object.")
UNKNOWN_KEY = _("Unknown key %(key)r in the mapping.")
NO_ORGANIZATION = _('Give "organization" as {"column": "..."} or {"name": "..."}.')
NO_ID_COLUMN = _('Give "id_column": the column holding each row\'s identifier.')
NO_COLUMNS = _('Give "columns": an object mapping column names to fields.')
UNKNOWN_FIELD = _("Column %(column)r: unknown field %(field)r.")
FIELD_TWICE = _("Field %(field)r is mapped from more than one column.")
BAD_SPEC = _('Column %(column)r: give a field name or {"field", "values", "default", "split"}.')
BAD_VALUES = _("Column %(column)r: 'values' must map strings to strings.")
BAD_CHOICE = _("Column %(column)r: %(value)r is not a value of %(field)s (allowed: %(allowed)s).")
SPLIT_NOT_LIST = _("Column %(column)r: 'split' applies only to techniques and data_categories.")
MISSING_REQUIRED = _("Map a column to each of: %(fields)s.")
BAD_DELIMITER = _("'delimiter' must be one character.")
MISSING_COLUMNS = _("The file lacks the mapped columns %(columns)s.")


class MappingError(Exception):
    """The mapping file is invalid; `messages` lists every problem."""

    def __init__(self, messages):
        self.messages = [str(message) for message in messages]
        super().__init__(" ".join(self.messages))


def _field(name) -> models.Field:
    model = Registration if name in REGISTRATION_FIELDS else AISystem
    return model._meta.get_field(name)


def _choices(name) -> list[str]:
    if name in LIST_FIELDS:
        return list(LIST_FIELDS[name].values)
    if name == "risk_tier":
        return list(RiskTier.values)
    field = _field(name)
    return [value for value, _label in field.choices] if field.choices else []


def validate_mapping(data) -> dict:
    """Check a mapping and return it normalised: every column spec as {"field", "values", "default", "split"}."""
    if not isinstance(data, dict):
        raise MappingError([NOT_AN_OBJECT])
    errors = []
    for key in sorted(set(data) - {"version", "organization", "id_column", "delimiter", "columns"}):
        errors.append(UNKNOWN_KEY % {"key": key})
    organization = data.get("organization")
    if not (
        isinstance(organization, dict)
        and len(organization) == 1
        and isinstance(next(iter(organization.values())), str)
        and next(iter(organization)) in {"column", "name"}
        and next(iter(organization.values())).strip()
    ):
        errors.append(NO_ORGANIZATION)
    if not isinstance(data.get("id_column"), str) or not data.get("id_column", "").strip():
        errors.append(NO_ID_COLUMN)
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        errors.append(BAD_DELIMITER)
    columns = data.get("columns")
    normalised, targets = {}, {}
    if not isinstance(columns, dict) or not columns:
        errors.append(NO_COLUMNS)
        columns = {}
    for column, spec in columns.items():
        if isinstance(spec, str):
            spec = {"field": spec}
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("field"), str)
            or set(spec)
            - {
                "field",
                "values",
                "default",
                "split",
            }
        ):
            errors.append(BAD_SPEC % {"column": column})
            continue
        name = spec["field"]
        if name not in MAPPABLE_FIELDS:
            errors.append(UNKNOWN_FIELD % {"column": column, "field": name})
            continue
        if name in targets:
            errors.append(FIELD_TWICE % {"field": name})
            continue
        targets[name] = column
        values = spec.get("values", {})
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            errors.append(BAD_VALUES % {"column": column})
            continue
        if "split" in spec and (name not in LIST_FIELDS or not isinstance(spec["split"], str) or not spec["split"]):
            errors.append(SPLIT_NOT_LIST % {"column": column})
            continue
        allowed = _choices(name)
        if allowed:
            for value in [*values.values(), *([spec["default"]] if "default" in spec else [])]:
                if value not in allowed:
                    errors.append(
                        BAD_CHOICE % {"column": column, "value": value, "field": name, "allowed": ", ".join(allowed)}
                    )
        normalised[column] = {
            "field": name,
            "values": values,
            "default": spec.get("default"),
            "split": spec.get("split", ";"),
        }
    missing = REQUIRED_FIELDS - set(targets)
    if columns and missing:
        errors.append(MISSING_REQUIRED % {"fields": ", ".join(sorted(missing))})
    if errors:
        raise MappingError(errors)
    return {
        "organization": organization,
        "id_column": data["id_column"],
        "delimiter": delimiter,
        "columns": normalised,
    }


class CsvMappingImporter(Importer):
    format_name = "csv"
    import_comment = _("Imported from a CSV file with a column mapping.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mapping = validate_mapping(self.options.get("mapping"))

    def rows(self, stream):
        text = read_text(stream)
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=self.mapping["delimiter"])
        header = set(reader.fieldnames or [])
        needed = set(self.mapping["columns"]) | {self.mapping["id_column"]}
        if "column" in self.mapping["organization"]:
            needed.add(self.mapping["organization"]["column"])
        missing = needed - header
        if missing:
            raise ImportFormatError(MISSING_COLUMNS % {"columns": ", ".join(sorted(missing))})
        line = 2
        for record in reader:
            start, line = line, reader.line_num + 1
            if None in record:
                yield Rejection(start, _("The row has more cells than the header."))
                continue
            yield self.row(record, start)

    def row(self, record: dict, line: int) -> Row:
        warnings: list[str] = []
        system, registration = {}, {}
        for column, spec in self.mapping["columns"].items():
            name = spec["field"]
            raw = (record.get(column) or "").strip()
            value = self.convert(name, raw, spec, warnings, column)
            if value is None:
                continue
            (registration if name in REGISTRATION_FIELDS else system)[name] = value
        organization = self.mapping["organization"]
        organization_name = organization.get("name") or (record.get(organization.get("column", "")) or "").strip()
        return Row(
            line=line,
            organization=OrganizationSpec(name=organization_name),
            external_id=(record.get(self.mapping["id_column"]) or "").strip()[:100],
            system=system,
            registration=registration,
            warnings=warnings,
        )

    def convert(self, name, raw, spec, warnings, column):
        values = spec["values"]
        if name in LIST_FIELDS:
            items = [values.get(part.strip(), part.strip()) for part in raw.split(spec["split"]) if part.strip()]
            allowed = set(LIST_FIELDS[name].values)
            unknown = [item for item in items if item not in allowed]
            if unknown:
                warnings.append(
                    _("%(column)s: %(values)s not recognised; not imported.")
                    % {"column": column, "values": ", ".join(repr(item) for item in unknown)}
                )
            return list(dict.fromkeys(item for item in items if item in allowed))
        allowed = _choices(name)
        if allowed:
            value = values.get(raw, raw)
            if value in allowed:
                return value
            if raw:
                warnings.append(_("%(column)s: %(value)r not recognised.") % {"column": column, "value": raw})
            return spec["default"]
        field = _field(name)
        if isinstance(field, models.DateField):
            return parse_date(raw, warnings, column)
        if isinstance(field, models.URLField):
            return first_url(raw, warnings, column)
        if isinstance(field, models.EmailField):
            return first_email(raw, warnings, column)
        if field.max_length:
            return clip(values.get(raw, raw), field.max_length, warnings, column)
        return values.get(raw, raw)


def mapping_errors(data) -> list[str]:
    try:
        validate_mapping(data)
    except MappingError as error:
        return error.messages
    return []


__all__ = ["CsvMappingImporter", "MappingError", "ValidationError", "mapping_errors", "validate_mapping"]
