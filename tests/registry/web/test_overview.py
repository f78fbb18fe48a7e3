"""The dashboard overview: who sees which counts, the breakdowns, findings, the trend and the sweep panel."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from governance.choices import RunStatus, RunTrigger
from governance.models import AssessmentStatus, ComplianceRun, ComplianceSnapshot, Finding, Framework, RiskAssessment
from registry.choices import CommunityKind, CommunityRole, ComplianceStatus, RegistrationStatus, RiskTier
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

DASHBOARD = "/dashboard/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def counts(response, field) -> dict:
    """{value: count} of one breakdown card as rendered, read from the page's `data-value` rows."""
    import re

    html = response.content.decode()
    card = html[html.index(f'id="breakdown-{field}"') :]
    card = card[: card.index("</ul>")]
    rows = re.findall(r'data-value="([a-z_]+)">.*?<span class="count">(\d+)</span>', card, re.S)
    return {value: int(count) for value, count in rows}


def total(response) -> int:
    import re

    html = response.content.decode()
    return int(re.search(r'id="total-registrations">.*?class="big-number">(\d+)<', html, re.S).group(1))


@pytest.fixture
def world():
    """nation > north > north-city; nation > south. Two organizations filing in several places."""
    nation = CommunityFactory(slug="nation", name="Nation", kind=CommunityKind.NATION)
    north = CommunityFactory(slug="north", name="North", kind=CommunityKind.REGION, parent=nation)
    north_city = CommunityFactory(slug="north-city", name="North City", parent=north)
    south = CommunityFactory(slug="south", name="South", kind=CommunityKind.REGION, parent=nation)
    acme, other = OrganizationFactory(slug="acme"), OrganizationFactory(slug="other")
    registrations = {
        "north_approved": RegistrationFactory(
            community=north,
            system__organization=acme,
            status=RegistrationStatus.APPROVED,
            risk_tier=RiskTier.HIGH,
            compliance_status=ComplianceStatus.NON_COMPLIANT,
        ),
        "city_submitted": RegistrationFactory(
            community=north_city,
            system__organization=other,
            status=RegistrationStatus.SUBMITTED,
            risk_tier=RiskTier.MINIMAL,
            compliance_status=ComplianceStatus.COMPLIANT,
        ),
        "city_draft": RegistrationFactory(community=north_city, system__organization=acme),
        "south_approved": RegistrationFactory(
            community=south,
            system__organization=other,
            status=RegistrationStatus.APPROVED,
            compliance_status=ComplianceStatus.AT_RISK,
        ),
    }
    return {"nation": nation, "north": north, "north_city": north_city, "south": south, "acme": acme, **registrations}


class AccessTests:
    def test_the_dashboard_requires_login(self):
        response = Client().get(DASHBOARD)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/dashboard/")

    def test_home_sends_a_signed_in_user_to_the_dashboard(self, world):
        response = client_for(regulator(world["north"])).get("/")
        assert response.status_code == 302
        assert response["Location"] == DASHBOARD

    def test_a_community_the_user_cannot_pick_answers_404(self, world):
        client = client_for(regulator(world["north"]))
        assert client.get(DASHBOARD, {"community": "south"}).status_code == 404
        assert client.get(DASHBOARD, {"community": "no-such-community"}).status_code == 404


class ScopingTests:
    """Each role sees the counts of exactly what it may see, and its own communities in the switcher."""

    def test_regulator_sees_their_subtree_without_drafts(self, world):
        response = client_for(regulator(world["north"])).get(DASHBOARD)
        assert response.status_code == 200
        assert "Overview of North" in response.content.decode()
        assert total(response) == 2
        assert counts(response, "status")["approved"] == 1
        assert counts(response, "status")["submitted"] == 1
        assert counts(response, "status")["draft"] == 0
        assert 'href="/dashboard/?community=north-city"' in response.content.decode()
        assert "?community=south" not in response.content.decode()

    def test_ancestor_regulator_sees_every_community_below(self, world):
        client = client_for(regulator(world["nation"]))
        response = client.get(DASHBOARD)
        assert total(response) == 3
        assert counts(response, "compliance_status") == {
            "pending": 0,
            "compliant": 1,
            "at_risk": 1,
            "non_compliant": 1,
        }
        assert total(client.get(DASHBOARD, {"community": "south"})) == 1
        response = client.get(DASHBOARD, {"community": "north-city"})
        assert total(response) == 1
        breadcrumbs = response.content.decode().split('class="breadcrumbs"')[1].split("</nav>")[0]
        assert '<a href="/dashboard/?community=nation">Nation</a>' in breadcrumbs
        assert '<a href="/dashboard/?community=north">North</a>' in breadcrumbs
        assert '<li aria-current="page">North City</li>' in breadcrumbs

    def test_viewer_of_a_city_sees_only_the_city(self, world):
        response = client_for(community_member(world["north_city"], CommunityRole.VIEWER)).get(DASHBOARD)
        assert "Overview of North City" in response.content.decode()
        assert total(response) == 1
        assert counts(response, "risk_tier")["minimal"] == 1
        assert (
            client_for(community_member(world["north_city"], CommunityRole.VIEWER))
            .get(DASHBOARD, {"community": "north"})
            .status_code
            == 404
        )

    def test_organization_filer_sees_their_organizations_filings_including_drafts(self, world):
        client = client_for(filer(world["acme"]))
        response = client.get(DASHBOARD)
        assert "Overview of my registrations" in response.content.decode()
        assert total(response) == 2
        assert counts(response, "status")["draft"] == 1
        assert counts(response, "status")["approved"] == 1
        html = response.content.decode()
        assert "?community=north-city" in html and "?community=north" in html
        assert "?community=south" not in html
        assert total(client.get(DASHBOARD, {"community": "north-city"})) == 1

    def test_a_regulator_who_also_files_counts_only_the_picked_subtree(self, world):
        user = regulator(world["north"])
        filer(OrganizationFactory(), user=user)
        RegistrationFactory(
            community=world["south"], system__organization=user.organization_memberships.get().organization
        )
        client = client_for(user)
        assert total(client.get(DASHBOARD, {"community": "north"})) == 2
        assert total(client.get(DASHBOARD, {"community": "south"})) == 1  # only their own draft there

    def test_all_i_can_see_drops_the_community(self, world):
        user = regulator(world["north"])
        filer(world["acme"], user=user)
        response = client_for(user).get(DASHBOARD, {"community": ""})
        assert "Overview of my registrations" in response.content.decode()
        assert total(response) == 3  # north's two, and acme's draft in the city

    def test_a_superuser_sees_everything_and_can_narrow_it(self, world):
        client = client_for(UserFactory(is_superuser=True))
        assert total(client.get(DASHBOARD)) == 4
        assert total(client.get(DASHBOARD, {"community": "north"})) == 3

    def test_an_auditor_granted_one_registration_sees_only_it(self, world):
        from guardian.shortcuts import assign_perm

        auditor = UserFactory()
        assign_perm("view_registration", auditor, world["south_approved"])
        client = client_for(auditor)
        response = client.get(DASHBOARD)
        assert total(response) == 1
        assert counts(response, "compliance_status")["at_risk"] == 1
        assert "?community=south" in response.content.decode()
        assert total(client.get(DASHBOARD, {"community": "south"})) == 1
        assert client.get(DASHBOARD, {"community": "north"}).status_code == 404

    def test_the_overview_opens_on_a_regulated_community_before_an_authored_one(self, world):
        user = community_member(world["nation"], CommunityRole.POLICY_AUTHOR)
        regulator(world["south"], user=user)
        assert "Overview of South" in client_for(user).get(DASHBOARD).content.decode()
        roles = client_for(user).get(DASHBOARD).content.decode().split('id="my-roles"')[1].split("</ul>")[0]
        assert "<li>Policy author of Nation</li>" in roles and "<li>Regulator of South</li>" in roles

    def test_outsider_sees_nothing(self, world):
        response = client_for(UserFactory()).get(DASHBOARD)
        assert response.status_code == 200
        assert total(response) == 0
        assert "You have no role in any community yet." in response.content.decode()
        assert "The trend is shown to those who oversee a community." in response.content.decode()


@pytest.fixture
def framework():
    return Framework.objects.create(urn="urn:test:overview", name="Overview test")


def finding(registration, framework, code, severity, due_in_days):
    return Finding.objects.create(
        registration=registration,
        organization=registration.organization,
        framework=framework,
        requirement_code=code,
        title=code,
        severity=severity,
        code="F",
        opened_at=timezone.now(),
        due_on=timezone.localdate() + datetime.timedelta(days=due_in_days),
    )


def assessment(registration, valid_days, instrument="aia"):
    return RiskAssessment.objects.create(
        registration=registration,
        instrument=instrument,
        version="1",
        status=AssessmentStatus.ACCEPTED,
        valid_until=timezone.localdate() + datetime.timedelta(days=valid_days),
    )


class FindingTests:
    def test_open_findings_by_severity_and_overdue_within_scope(self, world, framework):
        finding(world["north_approved"], framework, "R1", "critical", -3)
        finding(world["north_approved"], framework, "R2", "low", 10)
        finding(world["city_submitted"], framework, "R1", "high", -1)
        closed = finding(world["city_submitted"], framework, "R2", "high", -5)
        closed.status = "closed"
        closed.save()
        finding(world["south_approved"], framework, "R1", "critical", -9)  # another region's
        response = client_for(regulator(world["north"])).get(DASHBOARD)
        html = response.content.decode()
        assert '<p class="big-number">3</p>' in html[html.index('id="open-findings"') :][:300]
        open_card = html[html.index('id="open-findings"') : html.index('id="overdue"')]
        assert "Critical" in open_card
        assert 'id="overdue-findings"><span>Findings past their due date</span><span class="count">2</span>' in html

    def test_overdue_assessments_count_lapsed_ones_without_a_valid_successor(self, world):
        assessment(world["north_approved"], -10)  # lapsed, no successor: overdue
        assessment(world["city_submitted"], -10)  # lapsed ...
        assessment(world["city_submitted"], 100)  # ... but renewed
        assessment(world["south_approved"], -10)  # elsewhere
        response = client_for(regulator(world["north"])).get(DASHBOARD)
        assert 'id="overdue-assessments"><span>Assessments past their validity</span><span class="count">1</span>' in (
            response.content.decode()
        )


class TrendTests:
    def test_no_snapshots_says_no_data_yet(self, world):
        response = client_for(regulator(world["north"])).get(DASHBOARD)
        assert "No data yet" in response.content.decode()
        assert "<svg" not in response.content.decode()

    def test_snapshots_of_the_subtree_are_summed_per_day(self, world):
        today = timezone.localdate()
        for days_ago, compliant in ((2, 5), (1, 7)):
            for community in (world["north"], world["north_city"]):
                ComplianceSnapshot.objects.create(
                    community=community, date=today - datetime.timedelta(days=days_ago), compliant=compliant, pending=1
                )
        ComplianceSnapshot.objects.create(community=world["south"], date=today, compliant=500)
        response = client_for(regulator(world["north"])).get(DASHBOARD)
        html = response.content.decode()
        assert "<svg" in html and "<polyline" in html
        table = html[html.index('id="trend-table"') :]
        rows = table[: table.index("</tbody>")].split("<tr>")[2:]  # newest day first, after the header row
        assert len(rows) == 2
        assert '<td class="num">14</td>' in rows[0] and '<td class="num">2</td>' in rows[0]
        assert '<td class="num">10</td>' in rows[1]
        trend_card = html[html.index('id="compliance-trend"') :]
        assert "500" not in trend_card[: trend_card.index("</section>")]


class SweepTests:
    def test_running_sweep_polls_its_progress(self, world):
        run = ComplianceRun.objects.create(
            trigger=RunTrigger.SCHEDULE, community=world["north"], status=RunStatus.RUNNING, total=200, done=50
        )
        client = client_for(regulator(world["north"]))
        html = client.get(DASHBOARD).content.decode()
        assert f'hx-get="/dashboard/runs/{run.pk}/"' in html and 'hx-trigger="every 2s"' in html
        assert "50 of 200 checked, 0 failed" in html
        assert 'value="25"' in html

        run.status, run.done, run.finished_at = RunStatus.SUCCEEDED, 200, timezone.now()
        run.save()
        partial = client.get(f"/dashboard/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
        assert "<html" not in partial
        assert "200 of 200 checked" in partial
        assert "hx-trigger" not in partial  # finished: polling stops
        assert 'id="run-refresh"' in partial

    def test_a_run_of_another_community_is_hidden(self, world):
        run = ComplianceRun.objects.create(trigger=RunTrigger.SCHEDULE, community=world["south"])
        assert client_for(regulator(world["north"])).get(f"/dashboard/runs/{run.pk}/").status_code == 404

    def test_only_regulators_get_the_run_button(self, world):
        assert "Run compliance check now" in client_for(regulator(world["north"])).get(DASHBOARD).content.decode()
        viewer = community_member(world["north"], CommunityRole.VIEWER)
        assert "Run compliance check now" not in client_for(viewer).get(DASHBOARD).content.decode()
        response = client_for(viewer).post("/dashboard/runs/start/", {"community": "north"})
        assert response.status_code == 404


class QueryCountTests:
    def test_the_overview_runs_the_same_queries_at_any_size(self, world, framework, django_assert_max_num_queries):
        user = regulator(world["nation"])
        client = client_for(user)
        client.get(DASHBOARD)
        with django_assert_max_num_queries(11) as small:
            client.get(DASHBOARD)
        for index in range(30):
            registration = RegistrationFactory(
                community=world["north_city"], status=RegistrationStatus.SUBMITTED, risk_tier=RiskTier.LIMITED
            )
            finding(registration, framework, f"R{index}", "medium", -1)
            assessment(registration, -1)
        with django_assert_max_num_queries(11) as large:
            response = client.get(DASHBOARD)
        assert total(response) == 33
        assert len(large.captured_queries) == len(small.captured_queries)


class RunStartTests:
    def test_a_regulator_starts_a_sweep_and_a_second_one_is_refused_with_a_message(self, world):
        client = client_for(regulator(world["north"]))
        response = client.post("/dashboard/runs/start/", {"community": "north"}, follow=True)
        assert response.redirect_chain[-1][0] == "/dashboard/?community=north"
        run = ComplianceRun.objects.get(community=world["north"])
        assert run.trigger == RunTrigger.MANUAL
        html = response.content.decode()
        assert "A compliance check of North has started." in html
        assert f'hx-get="/dashboard/runs/{run.pk}/"' in html

        response = client.post("/dashboard/runs/start/", {"community": "north"}, follow=True)
        assert ComplianceRun.objects.filter(community=world["north"]).count() == 1
        assert 'class="message message--warning"' in response.content.decode()

    def test_a_get_is_not_allowed(self, world):
        assert client_for(regulator(world["north"])).get("/dashboard/runs/start/").status_code == 405


class CountCacheTests:
    """Large views keep their counts for a minute; small ones are always counted afresh."""

    def test_small_views_are_recounted_on_every_request(self, world):
        client = client_for(regulator(world["north"]))
        assert total(client.get(DASHBOARD)) == 2
        RegistrationFactory(community=world["north"], status=RegistrationStatus.SUBMITTED)
        response = client.get(DASHBOARD)
        assert total(response) == 3
        assert 'id="counted-at"' not in response.content.decode()

    def test_large_views_reuse_their_counts_and_say_when_they_were_made(
        self, world, monkeypatch, django_assert_max_num_queries
    ):
        from registry.web import overview

        monkeypatch.setattr(overview, "OVERVIEW_CACHE_FROM", 2)
        client = client_for(regulator(world["north"]))
        with django_assert_max_num_queries(20) as first:
            client.get(DASHBOARD)
        RegistrationFactory(community=world["north"], status=RegistrationStatus.SUBMITTED)
        with django_assert_max_num_queries(20) as second:
            response = client.get(DASHBOARD)
        assert total(response) == 2  # counted a moment ago
        assert "Counts as of" in response.content.decode()
        assert any('FROM "registry_registration"' in query["sql"] for query in first.captured_queries)
        assert not any('FROM "registry_registration"' in query["sql"] for query in second.captured_queries)
        assert not any('FROM "governance_finding"' in query["sql"] for query in second.captured_queries)

        other_region = client_for(regulator(world["south"]))  # other SQL, other entry
        assert total(other_region.get(DASHBOARD)) == 1
