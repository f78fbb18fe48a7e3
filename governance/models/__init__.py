from .assessments import AssessmentStatus, RiskAssessment
from .evidence import Evidence, Waiver
from .frameworks import BaselineAdoption, Framework, FrameworkVersion, ParameterOverride, Requirement

__all__ = [
    "AssessmentStatus",
    "BaselineAdoption",
    "Evidence",
    "Framework",
    "FrameworkVersion",
    "ParameterOverride",
    "Requirement",
    "RiskAssessment",
    "Waiver",
]
