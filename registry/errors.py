"""Errors services raise; the API turns each into one HTTP status with a readable body."""

from django.utils.translation import gettext_lazy as _


class InvalidTransition(Exception):
    """The object is not in a state that allows this action (HTTP 409)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


NOT_ALLOWED_IN_STATE = _("A registration that is %(status)s cannot be %(action)s.")
COMMENT_REQUIRED = _("A comment is required for this decision.")
OWN_FILING_REVIEW = _("You cannot review a registration filed by an organization you belong to.")
NOT_EDITABLE = _("A registration can only be edited while it is a draft or changes were requested.")
SYSTEM_DELETE_SUBMITTED = _("This system has been submitted to a register and can no longer be deleted.")
ALREADY_REGISTERED = _("This system already has a live registration in this community.")
LAST_ADMIN = _("An organization must keep at least one admin.")
PARENT_CYCLE = _("A community cannot be moved under itself or one of its descendants.")
UNKNOWN_USER = _("No active user with this username.")
NO_PERMISSION_FOR_ACTION = _("You do not have permission to perform this action on this registration.")
DUPLICATE_EXTERNAL_ID = _("This organization already has a system with this external identifier.")
