"""A regulator's day in a real browser: find a filing, read it, approve it; a citizen then reads it."""

import re

import pytest
from playwright.sync_api import expect

from registry.choices import RegistrationStatus
from registry.models import Registration
from tests.browser.conftest import PASSWORD
from tests.factories import (
    AISystemFactory,
    CommunityFactory,
    OrganizationFactory,
    RegistrationFactory,
    UserFactory,
    regulator,
)

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-submit").click()
    expect(page.get_by_role("button", name=re.compile("Log out", re.I))).to_be_visible()


@pytest.fixture
def lakeshore():
    community = CommunityFactory(slug="lakeshore", name="Lakeshore")
    organization = OrganizationFactory(name="Avalon IT")
    waiting = RegistrationFactory(
        community=community,
        status=RegistrationStatus.SUBMITTED,
        system=AISystemFactory(organization=organization, name="Parking permit triage"),
    )
    for name in ("Library chatbot", "Snow route planner"):
        RegistrationFactory(
            community=community,
            status=RegistrationStatus.APPROVED,
            system=AISystemFactory(organization=organization, name=name),
        )
    elsewhere = RegistrationFactory(status=RegistrationStatus.SUBMITTED, system=AISystemFactory(name="Foreign system"))
    user = regulator(community, user=UserFactory(username="regulator-lakeshore", password=PASSWORD))
    return {"community": community, "waiting": waiting, "elsewhere": elsewhere, "user": user}


class RegulatorDayTests:
    def test_filter_open_approve_and_the_public_register_shows_it(self, page, lakeshore):
        waiting = lakeshore["waiting"]
        log_in(page, "regulator-lakeshore")
        page.goto("/dashboard/?community=lakeshore")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Lakeshore")

        page.goto("/registrations/")
        expect(page.get_by_role("link", name="Foreign system")).to_have_count(0)
        page.get_by_label("Search").fill("parking")
        page.locator("#apply-filters").click()
        expect(page.get_by_role("link", name="Snow route planner")).to_have_count(0)
        expect(page.get_by_role("link", name="Parking permit triage")).to_be_visible()

        page.get_by_role("link", name="Parking permit triage").click()
        expect(page).to_have_url(re.compile(rf"/registrations/{waiting.pk}/$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Parking permit triage")

        page.goto("/review/")
        row = page.locator(f"#review-registration-{waiting.pk}")
        expect(row).to_contain_text("Parking permit triage")
        url_before = page.url
        row.get_by_label("Comment (required)").fill("Complete and clear filing.")
        row.get_by_role("button", name="Approve").click()

        # htmx swaps the row in place: no page load, the row now says who approved it.
        row = page.locator(f"#review-registration-{waiting.pk}")
        expect(row).to_contain_text("Approved")
        expect(row).to_contain_text("Complete and clear filing.")
        assert page.url == url_before
        waiting.refresh_from_db()
        assert waiting.status == RegistrationStatus.APPROVED

        page.goto("/register/lakeshore/")
        expect(page.get_by_role("link", name="Parking permit triage")).to_be_visible()
        expect(page.get_by_text("Foreign system")).to_have_count(0)

    def test_a_decision_without_comment_is_refused_in_place(self, page, lakeshore):
        waiting = lakeshore["waiting"]
        log_in(page, "regulator-lakeshore")
        page.goto("/review/")
        row = page.locator(f"#review-registration-{waiting.pk}")
        # Bypass the browser's own `required` check to see the server's answer.
        row.locator("textarea").evaluate("el => el.removeAttribute('required')")
        row.get_by_role("button", name="Reject").click()

        expect(page.locator(f"#review-registration-{waiting.pk}")).to_contain_text("comment", ignore_case=True)
        assert Registration.objects.get(pk=waiting.pk).status == RegistrationStatus.SUBMITTED
