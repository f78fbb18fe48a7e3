from .assessments import AssessmentStatus, RiskAssessment
from .compliance import (
    ComplianceChange,
    ComplianceChunk,
    ComplianceResult,
    ComplianceRun,
    ComplianceSnapshot,
    Finding,
    RegistrationCompliance,
    RuleSet,
    RuleSetItem,
)
from .evidence import Evidence, Waiver
from .frameworks import BaselineAdoption, Framework, FrameworkVersion, ParameterOverride, Requirement

__all__ = [
    "AssessmentStatus",
    "BaselineAdoption",
    "ComplianceChange",
    "ComplianceChunk",
    "ComplianceResult",
    "ComplianceRun",
    "ComplianceSnapshot",
    "Evidence",
    "Finding",
    "Framework",
    "FrameworkVersion",
    "ParameterOverride",
    "RegistrationCompliance",
    "Requirement",
    "RiskAssessment",
    "RuleSet",
    "RuleSetItem",
    "Waiver",
]
