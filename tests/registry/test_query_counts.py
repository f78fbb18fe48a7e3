"""List endpoints cost the same number of queries for one row as for a full page (no N+1).

Each builder adds `count` objects the user can see to one of the four lists, so the only thing that changes
between the two measurements is the number of rows returned.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.choices import RegistrationStatus
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    filer,
    regulator,
)

pytestmark = pytest.mark.django_db

PAGE = 50
# Measured: one query reads the user's memberships (registry.permissions.user_scope), one reads the page with its
# related rows joined. Cursor pagination adds no COUNT query.
REGISTRATION_LIST_QUERIES = 2


class Viewer:
    """A user who can see what the builders add: a filer of one organization, or a regulator of one community."""

    def __init__(self, role):
        self.role = role
        self.community = CommunityFactory()
        self.organization = OrganizationFactory()
        self.user = filer(self.organization) if role == "filer" else regulator(self.community)
        # Rows the user must not see, so the restriction has something to filter out.
        RegistrationFactory(status=RegistrationStatus.SUBMITTED)
        RegistrationFactory(community=self.community, status=RegistrationStatus.DRAFT)

    def visible_registration(self, **fields):
        return RegistrationFactory(
            community=fields.pop("community", self.community),
            system__organization=fields.pop("organization", self.organization),
            status=RegistrationStatus.SUBMITTED,
            reviewer=UserFactory(),
            **fields,
        )

    def add(self, endpoint, count):
        for _ in range(count):
            if endpoint == "registrations":
                self.visible_registration()
            elif endpoint == "systems":
                self.visible_registration(community=CommunityFactory(parent=self.community))
            elif endpoint == "organizations":
                organization = OrganizationFactory()
                if self.role == "filer":
                    filer(organization, user=self.user)
                self.visible_registration(organization=organization)
            else:
                CommunityFactory(parent=self.community)


def count_queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries), len(response.json()["results"])


class ListQueryCountTests:
    @pytest.mark.parametrize("role", ["filer", "regulator"])
    @pytest.mark.parametrize("endpoint", ["registrations", "systems", "organizations", "communities"])
    def test_one_row_costs_as_much_as_a_full_page(self, client_for, endpoint, role):
        viewer = Viewer(role)
        client = client_for(viewer.user)
        url = f"/api/v1/{endpoint}/?page_size={PAGE}"
        baseline, _ = count_queries(client, url)  # whatever the viewer sees before the builder adds rows
        viewer.add(endpoint, 1)

        few, few_rows = count_queries(client, url)
        viewer.add(endpoint, PAGE)
        many, many_rows = count_queries(client, url)

        assert few_rows < 5
        assert many_rows == PAGE
        assert many == few, f"{endpoint} as {role}: {few} queries for {few_rows} rows, {many} for {many_rows}"
        assert baseline == few

    @pytest.mark.parametrize("role", ["filer", "regulator"])
    def test_registration_list_query_count_is_pinned(self, client_for, role):
        viewer = Viewer(role)
        viewer.add("registrations", PAGE)
        queries, rows = count_queries(client_for(viewer.user), f"/api/v1/registrations/?page_size={PAGE}")
        assert rows == PAGE
        assert queries == REGISTRATION_LIST_QUERIES

    def test_filters_add_no_per_row_queries(self, client_for):
        viewer = Viewer("regulator")
        viewer.add("registrations", 3)
        client = client_for(viewer.user)
        url = f"/api/v1/registrations/?community_tree={viewer.community.slug}&status=submitted&q=System"
        few, _ = count_queries(client, url)
        viewer.add("registrations", 20)
        many, rows = count_queries(client, url)
        assert rows == 23
        assert many == few

    def test_following_pages_costs_the_same(self, client_for):
        viewer = Viewer("filer")
        viewer.add("systems", 12)
        client = client_for(viewer.user)
        first_page = client.get("/api/v1/systems/?page_size=5").json()
        with CaptureQueriesContext(connection) as context:
            response = client.get(first_page["next"])
        assert len(response.json()["results"]) == 5
        first, _ = count_queries(client, "/api/v1/systems/?page_size=5")
        assert len(context.captured_queries) == first
