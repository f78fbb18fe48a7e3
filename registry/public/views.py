"""The public register (issue 6): anyone, signed in or not, reads a community's approved registrations.

Views are thin: they read through `registry.public.selectors`, which start from the same public scope as
the open-data export, and the downloads stream with the exporter the API uses.
"""

from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from registry.api.import_views import DATA_LICENCE
from registry.exporters.registers import stream_csv, stream_json
from registry.public import selectors
from registry.public.forms import PublicRegisterFilterForm

PAGE_SIZE = 25


@require_safe
def community_list(request):
    return render(request, "public/community_list.html", {"communities": selectors.public_communities()})


def _search(request, community):
    organizations = list(selectors.public_register_organizations(community=community))
    form = PublicRegisterFilterForm(request.GET or None, organizations=organizations)
    filters = form.filters() if form.is_bound else {"sort": selectors.DEFAULT_SORT}
    return form, filters, selectors.public_register_search(community=community, **filters)


@require_safe
def register(request, slug):
    community = selectors.public_community(slug=slug)
    form, filters, registrations = _search(request, community)
    page = Paginator(registrations.select_related("system", "organization"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = list(page.object_list)
    for registration in page.object_list:
        registration.public_lifecycle_stage = selectors.public_lifecycle_stage(registration)
    subcommunities = list(selectors.public_subcommunities(community=community))
    for sub in subcommunities:
        sub.relative_depth = sub.depth - community.depth - 1
    context = {
        "community": community,
        "ancestors": selectors.public_ancestors(community=community),
        "subcommunities": subcommunities,
        "form": form,
        "page": page,
        "sort": filters["sort"],
        "filtered": any(value for name, value in filters.items() if name != "sort"),
        "licence": DATA_LICENCE,
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "public/register.html", context, status=status)


@require_safe
def registration_detail(request, slug, pk):
    community = selectors.public_community(slug=slug)
    registration = selectors.public_registration(community=community, pk=pk)
    context = {
        "community": community,
        "ancestors": selectors.public_ancestors(community=community),
        "registration": registration,
        "fields": selectors.public_fields(registration),
        "licence": DATA_LICENCE,
    }
    return render(request, "public/registration_detail.html", context)


def _download(request, slug, export_format):
    community = selectors.public_community(slug=slug)
    form, _filters, registrations = _search(request, community)
    if form.is_bound and form.errors:
        # A download is kept and reused: better no file than one that silently ignores part of the request.
        errors = [f"{form.fields[name].label}: {error}" for name, messages in form.errors.items() for error in messages]
        return HttpResponseBadRequest("\n".join(errors), content_type="text/plain; charset=utf-8")
    if export_format == "csv":
        body = stream_csv(registrations, community=community, scope="public")
        content_type = "text/csv; charset=utf-8"
    else:
        generated_at = timezone.now().isoformat()
        body = stream_json(
            registrations, community=community, scope="public", generated_at=generated_at, licence=DATA_LICENCE
        )
        content_type = "application/json"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{community.slug}-register-public.{export_format}"'
    return response


@require_safe
def register_csv(request, slug):
    """The public register as CSV: the whole register, or what the page's search and filters selected."""
    return _download(request, slug, "csv")


@require_safe
def register_json(request, slug):
    return _download(request, slug, "json")
