"""The public register's Atom feed (issue 6): changes made through the services, public facts only."""

import xml.etree.ElementTree as ET

import pytest

from registry.choices import RegistrationStatus
from registry.services.registrations import registration_create, registration_transition
from registry.services.systems import system_create, system_update
from tests.factories import CommunityFactory, OrganizationFactory, filer, regulator

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


def entries(client, slug="riverton"):
    response = client.get(f"/register/{slug}/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    return feed, [
        {
            "title": entry.findtext(f"{ATOM}title"),
            "id": entry.findtext(f"{ATOM}id"),
            "link": entry.find(f"{ATOM}link").get("href"),
            "updated": entry.findtext(f"{ATOM}updated"),
            "summary": entry.findtext(f"{ATOM}summary") or "",
        }
        for entry in feed.findall(f"{ATOM}entry")
    ]


@pytest.fixture
def world():
    community = CommunityFactory(slug="riverton", name="City of Riverton")
    other = CommunityFactory(slug="elsewhere", name="Elsewhere")
    organization = OrganizationFactory(slug="transit", name="Riverton Transit")
    return {
        "community": community,
        "other": other,
        "organization": organization,
        "filer": filer(organization),
        "regulator": regulator(community),
        "other_regulator": regulator(other),
    }


def file(world, name, *, community=None, disclosure=None, **system_fields):
    """File, register and submit a system the way an organization does."""
    system = system_create(
        actor=world["filer"],
        organization=world["organization"],
        name=name,
        purpose=f"Purpose of {name}.",
        **system_fields,
    )
    registration = registration_create(
        actor=world["filer"], system=system, community=community or world["community"], disclosure=disclosure or {}
    )
    return registration_transition(registration=registration, actor=world["filer"], action="submit")


def decide(world, registration, action, actor=None):
    return registration_transition(
        registration=registration, actor=actor or world["regulator"], action=action, comment="Reviewed."
    )


class RegisterFeedTests:
    def test_is_valid_atom_with_approvals_updates_and_retirements(self, client, world):
        registration = file(world, "Bus bunching predictor")
        system_update(system=registration.system, actor=world["filer"], name="Early rename before approval")
        decide(world, registration, "approve")
        system_update(system=registration.system, actor=world["filer"], name="Bus bunching predictor v2")
        decide(world, registration, "retire")

        feed, items = entries(client)

        assert feed.findtext(f"{ATOM}title") == "Public register of City of Riverton: changes"
        assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}updated")
        assert [item["title"] for item in items] == [
            "Retired: Bus bunching predictor v2",
            "Updated: Bus bunching predictor v2",
            "Approved: Bus bunching predictor v2",
        ]
        assert len({item["id"] for item in items}) == 3
        assert all(item["id"].startswith("urn:commons-registry:audit-event:") for item in items)
        assert all(item["link"].startswith("http://testserver/register/riverton/") for item in items)
        assert all(item["updated"] for item in items)
        assert "Riverton Transit" in items[0]["summary"]

    def test_an_approved_registrations_entry_links_to_its_page(self, client, world):
        registration = decide(world, file(world, "Pothole finder"), "approve")

        _feed, items = entries(client)

        assert items[0]["link"] == f"http://testserver/register/riverton/{registration.pk}/"
        assert "Purpose of Pothole finder." in items[0]["summary"]

    def test_unapproved_and_other_communities_registrations_never_appear(self, client, world):
        file(world, "Still submitted")
        decide(world, file(world, "Rejected system"), "reject")
        decide(world, file(world, "Sent back"), "request_changes")
        decide(world, file(world, "Approved elsewhere", community=world["other"]), "approve", world["other_regulator"])

        _feed, items = entries(client)

        assert items == []
        assert [item["title"] for item in entries(client, "elsewhere")[1]] == ["Approved: Approved elsewhere"]

    def test_changes_to_non_public_fields_are_not_news_and_withheld_values_stay_out(self, client, world):
        registration = file(
            world,
            "Patrol planner",
            disclosure={"purpose": {"level": "withheld", "reason": "Reveals police tactics."}},
            contact_email="secret@police.example",
        )
        decide(world, registration, "approve")
        system_update(system=registration.system, actor=world["filer"], contact_email="other-secret@police.example")
        system_update(system=registration.system, actor=world["filer"], purpose="Burglary hot spots in Elm Street.")
        system_update(system=registration.system, actor=world["filer"], vendor="Public Vendor")

        response = client.get("/register/riverton/feed.atom")
        _feed, items = entries(client)

        assert [item["title"] for item in items] == ["Updated: Patrol planner", "Approved: Patrol planner"]
        text = response.content.decode()
        for secret in ["secret@police.example", "Elm Street", "Purpose of Patrol planner", "Reviewed."]:
            assert secret not in text

    def test_the_feed_answers_in_a_bounded_number_of_queries(self, client, world, django_assert_max_num_queries):
        for number in range(5):
            registration = decide(world, file(world, f"System {number}"), "approve")
            system_update(system=registration.system, actor=world["filer"], name=f"System {number} renamed")
        assert registration.status == RegistrationStatus.APPROVED

        with django_assert_max_num_queries(5):
            _feed, items = entries(client)

        assert len(items) == 10
