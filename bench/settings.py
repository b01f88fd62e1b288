"""Settings for the benchmarks: the product's, as production runs them (DEBUG off), plus a bare
baseline view and no intake rate limit."""

from dsar.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
INTAKE_RATE_LIMIT = 0
# DEBUG on records every query and renders the debug machinery: not what production measures.
DEBUG = False
# Static files are not what is measured; production's manifest storage needs a collectstatic.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
