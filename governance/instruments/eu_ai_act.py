"""EU AI Act risk classification: a guided questionnaire and the classifier that reads it.

Written by us from the text of Regulation (EU) 2024/1689 (the AI Act), in the same SurveyJS format as the
AIA so that one validator and one condition evaluator serve both. The classifier walks the Regulation in
its own order and keeps every reason that led to the tier, each with its article:

1. Article 2: systems outside the Regulation's scope (military, research, personal use) carry no tier
   obligations; they are reported as minimal with the scope reason.
2. Article 5: any prohibited practice makes the tier `prohibited` (real-time remote biometric
   identification for law enforcement only when none of the Article 5(1)(h) exceptions applies).
3. Article 6(1) and Annex I: a safety component of (or itself) a product under Annex I legislation that
   needs a third-party conformity assessment is `high`.
4. Article 6(2) and Annex III: a listed use is `high`, unless an Article 6(3) condition exempts it; a
   system that profiles natural persons is never exempt.
5. Article 50: a system that talks to people, generates synthetic content, recognises emotions or
   categorises biometrically, or makes deep fakes is at least `limited`.
6. Otherwise `minimal`.

This is a guided self-classification, not legal advice: the regulator accepting it is the check.
"""

from functools import cache

from django.utils.translation import gettext_lazy as _

from . import surveyjs
from .surveyjs import Evaluation

SLUG = "eu-ai-act-risk"
VERSIONS = ("v1.0",)
LATEST = "v1.0"
PROHIBITED, HIGH, LIMITED, MINIMAL = "prohibited", "high", "limited", "minimal"
NONE = "none"
YES, NO = "yes", "no"

ROLES = {
    "provider": ("Provider (develops the system or has it developed and places it on the market under its name)", 16),
    "deployer": ("Deployer (uses the system under its authority)", 26),
    "importer": ("Importer", 23),
    "distributor": ("Distributor", 24),
    "product_manufacturer": ("Product manufacturer placing the system on the market with its product", 25),
    "authorised_representative": ("Authorised representative of a provider established outside the Union", 22),
}

SCOPE_EXCLUSIONS = {
    "military": ("Used exclusively for military, defence or national security purposes", "Article 2(3)"),
    "research": ("Developed and put into service solely for scientific research and development", "Article 2(6)"),
    "personal": ("Used by a natural person in a purely personal, non-professional activity", "Article 2(10)"),
}

PRACTICES = {
    "manipulation": (
        "Subliminal, purposefully manipulative or deceptive techniques that materially distort behaviour and "
        "cause or are likely to cause significant harm",
        "Article 5(1)(a)",
    ),
    "exploiting_vulnerabilities": (
        "Exploiting vulnerabilities due to age, disability or a specific social or economic situation to "
        "materially distort behaviour, causing or likely to cause significant harm",
        "Article 5(1)(b)",
    ),
    "social_scoring": (
        "Evaluating or classifying people by social behaviour or personal characteristics, with a social score "
        "leading to detrimental or unfavourable treatment",
        "Article 5(1)(c)",
    ),
    "crime_prediction_profiling": (
        "Assessing the risk that a person will commit a criminal offence based solely on profiling or on "
        "personality traits and characteristics",
        "Article 5(1)(d)",
    ),
    "facial_scraping": (
        "Creating or expanding facial recognition databases through untargeted scraping of facial images from "
        "the internet or CCTV footage",
        "Article 5(1)(e)",
    ),
    "emotion_recognition_work_education": (
        "Inferring emotions of people in the workplace or in education institutions, other than for medical or "
        "safety reasons",
        "Article 5(1)(f)",
    ),
    "biometric_categorisation_sensitive": (
        "Biometric categorisation to deduce or infer race, political opinions, trade union membership, religious "
        "or philosophical beliefs, sex life or sexual orientation",
        "Article 5(1)(g)",
    ),
    "realtime_rbi_law_enforcement": (
        "Real-time remote biometric identification in publicly accessible spaces for law enforcement",
        "Article 5(1)(h)",
    ),
}

ANNEX_I = {
    # Section A: New Legislative Framework acts (Article 6(1) applies with the full requirements).
    "machinery": "Machinery (Regulation (EU) 2023/1230)",
    "toys": "Toy safety (Directive 2009/48/EC)",
    "recreational_craft": "Recreational craft and personal watercraft (Directive 2013/53/EU)",
    "lifts": "Lifts (Directive 2014/33/EU)",
    "atex": "Equipment for potentially explosive atmospheres (Directive 2014/34/EU)",
    "radio_equipment": "Radio equipment (Directive 2014/53/EU)",
    "pressure_equipment": "Pressure equipment (Directive 2014/68/EU)",
    "cableways": "Cableway installations (Regulation (EU) 2016/424)",
    "ppe": "Personal protective equipment (Regulation (EU) 2016/425)",
    "gas_appliances": "Appliances burning gaseous fuels (Regulation (EU) 2016/426)",
    "medical_devices": "Medical devices (Regulation (EU) 2017/745)",
    "ivd": "In vitro diagnostic medical devices (Regulation (EU) 2017/746)",
    # Section B: sectoral acts (Article 6(1) applies; Article 2(2) limits which articles bind).
    "civil_aviation_security": "Civil aviation security (Regulation (EC) No 300/2008)",
    "two_three_wheel_vehicles": "Two- or three-wheel vehicles and quadricycles (Regulation (EU) No 168/2013)",
    "agricultural_vehicles": "Agricultural and forestry vehicles (Regulation (EU) No 167/2013)",
    "marine_equipment": "Marine equipment (Directive 2014/90/EU)",
    "rail": "Interoperability of the rail system (Directive (EU) 2016/797)",
    "motor_vehicles": "Motor vehicles and their trailers (Regulations (EU) 2018/858 and 2019/2144)",
    "civil_aviation": "Civil aviation and unmanned aircraft (Regulation (EU) 2018/1139)",
}

ANNEX_III = {
    "1a": "Remote biometric identification (not verification that a person is who they claim to be)",
    "1b": "Biometric categorisation according to sensitive or protected attributes",
    "1c": "Emotion recognition",
    "2": "Safety component in the management and operation of critical digital infrastructure, road traffic, "
    "or the supply of water, gas, heating or electricity",
    "3a": "Determining access or admission to, or assigning people to, education and vocational training",
    "3b": "Evaluating learning outcomes, including to steer the learning process",
    "3c": "Assessing the appropriate level of education a person will receive or can access",
    "3d": "Monitoring and detecting prohibited behaviour of students during tests",
    "4a": "Recruitment or selection: targeted job advertisements, filtering applications, evaluating candidates",
    "4b": "Decisions on terms of work relationships, promotion, termination, task allocation, or monitoring and "
    "evaluating workers' performance and behaviour",
    "5a": "Public authorities evaluating eligibility for essential public assistance benefits and services, or "
    "granting, reducing, revoking or reclaiming them",
    "5b": "Evaluating creditworthiness or establishing a credit score (other than to detect financial fraud)",
    "5c": "Risk assessment and pricing for life and health insurance",
    "5d": "Evaluating and classifying emergency calls, dispatching emergency services, or emergency patient triage",
    "6a": "Law enforcement: assessing the risk of a person becoming a victim of criminal offences",
    "6b": "Law enforcement: polygraphs and similar tools",
    "6c": "Law enforcement: evaluating the reliability of evidence",
    "6d": "Law enforcement: assessing the risk of offending or re-offending not solely on the basis of profiling, "
    "or assessing personality traits or past criminal behaviour",
    "6e": "Law enforcement: profiling in the detection, investigation or prosecution of criminal offences",
    "7a": "Migration, asylum, border control: polygraphs and similar tools",
    "7b": "Migration, asylum, border control: assessing a security, irregular-migration or health risk posed by a "
    "person",
    "7c": "Examining applications for asylum, visas or residence permits and related complaints, including "
    "assessing the reliability of evidence",
    "7d": "Detecting, recognising or identifying people in migration, asylum or border control (other than "
    "verifying travel documents)",
    "8a": "Assisting a judicial authority (or alternative dispute resolution) in researching and interpreting facts "
    "and the law and applying the law to facts",
    "8b": "Influencing the outcome of an election or referendum, or people's voting behaviour",
}

EXEMPTIONS = {
    "narrow_procedural": ("Performs a narrow procedural task", "Article 6(3)(a)"),
    "improves_human_activity": (
        "Improves the result of a previously completed human activity",
        "Article 6(3)(b)",
    ),
    "detects_patterns": (
        "Detects decision-making patterns or deviations from prior patterns, and is not meant to replace or "
        "influence the previously completed human assessment without proper human review",
        "Article 6(3)(c)",
    ),
    "preparatory": ("Performs a task preparatory to an assessment relevant for an Annex III use", "Article 6(3)(d)"),
}

TRANSPARENCY = {
    "interacts_with_people": (
        "Interacts directly with natural persons (people must be told they are interacting with an AI system, "
        "unless it is obvious)",
        "Article 50(1)",
    ),
    "synthetic_content": (
        "Generates synthetic audio, image, video or text content (outputs must be marked as artificially "
        "generated in a machine-readable format)",
        "Article 50(2)",
    ),
    "emotion_or_biometric_categorisation": (
        "Emotion recognition or biometric categorisation (the people exposed must be informed)",
        "Article 50(3)",
    ),
    "deep_fake": ("Generates or manipulates image, audio or video content that is a deep fake", "Article 50(4)"),
    "public_interest_text": (
        "Generates or manipulates text published to inform the public on matters of public interest",
        "Article 50(4)",
    ),
}


def _choices(items: dict, *, none_text: str | None = None) -> list[dict]:
    choices = [
        {"value": key, "text": {"en": value[0] if isinstance(value, tuple) else value}} for key, value in items.items()
    ]
    if none_text:
        choices.append({"value": NONE, "text": {"en": none_text}})
    return choices


YES_NO = [{"value": YES, "text": {"en": "Yes", "fr": "Oui"}}, {"value": NO, "text": {"en": "No", "fr": "Non"}}]
ANNEX_III_SELECTED = f'{{annex_iii_applies}} = "{YES}"'

DOCUMENT = {
    "title": {"en": "EU AI Act risk classification"},
    "pages": [
        {
            "name": "scope",
            "title": {"en": "Role and scope (Articles 2 and 3)"},
            "elements": [
                {
                    "type": "radiogroup",
                    "name": "operator_role",
                    "title": {"en": "In what role does your organization act for this system? (Article 3)"},
                    "isRequired": True,
                    "choices": _choices(ROLES),
                },
                {
                    "type": "checkbox",
                    "name": "scope_exclusions",
                    "title": {"en": "Does any of these exclusions from the Regulation's scope apply? (Article 2)"},
                    "isRequired": True,
                    "exclusiveChoices": [NONE],
                    "choices": _choices(SCOPE_EXCLUSIONS, none_text="None of these"),
                },
            ],
        },
        {
            "name": "prohibited",
            "title": {"en": "Prohibited practices (Article 5)"},
            "elements": [
                {
                    "type": "checkbox",
                    "name": "article_5_practices",
                    "title": {"en": "Does the system carry out any of these practices? (Article 5(1))"},
                    "isRequired": True,
                    "exclusiveChoices": [NONE],
                    "choices": _choices(PRACTICES, none_text="None of these"),
                },
                {
                    "type": "radiogroup",
                    "name": "article_5_1_h_exception",
                    "visibleIf": '{article_5_practices} contains "realtime_rbi_law_enforcement"',
                    "title": {
                        "en": "Is each use strictly necessary for one of the objectives of Article 5(1)(h)(i)–(iii) "
                        "(searching for victims or missing persons; preventing a specific, substantial and "
                        "imminent threat to life or a terrorist attack; locating a suspect of a serious "
                        "offence), permitted by national law and authorised as Article 5(2)–(5) require?"
                    },
                    "isRequired": True,
                    "choices": YES_NO,
                },
            ],
        },
        {
            "name": "product_safety",
            "title": {"en": "Products under Union harmonisation legislation (Article 6(1), Annex I)"},
            "elements": [
                {
                    "type": "radiogroup",
                    "name": "annex_i_product",
                    "title": {
                        "en": "Is the system a safety component of a product, or itself a product, covered by the "
                        "Union harmonisation legislation listed in Annex I?"
                    },
                    "isRequired": True,
                    "choices": YES_NO,
                },
                {
                    "type": "dropdown",
                    "name": "annex_i_legislation",
                    "visibleIf": f'{{annex_i_product}} = "{YES}"',
                    "title": {"en": "Which legislation covers the product? (Annex I)"},
                    "isRequired": True,
                    "choices": _choices(ANNEX_I),
                },
                {
                    "type": "radiogroup",
                    "name": "annex_i_third_party",
                    "visibleIf": f'{{annex_i_product}} = "{YES}"',
                    "title": {
                        "en": "Must the product undergo a third-party conformity assessment under that legislation "
                        "to be placed on the market or put into service?"
                    },
                    "isRequired": True,
                    "choices": YES_NO,
                },
            ],
        },
        {
            "name": "annex_iii",
            "title": {"en": "High-risk areas (Article 6(2) and (3), Annex III)"},
            "elements": [
                {
                    "type": "radiogroup",
                    "name": "annex_iii_applies",
                    "title": {"en": "Is the system intended to be used in one of the areas listed in Annex III?"},
                    "isRequired": True,
                    "choices": YES_NO,
                },
                {
                    "type": "checkbox",
                    "name": "annex_iii_areas",
                    "visibleIf": ANNEX_III_SELECTED,
                    "title": {"en": "Which uses listed in Annex III apply?"},
                    "isRequired": True,
                    "choices": _choices(ANNEX_III),
                },
                {
                    "type": "radiogroup",
                    "name": "annex_iii_profiling",
                    "visibleIf": ANNEX_III_SELECTED,
                    "title": {
                        "en": "Does the system perform profiling of natural persons? (Article 6(3), last subparagraph)"
                    },
                    "isRequired": True,
                    "choices": YES_NO,
                },
                {
                    "type": "checkbox",
                    "name": "article_6_3_conditions",
                    "visibleIf": f'{ANNEX_III_SELECTED} and {{annex_iii_profiling}} = "{NO}"',
                    "title": {
                        "en": "Does the system pose no significant risk of harm to health, safety or fundamental "
                        "rights because one of these conditions is fulfilled? (Article 6(3))"
                    },
                    "isRequired": True,
                    "exclusiveChoices": [NONE],
                    "choices": _choices(EXEMPTIONS, none_text="None of these"),
                },
            ],
        },
        {
            "name": "transparency",
            "title": {"en": "Transparency obligations (Article 50)"},
            "elements": [
                {
                    "type": "checkbox",
                    "name": "article_50_cases",
                    "title": {"en": "Does any of these apply to the system? (Article 50)"},
                    "isRequired": True,
                    "exclusiveChoices": [NONE],
                    "choices": _choices(TRANSPARENCY, none_text="None of these"),
                },
            ],
        },
    ],
}


@cache
def questionnaire(version: str = LATEST):
    if version not in VERSIONS:
        raise KeyError(version)
    pages, questions = surveyjs.read_questions(DOCUMENT)
    return tuple(pages), {q.name: q for q in questions}


def _reason(code: str, citation: str, text: str) -> dict:
    return {"code": code, "citation": citation, "text": str(text)}


def _selected(answers: dict, name: str) -> list[str]:
    return [value for value in answers.get(name, []) if value != NONE]


def classify(answers: dict) -> dict:
    """{"tier", "reasons", "obligations"} for visible, validated answers."""
    exclusions = _selected(answers, "scope_exclusions")
    if exclusions:
        reasons = [
            _reason(
                f"scope.{key}",
                SCOPE_EXCLUSIONS[key][1],
                _("Outside the Regulation's scope: %(what)s.") % {"what": SCOPE_EXCLUSIONS[key][0]},
            )
            for key in exclusions
        ]
        return {"tier": MINIMAL, "reasons": reasons, "obligations": []}

    practices = _selected(answers, "article_5_practices")
    high_reasons = []
    if "realtime_rbi_law_enforcement" in practices and answers.get("article_5_1_h_exception") == YES:
        practices.remove("realtime_rbi_law_enforcement")
        high_reasons.append(
            _reason(
                "article_5_1_h_exception",
                "Article 5(1)(h)(i)–(iii), Annex III point 1(a)",
                _(
                    "Real-time remote biometric identification used under an Article 5(1)(h) exception is a "
                    "high-risk remote biometric identification system, and each use needs prior authorisation."
                ),
            )
        )
    if practices:
        reasons = [
            _reason(
                f"article_5.{key}", PRACTICES[key][1], _("Prohibited practice: %(what)s.") % {"what": PRACTICES[key][0]}
            )
            for key in practices
        ]
        return {"tier": PROHIBITED, "reasons": reasons, "obligations": ["Article 5"]}

    if answers.get("annex_i_product") == YES:
        legislation = ANNEX_I.get(answers.get("annex_i_legislation", ""), _("Annex I legislation"))
        if answers.get("annex_i_third_party") == YES:
            high_reasons.append(
                _reason(
                    "article_6_1",
                    "Article 6(1), Annex I",
                    _(
                        "Safety component of (or itself) a product under %(act)s that needs a third-party conformity "
                        "assessment."
                    )
                    % {"act": legislation},
                )
            )
    notes = []
    areas = [key for key in answers.get("annex_iii_areas", []) if key in ANNEX_III]
    if answers.get("annex_iii_applies") == YES and areas:
        profiling = answers.get("annex_iii_profiling") == YES
        exemptions = _selected(answers, "article_6_3_conditions")
        for key in areas:
            citation = f"Article 6(2), Annex III point {key[0]}{f'({key[1:]})' if key[1:] else ''}"
            if profiling:
                high_reasons.append(
                    _reason(
                        f"annex_iii.{key}",
                        f"{citation}; Article 6(3), last subparagraph",
                        _("%(use)s; the system profiles natural persons, so no Article 6(3) exemption applies.")
                        % {"use": ANNEX_III[key]},
                    )
                )
            elif exemptions:
                conditions = "; ".join(f"{EXEMPTIONS[e][0]} ({EXEMPTIONS[e][1]})" for e in exemptions)
                notes.append(
                    _reason(
                        f"article_6_3.{key}",
                        f"{citation}; Article 6(3), 6(4), 49(2)",
                        _(
                            "%(use)s, but not high-risk: %(conditions)s. The provider must document this "
                            "assessment before placing the system on the market and register the system."
                        )
                        % {"use": ANNEX_III[key], "conditions": conditions},
                    )
                )
            else:
                high_reasons.append(
                    _reason(f"annex_iii.{key}", citation, _("High-risk use: %(use)s.") % {"use": ANNEX_III[key]})
                )

    transparency = [
        _reason(f"article_50.{key}", TRANSPARENCY[key][1], TRANSPARENCY[key][0])
        for key in _selected(answers, "article_50_cases")
    ]
    role = answers.get("operator_role", "")
    if high_reasons:
        obligations = ["Articles 8–15"]
        if role in ROLES:
            obligations.append(f"Article {ROLES[role][1]}")
        if role == "deployer":
            obligations.append("Article 27 (fundamental rights impact assessment, where it applies)")
        if transparency:
            obligations.append("Article 50")
        return {"tier": HIGH, "reasons": high_reasons + notes + transparency, "obligations": obligations}
    if transparency:
        return {"tier": LIMITED, "reasons": notes + transparency, "obligations": ["Article 50"]}
    reasons = notes or [
        _reason(
            "minimal",
            "Articles 5, 6 and 50",
            _(
                "No prohibited practice, no Annex I product needing third-party assessment, no high-risk use "
                "under Annex III and no Article 50 transparency case."
            ),
        )
    ]
    return {
        "tier": MINIMAL,
        "reasons": reasons,
        "obligations": ["Article 4 (AI literacy)", "Article 95 (voluntary codes of conduct)"],
    }


def evaluate(version: str, answers: dict) -> Evaluation:
    _pages, questions = questionnaire(version)
    errors, known = [], {}
    for name, value in answers.items():
        question = questions.get(name)
        if question is None:
            errors.append(surveyjs.NOT_A_QUESTION % {"name": name, "instrument": SLUG, "version": version})
            continue
        problem = surveyjs.check_answer(question, value)
        if problem:
            errors.append(problem)
        else:
            known[name] = value
    kept, warnings = surveyjs.visible_answers(questions, known)
    return Evaluation(
        answers=kept,
        result=classify(kept),
        warnings=warnings,
        errors=errors,
        incomplete=surveyjs.missing_required(questions, kept),
    )
