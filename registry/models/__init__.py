from .audit import AuditEvent
from .communities import Community, CommunityMembership
from .idempotency import IdempotencyKey
from .imports import ImportJob
from .organizations import Organization, OrganizationMembership
from .registrations import (
    Registration,
    RegistrationGroupObjectPermission,
    RegistrationUserObjectPermission,
    RegistrationVersion,
)
from .systems import AISystem
from .webhooks import Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "AISystem",
    "AuditEvent",
    "Community",
    "CommunityMembership",
    "IdempotencyKey",
    "ImportJob",
    "Organization",
    "OrganizationMembership",
    "Registration",
    "RegistrationGroupObjectPermission",
    "RegistrationUserObjectPermission",
    "RegistrationVersion",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
