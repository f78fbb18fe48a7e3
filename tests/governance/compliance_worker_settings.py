"""Settings of the Celery worker that tests/governance/test_compliance_worker.py starts as a subprocess.

The test settings, with a broker visibility timeout of seconds instead of an hour: a chunk whose worker
was SIGKILLed is unacknowledged (late acknowledgement), and Redis hands it to another worker only once
the timeout has passed, so the test would otherwise wait an hour to see it redelivered. The test sets
TEST_WORKER_VISIBILITY_TIMEOUT and TEST_WORKER_RECOVERY to show each recovery path on its own, and
TEST_WORKER_KEY_PREFIX to keep its broker keys apart from any other test run's.
"""

import os

from config.settings_test import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("TEST_WORKER_VISIBILITY_TIMEOUT", "4")),
    # Look for abandoned messages every second rather than every 10 × 10 s.
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # The test's own key prefix on the shared Redis server (see the test's Broker).
    "global_keyprefix": os.environ.get("TEST_WORKER_KEY_PREFIX", ""),
}
COMPLIANCE_RECOVER_ON_WORKER_START = os.environ.get("TEST_WORKER_RECOVERY", "1") == "1"
