"""Registry tasks: thin wrappers that take ids and call one service."""

from celery import shared_task


@shared_task(name="registry.run_import_job", acks_late=True, reject_on_worker_lost=True)
def run_import_job(job_id: int) -> str:
    from registry.importers.jobs import import_job_run

    return import_job_run(job_id=job_id).status


@shared_task(name="governance.send_notifications", acks_late=True, reject_on_worker_lost=True)
def send_notifications(batch: list[dict]) -> dict:
    """E-mails and webhook deliveries for one batch of compliance changes (governance.notifications)."""
    from governance.notifications import notifications_send

    return notifications_send(batch=batch)
