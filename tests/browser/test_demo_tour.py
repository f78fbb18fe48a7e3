"""The demo, as `make run` seeds it, checked by the compliance engine and toured in a real browser.

With SCREENSHOTS=1 this tour also refreshes the pictures in docs/screenshots/ that the README shows.
"""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from governance.models import ComplianceResult, ComplianceRun
from registry.models import Community, Registration
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DEMO_PASSWORD = "commons-demo-2026"


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise
    call_command("load_baselines", verbosity=0)
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = False


def log_in(page, username):
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#user-name")).to_be_visible()


class DemoTourTests:
    def test_a_regulator_reads_the_checked_demo_and_runs_a_check(self, page, demo):
        assert ComplianceResult.objects.exists()  # the seed's sweep ran
        log_in(page, "regulator-lakeshore")

        page.goto("/dashboard/?community=lakeshore")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Lakeshore")
        screenshot(page, "dashboard-overview")
        page.get_by_role("button", name="Run compliance check now").click()
        expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=30_000)
        run = ComplianceRun.objects.filter(community__slug="lakeshore").latest("id")
        assert run.created_by.username == "regulator-lakeshore" and run.done == run.total > 0

        page.goto("/registrations/")
        expect(page.locator("#registration-results")).to_be_visible()
        screenshot(page, "registrations-list")

        lakeshore = Community.objects.get(slug="lakeshore")
        checked = (
            Registration.objects.filter(community__path__startswith=lakeshore.path, compliance__isnull=False)
            .order_by("id")
            .first()
        )
        page.goto(f"/registrations/{checked.pk}/")
        expect(page.get_by_role("heading", name="Compliance")).to_be_visible()
        expect(page.locator("#compliance")).to_contain_text(re.compile("Evidence needed|Check passed|Does not apply"))
        page.goto(f"/registrations/{checked.pk}/#compliance")
        screenshot(page, "registration-compliance")

        page.goto("/review/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        screenshot(page, "review-queue")

        page.locator("#language-select").select_option("fr")
        page.locator(".lang-switch button").click()
        page.goto("/dashboard/?community=lakeshore")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Vue d’ensemble")
        expect(page.get_by_role("button", name="Lancer une vérification de conformité maintenant")).to_be_visible()

    def test_a_citizen_reads_the_demo_register(self, page, demo):
        community = Registration.objects.filter(status="approved").order_by("id").first().community
        page.goto("/register/")
        page.get_by_role("link", name=community.name).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(community.name)
        expect(page.locator("table.public-register tbody tr").first).to_be_visible()
        screenshot(page, "public-register")
        page.locator("table.public-register tbody tr a").first.click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        screenshot(page, "public-registration")

    def test_a_filer_sees_their_systems_and_starts_an_assessment(self, page, demo):
        log_in(page, "filer-avalon-it")
        assert page.goto("/systems/").status == 200
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        registration = Registration.objects.filter(organization__slug="avalon-it").order_by("id").first()
        assert page.goto(f"/assessments/new/?registration={registration.pk}").status == 200
        expect(page.locator("main")).to_contain_text(registration.system.name)
        screenshot(page, "assessment-start")
