from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _


class RequestBodyLimitMiddleware:
    """Refuse oversized API bodies with 413 before anything reads them.

    DRF's parsers read the request stream directly, bypassing DATA_UPLOAD_MAX_MEMORY_SIZE, so the limit
    is enforced here from Content-Length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": _("Invalid Content-Length header.")}, status=400)
            limit = settings.API_MAX_BODY_BYTES
            if request.path.startswith(settings.API_UPLOAD_PATH_PREFIXES):
                limit = settings.EVIDENCE_MAX_BYTES + 64 * 1024
            if length > limit:
                return JsonResponse(
                    {
                        "detail": _("Request body too large: %(size)d bytes, the limit is %(limit)d.")
                        % {"size": length, "limit": limit},
                        "code": "body_too_large",
                    },
                    status=413,
                )
        return self.get_response(request)
