import csv
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry.choices import (
    CommunityKind,
    CommunityRole,
    ComplianceStatus,
    LifecycleStage,
    RegistrationStatus,
    RiskTier,
)
from registry.web.lists import EXPORT_HEADER, INVALID_FILTERS
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    community_member,
    filer,
    regulator,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/registrations/"
EXPORT_URL = "/registrations/export.csv"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_ids(response) -> set[int]:
    """Registration ids of the table rows the user sees."""
    return {int(pk) for pk in re.findall(r'<tr id="registration-(\d+)"', response.content.decode())}


def exported_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def world():
    """A nation with two regions, a city in the first; two organizations filing in several places."""
    nation = CommunityFactory(slug="nation", name="Nation", kind=CommunityKind.NATION)
    region = CommunityFactory(slug="region", name="Region", kind=CommunityKind.REGION, parent=nation)
    city = CommunityFactory(slug="city", name="City", parent=region)
    other = CommunityFactory(slug="other-region", name="Other Region", kind=CommunityKind.REGION, parent=nation)
    avalon = OrganizationFactory(slug="avalon", name="Avalon Analytics")
    borealis = OrganizationFactory(slug="borealis", name="Borealis Health Trust")
    approved, submitted, draft = RegistrationStatus.APPROVED, RegistrationStatus.SUBMITTED, RegistrationStatus.DRAFT
    registrations = {
        "city_approved": RegistrationFactory(
            community=city,
            system__organization=avalon,
            system__name="Benefits Risk Scorer",
            system__lifecycle_stage=LifecycleStage.PRODUCTION,
            status=approved,
            risk_tier=RiskTier.HIGH,
            compliance_status=ComplianceStatus.NON_COMPLIANT,
        ),
        "city_submitted": RegistrationFactory(
            community=city,
            system__organization=avalon,
            system__name="Permit Classifier",
            system__lifecycle_stage=LifecycleStage.PILOT,
            status=submitted,
            risk_tier=RiskTier.MINIMAL,
            compliance_status=ComplianceStatus.COMPLIANT,
        ),
        "city_draft": RegistrationFactory(
            community=city, system__organization=avalon, system__name="Draft Chat Assistant", status=draft
        ),
        "region_approved": RegistrationFactory(
            community=region,
            system__organization=borealis,
            system__name="Triage Forecasting Model",
            status=approved,
            risk_tier=RiskTier.LIMITED,
            compliance_status=ComplianceStatus.AT_RISK,
        ),
        "other_approved": RegistrationFactory(
            community=other, system__organization=borealis, system__name="Parking Optimiser", status=approved
        ),
    }
    users = {
        "regulator": regulator(region, username="regional-regulator"),
        "ancestor": regulator(nation, username="national-regulator"),
        "viewer": community_member(city, CommunityRole.VIEWER, username="city-viewer"),
        "filer": filer(avalon, username="avalon-filer"),
        "outsider": UserFactory(username="outsider"),
    }
    return {"registrations": registrations, "users": users, "communities": locals()}


def ids(world, *names) -> set[int]:
    return {world["registrations"][name].pk for name in names}


class RegistrationListAccessTests:
    def test_anonymous_visitors_are_sent_to_log_in(self):
        for url in (LIST_URL, EXPORT_URL):
            response = Client().get(url)
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/?next=")

    @pytest.mark.parametrize(
        "who, expected",
        [
            ("regulator", ("city_approved", "city_submitted", "region_approved")),
            ("ancestor", ("city_approved", "city_submitted", "region_approved", "other_approved")),
            ("viewer", ("city_approved", "city_submitted")),
            ("filer", ("city_approved", "city_submitted", "city_draft")),
            ("outsider", ()),
        ],
    )
    def test_each_role_sees_exactly_its_scope_in_the_list_and_the_export(self, world, who, expected):
        client = client_for(world["users"][who])
        response = client.get(LIST_URL)
        assert response.status_code == 200
        assert listed_ids(response) == ids(world, *expected)
        if not expected:
            assert "No registrations match these filters." in response.content.decode()
        export = client.get(EXPORT_URL)
        assert export.status_code == 200
        assert {int(row["registration_id"]) for row in exported_rows(export)} == ids(world, *expected)

    def test_a_regulator_cannot_pick_a_community_outside_their_tree(self, world):
        client = client_for(world["users"]["regulator"])
        response = client.get(LIST_URL, {"community": "other-region"})
        assert response.status_code == 400
        assert str(INVALID_FILTERS) in response.content.decode()
        assert world["registrations"]["other_approved"].pk not in listed_ids(response)
        assert client.get(EXPORT_URL, {"community": "other-region"}).status_code == 400

    def test_the_community_choices_are_the_users_tree_indented_by_depth(self, world):
        response = client_for(world["users"]["ancestor"]).get(LIST_URL)
        content = response.content.decode()
        assert '<option value="nation">Nation</option>' in content
        assert '<option value="region">\u00a0\u00a0Region</option>' in content
        assert '<option value="city">\u00a0\u00a0\u00a0\u00a0City</option>' in content
        response = client_for(world["users"]["regulator"]).get(LIST_URL)
        assert 'value="other-region"' not in response.content.decode()


class RegistrationListFilterTests:
    @pytest.mark.parametrize(
        "params, expected",
        [
            ({"community": "city"}, ("city_approved", "city_submitted")),
            ({"community": "region"}, ("city_approved", "city_submitted", "region_approved")),
            ({"community": "other-region"}, ("other_approved",)),
            ({"status": "submitted"}, ("city_submitted",)),
            ({"status": ["submitted", "approved"], "community": "city"}, ("city_approved", "city_submitted")),
            ({"risk_tier": "high"}, ("city_approved",)),
            ({"compliance_status": "at_risk"}, ("region_approved",)),
            ({"lifecycle_stage": "pilot"}, ("city_submitted",)),
            ({"organization": "borealis"}, ("region_approved", "other_approved")),
            ({"q": "risk scorer"}, ("city_approved",)),
            ({"q": "BOREALIS health"}, ("region_approved", "other_approved")),
            ({"q": "nothing like this"}, ()),
        ],
    )
    def test_filters_and_search_narrow_the_list_and_the_export_alike(self, world, params, expected):
        client = client_for(world["users"]["ancestor"])
        response = client.get(LIST_URL, params)
        assert response.status_code == 200
        assert listed_ids(response) == ids(world, *expected)
        rows = exported_rows(client.get(EXPORT_URL, params))
        assert [int(row["registration_id"]) for row in rows] == sorted(ids(world, *expected), reverse=True)

    def test_the_export_carries_the_records_columns(self, world):
        client = client_for(world["users"]["ancestor"])
        response = client.get(EXPORT_URL, {"risk_tier": "high"})
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="registrations-')
        (row,) = exported_rows(response)
        assert list(row) == EXPORT_HEADER
        assert row["community"] == "city"
        assert row["organization_name"] == "Avalon Analytics"
        assert row["name"] == "Benefits Risk Scorer"
        assert row["status"] == "approved"
        assert row["compliance_status"] == "non_compliant"

    def test_the_export_link_carries_the_current_filters(self, world):
        response = client_for(world["users"]["ancestor"]).get(LIST_URL, {"status": "approved", "q": "x y"})
        assert 'href="/registrations/export.csv?status=approved&amp;q=x+y"' in response.content.decode()

    def test_an_unknown_choice_is_a_form_error_not_a_500(self, world):
        response = client_for(world["users"]["ancestor"]).get(LIST_URL, {"status": "bogus"})
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()


class RegistrationListSortTests:
    def test_sorting_by_name_both_ways(self, world):
        client = client_for(world["users"]["ancestor"])
        names = ["Benefits Risk Scorer", "Parking Optimiser", "Permit Classifier", "Triage Forecasting Model"]
        content = client.get(LIST_URL, {"sort": "name"}).content.decode()
        assert [content.index(name) for name in names] == sorted(content.index(name) for name in names)
        content = client.get(LIST_URL, {"sort": "-name"}).content.decode()
        positions = [content.index(name) for name in names]
        assert positions == sorted(positions, reverse=True)

    def test_the_sorted_column_is_marked_and_its_link_reverses_the_order(self, world):
        content = client_for(world["users"]["ancestor"]).get(LIST_URL, {"sort": "name"}).content.decode()
        assert 'aria-sort="ascending"' in content
        assert 'href="?sort=-name"' in content

    def test_an_unknown_sort_falls_back_to_newest_first(self, world):
        response = client_for(world["users"]["ancestor"]).get(LIST_URL, {"sort": "password"})
        assert response.status_code == 200
        content = response.content.decode()
        newest, oldest = world["registrations"]["other_approved"].pk, world["registrations"]["city_approved"].pk
        assert content.index(f'id="registration-{newest}"') < content.index(f'id="registration-{oldest}"')


class RegistrationListPaginationTests:
    def test_pages_of_fifty_with_a_count_and_links(self):
        city = CommunityFactory(slug="big-city")
        user = regulator(city)
        RegistrationFactory.create_batch(60, community=city, status=RegistrationStatus.SUBMITTED)
        client = client_for(user)
        first = client.get(LIST_URL)
        assert len(listed_ids(first)) == 50
        assert "Showing 1–50 of 60 registrations" in first.content.decode()
        assert 'href="?page=2"' in first.content.decode()
        second = client.get(LIST_URL, {"page": 2})
        assert len(listed_ids(second)) == 10
        assert listed_ids(first).isdisjoint(listed_ids(second))
        assert "Showing 51–60 of 60 registrations" in second.content.decode()
        assert 'rel="next"' not in second.content.decode()
        assert client.get(LIST_URL, {"page": "not-a-number"}).status_code == 200
        past_the_end = client.get(LIST_URL, {"page": 7}).content.decode()
        assert "This page is past the end of the list." in past_the_end

    def test_htmx_requests_get_only_the_results(self, world):
        response = client_for(world["users"]["ancestor"]).get(LIST_URL, {"q": "permit"}, HTTP_HX_REQUEST="true")
        content = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in content
        assert content.lstrip().startswith('<div id="registration-results"')
        assert listed_ids(response) == ids(world, "city_submitted")

    def test_htmx_gets_invalid_filters_with_a_200_so_that_the_message_is_swapped_in(self, world):
        client = client_for(world["users"]["regulator"])
        response = client.get(LIST_URL, {"community": "other-region"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert str(INVALID_FILTERS) in response.content.decode()

    def test_the_page_works_without_javascript(self, world):
        content = client_for(world["users"]["ancestor"]).get(LIST_URL).content.decode()
        assert '<form id="registration-filters"' in content
        assert 'method="get" action="/registrations/"' in content
        assert 'id="apply-filters"' in content


class RegistrationListQueryCountTests:
    @staticmethod
    def queries(client, params=None) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST_URL, params or {})
        assert response.status_code == 200
        return len(captured.captured_queries)

    def test_the_number_of_queries_does_not_grow_with_rows(self):
        city = CommunityFactory()
        client = client_for(regulator(city))
        RegistrationFactory.create_batch(3, community=city, status=RegistrationStatus.SUBMITTED)
        few = self.queries(client, {"page": 1, "community": city.slug})
        RegistrationFactory.create_batch(120, community=city, status=RegistrationStatus.APPROVED)
        many = self.queries(client, {"page": 1, "community": city.slug})
        # The count query runs only once there is more than one page; per-user caches (the nav's) may save some.
        assert many <= few + 1
        # session, user, scope, tree, page, count, and the nav's policy-console check (up to 4 on a cold
        # content-type cache): a fixed number, whatever the rows.
        assert many <= 10

    def test_choice_filters_do_not_make_the_page_query_distinct(self):
        city = CommunityFactory()
        client = client_for(regulator(city))
        RegistrationFactory.create_batch(2, community=city, status=RegistrationStatus.SUBMITTED)

        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST_URL, {"status": "submitted", "risk_tier": "unassessed", "lifecycle_stage": ""})

        assert len(listed_ids(response)) == 2
        page_queries = [q["sql"] for q in captured.captured_queries if "registry_registration" in q["sql"]]
        assert page_queries and not any("DISTINCT" in sql for sql in page_queries)

    def test_the_export_streams_in_a_constant_number_of_queries(self):
        city = CommunityFactory()
        client = client_for(regulator(city))

        def export_queries() -> tuple[int, int]:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(EXPORT_URL)
                rows = exported_rows(response)  # the rows are read while the response streams
            assert response.streaming
            return len(rows), len(captured.captured_queries)

        RegistrationFactory.create_batch(3, community=city, status=RegistrationStatus.SUBMITTED)
        few_rows, few = export_queries()
        RegistrationFactory.create_batch(120, community=city, status=RegistrationStatus.APPROVED)
        many_rows, many = export_queries()
        assert (few_rows, many_rows) == (3, 123)
        assert many == few


class RegistrationSearchIndexTests:
    @pytest.mark.parametrize(
        "model, field, index",
        [
            ("AISystem", "name", "registry_aisystem_name_trgm"),
            ("AISystem", "purpose", "registry_aisystem_purpose_trgm"),
            ("AISystem", "vendor", "registry_aisystem_vendor_trgm"),
            ("Organization", "name", "registry_organization_name_trgm"),
        ],
    )
    def test_the_search_lookups_can_use_the_trigram_indexes(self, model, field, index):
        """The index expression must be exactly the SQL Django writes for `icontains`, or it is never used."""
        from django.apps import apps

        if connection.vendor != "postgresql":
            pytest.skip("trigram indexes exist on PostgreSQL only")
        queryset = (
            apps.get_model("registry", model).objects.filter(**{f"{field}__icontains": "fraud"}).order_by().values("pk")
        )
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table is otherwise read whole
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert index in plan


class RegistrationListLanguageTests:
    def test_the_language_switch_gives_the_list_in_french(self, world):
        client = client_for(world["users"]["ancestor"])
        response = client.post("/i18n/setlang/", {"language": "fr", "next": LIST_URL})
        assert response.status_code == 302
        response = client.get(LIST_URL, {"status": "bogus"})
        content = response.content.decode()
        assert '<html lang="fr">' in content
        assert "Sélectionnez un choix valide" in content  # Django's own catalogue: the form errors are French
        assert '<h1 id="registrations-heading">Enregistrements</h1>' in content  # ours: locale/fr
        assert "Appliquer les filtres" in content
        client.post("/i18n/setlang/", {"language": "en", "next": LIST_URL})
        assert '<html lang="en">' in client.get(LIST_URL).content.decode()
