"""The home redirect and the overview pages. Views stay thin: read the user's scope once, call the selectors
in `overview.py` / `communities.py`, render."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from rest_framework.throttling import ScopedRateThrottle

from governance.choices import RunTrigger
from governance.models import ComplianceRun
from governance.services.compliance import SweepAlreadyRunning, compliance_run_start
from registry.permissions import Action, user_scope
from registry.web.communities import community_roles, community_tree, selected_community, tree_links
from registry.web.overview import ACTIVE_RUN_STATUSES, can_start_sweep, community_overview

TOO_MANY_LOGINS = _("Too many login attempts from your address; wait a minute and try again.")
SWEEP_STARTED = _("A compliance check of %(community)s has started.")


class LoginView(auth_views.LoginView):
    """Django's login page, throttled like the API's token login: the same rate, counted per address in the
    same cache entries, so password guessing gains nothing by switching between the two."""

    throttle_scope = "login"

    def post(self, request, *args, **kwargs):
        if not ScopedRateThrottle().allow_request(request, self):
            form = self.get_form()
            form.add_error(None, TOO_MANY_LOGINS)
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)


def home(request):
    """The site root: people who are signed in work in the dashboard; everyone else starts at the login page."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    return redirect("login")


@login_required
def dashboard(request):
    """The overview of a community and its descendants (`?community=<slug>`), or of all one's filings."""
    scope = user_scope(request.user)
    tree = community_tree(user=request.user, scope=scope)
    community = selected_community(request, tree=tree, scope=scope)
    community_ids = tree.subtree_ids(community) if community else None
    context = community_overview(user=request.user, scope=scope, community=community, community_ids=community_ids)
    context.update(
        tree=tree,
        tree_links=tree_links(tree, current=community, url=reverse("web:dashboard")),
        community=community,
        ancestors=tree.ancestors(community) if community else [],
        roles=community_roles(scope=scope, tree=tree),
        nav_section="dashboard",
    )
    return render(request, "dashboard/overview.html", context)


@login_required
def run_progress(request, pk):
    """The sweep panel alone, polled by htmx every 2 s while the run is queued or running."""
    scope = user_scope(request.user)
    run = get_object_or_404(
        ComplianceRun.objects.restrict(request.user, Action.VIEW, scope=scope).select_related("community"), pk=pk
    )
    context = {
        "run": run,
        "community": run.community,
        "can_start_sweep": can_start_sweep(user=request.user, scope=scope, community=run.community),
        "active_statuses": ACTIVE_RUN_STATUSES,
    }
    return render(request, "dashboard/_run.html", context)


@login_required
@require_POST
def run_start(request):
    """Start a sweep of the posted community now; only its regulators (and superusers) may."""
    scope = user_scope(request.user)
    tree = community_tree(user=request.user, scope=scope)
    community = tree.by_slug(request.POST.get("community", ""))
    if community is None or not can_start_sweep(user=request.user, scope=scope, community=community):
        raise Http404
    try:
        compliance_run_start(community=community, actor=request.user, trigger=RunTrigger.MANUAL)
    except SweepAlreadyRunning as error:
        messages.warning(request, " ".join(error.messages))
    else:
        messages.success(request, SWEEP_STARTED % {"community": community.name})
    return redirect(reverse("web:dashboard") + "?" + urlencode({"community": community.slug}))
