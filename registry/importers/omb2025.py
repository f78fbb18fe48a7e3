"""The U.S. federal AI use-case inventory 2025 (OMB M-25-21), as published by ombegov (public domain).

Mapping (see docs/imports.md for the reasoning):
- agency_name → an organization (slug from the name, country US); the bureau/component → the
  registration's deployment context ("Bureau/component: CBP").
- id → external_id; rows without an id get a key derived from agency, bureau and name (repeats numbered
  in file order); an id that repeats within the file rejects the later row.
- use_case_name → name, problem_solved → purpose (a placeholder when blank, with a warning),
  benefits, system_outputs → outputs, data_description → training_data, topic_area → topic,
  classification → techniques (and kept verbatim in tags), vendor_name → vendor,
  contracting_usage → operator role, has_pii → data categories, pia_url / code_url → links,
  operational_date → start_date, development_stage → lifecycle stage.
- is_high_impact "High-impact" → risk tier high; other answers keep the tier unassessed (the OMB
  determination is not an EU tier) and are kept in `risks` with the justification, the potential impacts
  and the eight high-impact minimum practices.
- is_withheld other than "No" → every disclosable field withheld, with the agency's answer as the reason.
"""

import csv
import hashlib
import io

from django.utils.translation import gettext as _

from registry.choices import DataCategory, LifecycleStage, OperatorRole, RiskTier, Technique
from registry.models.systems import DISCLOSABLE_FIELDS, LONG_TEXT, MEDIUM_TEXT

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

REQUIRED_COLUMNS = {
    "agency",
    "agency_name",
    "id",
    "use_case_name",
    "agency_bureau",
    "is_withheld",
    "development_stage",
    "is_high_impact",
    "problem_solved",
}
WRONG_FORMAT = _("This is not an OMB 2025 use-case inventory: missing columns %(columns)s.")
PURPOSE_NOT_STATED = "Not stated in the 2025 U.S. federal AI use-case inventory."
PLACEHOLDER_IDS = {"", "TBD", "N/A", "NA", "NONE"}

STAGES = {
    "pre-deployment": LifecycleStage.DEVELOPMENT,  # "in a development or acquisition status"
    "pilot": LifecycleStage.PILOT,
    "deployed": LifecycleStage.PRODUCTION,
    "retired": LifecycleStage.RETIRED,
}
TECHNIQUES = {
    "classical ml": [Technique.MACHINE_LEARNING],
    "generative ai": [Technique.GENERATIVE_AI],
    "nlp": [Technique.NATURAL_LANGUAGE_PROCESSING],
    "computer vision": [Technique.COMPUTER_VISION],
    "reinforcement learning": [Technique.MACHINE_LEARNING],
    "agentic ai": [Technique.GENERATIVE_AI],
    "other": [Technique.OTHER],
}
OPERATOR_ROLES = {
    "vendor purchased": OperatorRole.DEPLOYER,
    "in-house development": OperatorRole.PROVIDER_AND_DEPLOYER,
    "contracting and in house": OperatorRole.PROVIDER_AND_DEPLOYER,
}
PII = {"yes": [DataCategory.PERSONAL], "no": [DataCategory.NON_PERSONAL]}
# The eight minimum practices for high-impact AI (OMB M-25-21 §4), in the inventory's column order.
PRACTICES = [
    ("hi_testing_conducted", "Pre-deployment testing"),
    ("hi_assessment_completed", "AI impact assessment"),
    ("hi_independent_review", "Independent review"),
    ("hi_ongoing_monitoring", "Ongoing monitoring"),
    ("hi_training_established", "Operator training"),
    ("hi_failsafe_presence", "Fail-safe"),
    ("hi_appeal_process", "Appeal process"),
    ("hi_public_consultation", "Public consultation"),
]


def _list_value(value: str) -> str:
    """Select-multiple answers are written as Python lists ("['a', 'b']"); show them as "a; b"."""
    value = (value or "").strip()
    if value.startswith("[") and value.endswith("]"):
        import ast

        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        return "; ".join(" ".join(str(item).split()) for item in items)
    return value


def risks_text(record: dict) -> str:
    lines = []
    flag = record.get("is_high_impact", "").strip()
    lines.append(f"OMB high-impact determination: {flag or 'not stated'}.")
    if record.get("HI_justification", "").strip():
        lines.append(f"Justification: {record['HI_justification'].strip()}")
    if record.get("hi_potential_impacts", "").strip():
        lines.append(f"Potential impacts: {record['hi_potential_impacts'].strip()}")
    practices = [(label, _list_value(record.get(column, ""))) for column, label in PRACTICES]
    practices = [(label, value) for label, value in practices if value]
    if practices:
        lines.append("Minimum practices (OMB M-25-21): " + "; ".join(f"{label}: {value}" for label, value in practices))
    if record.get("have_ato", "").strip():
        ato = record["have_ato"].strip()
        name = record.get("system_name_ato", "").strip()
        lines.append(f"Authority to operate: {ato}{f' ({name})' if name else ''}.")
    demographics = _list_value(record.get("demographic_features", ""))
    if demographics:
        lines.append(f"Demographic features used: {demographics}")
    return "\n".join(lines)


class Omb2025Importer(Importer):
    format_name = "omb-2025"
    import_comment = _("Imported from the 2025 U.S. federal AI use-case inventory (public domain).")

    def rows(self, stream):
        text = read_text(stream)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise ImportFormatError(WRONG_FORMAT % {"columns": ", ".join(sorted(missing))})
        occurrences: dict[str, int] = {}
        line = 2  # line 1 is the header
        for record in reader:
            start, line = line, reader.line_num + 1
            if None in record:
                yield Rejection(start, _("The row has more cells than the header."), record.get("id", ""))
                continue
            yield self.row(record, start, occurrences)

    def row(self, record: dict, line: int, occurrences: dict[str, int]) -> Row:
        warnings: list[str] = []
        get = lambda column: (record.get(column) or "").strip()  # noqa: E731
        external_id = get("id")
        if external_id.upper() in PLACEHOLDER_IDS:
            base = "-".join(filter(None, [get("agency"), "noid", get("agency_bureau"), get("use_case_name")]))
            digest = hashlib.sha1(base.encode()).hexdigest()[:12]
            occurrences[digest] = occurrences.get(digest, 0) + 1
            suffix = f"-{occurrences[digest]}" if occurrences[digest] > 1 else ""
            external_id = f"{get('agency') or 'US'}-noid-{digest}{suffix}"
            warnings.append(_("No use-case id; identified as %(key)s.") % {"key": external_id})
        purpose = get("problem_solved")
        if not purpose:
            purpose = PURPOSE_NOT_STATED
            warnings.append(_("No purpose (problem_solved) given."))
        stage_value = get("development_stage")
        stage = STAGES.get(stage_value.lower())
        if stage is None:
            stage = LifecycleStage.PLANNED
            warnings.append(
                _("Stage %(value)r not recognised; recorded as planned.") % {"value": stage_value}
                if stage_value
                else _("No development stage given; recorded as planned.")
            )
        classification = get("classification")
        techniques = TECHNIQUES.get(classification.lower(), [Technique.OTHER] if classification else [])
        if classification and classification.lower() not in TECHNIQUES:
            warnings.append(_("Classification %(value)r kept in tags.") % {"value": classification})
        contracting = get("contracting_usage")
        operator_role = OPERATOR_ROLES.get(contracting.lower(), "")
        if contracting and not operator_role:
            warnings.append(_("Contracting usage %(value)r not recognised.") % {"value": contracting})
        email = get("contact_email")
        system = {
            "name": clip(get("use_case_name"), 200, warnings, "use_case_name"),
            "purpose": clip(purpose, LONG_TEXT, warnings, "problem_solved"),
            "benefits": clip(get("benefits"), MEDIUM_TEXT, warnings, "benefits"),
            "outputs": clip(get("system_outputs"), MEDIUM_TEXT, warnings, "system_outputs"),
            "training_data": clip(get("data_description"), MEDIUM_TEXT, warnings, "data_description"),
            "topic": clip(get("topic_area"), 200, warnings, "topic_area"),
            "techniques": techniques,
            "tags": clip(classification, 500, warnings, "classification"),
            "operator_role": operator_role,
            "vendor": clip(get("vendor_name"), 200, warnings, "vendor_name"),
            "data_categories": PII.get(get("has_pii").lower(), []),
            "lifecycle_stage": stage,
            "start_date": parse_date(get("operational_date"), warnings, "operational_date"),
            "privacy_assessment_url": first_url(get("pia_url"), warnings, "pia_url"),
            "source_code_url": first_url(get("code_url"), warnings, "code_url"),
            "contact_email": first_email(email, warnings, "contact_email"),
            "risks": clip(risks_text(record), MEDIUM_TEXT, warnings, "risks"),
        }
        high_impact = get("is_high_impact").lower() == "high-impact"
        registration = {
            "risk_tier": RiskTier.HIGH if high_impact else RiskTier.UNASSESSED,
            "deployment_context": clip(
                f"Bureau/component: {get('agency_bureau')}" if get("agency_bureau") else "",
                MEDIUM_TEXT,
                warnings,
                "agency_bureau",
            ),
        }
        withheld = get("is_withheld")
        if withheld and withheld.lower() != "no":
            reason = f"Withheld from public reporting by the agency: {withheld}."
            registration["disclosure"] = {name: {"level": "withheld", "reason": reason} for name in DISCLOSABLE_FIELDS}
        else:
            registration["disclosure"] = {}
        organization = OrganizationSpec(
            name=get("agency_name") or get("agency"),
            country="US",
            description=f"U.S. federal agency ({get('agency')}), as named in the 2025 AI use-case inventory.",
        )
        return Row(
            line=line,
            organization=organization,
            external_id=external_id[:100],
            system=system,
            registration=registration,
            warnings=warnings,
        )
