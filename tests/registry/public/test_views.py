"""The public register's pages and downloads (issue 6): what an anonymous citizen sees and never sees."""

import csv
import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry.choices import LifecycleStage, RegistrationStatus, RiskTier
from registry.public.forms import PublicRegisterFilterForm
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    filer,
    regulator,
)

pytestmark = pytest.mark.django_db

WITHHELD_PURPOSE = {"purpose": {"level": "withheld", "reason": "Reveals police tactics."}}


def approved(community, **fields):
    system_fields = {key[len("system__") :]: fields.pop(key) for key in list(fields) if key.startswith("system__")}
    if "organization" in fields:
        system_fields["organization"] = fields.pop("organization")
    fields.setdefault("decided_at", timezone.now())
    return RegistrationFactory(
        community=community, status=RegistrationStatus.APPROVED, system=AISystemFactory(**system_fields), **fields
    )


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def row_ids(html: str) -> list[int]:
    """The registrations listed in the register's table, in order."""
    return [int(pk) for pk in re.findall(r'<tr id="registration-(\d+)">', html)]


@pytest.fixture
def register():
    region = CommunityFactory(slug="lakeshore", name="Lakeshore Region", kind="region")
    community = CommunityFactory(slug="riverton", name="City of Riverton", parent=region)
    transit = OrganizationFactory(slug="transit", name="Riverton Transit")
    police = OrganizationFactory(slug="police", name="Riverton Police")
    bus = approved(
        community,
        organization=transit,
        system__name="Bus bunching predictor",
        system__purpose="Predicts when buses bunch together.",
        system__contact_email="ops-secret@transit.example",
        system__lifecycle_stage=LifecycleStage.PRODUCTION,
        system__techniques=["machine_learning"],
        risk_tier=RiskTier.MINIMAL,
    )
    patrol = approved(
        community,
        organization=police,
        system__name="Patrol planner",
        system__purpose="Hot spots from burglary reports in Elm Street.",
        system__vendor="Confidential Vendor Inc.",
        system__lifecycle_stage=LifecycleStage.PILOT,
        risk_tier=RiskTier.HIGH,
        disclosure={
            **WITHHELD_PURPOSE,
            "vendor": {"level": "restricted", "reason": ""},
            "lifecycle_stage": {"level": "withheld", "reason": "Operational."},
        },
    )
    hidden = {
        status: RegistrationFactory(
            community=community,
            status=status,
            system=AISystemFactory(organization=transit, name=f"Hidden {status} system"),
        )
        for status in [
            RegistrationStatus.DRAFT,
            RegistrationStatus.SUBMITTED,
            RegistrationStatus.CHANGES_REQUESTED,
            RegistrationStatus.REJECTED,
            RegistrationStatus.RETIRED,
        ]
    }
    elsewhere = approved(region, organization=transit, system__name="Regional traffic model")
    return {
        "region": region,
        "community": community,
        "transit": transit,
        "police": police,
        "bus": bus,
        "patrol": patrol,
        "hidden": hidden,
        "elsewhere": elsewhere,
    }


class PublicRegisterTests:
    def test_anonymous_citizens_see_only_the_communitys_approved_registrations(self, client, register):
        response = client.get("/register/riverton/")

        assert response.status_code == 200
        html = response.content.decode()
        assert "Public register of City of Riverton" in html
        assert row_ids(html) == [register["bus"].pk, register["patrol"].pk]
        assert "Riverton Transit" in html and "Riverton Police" in html
        for registration in register["hidden"].values():
            assert registration.system.name not in html
        assert "Regional traffic model" not in html
        assert "2 registrations" in html

    def test_signed_in_filers_and_regulators_see_the_same_public_register(self, client, register):
        for user in [filer(register["transit"]), regulator(register["community"])]:
            client.force_login(user)
            html = client.get("/register/riverton/").content.decode()
            detail = client.get(f"/register/riverton/{register['patrol'].pk}/").content.decode()

            assert row_ids(html) == [register["bus"].pk, register["patrol"].pk]
            assert "Hidden draft system" not in html and "Hidden submitted system" not in html
            assert "Elm Street" not in detail and "Confidential Vendor" not in detail

    def test_the_index_lists_registers_with_their_public_counts(self, client, register):
        CommunityFactory(slug="closed", name="Closed Town", public_register_enabled=False)

        html = client.get("/register/").content.decode()

        assert 'href="/register/riverton/"' in html and "City of Riverton" in html
        assert "2 registrations" in html and "1 registration" in html
        assert "Closed Town" not in html
        # Tree order, each city under its region.
        assert html.index("Lakeshore Region") < html.index("City of Riverton")
        assert 'public-depth-1">\n        <a href="/register/riverton/">' in html

    def test_a_region_links_the_registers_of_its_cities_and_a_city_its_region(self, client, register):
        region_html = client.get("/register/lakeshore/").content.decode()
        city_html = client.get("/register/riverton/").content.decode()

        assert "Registers within Lakeshore Region" in region_html
        assert 'href="/register/riverton/"' in region_html
        assert row_ids(region_html) == [register["elsewhere"].pk]
        assert 'href="/register/lakeshore/"' in city_html  # breadcrumbs up the tree
        detail_html = client.get(f"/register/riverton/{register['bus'].pk}/").content.decode()
        assert '<a href="/register/lakeshore/">Lakeshore Region</a>' in detail_html

    def test_a_community_without_a_public_register_answers_404_everywhere(self, client, register):
        community = register["community"]
        community.public_register_enabled = False
        community.save()
        pk = register["bus"].pk

        for url in ["", f"{pk}/", "feed.atom", "register.csv", "register.json"]:
            assert client.get(f"/register/riverton/{url}").status_code == 404, url
        assert client.get("/register/nowhere/").status_code == 404

    def test_the_data_licence_and_the_downloads_are_offered(self, client, register):
        html = client.get("/register/riverton/").content.decode()

        assert "Data licence" in html
        assert "/register/riverton/register.csv" in html and "/register/riverton/register.json" in html
        assert 'type="application/atom+xml" href="/register/riverton/feed.atom"' in html

    def test_accessible_markup_labels_every_filter_and_captions_the_table(self, client, register):
        html = client.get("/register/riverton/").content.decode()

        for name in ["q", "organization", "risk_tier", "lifecycle_stage", "sort"]:
            assert f'<label for="id_{name}">' in html
        assert "<caption" in html and "<h1>" in html
        assert '<th scope="col">' in html

    def test_withheld_lifecycle_stages_are_not_shown_in_the_list(self, client, register):
        html = client.get("/register/riverton/").content.decode()

        assert "In production" in html
        patrol_row = html.split(f'id="registration-{register["patrol"].pk}"')[1].split("</tr>")[0]
        assert "Pilot" not in patrol_row and "Not public" in patrol_row

    def test_the_page_count_does_not_grow_with_the_rows(self, client, register):
        def queries():
            with CaptureQueriesContext(connection) as context:
                assert client.get("/register/riverton/").status_code == 200
            return len(context.captured_queries)

        few = queries()
        for number in range(30):
            approved(register["community"], system__name=f"Extra system {number}")
        assert queries() == few
        # community, ancestors, sub-registers, the organization filter, the count and the page
        assert few == 6


class PublicRegisterSearchTests:
    def test_search_matches_name_organization_and_public_purpose(self, client, register):
        def found(q):
            return row_ids(client.get("/register/riverton/", {"q": q}).content.decode())

        assert found("bunching") == [register["bus"].pk]
        assert found("buses bunch") == [register["bus"].pk]
        assert found("police") == [register["patrol"].pk]
        assert found("patrol") == [register["patrol"].pk]

    def test_search_never_matches_a_withheld_field(self, client, register):
        html = client.get("/register/riverton/", {"q": "Elm Street"}).content.decode()

        assert row_ids(html) == []
        assert "No registration matches your search." in html

    def test_filters_by_organization_risk_tier_and_lifecycle_stage(self, client, register):
        def found(**filters):
            return row_ids(client.get("/register/riverton/", filters).content.decode())

        assert found(organization="police") == [register["patrol"].pk]
        assert found(risk_tier="minimal") == [register["bus"].pk]
        assert found(risk_tier="high", organization="transit") == []
        assert found(lifecycle_stage="production") == [register["bus"].pk]
        # The patrol planner is a pilot, but its stage is withheld: the filter must not reveal it.
        assert found(lifecycle_stage="pilot") == []

    def test_the_organization_filter_offers_only_organizations_in_this_register(self, client, register):
        OrganizationFactory(slug="unrelated", name="Unrelated Org")

        html = client.get("/register/riverton/").content.decode()

        assert '<option value="police">Riverton Police</option>' in html
        assert "Unrelated Org" not in html

    def test_an_invalid_filter_is_a_clear_400_not_a_500(self, client, register):
        response = client.get("/register/riverton/", {"risk_tier": "catastrophic", "q": "bus"})

        assert response.status_code == 400
        html = response.content.decode()
        assert "Select a valid choice. catastrophic is not one of the available choices." in html
        assert row_ids(html) == [register["bus"].pk]  # the valid part of the search still applies

    def test_sorting_by_name_and_by_approval_date(self, client, register):
        bus, patrol = register["bus"], register["patrol"]
        type(bus).objects.filter(pk=bus.pk).update(decided_at=timezone.now() - timezone.timedelta(days=3))

        def order(sort):
            return row_ids(client.get("/register/riverton/", {"sort": sort}).content.decode())

        assert order("name") == [bus.pk, patrol.pk]
        assert order("-name") == [patrol.pk, bus.pk]
        assert order("-date") == [patrol.pk, bus.pk]
        assert order("date") == [bus.pk, patrol.pk]
        html = client.get("/register/riverton/", {"sort": "-date"}).content.decode()
        assert '<th scope="col" aria-sort="descending"><a href="/register/riverton/?sort=date">' in html

    def test_pagination_keeps_the_search(self, client, register):
        for number in range(30):
            approved(register["community"], organization=register["transit"], system__name=f"Sensor {number:02d}")

        first = client.get("/register/riverton/", {"q": "sensor"}).content.decode()
        second = client.get("/register/riverton/", {"q": "sensor", "page": "2"}).content.decode()
        beyond = client.get("/register/riverton/", {"q": "sensor", "page": "nonsense"})

        assert len(row_ids(first)) == 25 and len(row_ids(second)) == 5
        assert "Page 1 of 2" in first and 'href="?q=sensor&amp;page=2"' in first
        assert "Sensor 29" in second
        assert beyond.status_code == 200

    def test_the_form_drops_only_invalid_filters(self):
        form = PublicRegisterFilterForm({"q": "  bus ", "risk_tier": "nope", "sort": "-date"})

        assert form.filters() == {
            "q": "bus",
            "organization": "",
            "risk_tier": "",
            "lifecycle_stage": "",
            "sort": "-date",
        }


class PublicRegistrationPageTests:
    def test_shows_public_fields_organization_risk_compliance_version_and_dates(self, client, register):
        bus = register["bus"]

        response = client.get(f"/register/riverton/{bus.pk}/")

        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1>Bus bunching predictor</h1>" in html
        for text in ["Riverton Transit", "Predicts when buses bunch together.", "Minimal risk", "Pending"]:
            assert text in html
        assert "Machine learning" in html  # choices shown by their labels
        assert "Version" in html and "Approved on" in html

    def test_withheld_fields_show_the_notice_and_reason_never_the_value(self, client, register):
        html = client.get(f"/register/riverton/{register['patrol'].pk}/").content.decode()

        assert "Withheld" in html
        assert "Reason given: Reveals police tactics." in html
        assert "Reason given: Operational." in html
        assert "Elm Street" not in html

    def test_restricted_fields_do_not_appear(self, client, register):
        bus_html = client.get(f"/register/riverton/{register['bus'].pk}/").content.decode()
        patrol_html = client.get(f"/register/riverton/{register['patrol'].pk}/").content.decode()

        assert "ops-secret@transit.example" not in bus_html
        assert "contact e-mail" not in bus_html.lower()  # restricted by default, so not even its label
        assert "Confidential Vendor" not in patrol_html
        assert "Vendor or supplier" not in patrol_html

    def test_non_approved_and_other_communities_registrations_answer_404(self, client, register):
        for registration in register["hidden"].values():
            assert client.get(f"/register/riverton/{registration.pk}/").status_code == 404
        assert client.get(f"/register/riverton/{register['elsewhere'].pk}/").status_code == 404
        assert client.get(f"/register/lakeshore/{register['bus'].pk}/").status_code == 404


class PublicDownloadTests:
    def test_csv_rows_are_the_pages_rows_with_public_fields_only(self, client, register):
        page = row_ids(client.get("/register/riverton/").content.decode())

        response = client.get("/register/riverton/register.csv")

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(body(response))))
        assert [int(row["registration_id"]) for row in rows] == page
        patrol = rows[1]
        assert patrol["name"] == "Patrol planner" and patrol["purpose"] == "" and patrol["vendor"] == ""
        text = "\n".join(",".join(row.values()) for row in rows)
        assert "Elm Street" not in text and "Confidential Vendor" not in text and "ops-secret" not in text

    def test_json_rows_are_the_pages_rows_with_the_licence(self, client, register):
        page = row_ids(client.get("/register/riverton/").content.decode())

        document = json.loads(body(client.get("/register/riverton/register.json")))

        assert [record["id"] for record in document["registrations"]] == page
        assert document["scope"] == "public" and document["licence"]
        patrol = document["registrations"][1]["system"]
        assert "purpose" not in patrol and "vendor" not in patrol and "contact_email" not in patrol
        assert "Hidden" not in json.dumps(document)

    def test_downloads_follow_the_pages_search_and_filters(self, client, register):
        query = {"organization": "police", "sort": "-name"}
        page = row_ids(client.get("/register/riverton/", query).content.decode())

        rows = list(csv.DictReader(io.StringIO(body(client.get("/register/riverton/register.csv", query)))))
        document = json.loads(body(client.get("/register/riverton/register.json", query)))

        assert page == [register["patrol"].pk]
        assert [int(row["registration_id"]) for row in rows] == page
        assert [record["id"] for record in document["registrations"]] == page

    def test_a_download_with_an_invalid_filter_is_a_clear_400(self, client, register):
        response = client.get("/register/riverton/register.csv", {"lifecycle_stage": "someday"})

        assert response.status_code == 400
        assert "Lifecycle stage: Select a valid choice. someday is not one of the available choices." in (
            response.content.decode()
        )

    def test_head_requests_are_answered_for_link_checkers(self, client, register):
        assert client.head("/register/riverton/").status_code == 200
        assert client.head("/register/riverton/register.csv").status_code == 200

    def test_the_whole_public_csv_matches_the_api_export(self, client, register):
        ours = body(client.get("/register/riverton/register.csv"))
        api = body(client.get("/api/v1/communities/riverton/export.csv"))

        assert sorted(ours.splitlines()) == sorted(api.splitlines())
