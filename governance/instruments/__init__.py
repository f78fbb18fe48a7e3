"""Assessment instruments as data: questionnaires with their scoring, versioned. Pure Python, no models.

`INSTRUMENTS` maps each instrument's slug to its versions and each version's validity period in days
(how long an accepted assessment stays valid). A community may shorten the period through a framework
parameter named `<slug with underscores>_validity_days` (e.g. `canada_aia_validity_days`) on any
requirement that binds it; the shortest value wins, and the instrument's own period is the ceiling.
"""

from dataclasses import dataclass

from . import canada_aia, eu_ai_act, risk_register
from .surveyjs import Evaluation


@dataclass(frozen=True)
class Instrument:
    slug: str
    name: dict
    description: dict
    versions: dict[str, int]  # version → validity period (days)
    latest: str
    source: str

    @property
    def validity_parameter(self) -> str:
        return f"{self.slug.replace('-', '_')}_validity_days"

    def evaluate(self, version: str, answers: dict, *, save_file: bool = False) -> Evaluation:
        if self.slug == canada_aia.SLUG:
            return canada_aia.evaluate(version, answers, save_file=save_file)
        if self.slug == eu_ai_act.SLUG:
            return eu_ai_act.evaluate(version, answers)
        return risk_register.evaluate(version, answers)

    def questionnaire(self, version: str) -> dict:
        """Pages and questions of one version, for forms and the instruments API."""
        if self.slug == canada_aia.SLUG:
            survey = canada_aia.questionnaire(version)
            questions = []
            for question in survey.questions.values():
                item = question.as_dict()
                item["score"] = survey.score_types[question.name]
                questions.append(item)
            return {
                "pages": [{"name": p.name, "title": p.title} for p in survey.pages],
                "questions": questions,
                "max_raw_score": survey.max_raw_score,
                "max_mitigation_score": survey.max_mitigation_score,
            }
        if self.slug == eu_ai_act.SLUG:
            pages, questions = eu_ai_act.questionnaire(version)
            return {
                "pages": [{"name": p.name, "title": p.title} for p in pages],
                "questions": [q.as_dict() for q in questions.values()],
            }
        return {"pages": [], "questions": risk_register.questions()}


INSTRUMENTS: dict[str, Instrument] = {
    canada_aia.SLUG: Instrument(
        slug=canada_aia.SLUG,
        name={"en": "Algorithmic Impact Assessment (Canada)", "fr": "Évaluation de l'incidence algorithmique"},
        description={
            "en": "The Government of Canada's questionnaire under the Directive on Automated Decision-Making; "
            "scored as the official tool scores it, giving impact level I–IV.",
            "fr": "Le questionnaire du gouvernement du Canada au titre de la Directive sur la prise de décisions "
            "automatisée; noté comme l'outil officiel, il donne un niveau d'incidence de I à IV.",
        },
        versions={version: 730 for version in canada_aia.VERSIONS},
        latest=canada_aia.LATEST,
        source="canada-ca/aia-eia-js (MIT, Government of Canada)",
    ),
    eu_ai_act.SLUG: Instrument(
        slug=eu_ai_act.SLUG,
        name={"en": "EU AI Act risk classification"},
        description={
            "en": "A guided classification under Regulation (EU) 2024/1689: prohibited, high, limited or minimal "
            "risk, with the articles that led there."
        },
        versions={version: 365 for version in eu_ai_act.VERSIONS},
        latest=eu_ai_act.LATEST,
        source="Commons Registry, from the text of Regulation (EU) 2024/1689",
    ),
    risk_register.SLUG: Instrument(
        slug=risk_register.SLUG,
        name={"en": "Risk register"},
        description={
            "en": "Risks rated likelihood × severity on a configurable matrix, with mitigations, owners, residual "
            "risk and status."
        },
        versions={version: 365 for version in risk_register.VERSIONS},
        latest=risk_register.LATEST,
        source="Commons Registry",
    ),
}


def result_tier(result: dict) -> str:
    return result.get("tier", "") if isinstance(result, dict) else ""


def result_impact_level(result: dict) -> int:
    return result.get("impact_level", 0) if isinstance(result, dict) else 0


__all__ = ["INSTRUMENTS", "Evaluation", "Instrument", "canada_aia", "eu_ai_act", "risk_register"]
