from rest_framework import serializers

from registry.models import Organization, Webhook, WebhookDelivery, WebhookEvent

from .serializers import FilingScopedMixin, StrictModelSerializer


class WebhookSerializer(FilingScopedMixin, StrictModelSerializer):
    """A webhook as its organization's members read it: never with the secret.

    Its organization is one the user files for: another organization's slug reads as unknown."""

    scoped_fields = {"organization": Organization}

    organization = serializers.SlugRelatedField(slug_field="slug", queryset=Organization.objects.none())
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        max_length=len(WebhookEvent.values),
        help_text="Events to receive: " + ", ".join(WebhookEvent.values) + ".",
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "organization", "url", "events", "active", "description", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["organization"].read_only = True
        return fields


class WebhookCreatedSerializer(WebhookSerializer):
    """The create response: the only time the signing secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="Signing secret for X-Commons-Signature. Shown only in this response; store it."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    # Plain strings in the schema: another "status" enum would collide with the registrations' one.
    status = serializers.CharField(read_only=True, help_text="pending, succeeded or failed.")
    event = serializers.CharField(read_only=True, help_text="The event name, or ping for a test delivery.")
    log = serializers.JSONField(read_only=True, help_text="Each attempt: attempt, at, response_code, error.")
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "log",
            "payload",
        ]
        read_only_fields = fields
