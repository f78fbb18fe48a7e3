from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Governance")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connects the worker_ready hook that re-queues chunks a dead worker held, and registers the
        # periodic governance.recover_stalled_runs task (helper G; governance/tasks.py is left untouched).
        from governance import recovery  # noqa: F401
