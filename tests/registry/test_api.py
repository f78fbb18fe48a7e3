import re
from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from registry.choices import CommunityRole, RegistrationStatus, RiskTier
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    IdempotencyKey,
    OrganizationMembership,
    Registration,
    RegistrationVersion,
)
from tests.factories import (
    PASSWORD,
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    community_member,
    filer,
    org_admin,
    regulator,
)

pytestmark = pytest.mark.django_db

Status = RegistrationStatus
API = "/api/v1"


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[int]:
    return [item["id"] for item in results(response)]


def written_rows() -> dict[str, int]:
    """Row counts of everything a refused request must leave untouched."""
    models = [AISystem, Registration, RegistrationVersion, Community, CommunityMembership, OrganizationMembership]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["AuditEvent"] = AuditEvent.objects.count()
    counts["IdempotencyKey"] = IdempotencyKey.objects.count()
    return counts


class AuthTokenTests:
    url = f"{API}/auth/token/"

    def login(self, username, password=PASSWORD):
        return APIClient().post(self.url, {"username": username, "password": password}, format="json")

    def test_login_returns_a_token_that_authenticates(self):
        user = UserFactory()

        response = self.login(user.username)

        assert response.status_code == 200
        body = response.json()
        assert {"token", "expiry"} <= set(body)
        expiry = timezone.datetime.fromisoformat(body["expiry"])
        assert timezone.now() < expiry <= timezone.now() + timedelta(hours=10, minutes=1)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
        assert client.get(f"{API}/communities/").status_code == 200

    def test_wrong_password_is_refused(self):
        user = UserFactory()
        response = self.login(user.username, "not-the-password")
        assert response.status_code == 400
        assert "token" not in response.json()
        assert not AuthToken.objects.exists()

    def test_inactive_user_cannot_log_in(self):
        user = UserFactory(is_active=False)
        assert self.login(user.username).status_code == 400

    @pytest.mark.parametrize("header", [None, "Token not-a-real-token", "Bearer abc"])
    def test_requests_without_a_valid_token_are_unauthorized(self, header):
        client = APIClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get(f"{API}/registrations/").status_code == 401

    def test_expired_token_is_refused(self):
        token = self.login(UserFactory().username).json()["token"]
        AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get(f"{API}/communities/").status_code == 401

    def test_logout_revokes_the_token(self):
        token = self.login(UserFactory().username).json()["token"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        assert client.post(f"{API}/auth/logout/").status_code == 204

        assert not AuthToken.objects.exists()
        assert client.get(f"{API}/communities/").status_code == 401

    def test_tokens_are_stored_hashed(self):
        token = self.login(UserFactory().username).json()["token"]
        stored = AuthToken.objects.values().get()
        assert all(token not in str(value) for value in stored.values())
        assert stored["digest"] != token


class AISystemApiTests:
    url = f"{API}/systems/"

    def test_create(self, client_for):
        organization = OrganizationFactory(slug="acme")
        user = filer(organization)

        response = client_for(user).post(
            self.url,
            {
                "organization": "acme",
                "name": "Benefits triage",
                "purpose": "Sort claims.",
                "techniques": ["statistical"],
            },
        )

        assert response.status_code == 201, response.content
        body = response.json()
        system = AISystem.objects.get()
        assert body["id"] == system.pk
        assert (body["organization"], body["name"], body["techniques"]) == ("acme", "Benefits triage", ["statistical"])
        assert AuditEvent.objects.get().action == "system.created"

    def test_create_in_another_organization_reads_as_unknown(self, client_for):
        OrganizationFactory(slug="other")
        user = filer(OrganizationFactory())

        response = client_for(user).post(self.url, {"organization": "other", "name": "X", "purpose": "Y"})

        assert response.status_code == 400
        assert list(response.json()) == ["organization"]
        assert not AISystem.objects.exists()

    def test_list_and_retrieve(self, client_for):
        mine = AISystemFactory()
        AISystemFactory()  # another organization's
        user = filer(mine.organization)
        client = client_for(user)

        assert ids(client.get(self.url)) == [mine.pk]
        response = client.get(f"{self.url}{mine.pk}/")
        assert response.status_code == 200
        assert response.json()["name"] == mine.name

    def test_patch_and_put(self, client_for):
        system = AISystemFactory(vendor="Acme")
        client = client_for(filer(system.organization))

        response = client.patch(f"{self.url}{system.pk}/", {"vendor": "Globex"})
        assert response.status_code == 200
        assert response.json()["vendor"] == "Globex"

        response = client.put(f"{self.url}{system.pk}/", {"name": "Renamed", "purpose": "New purpose."})
        assert response.status_code == 200, response.content
        system.refresh_from_db()
        assert (system.name, system.purpose, system.vendor) == ("Renamed", "New purpose.", "Globex")
        assert [event.action for event in AuditEvent.objects.all()] == ["system.updated", "system.updated"]

    def test_owner_cannot_be_changed(self, client_for):
        system = AISystemFactory()
        OrganizationFactory(slug="elsewhere")
        response = client_for(filer(system.organization)).patch(
            f"{self.url}{system.pk}/", {"organization": "elsewhere"}
        )
        assert response.status_code == 400
        assert list(response.json()) == ["organization"]
        assert AISystem.objects.get(pk=system.pk).organization_id == system.organization_id

    def test_delete(self, client_for):
        system = AISystemFactory()
        response = client_for(filer(system.organization)).delete(f"{self.url}{system.pk}/")
        assert response.status_code == 204
        assert not AISystem.objects.exists()

    def test_delete_after_submission_is_a_conflict(self, client_for):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        response = client_for(filer(registration.organization)).delete(f"{self.url}{registration.system_id}/")
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
        assert AISystem.objects.filter(pk=registration.system_id).exists()


class RegistrationApiTests:
    url = f"{API}/registrations/"

    @pytest.fixture
    def setup(self):
        community = CommunityFactory(slug="ottawa")
        system = AISystemFactory()
        return {
            "community": community,
            "system": system,
            "filer": filer(system.organization),
            "regulator": regulator(community),
        }

    def act(self, client, registration_id, action, comment=None):
        body = {} if comment is None else {"comment": comment}
        return client.post(f"{self.url}{registration_id}/{action}/", body)

    def test_create_list_retrieve(self, setup, client_for):
        client = client_for(setup["filer"])

        response = client.post(
            self.url, {"system": setup["system"].pk, "community": "ottawa", "deployment_context": "Front desk"}
        )

        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["status"], body["community"], body["system"]) == ("draft", "ottawa", setup["system"].pk)
        assert body["organization"] == setup["system"].organization.slug
        assert ids(client.get(self.url)) == [body["id"]]
        assert client.get(f"{self.url}{body['id']}/").json()["deployment_context"] == "Front desk"

    def test_another_organizations_system_reads_as_unknown(self, setup, client_for):
        foreign = AISystemFactory()
        response = client_for(setup["filer"]).post(self.url, {"system": foreign.pk, "community": "ottawa"})
        assert response.status_code == 400
        assert response.json() == {"system": [f'Invalid pk "{foreign.pk}" - object does not exist.']}
        assert not Registration.objects.exists()

    def test_duplicate_live_registration_is_refused(self, setup, client_for):
        RegistrationFactory(system=setup["system"], community=setup["community"])
        response = client_for(setup["filer"]).post(self.url, {"system": setup["system"].pk, "community": "ottawa"})
        assert response.status_code == 400
        assert list(response.json()) == ["community"]
        assert Registration.objects.count() == 1

    def test_update_only_while_editable(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"])
        client = client_for(setup["filer"])

        response = client.patch(f"{self.url}{registration.pk}/", {"risk_tier": "high"})
        assert response.status_code == 200
        assert response.json()["risk_tier"] == "high"

        Registration.objects.filter(pk=registration.pk).update(status=Status.SUBMITTED)
        response = client.patch(f"{self.url}{registration.pk}/", {"risk_tier": "minimal"})
        assert response.status_code == 409
        assert Registration.objects.get(pk=registration.pk).risk_tier == RiskTier.HIGH

    def test_status_is_read_only(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"])
        response = client_for(setup["filer"]).patch(f"{self.url}{registration.pk}/", {"status": "approved"})
        assert response.status_code == 400
        assert response.json() == {"status": ["This field cannot be changed."]}
        assert Registration.objects.get(pk=registration.pk).status == Status.DRAFT

    def test_delete_a_draft(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"])
        assert client_for(setup["filer"]).delete(f"{self.url}{registration.pk}/").status_code == 204
        assert not Registration.objects.exists()

    def test_workflow_actions_answer_with_the_new_status(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"])
        filer_client, regulator_client = client_for(setup["filer"]), client_for(setup["regulator"])
        steps = [
            (filer_client, "submit", None, "submitted"),
            (regulator_client, "request-changes", "Explain the oversight.", "changes_requested"),
            (filer_client, "submit", None, "submitted"),
            (regulator_client, "approve", "Good.", "approved"),
            (filer_client, "retire", "Replaced.", "retired"),
        ]
        for client, action, comment, expected in steps:
            response = self.act(client, registration.pk, action, comment)
            assert response.status_code == 200, (action, response.content)
            assert response.json()["status"] == expected
            assert Registration.objects.get(pk=registration.pk).status == expected

        body = response.json()
        assert (body["version"], body["reviewer"]) == (2, setup["regulator"].username)

    def test_reject(self, setup, client_for):
        registration = RegistrationFactory(
            system=setup["system"], community=setup["community"], status=Status.SUBMITTED
        )
        response = self.act(client_for(setup["regulator"]), registration.pk, "reject", "Prohibited practice.")
        assert response.status_code == 200
        assert (response.json()["status"], response.json()["review_comment"]) == ("rejected", "Prohibited practice.")

    def test_decision_without_comment_is_refused(self, setup, client_for):
        registration = RegistrationFactory(
            system=setup["system"], community=setup["community"], status=Status.SUBMITTED
        )
        response = self.act(client_for(setup["regulator"]), registration.pk, "approve")
        assert response.status_code == 400
        assert response.json() == {"comment": ["A comment is required for this decision."]}
        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED

    def test_invalid_transition_is_a_conflict(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"], status=Status.APPROVED)
        response = self.act(client_for(setup["filer"]), registration.pk, "submit")
        assert response.status_code == 409
        assert response.json() == {
            "detail": "A registration that is approved cannot be submitted.",
            "code": "invalid_transition",
        }

    def test_history_lists_the_transitions(self, setup, client_for):
        client = client_for(setup["filer"])
        registration_id = client.post(self.url, {"system": setup["system"].pk, "community": "ottawa"}).json()["id"]
        self.act(client, registration_id, "submit")
        self.act(client_for(setup["regulator"]), registration_id, "approve", "Fine.")

        events = results(client.get(f"{self.url}{registration_id}/history/"))

        assert [(event["action"], event["actor"]) for event in events] == [
            ("registration.approve", setup["regulator"].username),
            ("registration.submit", setup["filer"].username),
            ("registration.created", setup["filer"].username),
        ]
        assert events[0]["changes"] == {"status": ["submitted", "approved"]}
        assert events[0]["comment"] == "Fine."

    def test_versions(self, setup, client_for):
        registration = RegistrationFactory(system=setup["system"], community=setup["community"])
        client = client_for(setup["filer"])
        self.act(client, registration.pk, "submit")

        versions = results(client.get(f"{self.url}{registration.pk}/versions/"))

        assert [(version["number"], version["created_by"]) for version in versions] == [(1, setup["filer"].username)]
        assert versions[0]["snapshot"]["system"]["name"] == setup["system"].name


class MembersApiTests:
    def test_community_members(self, client_for):
        community = CommunityFactory(slug="ottawa")
        manager = regulator(community, username="reg")
        UserFactory(username="newcomer")
        client = client_for(manager)
        url = f"{API}/communities/ottawa/members/"

        assert client.post(url, {"username": "newcomer", "role": "viewer"}).status_code == 201
        assert client.post(url, {"username": "newcomer", "role": "viewer"}).status_code == 200
        listed = results(client.get(url))
        assert sorted((member["username"], member["role"]) for member in listed) == [
            ("newcomer", "viewer"),
            ("reg", "regulator"),
        ]

        assert client.delete(f"{url}newcomer/").status_code == 204
        assert client.delete(f"{url}newcomer/").status_code == 404
        assert not CommunityMembership.objects.filter(user__username="newcomer").exists()

    def test_community_member_unknown_user_or_role(self, client_for):
        community = CommunityFactory(slug="ottawa")
        client = client_for(regulator(community))
        url = f"{API}/communities/ottawa/members/"
        UserFactory(username="known")

        response = client.post(url, {"username": "nobody", "role": "viewer"})
        assert response.status_code == 400
        assert list(response.json()) == ["username"]
        response = client.post(url, {"username": "known", "role": "emperor"})
        assert response.status_code == 400
        assert list(response.json()) == ["role"]
        assert CommunityMembership.objects.count() == 1

    def test_community_member_list_is_only_for_those_who_manage_it(self, client_for):
        community = CommunityFactory(slug="ottawa")
        regulator(community)
        viewer = community_member(community, CommunityRole.VIEWER)
        assert results(client_for(viewer).get(f"{API}/communities/ottawa/members/")) == []

    def test_organization_members(self, client_for):
        organization = OrganizationFactory(slug="acme")
        admin = org_admin(organization, username="boss")
        UserFactory(username="newcomer")
        client = client_for(admin)
        url = f"{API}/organizations/acme/members/"

        assert client.post(url, {"username": "newcomer", "role": "filer"}).status_code == 201
        response = client.post(url, {"username": "newcomer", "role": "admin"})
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        assert sorted((member["username"], member["role"]) for member in results(client.get(url))) == [
            ("boss", "admin"),
            ("newcomer", "admin"),
        ]
        assert client.delete(f"{url}newcomer/").status_code == 204
        assert list(OrganizationMembership.objects.values_list("user__username", flat=True)) == ["boss"]

    def test_last_organization_admin_cannot_leave(self, client_for):
        organization = OrganizationFactory(slug="acme")
        admin = org_admin(organization, username="boss")

        response = client_for(admin).delete(f"{API}/organizations/acme/members/boss/")

        assert response.status_code == 400
        assert response.json() == {"role": ["An organization must keep at least one admin."]}
        assert OrganizationMembership.objects.filter(user=admin, role="admin").exists()

    def test_a_filer_sees_colleagues_but_cannot_add(self, client_for):
        organization = OrganizationFactory(slug="acme")
        org_admin(organization)
        user = filer(organization)
        UserFactory(username="newcomer")
        client = client_for(user)

        assert len(results(client.get(f"{API}/organizations/acme/members/"))) == 2
        response = client.post(f"{API}/organizations/acme/members/", {"username": "newcomer", "role": "filer"})
        assert response.status_code == 403
        assert OrganizationMembership.objects.count() == 2


class RegistrationReadersApiTests:
    def test_a_regulator_lets_an_outside_auditor_read_one_registration(self, client_for):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        other = RegistrationFactory(status=Status.SUBMITTED, community=registration.community)
        auditor = UserFactory(username="auditor")
        auditor_client = client_for(auditor)
        regulator_client = client_for(regulator(registration.community))
        url = f"{API}/registrations/{registration.pk}/"
        assert auditor_client.get(url).status_code == 404

        response = regulator_client.post(f"{url}readers/", {"username": "auditor"})

        assert response.status_code == 204
        assert auditor_client.get(url).status_code == 200
        assert auditor_client.get(f"{API}/registrations/{other.pk}/").status_code == 404
        assert ids(auditor_client.get(f"{API}/registrations/")) == [registration.pk]
        # Reading is all the grant allows.
        assert auditor_client.patch(url, {"deployment_context": "x"}).status_code == 403
        assert auditor_client.post(f"{url}approve/", {"comment": "x"}).status_code == 403

        assert regulator_client.delete(f"{url}readers/auditor/").status_code == 204

        assert auditor_client.get(url).status_code == 404
        assert auditor_client.get(f"{API}/registrations/").json()["results"] == []

    def test_a_filer_cannot_grant_readers(self, client_for):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        UserFactory(username="friend")
        response = client_for(filer(registration.organization)).post(
            f"{API}/registrations/{registration.pk}/readers/", {"username": "friend"}
        )
        assert response.status_code == 403
        assert not Registration.objects.restrict(UserFactory(username="friend")).exists()


class ErrorHandlingTests:
    """Bad requests answer 400 (413 when too large) naming what is wrong, and write nothing."""

    url = f"{API}/systems/"

    @pytest.fixture
    def client(self, client_for):
        organization = OrganizationFactory(slug="acme")
        return client_for(filer(organization))

    def valid(self, **changes):
        return {"organization": "acme", "name": "Benefits triage", "purpose": "Sort claims.", **changes}

    @pytest.fixture(autouse=True)
    def nothing_written(self, client):
        before = written_rows()
        yield
        assert written_rows() == before

    def test_malformed_json(self, client):
        response = client.post(self.url, data='{"name": "x",', content_type="application/json")
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["detail"]

    def test_json_list_body(self, client):
        response = client.post(self.url, [self.valid()], format="json")
        assert response.status_code == 400
        assert "non_field_errors" in response.json()

    def test_unknown_field_is_named(self, client):
        response = client.post(self.url, self.valid(colour="blue"))
        assert response.status_code == 400
        assert response.json() == {"colour": ["Unknown field."]}

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("techniques", "machine_learning"),
            ("start_date", "last tuesday"),
            ("name", {"text": "x"}),
            ("contact_email", "not-an-address"),
        ],
    )
    def test_wrong_type_is_named(self, client, field, value):
        response = client.post(self.url, self.valid(**{field: value}))
        assert response.status_code == 400
        assert list(response.json()) == [field]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("techniques", ["bogus"]),
            ("data_categories", ["gossip"]),
            ("lifecycle_stage", "dead"),
            ("operator_role", "x"),
        ],
    )
    def test_unknown_choice_is_named(self, client, field, value):
        response = client.post(self.url, self.valid(**{field: value}))
        assert response.status_code == 400
        assert list(response.json()) == [field]

    def test_unknown_community_kind(self, client_for):
        response = client_for(UserFactory(is_staff=True)).post(
            f"{API}/communities/", {"slug": "mars", "name": "Mars", "kind": "planet"}
        )
        assert response.status_code == 400
        assert response.json() == {"kind": ['"planet" is not a valid choice.']}

    def test_over_long_name_is_named(self, client):
        response = client.post(self.url, self.valid(name="x" * 201))
        assert response.status_code == 400
        assert response.json() == {"name": ["Ensure this field has no more than 200 characters."]}

    def test_end_before_start(self, client):
        response = client.post(self.url, self.valid(start_date="2025-06-01", end_date="2025-01-01"))
        assert response.status_code == 400
        assert list(response.json()) == ["end_date"]

    def test_missing_required_fields(self, client):
        response = client.post(self.url, {"organization": "acme"})
        assert response.status_code == 400
        assert sorted(response.json()) == ["name", "purpose"]

    def test_body_over_the_limit(self, client, settings):
        settings.API_MAX_BODY_BYTES = 100
        response = client.post(self.url, self.valid(purpose="x" * 200))
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"


class ActionErrorHandlingTests:
    """The same refusals on a workflow action: the registration keeps its state and no event is written."""

    def test_body_over_the_limit_on_an_action(self, client_for, settings):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        client = client_for(regulator(registration.community))
        before = written_rows()
        settings.API_MAX_BODY_BYTES = 100
        response = client.post(f"{API}/registrations/{registration.pk}/approve/", {"comment": "x" * 200})
        assert response.status_code == 413
        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED
        assert written_rows() == before

    def test_malformed_json_on_an_action(self, client_for):
        registration = RegistrationFactory(status=Status.SUBMITTED)
        response = client_for(regulator(registration.community)).post(
            f"{API}/registrations/{registration.pk}/approve/", data="{", content_type="application/json"
        )
        assert response.status_code == 400
        assert Registration.objects.get(pk=registration.pk).status == Status.SUBMITTED
        assert not AuditEvent.objects.exists()


class RegistrationFilterTests:
    url = f"{API}/registrations/"

    @pytest.fixture
    def world(self, client_for):
        nation = CommunityFactory(slug="canada")
        region = CommunityFactory(slug="ontario", parent=nation)
        city = CommunityFactory(slug="ottawa", parent=region)
        other = CommunityFactory(slug="france")
        acme, globex = OrganizationFactory(slug="acme"), OrganizationFactory(slug="globex")
        make = RegistrationFactory
        registrations = {
            "nation": make(community=nation, system__organization=acme, status=Status.SUBMITTED, risk_tier="high"),
            "region": make(community=region, system__organization=globex, status=Status.APPROVED),
            "city": make(
                community=city,
                system__organization=acme,
                system__name="Chatbot for permits",
                system__lifecycle_stage="production",
                status=Status.CHANGES_REQUESTED,
                risk_tier="limited",
            ),
            "other": make(
                community=other, system__organization=globex, system__vendor="Initech", status=Status.REJECTED
            ),
        }
        superuser = UserFactory(is_superuser=True)
        return {"client": client_for(superuser), **registrations}

    def find(self, world, query):
        names = [
            name
            for name in ("nation", "region", "city", "other")
            if world[name].pk in ids(world["client"].get(self.url + query))
        ]
        return names

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", ["nation", "region", "city", "other"]),
            ("?community=ontario", ["region"]),
            ("?community_tree=canada", ["nation", "region", "city"]),
            ("?community_tree=ontario", ["region", "city"]),
            ("?community_tree=ottawa", ["city"]),
            ("?community_tree=nowhere", []),
            ("?organization=acme", ["nation", "city"]),
            ("?status=approved", ["region"]),
            ("?status=approved&status=rejected", ["region", "other"]),
            ("?risk_tier=high&risk_tier=limited", ["nation", "city"]),
            ("?lifecycle_stage=production", ["city"]),
            ("?q=chatbot", ["city"]),
            ("?q=initech", ["other"]),
            ("?organization=globex&status=approved", ["region"]),
        ],
    )
    def test_filters(self, world, query, expected):
        assert self.find(world, query) == expected

    def test_unknown_choice_in_a_filter_is_a_bad_request(self, world):
        response = world["client"].get(self.url + "?status=bogus")
        assert response.status_code == 400
        assert list(response.json()) == ["status"]

    def test_filters_never_widen_what_a_user_sees(self, world, client_for):
        user = filer(world["nation"].organization)
        assert ids(client_for(user).get(self.url + "?organization=globex")) == []
        assert sorted(ids(client_for(user).get(self.url + "?community_tree=canada"))) == sorted(
            [world["nation"].pk, world["city"].pk]
        )


class PaginationTests:
    def test_following_next_returns_each_item_once(self, client_for):
        community = CommunityFactory()
        created = [RegistrationFactory(community=community, status=Status.SUBMITTED).pk for _ in range(7)]
        client = client_for(regulator(community))

        seen, url, pages = [], f"{API}/registrations/?page_size=3", 0
        while url:
            response = client.get(url)
            assert response.status_code == 200
            body = response.json()
            seen += [item["id"] for item in body["results"]]
            url, pages = body["next"], pages + 1
            # Items added while paging do not shift the cursor.
            if pages == 1:
                created.append(RegistrationFactory(community=community, status=Status.SUBMITTED).pk)

        assert pages == 3
        assert seen == sorted(created[:7], reverse=True)

    def test_page_size_is_capped(self, client_for):
        community = CommunityFactory()
        for _ in range(3):
            RegistrationFactory(community=community, status=Status.SUBMITTED)
        body = client_for(regulator(community)).get(f"{API}/registrations/?page_size=100000").json()
        assert len(body["results"]) == 3
        assert body["next"] is None


class SchemaTests:
    def test_openapi_schema_lists_the_paths(self, client_for):
        response = client_for(UserFactory()).get("/api/schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        for path in [
            "/api/v1/auth/token/",
            "/api/v1/auth/logout/",
            "/api/v1/communities/",
            "/api/v1/communities/{slug}/members/",
            "/api/v1/organizations/",
            "/api/v1/systems/",
            "/api/v1/systems/{id}/",
            "/api/v1/registrations/",
            "/api/v1/registrations/{id}/submit/",
            "/api/v1/registrations/{id}/approve/",
            "/api/v1/registrations/{id}/reject/",
            "/api/v1/registrations/{id}/request-changes/",
            "/api/v1/registrations/{id}/retire/",
            "/api/v1/registrations/{id}/history/",
            "/api/v1/registrations/{id}/readers/",
        ]:
            assert path in schema["paths"], path

    def test_swagger_ui_uses_local_assets(self, client_for):
        response = client_for(UserFactory()).get("/api/docs/")
        assert response.status_code == 200
        html = response.content.decode()
        assert '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">' in html
        external = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']+""", html)
        assert external == []
        urls = re.findall(r"https?://([^/\"'\s]+)", html)
        assert [host for host in urls if host not in {"testserver", "localhost", "127.0.0.1"}] == []


class RegistrationRepresentationTests:
    """RegistrationSerializer writes its output by hand for speed; it must equal DRF's generic rendering."""

    def test_hand_written_representation_equals_the_generic_one(self):
        import datetime

        from django.utils import timezone

        from registry.api.serializers import RegistrationSerializer

        registration = RegistrationFactory(
            status=RegistrationStatus.APPROVED,
            deployment_date=datetime.date(2026, 3, 1),
            disclosure={"contact_email": {"level": "withheld", "reason": "Personal inbox."}},
            reviewer=UserFactory(),
            review_comment="Fine.",
            decided_at=timezone.now(),
        )
        from governance.models import Finding, Framework
        from registry.models import Registration
        from registry.selectors import registration_api_rows

        framework = Framework.objects.create(urn="urn:test:equality", name="Equality")
        for code, status in (("R1", "open"), ("R2", "open"), ("R3", "closed")):
            Finding.objects.create(
                registration=registration,
                organization=registration.organization,
                framework=framework,
                requirement_code=code,
                title=code,
                severity="high",
                status=status,
                code="F",
                opened_at=timezone.now(),
                due_on=timezone.localdate(),
            )
        Registration.objects.filter(pk=registration.pk).update(compliance_status="non_compliant")
        bare_draft = RegistrationFactory()
        rows = registration_api_rows(Registration.objects.filter(pk__in=[registration.pk, bare_draft.pk]))
        assert len(rows) == 2
        for row in rows:
            fast = RegistrationSerializer(row).data
            generic = super(RegistrationSerializer, RegistrationSerializer(row)).to_representation(row)
            assert fast == generic
            assert "community_slug" in vars(row)  # the fast path was taken
        outputs = {row.pk: RegistrationSerializer(row).data for row in rows}
        assert (outputs[registration.pk]["compliance_status"], outputs[registration.pk]["open_findings"]) == (
            "non_compliant",
            2,
        )
        assert outputs[registration.pk]["findings_url"] == f"/api/v1/findings/?registration={registration.pk}"
        assert (outputs[bare_draft.pk]["compliance_status"], outputs[bare_draft.pk]["open_findings"]) == ("pending", 0)
