"""Registry tasks: thin wrappers that take ids and call one service."""

from celery import shared_task


@shared_task(name="registry.run_import_job", acks_late=True, reject_on_worker_lost=True)
def run_import_job(job_id: int) -> str:
    from registry.importers.jobs import import_job_run

    return import_job_run(job_id=job_id).status


@shared_task(name="governance.send_notifications", acks_late=True, reject_on_worker_lost=True)
def send_notifications(batch: list[dict], batch_id: str | None = None) -> dict:
    """E-mails and webhook deliveries for one batch of compliance changes (governance.notifications)."""
    from governance.notifications import notifications_send

    return notifications_send(batch=batch, batch_id=batch_id)


@shared_task(name="registry.deliver_webhook", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt at a webhook delivery; the service counts attempts and says when the next is due.

    Retrying with Celery's countdown (10 s, 1 min, 5 min, 30 min, 2 h) keeps the schedule in the broker;
    the attempt limit lives on the delivery row, so a redelivered message cannot exceed it or resend a
    delivery that already succeeded.
    """
    from django.utils import timezone

    from registry.services.webhooks import webhook_deliver

    delivery = webhook_deliver(delivery_id=delivery_id)
    if delivery is None:
        return "missing_or_busy"
    if delivery.status == delivery.Status.PENDING and delivery.next_attempt_at is not None:
        countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
        raise self.retry(countdown=countdown)
    return delivery.status


@shared_task(name="registry.requeue_webhook_deliveries", acks_late=True)
def requeue_webhook_deliveries() -> int:
    """Periodic safety net for webhook deliveries whose task was lost (see webhook_deliveries_requeue)."""
    from registry.services.webhooks import webhook_deliveries_requeue

    return webhook_deliveries_requeue()
