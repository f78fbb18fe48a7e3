"""Build nist-ai-rmf-1.0.json (a commons-registry/framework-version@1 file) from the NIST AI RMF 1.0 Core.

Source: NIST AI 100-1 (January 2023), Core tables 1-4, as transcribed in
shared/data/nist_ai_rmf/ai_rmf_1.0_core.json (a CC0 transcription of a U.S. Government work).

The official statements are copied verbatim. Function and category titles and the per-subcategory
evidence sentences are ours (NIST gives categories no short titles).

    python governance/baselines/build_nist.py [--source PATH] [--output PATH]

The output is deterministic: running it twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "nist_ai_rmf" / "ai_rmf_1.0_core.json"
DEFAULT_OUTPUT = HERE / "nist-ai-rmf-1.0.json"

DOI = "https://doi.org/10.6028/NIST.AI.100-1"
EFFECTIVE_FROM = "2023-01-26"
EXPECTED_COUNTS = (4, 19, 72)

FUNCTION_TITLES = {
    "GOVERN": "Govern",
    "MAP": "Map",
    "MEASURE": "Measure",
    "MANAGE": "Manage",
}

# Short category titles (ours; the official statement is the requirement text).
CATEGORY_TITLES = {
    "GOVERN 1": "AI risk management policies, processes and procedures",
    "GOVERN 2": "Accountability structures, roles and training",
    "GOVERN 3": "Workforce diversity, equity, inclusion and accessibility",
    "GOVERN 4": "A culture that considers and communicates AI risk",
    "GOVERN 5": "Engagement with relevant AI actors",
    "GOVERN 6": "Third-party software, data and supply-chain risks",
    "MAP 1": "Context is established and understood",
    "MAP 2": "Categorization of the AI system",
    "MAP 3": "Capabilities, targeted usage, goals, benefits and costs",
    "MAP 4": "Risks and benefits of all components, including third-party ones",
    "MAP 5": "Impacts on individuals, groups, communities, organizations and society",
    "MEASURE 1": "Methods and metrics are identified and applied",
    "MEASURE 2": "Evaluation of trustworthy characteristics",
    "MEASURE 3": "Tracking identified AI risks over time",
    "MEASURE 4": "Feedback about the efficacy of measurement",
    "MANAGE 1": "Prioritizing and responding to mapped and measured risks",
    "MANAGE 2": "Strategies to maximize benefits and minimize negative impacts",
    "MANAGE 3": "Risks and benefits from third-party entities",
    "MANAGE 4": "Risk treatment, response, recovery and communication",
}

# What documentation demonstrates each subcategory (ours).
EVIDENCE = {
    "GOVERN 1.1": "A register of the laws and regulations that apply to the system, with owners and how each is met.",
    "GOVERN 1.2": "Policies or procedures naming the trustworthy-AI characteristics and where they are applied.",
    "GOVERN 1.3": "A documented risk tolerance and the procedure that sets the depth of risk management from it.",
    "GOVERN 1.4": "The approved AI risk management policy or procedure and a record of its outcomes for this system.",
    "GOVERN 1.5": "A review schedule for the risk management process, named owners and the latest review record.",
    "GOVERN 1.6": "This system's entry in the organization's AI inventory, and the inventory's owner and resourcing.",
    "GOVERN 1.7": "A decommissioning or phase-out plan for the system covering data, dependants and residual risks.",
    "GOVERN 2.1": "A roles matrix (e.g. RACI) for the system's risk management, with escalation paths.",
    "GOVERN 2.2": "Training records showing staff and partners completed AI risk management training for their roles.",
    "GOVERN 2.3": "A record of an accountable executive's sign-off on the system's risks and deployment decision.",
    "GOVERN 3.1": "An outline of the team that made risk decisions, showing its range of disciplines and background.",
    "GOVERN 3.2": "A procedure defining human-AI roles and oversight responsibilities for the system.",
    "GOVERN 4.1": "Policies or design-review records that show safety-first, critical review of the system.",
    "GOVERN 4.2": "Documentation of the system's risks and potential impacts and how they were communicated.",
    "GOVERN 4.3": "Procedures for AI testing, incident identification and information sharing, with example records.",
    "GOVERN 5.1": "A feedback procedure for people outside the team and a log of feedback received and considered.",
    "GOVERN 5.2": "Records showing adjudicated feedback was fed into the system's design or implementation.",
    "GOVERN 6.1": "Third-party risk policy and the assessments of this system's suppliers, data and IP/licence rights.",
    "GOVERN 6.2": "A contingency plan for failures or incidents in third-party data or AI components.",
    "MAP 1.1": "A documented statement of intended purpose, context of use, applicable norms and deployment settings.",
    "MAP 1.2": "A record of the interdisciplinary people consulted when the context was established.",
    "MAP 1.3": "The organization's mission or AI goals and how this system relates to them.",
    "MAP 1.4": "A business case or re-evaluation stating the value and context of business use.",
    "MAP 1.5": "The documented risk tolerances that apply to this system.",
    "MAP 1.6": "System requirements elicited from relevant actors, including socio-technical considerations.",
    "MAP 2.1": "The tasks the system supports and the methods used (e.g. classifier, generative model, recommender).",
    "MAP 2.2": "Documentation of the system's knowledge limits and of how outputs are used and overseen by humans.",
    "MAP 2.3": "A test, evaluation, verification and validation (TEVV) plan covering data, design and integrity.",
    "MAP 3.1": "An analysis of the expected benefits of the system's functionality and performance.",
    "MAP 3.2": "An analysis of potential costs of errors, including non-monetary costs, against risk tolerance.",
    "MAP 3.3": "A documented application scope based on the system's capability, context and categorization.",
    "MAP 3.4": "Operator proficiency requirements, training and any relevant standards or certifications.",
    "MAP 3.5": "A documented human oversight process for the system, reviewed against organizational policy.",
    "MAP 4.1": "A component risk map, including third-party data and software and legal or IP risks.",
    "MAP 4.2": "A list of internal risk controls for each component, including third-party AI technologies.",
    "MAP 5.1": "An impact assessment rating likelihood and magnitude of each identified impact.",
    "MAP 5.2": "A stakeholder engagement plan and records of feedback about impacts.",
    "MEASURE 1.1": "A measurement plan listing metrics per risk and the risks that cannot be measured, with reasons.",
    "MEASURE 1.2": "Records of periodic review of metrics and controls, including error reports.",
    "MEASURE 1.3": "Assessment reports by internal experts independent of the developers or by external assessors.",
    "MEASURE 2.1": "TEVV documentation of test sets, metrics and tools.",
    "MEASURE 2.2": "Protocols and approvals for evaluations involving people, with representativeness analysis.",
    "MEASURE 2.3": "Performance results measured under conditions similar to the deployment setting.",
    "MEASURE 2.4": "A production monitoring plan and recent monitoring reports.",
    "MEASURE 2.5": "Validation and reliability results and documented limits of generalizability.",
    "MEASURE 2.6": "Safety evaluation results, residual risk against tolerance and fail-safe behaviour.",
    "MEASURE 2.7": "Security and resilience test results (e.g. adversarial testing, penetration tests).",
    "MEASURE 2.8": "An assessment of transparency and accountability risks.",
    "MEASURE 2.9": "Model explanation and validation documentation and guidance on interpreting outputs.",
    "MEASURE 2.10": "A privacy risk assessment of the system (e.g. a DPIA).",
    "MEASURE 2.11": "Fairness and bias evaluation results across relevant groups.",
    "MEASURE 2.12": "An assessment of the environmental impact of training and operating the system.",
    "MEASURE 2.13": "A review of how effective the TEVV metrics and processes were.",
    "MEASURE 3.1": "A risk tracking procedure and an up-to-date risk log including emergent risks.",
    "MEASURE 3.2": "Documented tracking approaches for risks that current metrics cannot measure.",
    "MEASURE 3.3": "A channel for end users and affected people to report problems and appeal outcomes, and its use.",
    "MEASURE 4.1": "Documentation of how measurement approaches were tied to the deployment context with experts.",
    "MEASURE 4.2": "Records of domain-expert input validating trustworthiness results in deployment.",
    "MEASURE 4.3": "Reports of measured performance changes drawn from consultations and field data.",
    "MANAGE 1.1": "A documented go/no-go decision on whether the system meets its purpose and should proceed.",
    "MANAGE 1.2": "A prioritized risk treatment plan based on impact, likelihood and resources.",
    "MANAGE 1.3": "Documented responses (mitigate, transfer, avoid, accept) for high-priority risks.",
    "MANAGE 1.4": "A statement of residual risks communicated to downstream acquirers and end users.",
    "MANAGE 2.1": "An analysis of resources needed and of non-AI alternatives considered.",
    "MANAGE 2.2": "Maintenance and value-sustainment procedures for the deployed system.",
    "MANAGE 2.3": "A procedure for responding to newly identified risks and records of its use.",
    "MANAGE 2.4": "A procedure with assigned responsibility to override, disengage or deactivate the system.",
    "MANAGE 3.1": "Monitoring records and controls applied to third-party AI resources.",
    "MANAGE 3.2": "Monitoring and maintenance records covering pre-trained models used.",
    "MANAGE 4.1": "A post-deployment monitoring plan covering feedback, appeal, incidents, recovery and change.",
    "MANAGE 4.2": "Records of continual improvement activities and stakeholder engagement in updates.",
    "MANAGE 4.3": "An incident log and the communications sent to affected actors and communities.",
}

HIGH_SEVERITY_CATEGORIES = {"GOVERN 1", "MAP 1"}
TITLE_LIMIT = 110


def code_for(official_id: str) -> str:
    """'GOVERN 1.1' -> 'GOVERN-1.1'; 'MAP' -> 'MAP'."""
    return official_id.strip().replace(" ", "-")


def short_title(statement: str, limit: int = TITLE_LIMIT) -> str:
    """The statement itself when short, else cut at a word boundary with an ellipsis."""
    statement = re.sub(r"\s+", " ", statement).strip()
    if len(statement) <= limit:
        return statement
    cut = statement[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-\u2013")
    return cut + "…"


def requirement(**fields) -> dict:
    base = {
        "code": "",
        "parent": None,
        "order": 0,
        "title": "",
        "text": "",
        "citation": "",
        "citation_url": DOI,
        "severity": "medium",
        "effective_from": EFFECTIVE_FROM,
        "effective_until": None,
        "kind": "informative",
        "applies_when": "true",
        "check": "",
        "evidence": "",
        "parameters": [],
    }
    base.update(fields)
    return base


def build(core: dict) -> dict:
    framework = core["framework"]
    requirements = []
    counts = [0, 0, 0]
    for f_index, function in enumerate(framework["functions"], start=1):
        f_id = function["id"]
        counts[0] += 1
        requirements.append(
            requirement(
                code=code_for(f_id),
                order=f_index * 1000,
                title=f"{FUNCTION_TITLES[f_id]} ({function['abbrev']})",
                text=function["outcome"],
                citation=f"NIST AI 100-1, {f_id}",
            )
        )
        for c_index, category in enumerate(function["categories"], start=1):
            c_id = category["id"]
            counts[1] += 1
            severity = "high" if c_id in HIGH_SEVERITY_CATEGORIES else "medium"
            requirements.append(
                requirement(
                    code=code_for(c_id),
                    parent=code_for(f_id),
                    order=f_index * 1000 + c_index * 10,
                    title=CATEGORY_TITLES[c_id],
                    text=category["statement"],
                    citation=f"NIST AI 100-1, {c_id}",
                    severity=severity,
                )
            )
            for s_index, sub in enumerate(category["subcategories"], start=1):
                s_id = sub["id"]
                counts[2] += 1
                requirements.append(
                    requirement(
                        code=code_for(s_id),
                        parent=code_for(c_id),
                        order=f_index * 1000 + c_index * 10 + s_index,
                        title=short_title(sub["statement"]),
                        text=sub["statement"],
                        citation=f"NIST AI 100-1, {s_id}",
                        severity=severity,
                        kind="evidence",
                        evidence=EVIDENCE[s_id],
                    )
                )
    if tuple(counts) != EXPECTED_COUNTS:
        raise SystemExit(f"unexpected counts {counts}, expected {EXPECTED_COUNTS}")
    missing = set(EVIDENCE) - {r["code"].replace("-", " ") for r in requirements}
    if missing:
        raise SystemExit(f"evidence sentences for unknown subcategories: {sorted(missing)}")

    return {
        "format": "commons-registry/framework-version@1",
        "urn": "urn:commons:baseline:nist-ai-rmf",
        "name": "NIST AI Risk Management Framework 1.0 (NIST AI 100-1) — Core",
        "short_name": "NIST AI RMF",
        "version": "1.0",
        "description": (
            "The Core of the NIST Artificial Intelligence Risk Management Framework (AI RMF 1.0, NIST AI 100-1, "
            "January 2023): 4 functions (GOVERN, MAP, MEASURE, MANAGE), 19 categories and 72 subcategories. "
            "Subcategories ask for evidence; functions and categories group them. Category and subcategory "
            "statements are NIST's own wording, unchanged; titles and evidence prompts are Commons Registry's. "
            "GOVERN 1 and MAP 1 (policies and legal requirements; the system's context) are rated high severity "
            "because every other outcome builds on them; the rest are medium."
        ),
        "source_url": DOI,
        "licence_notice": (
            "NIST AI 100-1 is a work of the U.S. Government and is not subject to copyright protection in the "
            "United States (public domain). The statements come from a CC0-1.0 transcription of the AI RMF Core "
            "(github.com/Agent-Threat-Rule/ai-rmf-oscal-catalog @ 22ef071a, cross-checked against "
            "intuitem/ciso-assistant-community). Source: National Institute of Standards and Technology, "
            "NIST AI 100-1, https://doi.org/10.6028/NIST.AI.100-1. Titles and evidence prompts are by Commons "
            "Registry contributors."
        ),
        "binding": "mandatory",
        "requirements": requirements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    core = json.loads(args.source.read_text(encoding="utf-8"))
    data = build(core)
    args.output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for r in data["requirements"]:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"wrote {args.output} with {len(data['requirements'])} requirements {kinds}")


if __name__ == "__main__":
    main()
