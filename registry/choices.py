"""Stable machine values for every choice field: clients, importers and rules depend on them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CommunityKind(models.TextChoices):
    NATION = "nation", _("Nation")
    REGION = "region", _("Region")
    CITY = "city", _("City")
    INDIGENOUS_NATION = "indigenous_nation", _("Indigenous nation")
    AGENCY = "agency", _("Agency")
    COMPANY = "company", _("Company")
    OTHER = "other", _("Other")


class CommunityRole(models.TextChoices):
    REGULATOR = "regulator", _("Regulator")
    POLICY_AUTHOR = "policy_author", _("Policy author")
    VIEWER = "viewer", _("Viewer")


class OrganizationRole(models.TextChoices):
    ADMIN = "admin", _("Organization admin")
    FILER = "filer", _("Filer")


class OperatorRole(models.TextChoices):
    """EU AI Act Article 3 operator roles."""

    PROVIDER = "provider", _("Provider")
    DEPLOYER = "deployer", _("Deployer")
    PROVIDER_AND_DEPLOYER = "provider_and_deployer", _("Provider and deployer")
    IMPORTER = "importer", _("Importer")
    DISTRIBUTOR = "distributor", _("Distributor")
    AUTHORISED_REPRESENTATIVE = "authorised_representative", _("Authorised representative")


class Technique(models.TextChoices):
    MACHINE_LEARNING = "machine_learning", _("Machine learning")
    DEEP_LEARNING = "deep_learning", _("Deep learning")
    GENERATIVE_AI = "generative_ai", _("Generative AI")
    LARGE_LANGUAGE_MODEL = "large_language_model", _("Large language model")
    COMPUTER_VISION = "computer_vision", _("Computer vision")
    NATURAL_LANGUAGE_PROCESSING = "natural_language_processing", _("Natural language processing")
    SPEECH = "speech", _("Speech recognition or synthesis")
    BIOMETRICS = "biometrics", _("Biometric recognition")
    RECOMMENDER = "recommender", _("Recommender system")
    OPTIMISATION = "optimisation", _("Optimisation or planning")
    STATISTICAL = "statistical", _("Statistical model")
    RULE_BASED = "rule_based", _("Rule-based / expert system")
    OTHER = "other", _("Other")


class DataCategory(models.TextChoices):
    """Categories of data a system processes, as data-protection and AI law distinguish them."""

    PERSONAL = "personal", _("Personal data")
    SPECIAL_CATEGORY = "special_category", _("Special-category personal data (GDPR Art. 9)")
    BIOMETRIC = "biometric", _("Biometric data")
    CHILDREN = "children", _("Children's data")
    HEALTH = "health", _("Health data")
    FINANCIAL = "financial", _("Financial data")
    CRIMINAL = "criminal", _("Criminal-offence data")
    LOCATION = "location", _("Location data")
    PUBLIC_RECORDS = "public_records", _("Public records")
    NON_PERSONAL = "non_personal", _("Non-personal data only")


class DecisionRole(models.TextChoices):
    """How far the system's output decides (UK ATRS, Dutch standard 'human intervention')."""

    INFORMATIONAL = "informational", _("Informs people; no decision")
    DECISION_SUPPORT = "decision_support", _("Supports a human decision")
    AUTOMATED_WITH_REVIEW = "automated_with_review", _("Decides, with human review")
    FULLY_AUTOMATED = "fully_automated", _("Decides without human review")


class HumanOversight(models.TextChoices):
    HUMAN_IN_THE_LOOP = "human_in_the_loop", _("Human in the loop")
    HUMAN_ON_THE_LOOP = "human_on_the_loop", _("Human on the loop")
    HUMAN_IN_COMMAND = "human_in_command", _("Human in command")
    NONE = "none", _("No human oversight")


class LifecycleStage(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DEVELOPMENT = "development", _("In development")
    PILOT = "pilot", _("Pilot")
    PRODUCTION = "production", _("In production")
    RETIRED = "retired", _("Retired")


class RegistrationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Rejected")
    RETIRED = "retired", _("Retired")


class RiskTier(models.TextChoices):
    """EU AI Act tiers; `unassessed` until a classification or a regulator sets one."""

    UNASSESSED = "unassessed", _("Not yet assessed")
    MINIMAL = "minimal", _("Minimal risk")
    LIMITED = "limited", _("Limited risk (transparency)")
    HIGH = "high", _("High risk")
    PROHIBITED = "prohibited", _("Prohibited practice")


class ComplianceStatus(models.TextChoices):
    """A registration's overall standing, kept current by the compliance engine."""

    PENDING = "pending", _("Pending")
    COMPLIANT = "compliant", _("Compliant")
    AT_RISK = "at_risk", _("At risk")
    NON_COMPLIANT = "non_compliant", _("Non-compliant")


class Disclosure(models.TextChoices):
    PUBLIC = "public", _("Public")
    RESTRICTED = "restricted", _("Restricted to regulators")
    WITHHELD = "withheld", _("Withheld")
