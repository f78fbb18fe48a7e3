from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from registry.api.idempotency import HEADER, IdempotentPostMixin

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID is ideal). A retry with the same key and body within 24 hours returns the first "
        "response and creates nothing new; the same key with a different body answers 422."
    ),
)


class RegistryAutoSchema(AutoSchema):
    """Documents the Idempotency-Key header on every POST that honours it (all but the token login)."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method == "POST" and isinstance(self.view, IdempotentPostMixin):
            return [*parameters, IDEMPOTENCY_PARAMETER]
        return parameters


class TokenScheme(KnoxTokenScheme):
    """Documents `Authorization: Token <token>` for our knox subclass (registry.api.authentication)."""

    target_class = "registry.api.authentication.TokenAuthentication"
