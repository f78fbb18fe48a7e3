"""Questionnaires in SurveyJS's JSON format: questions, `visibleIf` conditions and answer validation.

Canada's AIA is published in this format, and our own questionnaires use it too, so one reader, one
condition evaluator and one validator serve every instrument. Pure Python: no Django models.

The condition evaluator understands exactly the syntax these questionnaires use (inspected over all four
AIA versions and ours): `{question}`, string literals, lists of string literals, `=`, `contains`, `and`,
`or` and parentheses. Anything else is refused when the questionnaire is loaded, not guessed at later.
Semantics follow SurveyJS: `contains` on a list answer means "includes every given item"; on a text
answer it is a substring test (a list operand is joined with commas, as JavaScript's `toString` does);
an unanswered question contains nothing and equals nothing.
"""

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

# Element types that hold an answer. `html` blocks and panels are layout, not questions.
ANSWERED_TYPES = {"radiogroup", "dropdown", "checkbox", "text", "comment", "boolean"}
CHOICE_TYPES = {"radiogroup", "dropdown"}
TEXT_MAX_LENGTH = 10_000

NOT_A_QUESTION = _("%(name)s: not a question of %(instrument)s %(version)s.")
NOT_A_CHOICE = _("%(name)s: %(value)s is not one of the choices (%(choices)s).")
WANT_ONE_CHOICE = _("%(name)s: give one choice as a string.")
WANT_CHOICE_LIST = _("%(name)s: give a list of choices.")
REPEATED_CHOICE = _("%(name)s: %(value)s is chosen twice.")
EXCLUSIVE_CHOICE = _("%(name)s: %(value)s cannot be combined with other choices.")
WANT_TEXT = _("%(name)s: give text.")
TEXT_TOO_LONG = _("%(name)s: the answer is limited to %(limit)d characters.")
WANT_BOOLEAN = _("%(name)s: give true or false.")
HIDDEN_ANSWER = _("%(name)s: ignored, because the question is hidden by your other answers (%(condition)s).")
REQUIRED = _("%(name)s: an answer is required.")


class ConditionSyntaxError(ValueError):
    """A `visibleIf` uses syntax this evaluator does not support: refuse the questionnaire, loudly."""


# Conditions ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<name>\{[A-Za-z0-9_\-]+\})
      | (?P<string>"[^"\\]*")
      | (?P<op>=|\(|\)|\[|\]|,)
      | (?P<word>[A-Za-z]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "contains"}


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens, position, text = [], 0, expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConditionSyntaxError(f"unsupported syntax at {position} in {expression!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word":
            if value.lower() not in _KEYWORDS:
                raise ConditionSyntaxError(f"unsupported word {value!r} in {expression!r}")
            kind, value = "op", value.lower()
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent: or-expression := and-expression ('or' and-expression)*; 'and' binds tighter."""

    def __init__(self, expression: str):
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.index = 0

    def parse(self):
        tree = self._or()
        if self.index != len(self.tokens):
            raise ConditionSyntaxError(f"unexpected {self.tokens[self.index][1]!r} in {self.expression!r}")
        return tree

    def _peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else (None, None)

    def _take(self, kind=None, value=None):
        token = self._peek()
        if token[0] is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise ConditionSyntaxError(f"expected {value or kind} in {self.expression!r}")
        self.index += 1
        return token

    def _or(self):
        parts = [self._and()]
        while self._peek() == ("op", "or"):
            self._take()
            parts.append(self._and())
        return ("or", parts) if len(parts) > 1 else parts[0]

    def _and(self):
        parts = [self._comparison()]
        while self._peek() == ("op", "and"):
            self._take()
            parts.append(self._comparison())
        return ("and", parts) if len(parts) > 1 else parts[0]

    def _comparison(self):
        if self._peek() == ("op", "("):
            self._take()
            inner = self._or()
            self._take("op", ")")
            return inner
        _kind, name = self._take("name")
        _kind, operator = self._take("op")
        if operator not in ("=", "contains"):
            raise ConditionSyntaxError(f"unsupported operator {operator!r} in {self.expression!r}")
        return (operator, name[1:-1], self._operand())

    def _operand(self):
        if self._peek()[0] == "string":
            return self._take()[1][1:-1]
        self._take("op", "[")
        items = [self._take("string")[1][1:-1]]
        while self._peek() == ("op", ","):
            self._take()
            items.append(self._take("string")[1][1:-1])
        self._take("op", "]")
        return items


def _equals(left, right) -> bool:
    if left is None:
        return False
    return left == right


def _contains(left, right) -> bool:
    if left is None or left == "" or left == []:
        return False
    if isinstance(left, str):
        needle = ",".join(right) if isinstance(right, list) else right
        return bool(needle) and needle in left
    if isinstance(left, list):
        wanted = right if isinstance(right, list) else [right]
        return all(item in left for item in wanted)
    return False


@dataclass(frozen=True)
class Condition:
    """A parsed `visibleIf` expression."""

    source: str
    tree: tuple

    @classmethod
    def parse(cls, source: str) -> "Condition":
        return cls(source=source.strip(), tree=_Parser(source).parse())

    def names(self) -> set[str]:
        def walk(node):
            if node[0] in ("and", "or"):
                return set().union(*(walk(part) for part in node[1]))
            return {node[1]}

        return walk(self.tree)

    def evaluate(self, answers: dict) -> bool:
        def walk(node):
            kind = node[0]
            if kind == "and":
                return all(walk(part) for part in node[1])
            if kind == "or":
                return any(walk(part) for part in node[1])
            value = answers.get(node[1])
            return _equals(value, node[2]) if kind == "=" else _contains(value, node[2])

        return walk(self.tree)


# Questionnaires -----------------------------------------------------------------------------------------


def bilingual(value) -> dict:
    """A SurveyJS localisable string as {"en": ..., "fr": ...} ("default" is the English text)."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"en": value}
    text = {"en": value.get("en", value.get("default", ""))}
    if "fr" in value:
        text["fr"] = value["fr"]
    return text


@dataclass(frozen=True)
class Choice:
    value: str
    text: dict


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    title: dict
    page: str
    parent: str  # the name of the panel (or page) that directly holds the question
    choices: tuple[Choice, ...] = ()
    conditions: tuple[Condition, ...] = ()  # the page's, every enclosing panel's and its own visibleIf
    required: bool = False
    exclusive: frozenset[str] = frozenset()  # checkbox values that cannot be combined with others
    description: dict = field(default_factory=dict)

    @property
    def choice_values(self) -> list[str]:
        return [c.value for c in self.choices]

    def is_visible(self, answers: dict) -> bool:
        return all(condition.evaluate(answers) for condition in self.conditions)

    def as_dict(self) -> dict:
        data = {"name": self.name, "type": self.type, "title": self.title, "page": self.page}
        if self.description:
            data["description"] = self.description
        if self.choices:
            data["choices"] = [{"value": c.value, "text": c.text} for c in self.choices]
        if self.conditions:
            data["visible_if"] = " and ".join(f"({c.source})" for c in self.conditions)
        if self.required:
            data["required"] = True
        return data


@dataclass(frozen=True)
class Page:
    name: str
    title: dict


def _choice(item) -> Choice:
    if isinstance(item, dict):
        value = str(item["value"])
        return Choice(value=value, text=bilingual(item.get("text")) or {"en": value})
    return Choice(value=str(item), text={"en": str(item)})


def read_questions(document: dict) -> tuple[list[Page], list[Question]]:
    """Every answerable question of a SurveyJS document, in order, with the conditions that can hide it."""
    pages, questions = [], []

    def walk(element, page, parent_name, conditions):
        kind = element.get("type")
        own = conditions
        if element.get("visibleIf"):
            own = (*conditions, Condition.parse(element["visibleIf"]))
        if kind == "panel":
            for child in element.get("elements", []) or []:
                walk(child, page, element.get("name", ""), own)
            return
        if kind not in ANSWERED_TYPES:
            return
        questions.append(
            Question(
                name=element["name"],
                type=kind,
                title=bilingual(element.get("title")) or {"en": element["name"]},
                page=page,
                parent=parent_name,
                choices=tuple(_choice(c) for c in element.get("choices", []) or []),
                conditions=own,
                required=bool(element.get("isRequired")),
                exclusive=frozenset(element.get("exclusiveChoices", [])),
                description=bilingual(element.get("description")),
            )
        )

    for page in document["pages"]:
        pages.append(Page(name=page["name"], title=bilingual(page.get("title")) or {"en": page["name"]}))
        conditions = (Condition.parse(page["visibleIf"]),) if page.get("visibleIf") else ()
        for element in page.get("elements", []) or []:
            walk(element, page["name"], page["name"], conditions)
    names = [q.name for q in questions]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"questions named more than once: {sorted(duplicates)}")
    known = set(names)
    for question in questions:
        for condition in question.conditions:
            unknown = condition.names() - known
            if unknown:
                raise ConditionSyntaxError(f"{question.name}: condition names unknown questions {sorted(unknown)}")
    return pages, questions


@dataclass(frozen=True)
class Evaluation:
    """An instrument's verdict on a set of answers."""

    answers: dict  # the answers that were counted (hidden and ignored ones removed)
    result: dict
    warnings: list[dict]  # [{"question": name, "message": ...}]
    errors: list[str]  # refusals, each naming its question
    incomplete: list[str] = field(default_factory=list)  # required questions left unanswered


def warning(name: str, message: str) -> dict:
    return {"question": name, "message": str(message)}


def check_answer(question: Question, value) -> str | None:
    """The message for a wrongly typed or out-of-range answer, or None when it is acceptable."""
    name = question.name
    if question.type in CHOICE_TYPES:
        if not isinstance(value, str):
            return WANT_ONE_CHOICE % {"name": name}
        if value not in question.choice_values:
            return NOT_A_CHOICE % {"name": name, "value": value, "choices": ", ".join(question.choice_values)}
        return None
    if question.type == "checkbox":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return WANT_CHOICE_LIST % {"name": name}
        for item in value:
            if item not in question.choice_values:
                return NOT_A_CHOICE % {"name": name, "value": item, "choices": ", ".join(question.choice_values)}
            if value.count(item) > 1:
                return REPEATED_CHOICE % {"name": name, "value": item}
            if item in question.exclusive and len(value) > 1:
                return EXCLUSIVE_CHOICE % {"name": name, "value": item}
        return None
    if question.type == "boolean":
        return None if isinstance(value, bool) else WANT_BOOLEAN % {"name": name}
    if not isinstance(value, str):
        return WANT_TEXT % {"name": name}
    if len(value) > TEXT_MAX_LENGTH:
        return TEXT_TOO_LONG % {"name": name, "limit": TEXT_MAX_LENGTH}
    return None


def visible_answers(questions: dict[str, Question], answers: dict) -> tuple[dict, list[dict]]:
    """Drop answers to questions that the other answers hide; return (kept, warnings).

    Repeated until nothing changes, because dropping one answer can hide another question (a follow-up
    of a follow-up). Blank answers (None, "", []) are dropped without a warning: they answer nothing.
    """
    kept = {name: value for name, value in answers.items() if value not in (None, "", [])}
    hidden: dict[str, Question] = {}
    while True:
        dropped = [name for name in kept if not questions[name].is_visible(kept)]
        if not dropped:
            break
        for name in dropped:
            hidden[name] = questions[name]
            del kept[name]
    warnings = []
    for name, question in hidden.items():
        failing = [c.source for c in question.conditions if not c.evaluate(kept)]
        warnings.append(warning(name, HIDDEN_ANSWER % {"name": name, "condition": " and ".join(failing)}))
    return kept, warnings


def missing_required(questions: dict[str, Question], answers: dict) -> list[str]:
    """Messages for required questions that are visible and unanswered."""
    return [
        REQUIRED % {"name": name}
        for name, question in questions.items()
        if question.required and name not in answers and question.is_visible(answers)
    ]
