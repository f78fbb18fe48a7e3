"""Every write to the registry goes through these functions, so each is permission-checked and audited."""

from .communities import (
    community_create,
    community_member_add,
    community_member_remove,
    community_update,
)
from .organizations import (
    organization_create,
    organization_member_remove,
    organization_member_set,
    organization_update,
)
from .registrations import (
    registration_create,
    registration_delete,
    registration_grant_access,
    registration_revoke_access,
    registration_transition,
    registration_update,
)
from .systems import system_create, system_delete, system_update

__all__ = [
    "community_create",
    "community_member_add",
    "community_member_remove",
    "community_update",
    "organization_create",
    "organization_member_remove",
    "organization_member_set",
    "organization_update",
    "registration_create",
    "registration_delete",
    "registration_grant_access",
    "registration_revoke_access",
    "registration_transition",
    "registration_update",
    "system_create",
    "system_delete",
    "system_update",
]
