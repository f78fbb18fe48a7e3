from .evidence import Evidence, Waiver
from .frameworks import BaselineAdoption, Framework, FrameworkVersion, ParameterOverride, Requirement

__all__ = [
    "BaselineAdoption",
    "Evidence",
    "Framework",
    "FrameworkVersion",
    "ParameterOverride",
    "Requirement",
    "Waiver",
]
