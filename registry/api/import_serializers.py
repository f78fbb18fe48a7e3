from rest_framework import serializers

from registry.importers import FORMATS
from registry.models import Community, ImportJob

from .serializers import StrictSerializer


class ImportJobCreateSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=FORMATS)
    community = serializers.SlugRelatedField(slug_field="slug", queryset=Community.objects.all())
    file = serializers.FileField()
    mapping = serializers.JSONField(required=False, help_text="Column mapping, for the csv format (JSON).")
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportJobSerializer(serializers.ModelSerializer):
    community = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField(help_text="Percentage of rows processed.")
    # A plain string in the schema: another "status" enum would collide with the registrations' one.
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed.")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "format",
            "community",
            "file_name",
            "dry_run",
            "status",
            "total",
            "done",
            "rejected",
            "progress",
            "report",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, job) -> int:
        if job.status == ImportJob.Status.SUCCEEDED:
            return 100
        return 100 * job.done // job.total if job.total else 0
