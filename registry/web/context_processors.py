from functools import partial


def navigation(request):
    """What base.html's nav needs about the user, computed only when a template reads it.

    The template engine calls callables, so pages that never render the nav pay no query.
    """
    from governance.admin import holds_authoring_role

    user = getattr(request, "user", None)
    return {"show_policy_link": partial(holds_authoring_role, user)}
