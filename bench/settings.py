"""Settings for the benchmarks: the product's, plus a bare baseline view, no rate limit."""

from dsar.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
INTAKE_RATE_LIMIT = 0
