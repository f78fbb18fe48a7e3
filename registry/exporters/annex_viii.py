"""One registration as the information of EU AI Act Annex VIII, for the EU database (Articles 49 and 71).

Which section applies:
- A (Article 49(1)): a high-risk system, registered by its provider (operator role provider, or provider
  and deployer);
- B (Article 49(2)): a system its provider considers not high-risk under Article 6(3) (operator role a
  provider, risk tier minimal or limited);
- C (Article 49(3)): a high-risk system, registered by a deployer (operator role deployer, or provider and
  deployer, who registers both).
A registration with no tier yet, or whose role is neither, gets no section; `applies` says why.
Fields the register does not hold (certificates, declaration of conformity, Member States) are listed in
`missing` rather than invented.
"""

from registry.choices import OperatorRole, RiskTier

PROVIDERS = {OperatorRole.PROVIDER, OperatorRole.PROVIDER_AND_DEPLOYER}
DEPLOYERS = {OperatorRole.DEPLOYER, OperatorRole.PROVIDER_AND_DEPLOYER}


def applicable_sections(registration) -> list[str]:
    role, tier = registration.system.operator_role, registration.risk_tier
    sections = []
    if tier == RiskTier.HIGH and role in PROVIDERS:
        sections.append("A")
    if tier in (RiskTier.MINIMAL, RiskTier.LIMITED) and role in PROVIDERS:
        sections.append("B")
    if tier == RiskTier.HIGH and role in DEPLOYERS:
        sections.append("C")
    return sections


def _party(organization) -> dict:
    return {
        "name": organization.name,
        "country": organization.country,
        "contact_name": organization.contact_name,
        "contact_email": organization.contact_email,
        "website": organization.website,
    }


def _status(system) -> str:
    return {"retired": "no longer placed on the market / in service"}.get(
        system.lifecycle_stage, "placed on the market / in service"
    )


def annex_viii_record(registration) -> dict:
    system, organization = registration.system, registration.organization
    sections = applicable_sections(registration)
    record = {
        "standard": "EU AI Act (Regulation (EU) 2024/1689), Annex VIII",
        "registration": registration.pk,
        "community": registration.community.slug,
        "risk_tier": registration.risk_tier,
        "operator_role": system.operator_role,
        "sections": sections,
        "applies": (
            "Section(s) " + ", ".join(sections)
            if sections
            else "No section applies: Annex VIII covers high-risk systems and Article 6(3) claims by providers; "
            "set the risk tier and operator role to decide."
        ),
    }
    if "A" in sections:
        record["A"] = {
            "1_provider": _party(organization),
            "2_submitted_on_behalf_by": None,
            "3_authorised_representative": None,
            "4_trade_name_and_reference": {"name": system.name, "reference": system.external_id},
            "5_intended_purpose_and_components": "\n\n".join(
                filter(None, [system.purpose, system.intended_use, system.technical_description])
            ),
            "6_information_used_and_operating_logic": "\n\n".join(
                filter(None, [system.inputs, system.training_data, system.technical_description])
            ),
            "7_status": _status(system),
            "8_notified_body_certificate": None,
            "9_certificate_copy": None,
            "10_member_states": [],
            "11_eu_declaration_of_conformity": None,
            "12_instructions_for_use": system.documentation_url or None,
            "13_additional_information_url": system.website or None,
            "missing": ["8", "9", "10", "11"],
        }
    if "B" in sections:
        record["B"] = {
            "1_provider": _party(organization),
            "2_submitted_on_behalf_by": None,
            "3_authorised_representative": None,
            "4_trade_name_and_reference": {"name": system.name, "reference": system.external_id},
            "5_intended_purpose": system.purpose,
            "6_article_6_3_conditions": None,
            "7_grounds_summary": system.risks or None,
            "8_status": _status(system),
            "9_member_states": [],
            "missing": ["6", "9"],
        }
    if "C" in sections:
        record["C"] = {
            "1_deployer": _party(organization),
            "2_submitted_on_behalf_by": None,
            "3_provider_database_entry_url": None,
            "4_fundamental_rights_impact_assessment_summary": system.risks or None,
            "5_data_protection_impact_assessment_summary": system.privacy_assessment_url or None,
            "system": {"name": system.name, "reference": system.external_id, "vendor": system.vendor},
            "missing": ["3"],
        }
    return record
