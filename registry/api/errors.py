"""One error shape for the whole API.

Validation errors keep DRF's shape, `{"field": ["message", ...]}` (with `non_field_errors` for the whole
object), so each bad field is named; every other error is `{"detail": "...", "code": "..."}`.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from registry.errors import InvalidTransition


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class UnprocessableEntity(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable_entity"


def as_drf_validation_error(error: DjangoValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        detail = {
            (api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): messages
            for field, messages in error.message_dict.items()
        }
    else:
        detail = {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return ValidationError(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = as_drf_validation_error(exc)
    elif isinstance(exc, InvalidTransition):
        exc = Conflict(exc.message, code="invalid_transition")
    elif isinstance(exc, DjangoPermissionDenied):
        from rest_framework.exceptions import PermissionDenied

        exc = PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIException) and not isinstance(exc, ValidationError) and isinstance(response.data, dict):
        codes = exc.get_codes()
        response.data = {
            "detail": response.data.get("detail", ""),
            "code": codes if isinstance(codes, str) else "error",
        }
    return response


def error_response(detail, code, status_code) -> Response:
    return Response({"detail": detail, "code": code}, status=status_code)
