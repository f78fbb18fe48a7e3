"""One registration as a record of the Dutch algorithm register's publication standard v1.0.

Field names and permitted values follow the standard's schema (MinBZK/Algoritmeregister
`backend/app/schemas/config/v1_0.json`, EUPL-1.2). It is a publication: only fields the filer disclosed as
public are filled; the others are left empty. Texts are cut to the standard's maximum lengths.
"""

from registry.choices import RiskTier
from registry.models.registrations import disclosure_level

STATUS = {
    "planned": "In ontwikkeling",
    "development": "In ontwikkeling",
    "pilot": "In ontwikkeling",
    "production": "In gebruik",
    "retired": "Buiten gebruik",
}
LIMITS = {
    "name": 100,
    "description_short": 400,
    "organization": 100,
    "goal": 2500,
    "proportionality": 2500,
    "human_intervention": 2500,
    "risks": 2500,
    "lawful_basis": 2500,
    "source_data": 2500,
    "methods_and_models": 5000,
    "provider": 200,
    "publiccode": 500,
    "website": 500,
    "contact_email": 500,
    "tags": 2500,
    "source_id": 100,
}


def nl_standard_record(registration) -> dict:
    system = registration.system
    disclosure = registration.disclosure or {}

    def public(field):
        if disclosure_level(disclosure, field) != "public":
            return ""
        value = getattr(system, field)
        return value.isoformat()[:7] if hasattr(value, "isoformat") else (value or "")

    category = (
        "Hoog-risico AI-systeem"
        if registration.risk_tier == RiskTier.HIGH
        else "Impactvolle algoritmes"
        if registration.risk_tier == RiskTier.LIMITED
        else "Overige algoritmes"
    )
    record = {
        "name": system.name,
        "description_short": public("purpose"),
        "organization": registration.organization.name,
        "category": [],
        "status": STATUS.get(public("lifecycle_stage"), ""),
        "begin_date": public("start_date"),
        "end_date": public("end_date"),
        "contact_email": public("contact_email"),
        "website": public("website"),
        "publication_category": category,
        "url": "",
        "goal": "\n\n".join(filter(None, [public("purpose"), public("benefits")])),
        "proportionality": public("proportionality"),
        "human_intervention": public("human_oversight_description"),
        "risks": public("risks"),
        "lawful_basis": public("legal_basis"),
        "process_index_url": "",
        "impacttoetsen": "",
        "source_data": public("inputs"),
        "methods_and_models": public("technical_description"),
        "provider": public("vendor"),
        "publiccode": public("source_code_url"),
        "lang": "nld",
        "standard_version": "1.0",
        "source_id": system.external_id,
        "tags": public("tags"),
    }
    for field, limit in LIMITS.items():
        if isinstance(record[field], str) and len(record[field]) > limit:
            record[field] = record[field][: limit - 1] + "…"
    return record
