"""A citizen, signed out, reads a community's public register, opens an entry and downloads the data."""

import csv
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from registry.choices import RegistrationStatus
from tests.factories import AISystemFactory, CommunityFactory, OrganizationFactory, RegistrationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def register():
    community = CommunityFactory(slug="riverton", name="Riverton")
    organization = OrganizationFactory(name="Riverton Transit")
    approved = RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        system=AISystemFactory(organization=organization, name="Bus arrival predictor", vendor="Acme Analytics"),
        disclosure={"vendor": {"level": "withheld", "reason": "Commercial confidentiality until the contract ends."}},
    )
    RegistrationFactory(
        community=community,
        status=RegistrationStatus.APPROVED,
        system=AISystemFactory(organization=organization, name="Fare evasion camera"),
    )
    RegistrationFactory(
        community=community,
        status=RegistrationStatus.SUBMITTED,
        system=AISystemFactory(organization=organization, name="Unreviewed draft tool"),
    )
    return approved


class CitizenTests:
    def test_search_read_and_download_the_public_register(self, page, register):
        page.goto("/register/")
        page.get_by_role("link", name="Riverton").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Riverton")
        expect(page.get_by_text("Unreviewed draft tool")).to_have_count(0)

        page.get_by_role("textbox", name="Search").fill("bus")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("link", name="Fare evasion camera")).to_have_count(0)
        page.get_by_role("link", name="Bus arrival predictor").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("Bus arrival predictor")
        body = page.locator("main")
        expect(body).to_contain_text("Commercial confidentiality until the contract ends.")
        expect(body).not_to_contain_text("Acme Analytics")

        page.go_back()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download these results (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
        assert [row["name"] for row in rows] == ["Bus arrival predictor"]
        assert "Acme Analytics" not in json.dumps(rows)
