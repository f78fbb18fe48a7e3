"""The overlay: which requirements bind a community on a date, with which parameters, from where.

A community's effective rule set = the published versions of the mandatory baselines, of the baselines it
or an ancestor adopted, and of its own and every ancestor's frameworks, keeping the requirements in force
on the date. Parameters start at the requirement's default and are tightened by each community's
overrides from the root down; the strictest value always wins, so the floor cannot be lowered even by an
override written before an ancestor tightened further.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from governance.choices import Binding, VersionStatus
from governance.models import Framework, FrameworkVersion, ParameterOverride, Requirement
from governance.parameters import is_at_least_as_strict
from registry.models import Community


@dataclass
class Tightening:
    parameter: str
    value: object
    previous: object
    community: str
    framework_urn: str


@dataclass
class EffectiveRequirement:
    requirement: Requirement
    framework: Framework
    params: dict = field(default_factory=dict)
    tightenings: list[Tightening] = field(default_factory=list)

    @property
    def source_community(self) -> Community | None:
        return self.framework.community

    @property
    def key(self) -> tuple[str, str]:
        return self.framework.urn, self.requirement.code


def binding_frameworks(community: Community) -> QuerySet[Framework]:
    lineage = [*community.ancestor_ids(), community.pk]
    return Framework.objects.filter(
        Q(community__isnull=True, binding=Binding.MANDATORY)
        | Q(community__isnull=True, adoptions__community_id__in=lineage)
        | Q(community_id__in=lineage)
    ).distinct()


def _published_versions(community: Community, *, exclude_version: FrameworkVersion | None = None):
    versions = FrameworkVersion.objects.filter(
        framework__in=binding_frameworks(community), status=VersionStatus.PUBLISHED
    )
    if exclude_version is not None:
        versions = versions.exclude(framework_id=exclude_version.framework_id)
    return versions


def _overrides_root_first(versions, extra: FrameworkVersion | None = None) -> list[ParameterOverride]:
    query = Q(version__in=versions)
    if extra is not None:
        query |= Q(version=extra)
    overrides = ParameterOverride.objects.filter(query).select_related(
        "version__framework__community", "target_framework"
    )
    return sorted(
        overrides, key=lambda o: (o.version.framework.community.depth, o.version.framework.community.path, o.pk)
    )


def _apply_overrides(effective: dict[tuple[int, str], EffectiveRequirement], overrides) -> None:
    for override in overrides:
        item = effective.get((override.target_framework_id, override.target_code))
        if item is None:
            continue
        declaration = next((p for p in item.requirement.parameters if p["name"] == override.parameter), None)
        if declaration is None:
            continue
        current = item.params[override.parameter]
        if override.value != current and is_at_least_as_strict(declaration["direction"], override.value, current):
            item.params[override.parameter] = override.value
            item.tightenings.append(
                Tightening(
                    parameter=override.parameter,
                    value=override.value,
                    previous=current,
                    community=override.version.framework.community.slug,
                    framework_urn=override.version.framework.urn,
                )
            )


def effective_requirements(
    community: Community,
    *,
    on: datetime.date | None = None,
    draft: FrameworkVersion | None = None,
) -> list[EffectiveRequirement]:
    """The requirements binding `community` on `on` (today by default).

    With `draft`, the rule set as it would be if that draft were published (the impact preview).
    """
    on = on or datetime.date.today()
    versions = _published_versions(community, exclude_version=draft)
    version_query = Q(version__in=versions)
    if draft is not None:
        version_query |= Q(version=draft)
    requirements = (
        Requirement.objects.filter(version_query)
        .filter(Q(effective_from__isnull=True) | Q(effective_from__lte=on))
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=on))
        .select_related("version__framework__community")
        .order_by("version__framework__community_id", "version__framework_id", "order", "code")
    )
    effective: dict[tuple[int, str], EffectiveRequirement] = {}
    for requirement in requirements:
        framework = requirement.version.framework
        effective[(framework.pk, requirement.code)] = EffectiveRequirement(
            requirement=requirement,
            framework=framework,
            params={p["name"]: p["default"] for p in requirement.parameters},
        )
    _apply_overrides(effective, _overrides_root_first(versions, extra=draft))
    return list(effective.values())


def inherited_parameter(
    community: Community, *, target_framework: Framework, code: str, parameter: str, excluding: FrameworkVersion
):
    """The value a community inherits for a parameter before its own draft `excluding` applies.

    Returns (value, declaration, requirement) or None when the requirement or parameter does not bind it.
    """
    versions = _published_versions(community, exclude_version=excluding)
    requirement = (
        Requirement.objects.filter(version__in=versions, version__framework=target_framework, code=code)
        .select_related("version__framework")
        .first()
    )
    if requirement is None:
        return None
    declaration = next((p for p in requirement.parameters if p["name"] == parameter), None)
    if declaration is None:
        return None
    item = EffectiveRequirement(
        requirement=requirement,
        framework=requirement.version.framework,
        params={p["name"]: p["default"] for p in requirement.parameters},
    )
    _apply_overrides({(target_framework.pk, code): item}, _overrides_root_first(versions))
    return item.params[parameter], declaration, item


DIFF_FIELDS = [
    "title",
    "text",
    "citation",
    "citation_url",
    "severity",
    "effective_from",
    "effective_until",
    "kind",
    "applies_when",
    "check_rule",
    "evidence",
    "parameters",
    "order",
]


def _requirement_values(requirement: Requirement) -> dict:
    values = {name: getattr(requirement, name) for name in DIFF_FIELDS}
    values["parent"] = requirement.parent.code if requirement.parent_id else None
    for name in ("effective_from", "effective_until"):
        values[name] = values[name].isoformat() if values[name] else None
    values["check"] = values.pop("check_rule")
    return values


def version_diff(version: FrameworkVersion, against: FrameworkVersion) -> dict:
    """Requirement- and field-level differences of `version` compared with `against` (e.g. the published one)."""
    new = {r.code: _requirement_values(r) for r in version.requirements.select_related("parent")}
    old = {r.code: _requirement_values(r) for r in against.requirements.select_related("parent")}
    changed = {}
    for code in sorted(new.keys() & old.keys()):
        fields = {name: [old[code][name], value] for name, value in new[code].items() if old[code][name] != value}
        if fields:
            changed[code] = fields

    def override_map(v):
        return {
            (o.target_framework.urn, o.target_code, o.parameter): o.value
            for o in v.overrides.select_related("target_framework")
        }

    new_overrides, old_overrides = override_map(version), override_map(against)
    return {
        "version": version.pk,
        "against": against.pk,
        "added": [{"code": code, **new[code]} for code in sorted(new.keys() - old.keys())],
        "removed": [{"code": code, **old[code]} for code in sorted(old.keys() - new.keys())],
        "changed": changed,
        "overrides": [
            {"framework": key[0], "code": key[1], "parameter": key[2], "before": old_overrides.get(key), "after": value}
            for key, value in sorted(new_overrides.items(), key=lambda kv: kv[0])
            if old_overrides.get(key) != value
        ]
        + [
            {"framework": key[0], "code": key[1], "parameter": key[2], "before": value, "after": None}
            for key, value in sorted(old_overrides.items(), key=lambda kv: kv[0])
            if key not in new_overrides
        ],
    }
