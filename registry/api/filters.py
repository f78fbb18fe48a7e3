from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the view's filters.

    Building and validating a FilterSet form costs a few milliseconds per request, a large share of an
    unfiltered list page (bench/api_list.py); with no filter parameters it can only return the queryset.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(
            param == name or param.startswith(f"{name}_")  # range filters take name_min, name_after...
            for param in request.query_params
            for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
