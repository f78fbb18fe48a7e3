"""`Idempotency-Key` on POST: a retried filing returns the first response and creates nothing new."""

import hashlib
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from registry.api.errors import UnprocessableEntity
from registry.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
KEY_REUSED = _("This Idempotency-Key was already used with a different request body.")
KEY_TOO_LONG = _("An Idempotency-Key must be 1 to 255 characters.")


def request_fingerprint(request) -> str:
    """Hash of method, path and parsed body; uploaded files count by name, size and content hash."""

    def canonical(value):
        if hasattr(value, "chunks"):
            digest = hashlib.sha256()
            for chunk in value.chunks():
                digest.update(chunk)
            value.seek(0)
            return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
        if hasattr(value, "lists"):
            return {key: [canonical(v) for v in values] for key, values in value.lists()}
        return value

    data = canonical(request.data)
    if hasattr(request, "FILES") and request.FILES:
        data = {"data": data, "files": canonical(request.FILES)}
    body = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


class Replay(Exception):
    def __init__(self, response):
        self.response = response


class IdempotentPostMixin:
    """Wraps a keyed POST in one transaction with its idempotency record (see `IdempotencyKey`)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and HEADER.lower() in {h.lower() for h in request.headers}:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.idempotency_record = None
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        if not 0 < len(key) <= KEY_MAX_LENGTH:
            raise ValidationError({HEADER: [KEY_TOO_LONG]})
        fingerprint = request_fingerprint(request)
        record, created = IdempotencyKey.objects.get_or_create(
            user=request.user, key=key, defaults={"fingerprint": fingerprint}
        )
        if not created and record.created_at < timezone.now() - settings.IDEMPOTENCY_KEY_TTL:
            record.delete()
            record = IdempotencyKey.objects.create(user=request.user, key=key, fingerprint=fingerprint)
            created = True
        if created:
            self.idempotency_record = record
            return
        if record.fingerprint != fingerprint:
            raise UnprocessableEntity(KEY_REUSED, code="idempotency_key_reused")
        raise Replay(
            Response(
                record.response_body,
                status=record.response_status,
                headers={**record.response_headers, REPLAYED_HEADER: "true"},
            )
        )

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "idempotency_record", None)
        if record is not None and response.status_code < 500:
            record.response_status = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
            record.response_headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
            record.save(update_fields=["response_status", "response_body", "response_headers"])
            self.idempotency_record = None
        elif record is not None:
            # A server error must not be replayed: undo the claim (and any work) so a retry runs again.
            transaction.set_rollback(True)
        return response
