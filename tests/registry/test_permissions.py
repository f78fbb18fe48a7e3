"""The permission matrix: every role by every endpoint by objects inside and outside the role's reach.

The rule under test (DESIGN.md, Permissions): anonymous requests answer 401; objects a user cannot see answer
404 on every verb, so their existence does not leak; visible objects the user may not change answer 403; and a
refused request changes nothing in the database.

The world:

    nation ─┬─ city-x   reg_ax    (system sys_a of org-a, submitted)
            │           draft_ax  (system sys_a_draft of org-a, still a draft)
            └─ city-y   reg_by    (system sys_b of org-b, submitted)
"""

from dataclasses import dataclass

import pytest
from django.forms.models import model_to_dict
from guardian.shortcuts import assign_perm

from registry.choices import CommunityRole, RegistrationStatus
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    IdempotencyKey,
    Organization,
    OrganizationMembership,
    Registration,
    RegistrationUserObjectPermission,
    RegistrationVersion,
)
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    community_member,
    filer,
    org_admin,
)

pytestmark = pytest.mark.django_db

Status = RegistrationStatus

ANONYMOUS = "anonymous"
UNRELATED = "unrelated"
FILER_A = "filer_a"
ADMIN_A = "admin_a"
FILER_B = "filer_b"
REGULATOR_X = "regulator_x"
REGULATOR_PARENT = "regulator_parent"
REGULATOR_Y = "regulator_y"
VIEWER_X = "viewer_x"
POLICY_AUTHOR_X = "policy_author_x"
STAFF = "staff"
SUPERUSER = "superuser"

ROLES = [
    ANONYMOUS,
    UNRELATED,
    FILER_A,
    ADMIN_A,
    FILER_B,
    REGULATOR_X,
    REGULATOR_PARENT,
    REGULATOR_Y,
    VIEWER_X,
    POLICY_AUTHOR_X,
    STAFF,
    SUPERUSER,
]
SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}


@pytest.fixture
def world():
    nation = CommunityFactory(slug="nation", kind="nation")
    city_x = CommunityFactory(slug="city-x", parent=nation)
    city_y = CommunityFactory(slug="city-y", parent=nation)
    org_a = OrganizationFactory(slug="org-a")
    org_b = OrganizationFactory(slug="org-b")
    sys_a = AISystemFactory(organization=org_a)
    sys_a_draft = AISystemFactory(organization=org_a)
    sys_b = AISystemFactory(organization=org_b)
    users = {
        ANONYMOUS: None,
        UNRELATED: UserFactory(username=UNRELATED),
        FILER_A: filer(org_a, username=FILER_A),
        ADMIN_A: org_admin(org_a, username=ADMIN_A),
        FILER_B: filer(org_b, username=FILER_B),
        REGULATOR_X: community_member(city_x, CommunityRole.REGULATOR, username=REGULATOR_X),
        REGULATOR_PARENT: community_member(nation, CommunityRole.REGULATOR, username=REGULATOR_PARENT),
        REGULATOR_Y: community_member(city_y, CommunityRole.REGULATOR, username=REGULATOR_Y),
        VIEWER_X: community_member(city_x, CommunityRole.VIEWER, username=VIEWER_X),
        POLICY_AUTHOR_X: community_member(city_x, CommunityRole.POLICY_AUTHOR, username=POLICY_AUTHOR_X),
        STAFF: UserFactory(username=STAFF, is_staff=True),
        SUPERUSER: UserFactory(username=SUPERUSER, is_staff=True, is_superuser=True),
    }
    org_admin(org_b, username="admin_b")
    community_member(city_y, CommunityRole.VIEWER, username="viewer_y")
    UserFactory(username="newcomer")
    auditor = UserFactory(username="auditor")  # holds a read grant on every registration, for revoking
    objects = {
        "nation": nation,
        "city_x": city_x,
        "city_y": city_y,
        "org_a": org_a,
        "org_b": org_b,
        "sys_a": sys_a,
        "sys_a_draft": sys_a_draft,
        "sys_b": sys_b,
        "reg_ax": RegistrationFactory(system=sys_a, community=city_x, status=Status.SUBMITTED),
        "draft_ax": RegistrationFactory(system=sys_a_draft, community=city_x, status=Status.DRAFT),
        "reg_by": RegistrationFactory(system=sys_b, community=city_y, status=Status.SUBMITTED),
    }
    for key in ("reg_ax", "draft_ax", "reg_by"):
        assign_perm("view_registration", auditor, objects[key])
    return {"users": users, "objects": objects}


def database_state() -> dict:
    """Every row a request could write, field by field."""
    models = [
        Community,
        CommunityMembership,
        Organization,
        OrganizationMembership,
        AISystem,
        Registration,
        RegistrationVersion,
        RegistrationUserObjectPermission,
        AuditEvent,
        IdempotencyKey,
    ]
    return {model.__name__: [model_to_dict(row) for row in model.objects.order_by("pk")] for model in models}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str  # formatted with the world's objects, e.g. "/api/v1/registrations/{reg_ax.pk}/"
    visible: frozenset
    allowed: frozenset
    allowed_status: int
    body: dict | None = None

    def expected(self, role: str) -> int:
        if role == ANONYMOUS:
            return 401
        if role not in self.visible:
            return 404
        if role not in self.allowed:
            return 403
        return self.allowed_status


def roles(*names) -> frozenset:
    return frozenset({SUPERUSER, *names})


# Who sees what ---------------------------------------------------------------------------------------------
# Submitted filings reach the community's overseers and those of its ancestors; drafts stay with the organization.
SEES_REG_AX = roles(FILER_A, ADMIN_A, REGULATOR_X, REGULATOR_PARENT, VIEWER_X, POLICY_AUTHOR_X)
SEES_DRAFT_AX = roles(FILER_A, ADMIN_A)
SEES_REG_BY = roles(FILER_B, REGULATOR_Y, REGULATOR_PARENT)
FILES_A = roles(FILER_A, ADMIN_A)
FILES_B = roles(FILER_B)
REVIEWS_X = roles(REGULATOR_X, REGULATOR_PARENT)
REVIEWS_Y = roles(REGULATOR_Y, REGULATOR_PARENT)
SEES_ORG_A = roles(FILER_A, ADMIN_A, STAFF, REGULATOR_X, REGULATOR_PARENT, VIEWER_X, POLICY_AUTHOR_X)
SEES_ORG_B = roles(FILER_B, STAFF, REGULATOR_Y, REGULATOR_PARENT)
STAFF_ONLY = roles(STAFF)

REGISTRATION_BODY = {"deployment_context": "Changed by the test."}
COMMENT = {"comment": "Reviewed by the test."}


def registration_cases(key: str, visible, files, reviews, submitted: bool) -> list[Case]:
    url = f"/api/v1/registrations/{{{key}.pk}}/"
    ok_if_draft = lambda status: 409 if submitted else status  # noqa: E731
    ok_if_submitted = lambda status: status if submitted else 409  # noqa: E731
    return [
        Case(f"{key}.retrieve", "get", url, visible, visible, 200),
        Case(f"{key}.history", "get", f"{url}history/", visible, visible, 200),
        Case(f"{key}.versions", "get", f"{url}versions/", visible, visible, 200),
        Case(f"{key}.patch", "patch", url, visible, files, ok_if_draft(200), REGISTRATION_BODY),
        Case(f"{key}.put", "put", url, visible, files, ok_if_draft(200), REGISTRATION_BODY),
        Case(f"{key}.delete", "delete", url, visible, files, ok_if_draft(204)),
        Case(f"{key}.submit", "post", f"{url}submit/", visible, files, ok_if_draft(200), {}),
        Case(f"{key}.approve", "post", f"{url}approve/", visible, reviews, ok_if_submitted(200), COMMENT),
        Case(f"{key}.reject", "post", f"{url}reject/", visible, reviews, ok_if_submitted(200), COMMENT),
        Case(
            f"{key}.request_changes", "post", f"{url}request-changes/", visible, reviews, ok_if_submitted(200), COMMENT
        ),
        Case(f"{key}.retire", "post", f"{url}retire/", visible, files | reviews, 409, COMMENT),
        Case(f"{key}.readers_add", "post", f"{url}readers/", visible, reviews, 204, {"username": "newcomer"}),
        Case(f"{key}.readers_remove", "delete", f"{url}readers/auditor/", visible, reviews, 204),
    ]


def system_cases(key: str, visible, files, delete_status: int) -> list[Case]:
    url = f"/api/v1/systems/{{{key}.pk}}/"
    return [
        Case(f"{key}.retrieve", "get", url, visible, visible, 200),
        Case(f"{key}.patch", "patch", url, visible, files, 200, {"vendor": "Changed by the test"}),
        Case(f"{key}.put", "put", url, visible, files, 200, {"name": "Renamed", "purpose": "Changed."}),
        Case(f"{key}.delete", "delete", url, visible, files, delete_status),
    ]


def community_cases(key: str, slug: str, managers, passive_member: str) -> list[Case]:
    url = f"/api/v1/communities/{slug}/"
    put = {"slug": slug, "name": "Renamed", "kind": "city", "parent": "nation"}
    member = {"username": "newcomer", "role": "viewer"}
    return [
        Case(f"{key}.retrieve", "get", url, SIGNED_IN, SIGNED_IN, 200),
        Case(f"{key}.patch", "patch", url, SIGNED_IN, STAFF_ONLY, 200, {"name": "Renamed"}),
        Case(f"{key}.put", "put", url, SIGNED_IN, STAFF_ONLY, 200, put),
        Case(f"{key}.members_list", "get", f"{url}members/", SIGNED_IN, SIGNED_IN, 200),
        Case(f"{key}.members_add", "post", f"{url}members/", SIGNED_IN, managers, 201, member),
        Case(f"{key}.members_remove", "delete", f"{url}members/{passive_member}/", SIGNED_IN, managers, 204),
    ]


def organization_cases(key: str, slug: str, visible, managers, member: str) -> list[Case]:
    url = f"/api/v1/organizations/{slug}/"
    return [
        Case(f"{key}.retrieve", "get", url, visible, visible, 200),
        Case(f"{key}.patch", "patch", url, visible, managers, 200, {"name": "Renamed"}),
        Case(f"{key}.put", "put", url, visible, managers, 200, {"slug": slug, "name": "Renamed"}),
        Case(f"{key}.members_list", "get", f"{url}members/", visible, visible, 200),
        Case(
            f"{key}.members_add",
            "post",
            f"{url}members/",
            visible,
            managers,
            201,
            {"username": "newcomer", "role": "filer"},
        ),
        Case(f"{key}.members_remove", "delete", f"{url}members/{member}/", visible, managers, 204),
    ]


CASES = [
    *system_cases("sys_a", SEES_REG_AX, FILES_A, delete_status=409),  # submitted in city-x: no longer deletable
    *system_cases("sys_a_draft", SEES_DRAFT_AX, FILES_A, delete_status=204),
    *system_cases("sys_b", SEES_REG_BY, FILES_B, delete_status=409),
    *registration_cases("reg_ax", SEES_REG_AX, FILES_A, REVIEWS_X, submitted=True),
    *registration_cases("draft_ax", SEES_DRAFT_AX, FILES_A, roles(), submitted=False),
    *registration_cases("reg_by", SEES_REG_BY, FILES_B, REVIEWS_Y, submitted=True),
    *community_cases("city_x", "city-x", roles(STAFF, REGULATOR_X, REGULATOR_PARENT), VIEWER_X),
    *community_cases("city_y", "city-y", roles(STAFF, REGULATOR_Y, REGULATOR_PARENT), "viewer_y"),
    *organization_cases("org_a", "org-a", SEES_ORG_A, roles(ADMIN_A, STAFF), FILER_A),
    *organization_cases("org_b", "org-b", SEES_ORG_B, roles(STAFF), FILER_B),
    Case(
        "community.create",
        "post",
        "/api/v1/communities/",
        SIGNED_IN,
        STAFF_ONLY,
        201,
        {"slug": "new-town", "name": "New Town", "kind": "city", "parent": "nation"},
    ),
    Case(
        "organization.create",
        "post",
        "/api/v1/organizations/",
        SIGNED_IN,
        STAFF_ONLY,
        201,
        {"slug": "new", "name": "New"},
    ),
]


def request(client, case: Case, world):
    url = case.url.format(**world["objects"])
    call = getattr(client, case.method)
    if case.body is None:
        return call(url)
    return call(url, case.body, format="json")


class PermissionMatrixTests:
    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
    def test_matrix(self, world, client_for, case, role):
        client = client_for(world["users"][role])
        before = database_state()

        response = request(client, case, world)

        expected = case.expected(role)
        assert response.status_code == expected, response.content
        if expected >= 300 or case.method == "get":
            assert database_state() == before, "a refused request or a read changed the database"
        else:
            assert database_state() != before, "an accepted write changed nothing"

    def test_every_verb_is_covered_for_hidden_registrations(self):
        # Guard against the matrix silently losing a verb: each registration object is tried with all of them.
        verbs = {case.name.split(".", 1)[1] for case in CASES if case.name.startswith("reg_by.")}
        assert verbs == {
            "retrieve",
            "history",
            "versions",
            "patch",
            "put",
            "delete",
            "submit",
            "approve",
            "reject",
            "request_changes",
            "retire",
            "readers_add",
            "readers_remove",
        }


LIST_VISIBILITY = {
    "registrations": {
        UNRELATED: [],
        FILER_A: ["reg_ax", "draft_ax"],
        ADMIN_A: ["reg_ax", "draft_ax"],
        FILER_B: ["reg_by"],
        REGULATOR_X: ["reg_ax"],
        REGULATOR_PARENT: ["reg_ax", "reg_by"],
        REGULATOR_Y: ["reg_by"],
        VIEWER_X: ["reg_ax"],
        POLICY_AUTHOR_X: ["reg_ax"],
        STAFF: [],
        SUPERUSER: ["reg_ax", "draft_ax", "reg_by"],
    },
    "systems": {
        UNRELATED: [],
        FILER_A: ["sys_a", "sys_a_draft"],
        ADMIN_A: ["sys_a", "sys_a_draft"],
        FILER_B: ["sys_b"],
        REGULATOR_X: ["sys_a"],
        REGULATOR_PARENT: ["sys_a", "sys_b"],
        REGULATOR_Y: ["sys_b"],
        VIEWER_X: ["sys_a"],
        POLICY_AUTHOR_X: ["sys_a"],
        STAFF: [],
        SUPERUSER: ["sys_a", "sys_a_draft", "sys_b"],
    },
    "organizations": {
        UNRELATED: [],
        FILER_A: ["org_a"],
        ADMIN_A: ["org_a"],
        FILER_B: ["org_b"],
        REGULATOR_X: ["org_a"],
        REGULATOR_PARENT: ["org_a", "org_b"],
        REGULATOR_Y: ["org_b"],
        VIEWER_X: ["org_a"],
        POLICY_AUTHOR_X: ["org_a"],
        STAFF: ["org_a", "org_b"],
        SUPERUSER: ["org_a", "org_b"],
    },
    # Communities are public bodies: everyone signed in sees all of them.
    "communities": {role: ["nation", "city_x", "city_y"] for role in SIGNED_IN},
}


class ListVisibilityTests:
    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("endpoint", sorted(LIST_VISIBILITY))
    def test_lists_show_exactly_what_the_role_may_see(self, world, client_for, endpoint, role):
        response = client_for(world["users"][role]).get(f"/api/v1/{endpoint}/")
        if role == ANONYMOUS:
            assert response.status_code == 401
            return
        assert response.status_code == 200
        objects = world["objects"]
        expected = sorted(objects[key].pk for key in LIST_VISIBILITY[endpoint][role])
        assert sorted(item["id"] for item in response.json()["results"]) == expected

    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            (REGULATOR_X, [REGULATOR_X, VIEWER_X, POLICY_AUTHOR_X]),
            (REGULATOR_PARENT, [REGULATOR_X, VIEWER_X, POLICY_AUTHOR_X]),
            (STAFF, [REGULATOR_X, VIEWER_X, POLICY_AUTHOR_X]),
            (REGULATOR_Y, []),
            (VIEWER_X, []),
            (FILER_A, []),
        ],
    )
    def test_community_member_lists_are_for_those_who_manage_them(self, world, client_for, role, expected):
        response = client_for(world["users"][role]).get("/api/v1/communities/city-x/members/")
        assert sorted(member["username"] for member in response.json()["results"]) == sorted(expected)

    @pytest.mark.parametrize(
        ("role", "expected"),
        [(FILER_A, [FILER_A, ADMIN_A]), (STAFF, [FILER_A, ADMIN_A]), (REGULATOR_X, [])],
    )
    def test_organization_member_lists(self, world, client_for, role, expected):
        response = client_for(world["users"][role]).get("/api/v1/organizations/org-a/members/")
        assert sorted(member["username"] for member in response.json()["results"]) == sorted(expected)


class DraftVisibilityTests:
    def test_a_draft_reaches_regulators_only_once_submitted(self, world, client_for):
        draft = world["objects"]["draft_ax"]
        url = f"/api/v1/registrations/{draft.pk}/"
        regulator_client = client_for(world["users"][REGULATOR_X])
        parent_client = client_for(world["users"][REGULATOR_PARENT])
        assert regulator_client.get(url).status_code == 404
        assert parent_client.get(url).status_code == 404
        assert regulator_client.get(f"/api/v1/systems/{draft.system_id}/").status_code == 404

        assert client_for(world["users"][FILER_A]).post(f"{url}submit/").status_code == 200

        assert regulator_client.get(url).status_code == 200
        assert parent_client.get(url).status_code == 200
        assert regulator_client.get(f"/api/v1/systems/{draft.system_id}/").status_code == 200
        assert client_for(world["users"][REGULATOR_Y]).get(url).status_code == 404

    def test_changes_requested_stays_visible_to_the_regulator(self, world, client_for):
        registration = world["objects"]["reg_ax"]
        url = f"/api/v1/registrations/{registration.pk}/"
        regulator_client = client_for(world["users"][REGULATOR_X])
        assert regulator_client.post(f"{url}request-changes/", COMMENT).status_code == 200
        assert regulator_client.get(url).status_code == 200

    def test_a_revoked_role_takes_effect_at_once(self, world, client_for):
        registration = world["objects"]["reg_ax"]
        client = client_for(world["users"][REGULATOR_X])
        CommunityMembership.objects.filter(user=world["users"][REGULATOR_X]).delete()
        assert client.post(f"/api/v1/registrations/{registration.pk}/approve/", COMMENT).status_code == 404
        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED
