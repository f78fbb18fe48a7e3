"""Settings for `bench/api_list.py`: the project's settings plus the benchmark's floor view and query counter."""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.urls_bench"

# Outermost, so it counts every query a request makes (authentication, scoping, the page, serialization). It is
# inert unless the request carries `X-Bench-Count-Queries`, so the timed requests do not pay for it.
MIDDLEWARE = ["bench.querycount.QueryCountMiddleware", *MIDDLEWARE]
