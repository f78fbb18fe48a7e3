import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


class HomeTests:
    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        response = Client().get("/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"

    def test_login_page_links_to_the_public_register(self):
        response = Client().get("/accounts/login/")
        assert response.status_code == 200
        assert b'<html lang="en">' in response.content
        assert "public register" in response.content.decode()
        assert 'for="id_username"' in response.content.decode()


class LoginTests:
    def test_logging_in_leads_into_the_site(self):
        UserFactory(username="someone")
        response = Client().post("/accounts/login/", {"username": "someone", "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == "/"

    def test_a_wrong_password_shows_a_form_error(self):
        UserFactory(username="someone")
        response = Client().post("/accounts/login/", {"username": "someone", "password": "nope"})
        assert response.status_code == 200
        assert 'role="alert"' in response.content.decode()

    def test_password_guessing_is_throttled_like_the_api_login(self):
        from rest_framework.throttling import ScopedRateThrottle

        UserFactory(username="someone")
        client = Client()
        allowed, _period = ScopedRateThrottle().parse_rate(ScopedRateThrottle.THROTTLE_RATES["login"])
        for _attempt in range(allowed):
            assert client.post("/accounts/login/", {"username": "someone", "password": "nope"}).status_code == 200
        response = client.post("/accounts/login/", {"username": "someone", "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many login attempts" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_logout_is_a_post_and_returns_to_login(self):
        user = UserFactory()
        client = Client()
        client.force_login(user)
        response = client.post("/accounts/logout/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"


class LanguageTests:
    def test_the_switcher_sets_the_language_of_the_page(self):
        client = Client()
        response = client.post("/i18n/setlang/", {"language": "fr", "next": "/accounts/login/"})
        assert response.status_code == 302
        response = client.get("/accounts/login/")
        assert b'<html lang="fr">' in response.content
        html = response.content.decode()
        assert "Se connecter" in html and "Mot de passe" in html
        assert "Registre public" in html

    def test_the_dashboard_speaks_french(self):
        user = UserFactory()
        client = Client()
        client.force_login(user)
        client.post("/i18n/setlang/", {"language": "fr", "next": "/dashboard/"})
        html = client.get("/dashboard/").content.decode()
        assert "Tableau de bord" in html
        assert "Vue d’ensemble de mes enregistrements" in html
        assert "Par niveau de risque" in html and "Risque élevé" in html


class NavigationTests:
    def test_the_policy_console_link_is_for_policy_authors(self):
        from registry.choices import CommunityRole
        from tests.factories import CommunityFactory, community_member

        author = community_member(CommunityFactory(), CommunityRole.POLICY_AUTHOR)
        client = Client()
        client.force_login(author)
        assert 'href="/policy/"' in client.get("/dashboard/").content.decode()
        client.force_login(UserFactory())
        assert 'href="/policy/"' not in client.get("/dashboard/").content.decode()

    def test_the_link_is_decided_once_a_minute_per_user(self, django_assert_max_num_queries):
        client = Client()
        client.force_login(UserFactory())
        client.get("/dashboard/")
        with django_assert_max_num_queries(100) as repeat:
            client.get("/dashboard/")
        assert not any("governance_framework" in query["sql"] for query in repeat.captured_queries)
