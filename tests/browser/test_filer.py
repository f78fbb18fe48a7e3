"""An organization's filer files a system and registers it through the browser forms."""

import re

import pytest
from playwright.sync_api import expect

from registry.choices import RegistrationStatus
from registry.models import AISystem, Registration
from tests.browser.conftest import PASSWORD, screenshot
from tests.browser.test_regulator_day import log_in
from tests.factories import CommunityFactory, OrganizationFactory, UserFactory, filer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def avalon():
    CommunityFactory(slug="lakeshore", name="Lakeshore")
    organization = OrganizationFactory(name="Avalon IT")
    filer(organization, user=UserFactory(username="filer-avalon-it", password=PASSWORD))
    return organization


class FilerTests:
    def test_file_a_system_register_it_and_submit(self, page, avalon):
        log_in(page, "filer-avalon-it")
        page.goto("/systems/new/")
        page.locator("#system-form button[type=submit]").click()
        # Nothing filled in: the form answers with errors and nothing is saved.
        expect(page.locator("#system-form")).to_contain_text("required", ignore_case=True)
        assert not AISystem.objects.exists()

        page.get_by_label(re.compile(r"^Name")).fill("Pothole photo classifier")
        page.get_by_label(re.compile(r"^Purpose")).fill("Sorts citizens' pothole photos by urgency for road crews.")
        screenshot(page, "file-a-system")
        page.locator("#system-form button[type=submit]").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("Register a system")
        system = AISystem.objects.get(name="Pothole photo classifier")
        assert system.organization == avalon
        page.get_by_label(re.compile(r"^Community")).select_option(label="Lakeshore")
        page.get_by_label(re.compile(r"^Deployment context")).fill("Road maintenance, all districts.")
        page.locator("#registration-form button[type=submit]").click()

        registration = Registration.objects.get(system=system)
        expect(page).to_have_url(re.compile(rf"/registrations/{registration.pk}/$"))
        assert registration.status == RegistrationStatus.DRAFT
        page.get_by_role("button", name=re.compile("^Submit")).click()

        expect(page.locator("body")).to_contain_text("Submitted")
        registration.refresh_from_db()
        assert registration.status == RegistrationStatus.SUBMITTED
