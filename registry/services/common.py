from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from registry.permissions import Action


def locked_for(queryset, *, pk, actor, action: Action):
    """Re-read an object inside the current transaction, locked, and only if `actor` may still act on it.

    Views check scope before calling a service; this second check closes the race where a role is revoked
    or the object moves between the check and the write.
    """
    instance = queryset.restrict(actor, action).select_for_update(of=("self",)).filter(pk=pk).first()
    if instance is None:
        raise PermissionDenied(_("You do not have permission to %(action)s this object.") % {"action": action})
    return instance


def require(allowed: bool, message: str | None = None):
    if not allowed:
        raise PermissionDenied(message or _("You do not have permission to perform this action."))


def apply_fields(instance, data: dict, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        from django.core.exceptions import ValidationError

        raise ValidationError({name: _("This field cannot be set here.") for name in sorted(unknown)})
    for name, value in data.items():
        setattr(instance, name, value)
