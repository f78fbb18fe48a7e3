"""The Atom feed of a community's public register: approvals, updates and retirements, from the audit trail.

An entry says what happened to which registration and repeats only public facts (the system's name, the
organization, the risk tier and, when disclosed, the purpose). Reviewers' comments and changed values stay
out: they were written for the filer and the regulator, not for publication.
"""

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry.choices import RegistrationStatus
from registry.public import selectors

TITLES = {
    "approved": gettext_lazy("Approved: %(name)s"),
    "updated": gettext_lazy("Updated: %(name)s"),
    "retired": gettext_lazy("Retired: %(name)s"),
}


class RegisterFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, slug):
        return selectors.public_community(slug=slug)

    def title(self, community):
        return _("Public register of %(community)s: changes") % {"community": community.name}

    def subtitle(self, community):
        return _("Registrations approved, updated and retired in the public register of %(community)s.") % {
            "community": community.name
        }

    def link(self, community):
        return reverse("public:register", args=[community.slug])

    def items(self, community):
        return selectors.public_feed_entries(community=community)

    def item_title(self, entry):
        return TITLES[entry.change] % {"name": entry.registration.system.name}

    def item_description(self, entry):
        registration = entry.registration
        parts = [
            _("Organization: %(organization)s.") % {"organization": registration.organization.name},
            _("Risk tier: %(tier)s.") % {"tier": registration.get_risk_tier_display()},
        ]
        if selectors.is_public(registration, "purpose"):
            parts.append(_("Purpose: %(purpose)s") % {"purpose": registration.system.purpose})
        return " ".join(parts)

    def item_link(self, entry):
        registration = entry.registration
        if registration.status == RegistrationStatus.APPROVED:
            return reverse("public:registration", args=[registration.community.slug, registration.pk])
        # A retired registration has no page of its own any more; its entry points at the register.
        return reverse("public:register", args=[registration.community.slug])

    def item_guid(self, entry):
        # An audit event is one change; a registration has several, so its page cannot be the entry's id.
        return f"urn:commons-registry:audit-event:{entry.event.pk}"

    def item_pubdate(self, entry):
        return entry.event.created_at

    def item_updateddate(self, entry):
        return entry.event.created_at
