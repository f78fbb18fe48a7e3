"""Demo content for `manage.py seed_demo`: a fictional country, its registers, the people who use them.

Everything here is data; `demo_seed()` walks it and writes through `registry.services`, so the demo has
the same audit trail, versions and permission checks as real use. Natural keys (community and
organization slugs, usernames, a system's external id) make the seed idempotent: whatever already
exists is left exactly as it is.

All names are invented. The jurisdiction codes use the ISO 3166 user-assigned range (X*) so they can
never collide with a real country.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from registry import services
from registry.choices import (
    CommunityKind,
    CommunityRole,
    DataCategory,
    DecisionRole,
    HumanOversight,
    LifecycleStage,
    OperatorRole,
    OrganizationRole,
    RiskTier,
    Technique,
)
from registry.models import AISystem, Community, Organization, Registration

DEMO_PASSWORD = "commons-demo-2026"
DEMO_ADMIN = "admin"

COMMUNITIES = [
    # Parents come before their children.
    {
        "slug": "northland",
        "name": "Republic of Northland",
        "kind": CommunityKind.NATION,
        "parent": None,
        "jurisdiction_code": "XN",
        "website": "https://northland.example",
        "description": "The national register: every public body and company deploying AI in Northland files here.",
    },
    {
        "slug": "lakeshore",
        "name": "Lakeshore Region",
        "kind": CommunityKind.REGION,
        "parent": "northland",
        "jurisdiction_code": "XN-LK",
        "description": "The lake-side region; its register adds transparency rules for public-facing chatbots.",
    },
    {
        "slug": "highlands",
        "name": "Highlands Region",
        "kind": CommunityKind.REGION,
        "parent": "northland",
        "jurisdiction_code": "XN-HL",
        "description": "The mountain region, mostly rural, with a regional health authority.",
    },
    {
        "slug": "port-avalon",
        "name": "City of Port Avalon",
        "kind": CommunityKind.CITY,
        "parent": "lakeshore",
        "jurisdiction_code": "XN-LK-PAV",
        "website": "https://port-avalon.example",
        "description": "The regional capital and harbour city.",
    },
    {
        "slug": "riverton",
        "name": "City of Riverton",
        "kind": CommunityKind.CITY,
        "parent": "lakeshore",
        "jurisdiction_code": "XN-LK-RVT",
        "description": "A university town with the region's main hospital.",
    },
    {
        "slug": "cedar-falls",
        "name": "City of Cedar Falls",
        "kind": CommunityKind.CITY,
        "parent": "highlands",
        "jurisdiction_code": "XN-HL-CDF",
        "description": "The largest town in the Highlands.",
    },
    {
        "slug": "kinwa-nation",
        "name": "Kinwa First Nation",
        "kind": CommunityKind.INDIGENOUS_NATION,
        "parent": "northland",
        "jurisdiction_code": "XN-KFN",
        "description": (
            "A self-governing First Nation (fictional). Its register applies its own data-sovereignty "
            "rules on top of the national floor."
        ),
        "public_register_enabled": False,
    },
    {
        "slug": "digital-services-agency",
        "name": "Northland Digital Services Agency",
        "kind": CommunityKind.AGENCY,
        "parent": "northland",
        "jurisdiction_code": "XN-DSA",
        "description": "The national agency that keeps a register of AI used across central government.",
    },
]

ORGANIZATIONS = [
    {
        "slug": "avalon-it",
        "name": "Port Avalon City IT Department",
        "country": "XN",
        "registration_number": "PB-0042",
        "website": "https://it.port-avalon.example",
        "contact_name": "Mara Quill",
        "contact_email": "ai-register@port-avalon.example",
        "description": "Runs the city's digital services, from the 311 line to permit processing.",
    },
    {
        "slug": "healthcore",
        "name": "HealthCore Analytics Ltd.",
        "country": "XN",
        "registration_number": "C-778120",
        "lei": "984500ABCDEF12345678",
        "website": "https://healthcore.example",
        "contact_name": "Dr. Ines Varga",
        "contact_email": "regulatory@healthcore.example",
        "description": "Health-technology vendor building clinical decision-support software for hospitals.",
    },
    {
        "slug": "northland-benefits",
        "name": "Northland Benefits Agency",
        "country": "XN",
        "registration_number": "PB-0007",
        "website": "https://benefits.northland.example",
        "contact_name": "Tomas Ekwall",
        "contact_email": "transparency@benefits.northland.example",
        "description": "Pays unemployment, housing and family benefits nationwide.",
    },
    {
        "slug": "lakeshore-transit",
        "name": "Lakeshore Transit Company",
        "country": "XN",
        "registration_number": "C-120455",
        "website": "https://lakeshore-transit.example",
        "contact_name": "Priya Lindqvist",
        "contact_email": "data-office@lakeshore-transit.example",
        "description": "Operates buses and ferries across the Lakeshore Region.",
    },
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str  # as shown in the printed table
    superuser: bool = False
    community_roles: tuple[tuple[str, str], ...] = ()  # (community slug, CommunityRole)
    organization_roles: tuple[tuple[str, str], ...] = ()  # (organization slug, OrganizationRole)
    # Guardian read grants on single registrations: (organization slug, external_id, community slug, granted by).
    reads: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def email(self) -> str:
        return f"{self.username}@demo.commons.example"


USERS = [
    DemoUser("admin", "Ada", "Admin", "superuser, staff", superuser=True),
    DemoUser(
        "regulator-northland",
        "Nils",
        "Hallberg",
        "regulator",
        community_roles=(("northland", CommunityRole.REGULATOR),),
    ),
    DemoUser(
        "regulator-lakeshore", "Lena", "Moreau", "regulator", community_roles=(("lakeshore", CommunityRole.REGULATOR),)
    ),
    DemoUser(
        "policy-author-lakeshore",
        "Pavel",
        "Osei",
        "policy author",
        community_roles=(("lakeshore", CommunityRole.POLICY_AUTHOR),),
    ),
    DemoUser("viewer-riverton", "Vera", "Lund", "viewer", community_roles=(("riverton", CommunityRole.VIEWER),)),
    DemoUser(
        "admin-avalon-it",
        "Amir",
        "Castell",
        "organization admin",
        organization_roles=(("avalon-it", OrganizationRole.ADMIN),),
    ),
    DemoUser("filer-avalon-it", "Fiona", "Reyes", "filer", organization_roles=(("avalon-it", OrganizationRole.FILER),)),
    DemoUser(
        "admin-healthcore",
        "Hana",
        "Brandt",
        "organization admin",
        organization_roles=(("healthcore", OrganizationRole.ADMIN),),
    ),
    DemoUser(
        "filer-healthcore", "Felix", "Nakamura", "filer", organization_roles=(("healthcore", OrganizationRole.FILER),)
    ),
    DemoUser(
        "auditor",
        "Audra",
        "Kell",
        "external auditor (no roles)",
        reads=(("healthcore", "HC-TRIAGE", "riverton", "regulator-lakeshore"),),
    ),
]

SYSTEMS = [
    # (organization slug, fields); `external_id` is the natural key within the organization.
    (
        "avalon-it",
        {
            "external_id": "AVIT-001",
            "name": "311 Citizen Assistant",
            "purpose": "Answer residents' questions about city services around the clock and route requests.",
            "intended_use": "Chat on the city website and in the 311 app; hands over to a human agent on request.",
            "benefits": "Shorter waiting times on the 311 phone line; answers outside office hours.",
            "technical_description": (
                "A hosted large language model grounded on the city's published service pages through "
                "retrieval; it cannot take actions on a resident's behalf."
            ),
            "operator_role": OperatorRole.DEPLOYER,
            "techniques": [Technique.LARGE_LANGUAGE_MODEL, Technique.GENERATIVE_AI],
            "inputs": "Residents' typed questions; the city's public web pages.",
            "data_categories": [DataCategory.PERSONAL, DataCategory.LOCATION],
            "outputs": "Answers in plain language with links to the source page; service-request drafts.",
            "decision_role": DecisionRole.INFORMATIONAL,
            "human_oversight": HumanOversight.HUMAN_ON_THE_LOOP,
            "human_oversight_description": "311 staff review a daily sample of conversations and all complaints.",
            "affected_persons": "Residents and visitors using city services.",
            "risks": "Wrong or outdated answers; mitigated by citing sources and a weekly review of failures.",
            "topic": "Public services",
            "lifecycle_stage": LifecycleStage.PRODUCTION,
            "start_date": datetime.date(2025, 3, 1),
            "vendor": "Brightline Conversational AI",
            "model_name": "Brightline Assist 4",
            "website": "https://port-avalon.example/311/assistant",
            "contact_name": "Mara Quill",
            "contact_email": "ai-register@port-avalon.example",
            "tags": "chatbot, 311, customer service",
        },
    ),
    (
        "avalon-it",
        {
            "external_id": "AVIT-002",
            "name": "Pothole Detection from Street Imagery",
            "purpose": "Find potholes and road damage in images taken by cameras on refuse trucks.",
            "intended_use": "Prioritise road repairs; no images of people are kept.",
            "operator_role": OperatorRole.PROVIDER_AND_DEPLOYER,
            "techniques": [Technique.COMPUTER_VISION, Technique.DEEP_LEARNING],
            "inputs": "Street-level images; faces and number plates are blurred on the vehicle.",
            "data_categories": [DataCategory.LOCATION, DataCategory.NON_PERSONAL],
            "outputs": "Map of suspected defects with a severity score.",
            "decision_role": DecisionRole.DECISION_SUPPORT,
            "human_oversight": HumanOversight.HUMAN_IN_THE_LOOP,
            "topic": "Roads and infrastructure",
            "lifecycle_stage": LifecycleStage.PILOT,
            "start_date": datetime.date(2025, 9, 15),
            "source_code_url": "https://code.port-avalon.example/roads/pothole-detector",
            "tags": "roads, computer vision",
        },
    ),
    (
        "avalon-it",
        {
            "external_id": "AVIT-003",
            "name": "Building Permit Triage",
            "purpose": "Sort incoming building-permit applications by complexity so simple ones are decided faster.",
            "intended_use": "Suggests a processing track; a planning officer confirms every assignment.",
            "operator_role": OperatorRole.DEPLOYER,
            "techniques": [Technique.NATURAL_LANGUAGE_PROCESSING, Technique.MACHINE_LEARNING],
            "inputs": "Application forms and attached plans.",
            "data_categories": [DataCategory.PERSONAL, DataCategory.PUBLIC_RECORDS],
            "outputs": "A suggested track (simple / standard / complex) with the reasons found.",
            "decision_role": DecisionRole.DECISION_SUPPORT,
            "human_oversight": HumanOversight.HUMAN_IN_THE_LOOP,
            "affected_persons": "Permit applicants and their neighbours.",
            "topic": "Planning",
            "lifecycle_stage": LifecycleStage.DEVELOPMENT,
            "vendor": "Civic Forms Co.",
        },
    ),
    (
        "healthcore",
        {
            "external_id": "HC-TRIAGE",
            "name": "ER Triage Risk Score",
            "purpose": "Flag emergency-department patients at risk of rapid deterioration.",
            "intended_use": (
                "Shown to triage nurses next to the standard triage scale; it never sets the triage level itself."
            ),
            "benefits": "Earlier escalation of patients who deteriorate; fewer missed sepsis cases.",
            "technical_description": "Gradient-boosted trees over vital signs, age and presenting complaint.",
            "operator_role": OperatorRole.PROVIDER,
            "techniques": [Technique.MACHINE_LEARNING],
            "inputs": "Vital signs, age, presenting complaint, arrival mode.",
            "data_categories": [DataCategory.PERSONAL, DataCategory.HEALTH, DataCategory.SPECIAL_CATEGORY],
            "training_data": "Eight years of de-identified emergency visits from three partner hospitals.",
            "outputs": "A risk score from 0 to 100 and the three factors that drove it.",
            "decision_role": DecisionRole.DECISION_SUPPORT,
            "human_oversight": HumanOversight.HUMAN_IN_THE_LOOP,
            "human_oversight_description": "The nurse decides; overriding the score needs no justification.",
            "affected_persons": "Emergency patients.",
            "risks": "Lower accuracy for under-represented groups; monitored monthly by subgroup.",
            "legal_basis": "Provision of health care (Northland Health Care Act, s. 12).",
            "topic": "Health",
            "lifecycle_stage": LifecycleStage.PRODUCTION,
            "start_date": datetime.date(2024, 11, 1),
            "vendor": "HealthCore Analytics Ltd.",
            "model_name": "HealthCore TriageScore 2.3",
            "documentation_url": "https://healthcore.example/docs/triagescore",
            "privacy_assessment_url": "https://healthcore.example/dpia/triagescore.pdf",
            "contact_name": "Dr. Ines Varga",
            "contact_email": "regulatory@healthcore.example",
            "tags": "health, triage, decision support",
        },
    ),
    (
        "healthcore",
        {
            "external_id": "HC-RADIOLOGY",
            "name": "Chest X-ray Second Reader",
            "purpose": "Point radiologists to findings on chest X-rays that may have been missed.",
            "intended_use": "Runs after the radiologist's first read; highlights regions for a second look.",
            "operator_role": OperatorRole.PROVIDER,
            "techniques": [Technique.DEEP_LEARNING, Technique.COMPUTER_VISION],
            "inputs": "Chest radiographs (DICOM).",
            "data_categories": [DataCategory.PERSONAL, DataCategory.HEALTH],
            "outputs": "Heat map and list of suspected findings.",
            "decision_role": DecisionRole.DECISION_SUPPORT,
            "human_oversight": HumanOversight.HUMAN_IN_THE_LOOP,
            "topic": "Health",
            "lifecycle_stage": LifecycleStage.PILOT,
            "vendor": "HealthCore Analytics Ltd.",
            "model_name": "HealthCore LungView 1.0",
        },
    ),
    (
        "northland-benefits",
        {
            "external_id": "NBA-FRAUD",
            "name": "Benefit Claim Anomaly Detection",
            "purpose": "Select benefit claims for a manual check when they look unusual.",
            "intended_use": "Selects at most 2% of claims for review by a caseworker; never stops a payment.",
            "technical_description": "Isolation forest over claim features, retrained quarterly.",
            "operator_role": OperatorRole.DEPLOYER,
            "techniques": [Technique.MACHINE_LEARNING, Technique.STATISTICAL],
            "inputs": "Claim forms, payment history, declared income.",
            "data_categories": [DataCategory.PERSONAL, DataCategory.FINANCIAL],
            "outputs": "A ranked list of claims to check.",
            "decision_role": DecisionRole.DECISION_SUPPORT,
            "human_oversight": HumanOversight.HUMAN_IN_THE_LOOP,
            "affected_persons": "Benefit claimants.",
            "risks": "Indirect discrimination; selection rates are audited per group every quarter.",
            "proportionality": "Random sampling alone found a third as many errors for the same caseworker time.",
            "legal_basis": "Social Security Act, s. 88 (verification of claims).",
            "topic": "Social security",
            "lifecycle_stage": LifecycleStage.PRODUCTION,
            "start_date": datetime.date(2023, 6, 1),
            "vendor": "Ledgerwise Analytics",
            "tags": "benefits, fraud, risk scoring",
        },
    ),
    (
        "northland-benefits",
        {
            "external_id": "NBA-LETTERS",
            "name": "Plain-Language Letter Assistant",
            "purpose": "Help caseworkers rewrite decision letters in plain language.",
            "intended_use": "Drafting aid; the caseworker edits and signs every letter.",
            "operator_role": OperatorRole.DEPLOYER,
            "techniques": [Technique.LARGE_LANGUAGE_MODEL, Technique.GENERATIVE_AI],
            "data_categories": [DataCategory.PERSONAL],
            "outputs": "A suggested rewrite of the letter.",
            "decision_role": DecisionRole.INFORMATIONAL,
            "human_oversight": HumanOversight.HUMAN_IN_COMMAND,
            "topic": "Social security",
            "lifecycle_stage": LifecycleStage.PILOT,
            "vendor": "Brightline Conversational AI",
        },
    ),
    (
        "lakeshore-transit",
        {
            "external_id": "LTC-DEMAND",
            "name": "Bus Demand Forecasting",
            "purpose": "Forecast passenger numbers per route and hour to plan timetables.",
            "operator_role": OperatorRole.PROVIDER_AND_DEPLOYER,
            "techniques": [Technique.STATISTICAL, Technique.OPTIMISATION],
            "inputs": "Aggregated tap-in counts, weather, school calendars.",
            "data_categories": [DataCategory.NON_PERSONAL],
            "outputs": "Hourly demand forecasts per route.",
            "decision_role": DecisionRole.INFORMATIONAL,
            "human_oversight": HumanOversight.HUMAN_IN_COMMAND,
            "topic": "Transport",
            "lifecycle_stage": LifecycleStage.RETIRED,
            "start_date": datetime.date(2021, 1, 1),
            "end_date": datetime.date(2025, 12, 31),
        },
    ),
    (
        "lakeshore-transit",
        {
            "external_id": "LTC-FACE",
            "name": "Fare Evasion Face Matching",
            "purpose": "Recognise repeat fare evaders at ferry gates by matching faces against a watch list.",
            "intended_use": "Alerts ticket inspectors when a listed person passes a gate.",
            "operator_role": OperatorRole.DEPLOYER,
            "techniques": [Technique.BIOMETRICS, Technique.COMPUTER_VISION],
            "inputs": "Live video from gate cameras.",
            "data_categories": [DataCategory.PERSONAL, DataCategory.BIOMETRIC],
            "outputs": "Match alerts with a similarity score.",
            "decision_role": DecisionRole.AUTOMATED_WITH_REVIEW,
            "human_oversight": HumanOversight.HUMAN_ON_THE_LOOP,
            "affected_persons": "Every ferry passenger.",
            "topic": "Transport",
            "lifecycle_stage": LifecycleStage.PLANNED,
            "vendor": "Sentinel Vision Systems",
        },
    ),
]

# Who files for each organization (and so appears in the audit trail); organizations without a demo
# filer are filed for by the demo admin.
FILERS = {"avalon-it": "filer-avalon-it", "healthcore": "filer-healthcore"}

REGISTRATIONS = [
    # Each entry: which system (organization, external_id), which register, the registration's own fields,
    # and the workflow steps (action, username, comment) that bring it to its demo status.
    {
        "system": ("avalon-it", "AVIT-001"),
        "community": "port-avalon",
        "fields": {
            "risk_tier": RiskTier.LIMITED,
            "deployment_context": "On port-avalon.example and in the 311 app, in English and French.",
            "deployment_date": datetime.date(2025, 3, 1),
        },
        "steps": [
            ("submit", "filer-avalon-it", "First filing of the 311 assistant."),
            ("approve", "regulator-lakeshore", "Chatbot disclosure and human hand-over are in place. Approved."),
        ],
    },
    {
        "system": ("avalon-it", "AVIT-002"),
        "community": "port-avalon",
        "fields": {"risk_tier": RiskTier.MINIMAL, "deployment_context": "Pilot on 40 refuse trucks, east district."},
        "steps": [],
    },
    {
        "system": ("avalon-it", "AVIT-003"),
        "community": "port-avalon",
        "fields": {"risk_tier": RiskTier.LIMITED, "deployment_context": "Planning department, all applications."},
        "steps": [
            ("submit", "filer-avalon-it", ""),
            (
                "request_changes",
                "regulator-lakeshore",
                "Explain how an applicant can contest the track their application was put on.",
            ),
        ],
    },
    {
        "system": ("healthcore", "HC-TRIAGE"),
        "community": "riverton",
        "fields": {
            "risk_tier": RiskTier.HIGH,
            "deployment_context": "Riverton University Hospital emergency department, all adult patients.",
            "deployment_date": datetime.date(2024, 11, 1),
            "disclosure": {
                "technical_description": {
                    "level": "withheld",
                    "reason": "Model features and weights are a trade secret; available to the regulator on request.",
                },
                "training_data": {"level": "restricted", "reason": "Describes partner hospitals' patient cohorts."},
            },
        },
        "steps": [
            ("submit", "filer-healthcore", "Initial filing."),
            (
                "request_changes",
                "regulator-lakeshore",
                "Attach the fundamental-rights impact assessment and the subgroup performance report.",
            ),
            ("submit", "filer-healthcore", "FRIA and subgroup report attached."),
            ("approve", "regulator-lakeshore", "High-risk obligations documented. Approved for one year."),
        ],
    },
    {
        "system": ("healthcore", "HC-TRIAGE"),
        "community": "cedar-falls",
        "fields": {
            "risk_tier": RiskTier.HIGH,
            "deployment_context": "Cedar Falls General Hospital, night shifts only during the first six months.",
        },
        "steps": [("submit", "filer-healthcore", "Same product as in Riverton; local validation report attached.")],
    },
    {
        "system": ("healthcore", "HC-RADIOLOGY"),
        "community": "kinwa-nation",
        "fields": {"risk_tier": RiskTier.HIGH, "deployment_context": "Kinwa community health centre."},
        "steps": [
            ("submit", "filer-healthcore", ""),
            (
                "reject",
                "regulator-northland",
                "Not validated on the population it would serve, and the Nation's consent to use its health data "
                "for model updates was not sought.",
            ),
        ],
    },
    {
        "system": ("healthcore", "HC-RADIOLOGY"),
        "community": "riverton",
        "fields": {"risk_tier": RiskTier.HIGH, "deployment_context": "Radiology department pilot."},
        "steps": [],
    },
    {
        "system": ("northland-benefits", "NBA-FRAUD"),
        "community": "northland",
        "fields": {
            "risk_tier": RiskTier.HIGH,
            "deployment_context": "All benefit claims nationwide.",
            "deployment_date": datetime.date(2023, 6, 1),
            "disclosure": {
                "technical_description": {
                    "level": "withheld",
                    "reason": "Publishing the model's features would help claimants evade checks.",
                },
                "risks": {"level": "public", "reason": ""},
            },
        },
        "steps": [
            ("submit", DEMO_ADMIN, "Filed on behalf of the Benefits Agency."),
            ("approve", "regulator-northland", "Approved on condition that selection rates are published yearly."),
        ],
    },
    {
        "system": ("northland-benefits", "NBA-LETTERS"),
        "community": "digital-services-agency",
        "fields": {"risk_tier": RiskTier.LIMITED, "deployment_context": "Caseworkers in three regional offices."},
        "steps": [("submit", DEMO_ADMIN, "")],
    },
    {
        "system": ("lakeshore-transit", "LTC-DEMAND"),
        "community": "lakeshore",
        "fields": {"risk_tier": RiskTier.MINIMAL, "deployment_context": "Network planning team."},
        "steps": [
            ("submit", DEMO_ADMIN, ""),
            ("approve", "regulator-lakeshore", "Non-personal data only. Approved."),
            ("retire", DEMO_ADMIN, "Replaced by the 2026 network model."),
        ],
    },
    {
        "system": ("lakeshore-transit", "LTC-FACE"),
        "community": "port-avalon",
        "fields": {"risk_tier": RiskTier.PROHIBITED, "deployment_context": "Ferry terminal gates."},
        "steps": [
            ("submit", DEMO_ADMIN, ""),
            (
                "reject",
                "regulator-lakeshore",
                "Real-time remote biometric identification in a publicly accessible space is a prohibited practice.",
            ),
        ],
    },
]


class DemoSeedError(Exception):
    """The database holds something that stops the demo from being seeded (the command reports it)."""


# Lakeshore's own rules on top of the baselines: one added requirement and one tightened parameter, so
# the demo shows the overlay (run `load_baselines` first for the tightening; `make run` does).
LAKESHORE_RULES = {
    "format": "commons-registry/framework-version@1",
    "urn": "urn:commons:community:lakeshore:transparency",
    "name": "Lakeshore transparency rules",
    "short_name": "Lakeshore rules",
    "version": "2026.1",
    "description": "Lakeshore's additions to the national floor for systems that talk to the public.",
    "requirements": [
        {
            "code": "LK-PUBLIC-PAGE",
            "title": "Generative systems have a public information page",
            "text": "A system that generates text, images or speech for residents must link a plain-language page "
            "that explains what it does and how to reach a person.",
            "citation": "Lakeshore Digital Services Bylaw, s. 12 (fictional)",
            "severity": "medium",
            "kind": "rule",
            "applies_when": '"generative_ai" in system.techniques || "large_language_model" in system.techniques',
            "check": "size(system.website) > 0",
        }
    ],
    "overrides": [
        {
            "framework": "urn:commons:baseline:eu-ai-act",
            "code": "EUAIA-ART27",
            "parameter": "max_age_days",
            "value": 180,
            "justification": "Lakeshore reviews fundamental-rights assessments every six months.",
        }
    ],
}
POLICY_AUTHOR = "policy-author-lakeshore"


@dataclass
class SeedReport:
    """What one run created, so the command can say whether anything changed."""

    created: dict[str, int] = field(default_factory=dict)
    existing_users: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created)


def _users(report: SeedReport) -> dict:
    User = get_user_model()
    users = {}
    # Hashed once for every new account: the password is published anyway, and hashing it ten times over
    # would add seconds to every `make run` on a fresh database.
    password_hash = make_password(DEMO_PASSWORD)
    for spec in USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User(
                username=spec.username,
                first_name=spec.first_name,
                last_name=spec.last_name,
                email=spec.email,
                is_staff=spec.superuser,
                is_superuser=spec.superuser,
                password=password_hash,
            )
            user.save()
            report.count("users")
        else:
            report.existing_users.append(spec.username)
        users[spec.username] = user
    admin = users[DEMO_ADMIN]
    if not (admin.is_active and admin.is_superuser):
        raise DemoSeedError(f"User '{DEMO_ADMIN}' exists but is not an active superuser; cannot seed the demo.")
    return users


def _communities(admin, report: SeedReport) -> dict[str, Community]:
    communities = {community.slug: community for community in Community.objects.filter(slug__in=_slugs(COMMUNITIES))}
    for spec in COMMUNITIES:
        if spec["slug"] in communities:
            continue
        data = {**spec, "parent": communities[spec["parent"]] if spec["parent"] else None}
        communities[spec["slug"]] = services.community_create(actor=admin, **data)
        report.count("communities")
    return communities


def _organizations(admin, report: SeedReport) -> dict[str, Organization]:
    organizations = {org.slug: org for org in Organization.objects.filter(slug__in=_slugs(ORGANIZATIONS))}
    for spec in ORGANIZATIONS:
        if spec["slug"] not in organizations:
            organizations[spec["slug"]] = services.organization_create(actor=admin, **spec)
            report.count("organizations")
    return organizations


def _memberships(admin, users, communities, organizations, report: SeedReport) -> None:
    for spec in USERS:
        user = users[spec.username]
        for slug, role in spec.community_roles:
            _, created = services.community_member_add(community=communities[slug], actor=admin, user=user, role=role)
            if created:
                report.count("community memberships")
        for slug, role in spec.organization_roles:
            _, created = services.organization_member_set(
                organization=organizations[slug], actor=admin, user=user, role=role
            )
            if created:
                report.count("organization memberships")


def _systems(users, organizations, report: SeedReport) -> dict[tuple[str, str], AISystem]:
    systems = {}
    for org_slug, spec in SYSTEMS:
        organization = organizations[org_slug]
        system = AISystem.objects.filter(organization=organization, external_id=spec["external_id"]).first()
        if system is None:
            filer = users[FILERS.get(org_slug, DEMO_ADMIN)]
            system = services.system_create(actor=filer, organization=organization, **spec)
            report.count("AI systems")
        systems[(org_slug, spec["external_id"])] = system
    return systems


def _registrations(users, communities, systems, report: SeedReport) -> dict[tuple[str, str, str], Registration]:
    registrations = {}
    for spec in REGISTRATIONS:
        org_slug, external_id = spec["system"]
        system, community = systems[spec["system"]], communities[spec["community"]]
        # One demo registration per system and register: if any exists, it is the demo's (or the user's own
        # since), and is left alone.
        registration = Registration.objects.filter(system=system, community=community).order_by("id").first()
        if registration is None:
            registration = services.registration_create(
                actor=users[FILERS.get(org_slug, DEMO_ADMIN)], system=system, community=community, **spec["fields"]
            )
            for action, username, comment in spec["steps"]:
                registration = services.registration_transition(
                    registration=registration, actor=users[username], action=action, comment=comment
                )
            report.count("registrations")
        registrations[(org_slug, external_id, spec["community"])] = registration
    return registrations


def _grants(users, registrations) -> None:
    for spec in USERS:
        for org_slug, external_id, community_slug, granted_by in spec.reads:
            services.registration_grant_access(
                registration=registrations[(org_slug, external_id, community_slug)],
                actor=users[granted_by],
                user=users[spec.username],
            )


def _frameworks(users, communities, report: SeedReport) -> None:
    from governance.models import Framework
    from governance.services import version_import

    document = dict(LAKESHORE_RULES)
    if not Framework.objects.filter(urn=document["overrides"][0]["framework"]).exists():
        document["overrides"] = []  # baselines not loaded: keep the added requirement only
    _version, created = version_import(
        document=document, actor=users[POLICY_AUTHOR], community=communities["lakeshore"], publish=True
    )
    if created:
        report.count("community frameworks")


def _slugs(specs) -> list[str]:
    return [spec["slug"] for spec in specs]


@transaction.atomic
def demo_seed() -> SeedReport:
    """Create whatever part of the demo is missing, through the services; return what was created."""
    report = SeedReport()
    users = _users(report)
    admin = users[DEMO_ADMIN]
    communities = _communities(admin, report)
    organizations = _organizations(admin, report)
    _memberships(admin, users, communities, organizations, report)
    systems = _systems(users, organizations, report)
    registrations = _registrations(users, communities, systems, report)
    _grants(users, registrations)
    _frameworks(users, communities, report)
    if report.changed:
        from governance.services.compliance import compliance_sweep_after_commit  # here: governance imports registry

        compliance_sweep_after_commit()
    return report


def describe_user(spec: DemoUser) -> str:
    """Where a demo user's role applies, for the printed table."""
    communities = {spec["slug"]: spec["name"] for spec in COMMUNITIES}
    organizations = {spec["slug"]: spec["name"] for spec in ORGANIZATIONS}
    systems = {(org, fields["external_id"]): fields["name"] for org, fields in SYSTEMS}
    if spec.superuser:
        return "everywhere (admin console)"
    places = [f"{communities[slug]} and below" for slug, _ in spec.community_roles]
    places += [organizations[slug] for slug, _ in spec.organization_roles]
    places += [
        f"reads one registration: {systems[(org, ext)]} in {communities[slug]}" for org, ext, slug, _ in spec.reads
    ]
    return "; ".join(places)
