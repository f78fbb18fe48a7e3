from .frameworks import BaselineAdoption, Framework, FrameworkVersion, ParameterOverride, Requirement

__all__ = ["BaselineAdoption", "Framework", "FrameworkVersion", "ParameterOverride", "Requirement"]
