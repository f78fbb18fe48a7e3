"""Our own open-data JSON (`commons-registry/1`, registry/exporters/registers.py), imported back.

Moves a register between installations: organizations by slug, systems by external_id (a system exported
without one gets a key derived from its organization and name), registration risk tier, context, date and
(from an `all` export) disclosure. Registration statuses are not carried over: imported registrations are
approved by the importer, like every import.
"""

import datetime
import json

from django.utils.translation import gettext as _

from registry.exporters.registers import JSON_FORMAT
from registry.services.systems import SYSTEM_FIELDS

from .base import Importer, ImportFormatError, OrganizationSpec, Rejection, Row, derived_key, read_text

WRONG_FORMAT = _("This is not a Commons Registry export (format %(format)s).") % {"format": JSON_FORMAT}
NOT_JSON = _("The file is not valid JSON: %(error)s")
DATE_FIELDS = {"start_date", "end_date", "deployment_date"}
PURPOSE_NOT_DISCLOSED = "Not disclosed in the exported register."


def _date(value):
    return datetime.date.fromisoformat(value) if isinstance(value, str) and value else None


class RegistryJsonImporter(Importer):
    format_name = "json"
    import_comment = _("Imported from a Commons Registry open-data export.")

    def rows(self, stream):
        try:
            data = json.loads(read_text(stream))
        except json.JSONDecodeError as error:
            raise ImportFormatError(NOT_JSON % {"error": error}) from error
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise ImportFormatError(WRONG_FORMAT)
        for number, item in enumerate(data.get("registrations") or [], 1):
            try:
                yield self.row(item, number)
            except (KeyError, TypeError, ValueError) as error:
                yield Rejection(
                    number, _("Record %(number)d is malformed: %(error)s") % {"number": number, "error": error}
                )

    def row(self, item: dict, number: int) -> Row:
        organization = item["organization"]
        fields = dict(item["system"])
        external_id = fields.pop("external_id", "") or derived_key("export-", organization["slug"], fields["name"])
        system = {name: value for name, value in fields.items() if name in SYSTEM_FIELDS}
        for name in DATE_FIELDS & set(system):
            system[name] = _date(system[name])
        warnings, create_only = [], {}
        if not system.get("purpose"):
            # A public export leaves out what its filer did not disclose; a new system still needs a purpose,
            # and an existing one keeps its own.
            system.pop("purpose", None)
            create_only["purpose"] = PURPOSE_NOT_DISCLOSED
            warnings.append(_("No purpose in the export (not disclosed)."))
        source = item.get("registration") or {}
        registration = {
            name: source[name] for name in ("risk_tier", "deployment_context", "disclosure") if name in source
        }
        if "deployment_date" in source:
            registration["deployment_date"] = _date(source["deployment_date"])
        return Row(
            line=number,
            organization=OrganizationSpec(
                name=organization["name"], country=organization.get("country", ""), given_slug=organization["slug"]
            ),
            external_id=str(external_id)[:100],
            system=system,
            registration=registration,
            warnings=warnings,
            create_only=create_only,
        )
