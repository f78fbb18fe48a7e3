"""A risk register: risks scored likelihood × severity on a configurable matrix, with mitigations.

Answers are `{"matrix": {...}, "risks": [...]}`. The matrix is optional (5 × 5 by default, as ISO 31000
practice and most public-sector registers use); a register may bring its own scale labels and the bands
that turn a score into a level. Each risk has an inherent rating, mitigations, an owner, a residual rating
after mitigation and a status. Errors name the field, e.g. `risks[2].likelihood`.
"""

from django.utils.translation import gettext_lazy as _

from .surveyjs import Evaluation

SLUG = "risk-register"
VERSIONS = ("v1.0",)
LATEST = "v1.0"

DEFAULT_MATRIX = {
    "likelihood": ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"],
    "severity": ["Negligible", "Minor", "Moderate", "Major", "Severe"],
    "bands": [
        {"up_to": 4, "level": "low"},
        {"up_to": 9, "level": "medium"},
        {"up_to": 16, "level": "high"},
        {"up_to": 25, "level": "critical"},
    ],
}
RISK_STATUSES = ("open", "mitigating", "accepted", "closed")
MITIGATION_STATUSES = ("planned", "in_progress", "done")
RISK_FIELDS = {
    "id": "text",
    "title": "text",
    "description": "text",
    "category": "text",
    "likelihood": "scale",
    "severity": "scale",
    "owner": "text",
    "mitigations": "list",
    "residual_likelihood": "scale",
    "residual_severity": "scale",
    "status": "status",
}
MAX_RISKS = 500
TEXT_LIMIT = 5000

UNKNOWN_KEY = _("%(path)s: not a field of the risk register.")
WANT_OBJECT = _("%(path)s: give an object.")
WANT_LIST = _("%(path)s: give a list.")
WANT_TEXT = _("%(path)s: give text of at most %(limit)d characters.")
WANT_SCALE = _("%(path)s: give a whole number from 1 to %(size)d.")
WANT_STATUS = _("%(path)s: give one of %(values)s.")
NEEDED = _("%(path)s: required.")
DUPLICATE_ID = _("%(path)s: the id %(id)s is used twice.")
RESIDUAL_ABOVE_INHERENT = _("%(path)s: the residual risk cannot exceed the inherent risk.")
BAD_MATRIX = _("matrix.%(key)s: %(problem)s")
TOO_MANY = _("risks: at most %(limit)d risks.")
NO_RISKS = _("risks: record at least one risk.")


def questions() -> list[dict]:
    """The register's structure, described for forms and the instruments API."""
    return [
        {
            "name": "matrix",
            "type": "matrix",
            "title": {"en": "Likelihood and severity scales, and the bands that map a score to a level"},
            "default": DEFAULT_MATRIX,
        },
        {
            "name": "risks",
            "type": "list",
            "title": {"en": "Risks"},
            "fields": [
                {"name": name, "type": kind, **({"choices": list(RISK_STATUSES)} if kind == "status" else {})}
                for name, kind in RISK_FIELDS.items()
            ]
            + [
                {"name": "mitigations[].action", "type": "text"},
                {"name": "mitigations[].status", "type": "status", "choices": list(MITIGATION_STATUSES)},
            ],
        },
    ]


def _matrix(value, errors: list) -> dict:
    if value is None:
        return DEFAULT_MATRIX
    if not isinstance(value, dict):
        errors.append(WANT_OBJECT % {"path": "matrix"})
        return DEFAULT_MATRIX
    unknown = set(value) - {"likelihood", "severity", "bands"}
    for key in sorted(unknown):
        errors.append(UNKNOWN_KEY % {"path": f"matrix.{key}"})
    matrix = {**DEFAULT_MATRIX, **{k: v for k, v in value.items() if k not in unknown}}
    for axis in ("likelihood", "severity"):
        labels = matrix[axis]
        if not (isinstance(labels, list) and 2 <= len(labels) <= 10 and all(isinstance(x, str) and x for x in labels)):
            errors.append(BAD_MATRIX % {"key": axis, "problem": _("give 2 to 10 labels, lowest first.")})
            return DEFAULT_MATRIX
    bands = matrix["bands"]
    top = len(matrix["likelihood"]) * len(matrix["severity"])
    valid = (
        isinstance(bands, list)
        and bands
        and all(
            isinstance(b, dict)
            and set(b) == {"up_to", "level"}
            and isinstance(b["up_to"], int)
            and not isinstance(b["up_to"], bool)
            and isinstance(b["level"], str)
            and b["level"]
            for b in bands
        )
    )
    if not valid or [b["up_to"] for b in bands] != sorted({b["up_to"] for b in bands}) or bands[-1]["up_to"] < top:
        errors.append(
            BAD_MATRIX
            % {
                "key": "bands",
                "problem": _('give [{"up_to": n, "level": name}, ...] rising, the last up to at least %(top)d.')
                % {"top": top},
            }
        )
        return DEFAULT_MATRIX
    return matrix


def level(matrix: dict, score: int) -> str:
    return next(band["level"] for band in matrix["bands"] if score <= band["up_to"])


def _check_field(path: str, kind: str, value, matrix: dict, errors: list) -> None:
    if kind == "text":
        if not isinstance(value, str) or len(value) > TEXT_LIMIT:
            errors.append(WANT_TEXT % {"path": path, "limit": TEXT_LIMIT})
    elif kind == "scale":
        axis = "severity" if path.endswith("severity") else "likelihood"
        size = len(matrix[axis])
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= size:
            errors.append(WANT_SCALE % {"path": path, "size": size})
    elif kind == "status":
        if value not in RISK_STATUSES:
            errors.append(WANT_STATUS % {"path": path, "values": ", ".join(RISK_STATUSES)})
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(WANT_LIST % {"path": path})
            return
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(item, dict):
                errors.append(WANT_OBJECT % {"path": where})
                continue
            for key in sorted(set(item) - {"action", "status"}):
                errors.append(UNKNOWN_KEY % {"path": f"{where}.{key}"})
            if not isinstance(item.get("action"), str) or not item.get("action") or len(item["action"]) > TEXT_LIMIT:
                errors.append(WANT_TEXT % {"path": f"{where}.action", "limit": TEXT_LIMIT})
            if item.get("status", "planned") not in MITIGATION_STATUSES:
                errors.append(WANT_STATUS % {"path": f"{where}.status", "values": ", ".join(MITIGATION_STATUSES)})


def evaluate(version: str, answers: dict) -> Evaluation:
    if version not in VERSIONS:
        raise KeyError(version)
    errors, incomplete = [], []
    for key in sorted(set(answers) - {"matrix", "risks"}):
        errors.append(UNKNOWN_KEY % {"path": key})
    matrix = _matrix(answers.get("matrix"), errors)
    risks = answers.get("risks", [])
    if not isinstance(risks, list):
        errors.append(WANT_LIST % {"path": "risks"})
        risks = []
    if len(risks) > MAX_RISKS:
        errors.append(TOO_MANY % {"limit": MAX_RISKS})
        risks = []
    rows, seen = [], set()
    for index, risk in enumerate(risks):
        path = f"risks[{index}]"
        if not isinstance(risk, dict):
            errors.append(WANT_OBJECT % {"path": path})
            continue
        before = len(errors)
        for key in sorted(set(risk) - set(RISK_FIELDS)):
            errors.append(UNKNOWN_KEY % {"path": f"{path}.{key}"})
        for key, kind in RISK_FIELDS.items():
            if key in risk:
                _check_field(f"{path}.{key}", kind, risk[key], matrix, errors)
        for key in ("id", "title", "likelihood", "severity"):
            if key not in risk:
                errors.append(NEEDED % {"path": f"{path}.{key}"})
        if risk.get("id") in seen:
            errors.append(DUPLICATE_ID % {"path": f"{path}.id", "id": risk["id"]})
        seen.add(risk.get("id"))
        if len(errors) > before:
            continue
        inherent = risk["likelihood"] * risk["severity"]
        has_residual = "residual_likelihood" in risk and "residual_severity" in risk
        residual = risk["residual_likelihood"] * risk["residual_severity"] if has_residual else inherent
        if residual > inherent:
            errors.append(RESIDUAL_ABOVE_INHERENT % {"path": path})
            continue
        for key in ("owner", "residual_likelihood", "residual_severity"):
            if key not in risk:
                incomplete.append(NEEDED % {"path": f"{path}.{key}"})
        rows.append(
            {
                "id": risk["id"],
                "inherent_score": inherent,
                "inherent_level": level(matrix, inherent),
                "residual_score": residual,
                "residual_level": level(matrix, residual),
                "status": risk.get("status", "open"),
            }
        )
    if not risks:
        incomplete.append(NO_RISKS)
    live = [row for row in rows if row["status"] != "closed"]
    order = [band["level"] for band in matrix["bands"]]
    result = {
        "risks": rows,
        "open_risks": len(live),
        "highest_inherent_level": max((r["inherent_level"] for r in live), key=order.index, default=""),
        "highest_residual_level": max((r["residual_level"] for r in live), key=order.index, default=""),
    }
    return Evaluation(answers=answers, result=result, warnings=[], errors=errors, incomplete=incomplete)
