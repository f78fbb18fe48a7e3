from django.shortcuts import redirect


def home(request):
    """The site root: people who are signed in work in the dashboard; everyone else starts at the login page."""
    if request.user.is_authenticated:
        return redirect("web:dashboard") if _has_dashboard() else redirect("web:registration-list")
    return redirect("login")


def _has_dashboard() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("web:dashboard")
    except NoReverseMatch:
        return False
    return True
