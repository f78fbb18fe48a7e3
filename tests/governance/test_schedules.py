"""declare_schedules: beat's database schedules, upserted by name."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

pytestmark = pytest.mark.django_db


def declare(*args) -> str:
    out = StringIO()
    call_command("declare_schedules", *args, stdout=out)
    return out.getvalue()


class DeclareSchedulesTests:
    def test_creates_the_nightly_sweep_and_the_hourly_expiry_check(self):
        out = declare()

        assert "created: compliance: nightly sweep of every community (governance.scheduled_sweep)" in out
        assert "created: compliance: hourly expiry check (governance.check_expiries)" in out
        sweep = PeriodicTask.objects.get(task="governance.scheduled_sweep")
        assert (sweep.crontab.minute, sweep.crontab.hour, sweep.enabled) == ("0", "2", True)
        expiry = PeriodicTask.objects.get(task="governance.check_expiries")
        assert (expiry.crontab.minute, expiry.crontab.hour) == ("15", "*")

    def test_the_safety_nets_for_lost_messages_are_scheduled(self):
        declare()

        every_ten_minutes = PeriodicTask.objects.filter(crontab__minute="*/10").values_list("task", flat=True)
        assert set(every_ten_minutes) == {"governance.recover_stalled_runs", "registry.requeue_webhook_deliveries"}

    def test_running_twice_gives_the_same_rows(self):
        declare()
        rows = list(PeriodicTask.objects.order_by("pk").values("pk", "name", "task", "kwargs", "crontab_id"))
        crontabs = CrontabSchedule.objects.count()

        out = declare()

        assert out.count("unchanged:") == 4
        assert list(PeriodicTask.objects.order_by("pk").values("pk", "name", "task", "kwargs", "crontab_id")) == rows
        assert CrontabSchedule.objects.count() == crontabs

    def test_an_admins_new_time_is_kept_unless_reset(self):
        declare()
        sweep = PeriodicTask.objects.get(task="governance.scheduled_sweep")
        sweep.crontab = CrontabSchedule.objects.create(minute="30", hour="4")
        sweep.enabled = False
        sweep.save()

        assert "unchanged: compliance: nightly sweep" in declare()
        sweep.refresh_from_db()
        assert (sweep.crontab.hour, sweep.enabled) == ("4", False)

        assert "updated: compliance: nightly sweep of every community (crontab, enabled)" in declare("--reset")
        sweep.refresh_from_db()
        assert (sweep.crontab.hour, sweep.enabled) == ("2", True)
