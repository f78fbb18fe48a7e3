"""Writes to frameworks: drafting, validating, tightening, publishing, importing. Each checks scope and audits."""

import hashlib
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from governance.choices import Binding, Direction, RequirementKind, VersionStatus
from governance.models import BaselineAdoption, Framework, FrameworkVersion, ParameterOverride, Requirement
from governance.parameters import coerce, declaration_errors, is_at_least_as_strict
from governance.rules import validate_rule
from governance.selectors import inherited_parameter
from registry.errors import InvalidTransition
from registry.permissions import Action
from registry.services.audit import audit_record

from .compliance import ALL_COMMUNITIES, compliance_check_after_commit

DOCUMENT_FORMAT = "commons-registry/framework-version@1"
PUBLISHED_IS_IMMUTABLE = _("A published or retired version cannot be changed; create a new draft version instead.")
REQUIREMENT_FIELDS = [
    "code",
    "parent",
    "order",
    "title",
    "text",
    "citation",
    "citation_url",
    "severity",
    "effective_from",
    "effective_until",
    "kind",
    "applies_when",
    "check",
    "evidence",
    "parameters",
]


# Document keys that are stored under another attribute name.
ATTRIBUTES = {"check": "check_rule"}


def _attr(name: str) -> str:
    return ATTRIBUTES.get(name, name)


def _requirement_data(requirement: Requirement) -> dict:
    data = {name: getattr(requirement, _attr(name)) for name in REQUIREMENT_FIELDS if name != "parent"}
    data["parent"] = requirement.parent.code if requirement.parent_id else None
    return data


def _audit(version: FrameworkVersion, *, actor, action: str, changes: dict | None = None, comment: str = ""):
    audit_record(
        actor=actor,
        action=f"framework.{action}",
        target=version,
        changes=changes or {},
        comment=comment,
        community_id=version.framework.community_id,
    )


def _require_author(version_or_framework, actor) -> None:
    framework = getattr(version_or_framework, "framework", version_or_framework)
    if actor is None:  # the product's own loaders (load_baselines) act without a user
        return
    if framework.is_baseline:
        if not actor.is_superuser:
            raise PermissionDenied(_("Only instance administrators may edit global baselines."))
        return
    if not Framework.objects.restrict(actor, Action.AUTHOR).filter(pk=framework.pk).exists():
        raise PermissionDenied(_("You are not a policy author of this framework's community."))


def _require_draft(version: FrameworkVersion) -> None:
    if version.status != VersionStatus.DRAFT:
        raise InvalidTransition(PUBLISHED_IS_IMMUTABLE)


# Requirements ---------------------------------------------------------------------------------------------


def requirement_problems(data: dict, *, known_codes: set[str]) -> dict[str, list[str]]:
    """Validation messages per field for one requirement, including its CEL rules."""
    problems: dict[str, list[str]] = {}

    def add(name, message):
        problems.setdefault(name, []).append(str(message))

    parameters = data.get("parameters") or []
    for message in declaration_errors(parameters):
        add("parameters", message)
    params = {} if "parameters" in problems else {p["name"]: p["default"] for p in parameters}
    kind = data.get("kind", RequirementKind.RULE)
    for name in ("applies_when", "check"):
        source = (data.get(name) or "").strip()
        if name == "check" and kind != RequirementKind.RULE:
            if source:
                add(name, _("Only rule requirements have a check; this one is %(kind)s.") % {"kind": kind})
            continue
        if name == "applies_when" and not source:
            continue  # empty means always
        for problem in validate_rule(source, parameters=params):
            add(name, problem)
    if kind == RequirementKind.EVIDENCE and not (data.get("evidence") or "").strip():
        add("evidence", _("Say what evidence the filer must attach."))
    starts, ends = (_as_date(data.get(name)) for name in ("effective_from", "effective_until"))
    if starts and ends and ends <= starts:
        add("effective_until", _("Must be after the date it comes into force (%(date)s).") % {"date": starts})
    parent = data.get("parent")
    if parent and parent not in known_codes:
        add("parent", _("No requirement with code %(code)s in this version.") % {"code": parent})
    if parent and parent == data.get("code"):
        add("parent", _("A requirement cannot be its own parent."))
    return problems


def _as_date(value):
    try:
        return parse_date(value) if isinstance(value, str) else value
    except ValueError:
        return None


def _requirement_from_data(version: FrameworkVersion, data: dict, instance: Requirement | None = None) -> Requirement:
    requirement = instance or Requirement(version=version)
    for name in REQUIREMENT_FIELDS:
        if name == "parent" or name not in data:
            continue
        value = data[name]
        if name in ("effective_from", "effective_until") and isinstance(value, str):
            value = parse_date(value) if value else None
        if name == "applies_when":
            value = (value or "").strip() or "true"
        setattr(requirement, _attr(name), value if value is not None or name.startswith("effective") else "")
    return requirement


@transaction.atomic
def requirement_save(*, version: FrameworkVersion, actor, data: dict, code: str | None = None) -> Requirement:
    """Create or update (by `code`) one requirement of a draft, refusing invalid rules with their positions."""
    version = FrameworkVersion.objects.select_for_update(of=("self",)).select_related("framework").get(pk=version.pk)
    _require_author(version, actor)
    _require_draft(version)
    existing = (
        version.requirements.filter(code=code or data.get("code")).first() if (code or data.get("code")) else None
    )
    merged = _requirement_data(existing) if existing else {}
    merged.update(data)
    known = set(version.requirements.values_list("code", flat=True)) | {merged.get("code")}
    problems = requirement_problems(merged, known_codes=known)
    if problems:
        raise ValidationError(problems)
    requirement = _requirement_from_data(version, merged, existing)
    requirement.parent = version.requirements.filter(code=merged["parent"]).first() if merged.get("parent") else None
    requirement.full_clean(exclude=["version", "parent"], validate_constraints=False)
    requirement.save()
    _audit(version, actor=actor, action="requirement_saved", changes={"requirement": [None, requirement.code]})
    return requirement


@transaction.atomic
def requirement_delete(*, version: FrameworkVersion, actor, code: str) -> None:
    version = FrameworkVersion.objects.select_for_update(of=("self",)).select_related("framework").get(pk=version.pk)
    _require_author(version, actor)
    _require_draft(version)
    deleted, _unused = version.requirements.filter(code=code).delete()
    if deleted:
        _audit(version, actor=actor, action="requirement_deleted", changes={"requirement": [code, None]})


# Parameter overrides --------------------------------------------------------------------------------------


@transaction.atomic
def override_save(
    *,
    version: FrameworkVersion,
    actor,
    target_framework: Framework,
    target_code: str,
    parameter: str,
    value,
    justification: str = "",
) -> ParameterOverride:
    """Tighten an inherited parameter; a looser value is refused, naming the baseline it would weaken."""
    version = (
        FrameworkVersion.objects.select_for_update(of=("self",))
        .select_related("framework__community")
        .get(pk=version.pk)
    )
    _require_author(version, actor)
    _require_draft(version)
    community = version.framework.community
    if community is None:
        raise ValidationError({"target_framework": _("Baselines declare parameters; they do not override them.")})
    inherited = inherited_parameter(
        community, target_framework=target_framework, code=target_code, parameter=parameter, excluding=version
    )
    if inherited is None:
        raise ValidationError(
            {
                "parameter": _("%(code)s has no parameter %(parameter)s that binds %(community)s.")
                % {"code": target_code, "parameter": parameter, "community": community}
            }
        )
    current, declaration, _item = inherited
    try:
        value = coerce(declaration, value)
    except ValueError as error:
        raise ValidationError({"value": str(error)}) from error
    if declaration["direction"] == Direction.FIXED and value != current:
        raise ValidationError({"value": _("%(parameter)s is fixed and cannot be changed.") % {"parameter": parameter}})
    if not is_at_least_as_strict(declaration["direction"], value, current):
        raise ValidationError(
            {
                "value": _(
                    "%(value)s would weaken %(framework)s %(code)s: %(parameter)s is %(current)s there "
                    "(%(direction)s), and a community may only tighten it."
                )
                % {
                    "value": json.dumps(value),
                    "framework": target_framework,
                    "code": target_code,
                    "parameter": parameter,
                    "current": json.dumps(current),
                    "direction": Direction(declaration["direction"]).label.lower(),
                }
            }
        )
    override, _created = ParameterOverride.objects.update_or_create(
        version=version,
        target_framework=target_framework,
        target_code=target_code,
        parameter=parameter,
        defaults={"value": value, "justification": justification},
    )
    _audit(
        version,
        actor=actor,
        action="parameter_tightened",
        changes={f"{target_code}.{parameter}": [current, value]},
        comment=justification,
    )
    return override


# Versions -------------------------------------------------------------------------------------------------


@transaction.atomic
def framework_create(*, actor, community=None, **data) -> Framework:
    framework = Framework(community=community, **data)
    if community is not None:
        framework.binding = Binding.INFORMATIVE
        if actor is not None and not actor.is_superuser:
            from registry.choices import CommunityRole
            from registry.models import CommunityMembership

            if not CommunityMembership.objects.filter(
                community=community, user=actor, role=CommunityRole.POLICY_AUTHOR
            ).exists():
                raise PermissionDenied(_("You are not a policy author of this community."))
    elif actor is not None and not actor.is_superuser:
        raise PermissionDenied(_("Only instance administrators may create global baselines."))
    framework.full_clean()
    framework.save()
    audit_record(actor=actor, action="framework.created", target=framework, community_id=framework.community_id)
    return framework


FRAMEWORK_DETAILS = {"name", "short_name", "description", "source_url", "licence_notice"}


@transaction.atomic
def framework_update(*, framework: Framework, actor, **data) -> Framework:
    """Edit a framework's details; a baseline's binding (mandatory for all, or informative) is the instance
    administrators' decision, as it moves the floor under every community."""
    framework = Framework.objects.select_for_update(of=("self",)).get(pk=framework.pk)
    _require_author(framework, actor)
    allowed = FRAMEWORK_DETAILS | ({"binding"} if framework.is_baseline else set())
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in sorted(unknown)})
    before = {name: getattr(framework, name) for name in data}
    for name, value in data.items():
        setattr(framework, name, value)
    framework.full_clean()
    framework.save()
    changes = {name: [before[name], value] for name, value in data.items() if before[name] != value}
    if changes:
        audit_record(
            actor=actor,
            action="framework.updated",
            target=framework,
            changes=changes,
            community_id=framework.community_id,
        )
    return framework


@transaction.atomic
def override_delete(
    *, version: FrameworkVersion, actor, target_framework: Framework, target_code: str, parameter: str
) -> None:
    """Drop a tightening from a draft; the parameter falls back to what the community inherits."""
    version = FrameworkVersion.objects.select_for_update(of=("self",)).select_related("framework").get(pk=version.pk)
    _require_author(version, actor)
    _require_draft(version)
    deleted, _unused = version.overrides.filter(
        target_framework=target_framework, target_code=target_code, parameter=parameter
    ).delete()
    if deleted:
        _audit(version, actor=actor, action="override_deleted", changes={f"{target_code}.{parameter}": ["set", None]})


@transaction.atomic
def version_create_draft(*, framework: Framework, actor, version: str, notes: str = "") -> FrameworkVersion:
    """A new draft, copied from the published version (if any) so authors edit from what is in force."""
    _require_author(framework, actor)
    if framework.versions.filter(status=VersionStatus.DRAFT).exists():
        raise InvalidTransition(_("This framework already has a draft version; edit or delete it first."))
    base = framework.published_version()
    draft = FrameworkVersion(framework=framework, version=version, notes=notes, based_on=base, created_by=actor)
    draft.full_clean(validate_constraints=False)
    if framework.versions.filter(version=version).exists():
        raise ValidationError({"version": _("Version %(version)s already exists.") % {"version": version}})
    draft.save()
    if base is not None:
        _copy_content(base, draft)
    _audit(draft, actor=actor, action="draft_created", changes={"version": [base.version if base else None, version]})
    return draft


@transaction.atomic
def version_delete_draft(*, version: FrameworkVersion, actor) -> None:
    version = FrameworkVersion.objects.select_for_update(of=("self",)).select_related("framework").get(pk=version.pk)
    _require_author(version, actor)
    _require_draft(version)
    _audit(version, actor=actor, action="draft_deleted", changes={"version": [version.version, None]})
    version.delete()


def _copy_content(source: FrameworkVersion, target: FrameworkVersion) -> None:
    codes_to_new = {}
    for requirement in source.requirements.order_by("id"):
        parent_code = requirement.parent.code if requirement.parent_id else None
        requirement.pk = None
        requirement.version = target
        requirement.parent = codes_to_new.get(parent_code)
        requirement.save()
        codes_to_new[requirement.code] = requirement
    for override in source.overrides.all():
        override.pk = None
        override.version = target
        override.save()


def version_document(version: FrameworkVersion) -> dict:
    """The version as one JSON document (the format of governance/baselines/*.json)."""
    framework = version.framework
    return {
        "format": DOCUMENT_FORMAT,
        "urn": framework.urn,
        "name": framework.name,
        "short_name": framework.short_name,
        "version": version.version,
        "description": framework.description,
        "source_url": framework.source_url,
        "licence_notice": framework.licence_notice,
        "binding": framework.binding,
        "community": framework.community.slug if framework.community_id else None,
        "requirements": [
            {
                **_requirement_data(r),
                "effective_from": r.effective_from.isoformat() if r.effective_from else None,
                "effective_until": r.effective_until.isoformat() if r.effective_until else None,
            }
            for r in version.requirements.select_related("parent").order_by("order", "code")
        ],
        "overrides": [
            {
                "framework": o.target_framework.urn,
                "code": o.target_code,
                "parameter": o.parameter,
                "value": o.value,
                "justification": o.justification,
            }
            for o in version.overrides.select_related("target_framework")
        ],
    }


def content_hash(version: FrameworkVersion) -> str:
    document = version_document(version)
    content = {key: document[key] for key in ("urn", "version", "requirements", "overrides")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@transaction.atomic
def version_publish(*, version: FrameworkVersion, actor, comment: str = "") -> FrameworkVersion:
    """Publish a draft: revalidate every rule, freeze it with its hash, retire the previous version."""
    version = FrameworkVersion.objects.select_for_update(of=("self",)).select_related("framework").get(pk=version.pk)
    _require_author(version, actor)
    _require_draft(version)
    codes = set(version.requirements.values_list("code", flat=True))
    problems = {}
    for requirement in version.requirements.select_related("parent"):
        for field_name, messages in requirement_problems(_requirement_data(requirement), known_codes=codes).items():
            problems.setdefault("requirements", []).extend(f"{requirement.code} {field_name}: {m}" for m in messages)
    if problems:
        raise ValidationError(problems)
    previous = version.framework.versions.filter(status=VersionStatus.PUBLISHED).select_for_update().first()
    now = timezone.now()
    if previous is not None:
        previous.status = VersionStatus.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["status", "retired_at"])
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    version.published_by = actor
    version.content_hash = content_hash(version)
    version.save(update_fields=["status", "published_at", "published_by", "content_hash"])
    _audit(
        version,
        actor=actor,
        action="published",
        changes={
            "published": [previous.version if previous else None, version.version],
            "hash": [None, version.content_hash],
        },
        comment=comment,
    )
    compliance_check_after_commit(community=version.framework.community or ALL_COMMUNITIES)
    return version


@transaction.atomic
def version_import(*, document: dict, actor, community=None, publish: bool = False, builtin: bool = False):
    """Load a framework-version document as a new draft (and publish it if asked).

    Returns (version, created). Importing a document whose content matches the published version changes
    nothing, so loaders can run again and again.
    """
    if not isinstance(document, dict) or document.get("format") != DOCUMENT_FORMAT:
        raise ValidationError(
            {"format": _("Expected a document with format %(format)s.") % {"format": DOCUMENT_FORMAT}}
        )
    for key in ("urn", "name", "version", "requirements"):
        if key not in document:
            raise ValidationError({key: _("This field is required.")})
    framework = Framework.objects.filter(urn=document["urn"]).first()
    if framework is None:
        framework = framework_create(
            actor=actor,
            community=community,
            urn=document["urn"],
            name=document["name"],
            short_name=document.get("short_name", ""),
            description=document.get("description", ""),
            source_url=document.get("source_url", ""),
            licence_notice=document.get("licence_notice", ""),
            binding=document.get("binding", Binding.INFORMATIVE) if community is None else Binding.INFORMATIVE,
        )
        if builtin:
            Framework.objects.filter(pk=framework.pk).update(builtin=True)
    elif (framework.community_id or None) != (community.pk if community else None):
        raise ValidationError({"urn": _("This URN belongs to another community's framework.")})
    else:
        # Checked before the "already imported" answer too, so only authors learn about existing versions.
        _require_author(framework, actor)
    existing = framework.versions.filter(version=document["version"]).first()
    if existing is not None:
        return existing, False
    draft = version_create_draft(
        framework=framework, actor=actor, version=document["version"], notes=document.get("notes", "")
    )
    draft.requirements.all().delete()
    draft.overrides.all().delete()
    problems = {}
    for index, data in enumerate(_parents_first(document["requirements"])):
        try:
            requirement_save(version=draft, actor=actor, data=data)
        except ValidationError as error:
            problems[f"requirements[{data.get('code', index)}]"] = error.messages
    if problems:
        raise ValidationError(problems)
    for data in document.get("overrides", []):
        target = Framework.objects.filter(urn=data.get("framework")).first()
        if target is None:
            raise ValidationError({"overrides": _("Unknown framework %(urn)s.") % {"urn": data.get("framework")}})
        override_save(
            version=draft,
            actor=actor,
            target_framework=target,
            target_code=data["code"],
            parameter=data["parameter"],
            value=data["value"],
            justification=data.get("justification", ""),
        )
    if publish:
        version_publish(version=draft, actor=actor)
    return draft, True


def _parents_first(requirements: list[dict]) -> list[dict]:
    by_code = {r.get("code"): r for r in requirements}
    ordered, seen = [], set()

    def visit(requirement, trail=()):
        code = requirement.get("code")
        if code in seen or code in trail:
            return
        parent = by_code.get(requirement.get("parent"))
        if parent is not None:
            visit(parent, (*trail, code))
        seen.add(code)
        ordered.append(requirement)

    for requirement in requirements:
        visit(requirement)
    return ordered


@transaction.atomic
def baseline_adopt(*, community, framework: Framework, actor) -> BaselineAdoption:
    """Bind a community (and its descendants) to an informative baseline; regulators decide this."""
    from registry.models import Community

    if not framework.is_baseline:
        raise ValidationError({"framework": _("Only global baselines are adopted.")})
    if actor is not None and not Community.objects.restrict(actor, Action.REVIEW).filter(pk=community.pk).exists():
        raise PermissionDenied(_("Only the community's regulators may adopt a baseline."))
    adoption, created = BaselineAdoption.objects.get_or_create(
        community=community, framework=framework, defaults={"adopted_by": actor}
    )
    if created:
        audit_record(
            actor=actor,
            action="framework.baseline_adopted",
            target=framework,
            changes={"adopted_by_community": [None, community.slug]},
            community_id=community.pk,
        )
    compliance_check_after_commit(community=community)
    return adoption
