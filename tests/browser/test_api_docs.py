"""The API's own documentation renders in a browser from packaged assets (no CDN)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


class ApiDocsTests:
    def test_swagger_ui_renders_the_schema_without_outside_requests(self, page, live_server):
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)

        page.goto("/api/docs/")

        page.get_by_text("/api/v1/registrations/").first.wait_for()
        assert outside == []
