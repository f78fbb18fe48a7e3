"""The Dutch national algorithm register (algoritmes.overheid.nl), as a JSON snapshot (CC0 1.0).

Mapping: organisatie → an organization (country NL); id → external_id; title → name; doel → purpose;
juridische_basis → legal_basis; url → website; status in_gebruik / ontwikkeling / buiten_gebruik →
lifecycle stage production / development / retired; impactassessment (Ja / Nee / Onbekend) is kept in
`risks`. The register's own dates (geregistreerd, toegevoegd) describe its bookkeeping, not the system,
and are not imported.
"""

import json

from django.utils.translation import gettext as _

from registry.choices import LifecycleStage
from registry.models.systems import LONG_TEXT, MEDIUM_TEXT

from .base import Importer, ImportFormatError, OrganizationSpec, Rejection, Row, clip, first_url, read_text

WRONG_FORMAT = _("This is not an algoritmeregister snapshot: expected an object with a list 'algoritmes'.")
NOT_JSON = _("The file is not valid JSON: %(error)s")
PURPOSE_NOT_STATED = "Geen doel vermeld in het Algoritmeregister (not stated in the Dutch algorithm register)."
STATUSES = {
    "in_gebruik": LifecycleStage.PRODUCTION,
    "ontwikkeling": LifecycleStage.DEVELOPMENT,
    "buiten_gebruik": LifecycleStage.RETIRED,
}
IMPACT_ASSESSMENT = {"ja": "yes", "nee": "no", "onbekend": "unknown"}


class NlAlgoritmeregisterImporter(Importer):
    format_name = "nl-algoritmeregister"
    import_comment = _("Imported from the Dutch national algorithm register (CC0 1.0).")

    def rows(self, stream):
        try:
            data = json.loads(read_text(stream))
        except json.JSONDecodeError as error:
            raise ImportFormatError(NOT_JSON % {"error": error}) from error
        items = data.get("algoritmes") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ImportFormatError(WRONG_FORMAT)
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict) or not {"id", "title", "organisatie"} <= set(item):
                yield Rejection(number, _("Record %(number)d lacks id, title or organisatie.") % {"number": number})
                continue
            yield self.row(item, number)

    def row(self, item: dict, number: int) -> Row:
        warnings: list[str] = []
        get = lambda key: str(item.get(key) or "").strip()  # noqa: E731
        purpose = get("doel")
        if not purpose:
            purpose = PURPOSE_NOT_STATED
            warnings.append(_("No purpose (doel) given."))
        status = get("status")
        stage = STATUSES.get(status)
        if stage is None:
            stage = LifecycleStage.PLANNED
            warnings.append(_("Status %(value)r not recognised; recorded as planned.") % {"value": status})
        assessment = get("impactassessment")
        risks = ""
        if assessment:
            answer = IMPACT_ASSESSMENT.get(assessment.lower(), assessment)
            risks = f"Impact assessment (IAMA/DPIA) carried out: {answer}."
        system = {
            "name": clip(get("title"), 200, warnings, "title"),
            "purpose": clip(purpose, LONG_TEXT, warnings, "doel"),
            "legal_basis": clip(get("juridische_basis"), MEDIUM_TEXT, warnings, "juridische_basis"),
            "website": first_url(get("url"), warnings, "url"),
            "lifecycle_stage": stage,
            "risks": risks,
        }
        return Row(
            line=number,
            organization=OrganizationSpec(
                name=get("organisatie"),
                country="NL",
                description="Dutch public body, as named in the national algorithm register.",
            ),
            external_id=get("id")[:100],
            system=system,
            registration={"disclosure": {}},
            warnings=warnings,
        )
