from django.core.cache import cache

# Whether to show the policy console link is read on every page; the answer is kept this long per user. The
# console itself checks the role on each request, so a stale answer only shows or hides a link for a minute.
POLICY_LINK_SECONDS = 60


def navigation(request):
    """What base.html's nav needs about the user, computed only when a template reads it.

    The template engine calls callables, so pages that never render the nav pay no query.
    """
    user = getattr(request, "user", None)

    def show_policy_link() -> bool:
        from governance.admin import holds_authoring_role

        if user is None or not user.is_authenticated:
            return False
        key = f"nav:policy-link:{user.pk}"
        shown = cache.get(key)
        if shown is None:
            shown = holds_authoring_role(user)
            cache.set(key, shown, POLICY_LINK_SECONDS)
        return shown

    return {"show_policy_link": show_policy_link}
