from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """The auditors' reports: a PDF of one case that proves how it was handled. A room above the
    case core; what other rooms add to a report (fulfilment's evidence) comes through
    ``cases.extensions``, never by importing them."""

    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from cases import extensions

        from . import archive, views  # noqa: F401 - archive: its Celery tasks

        extensions.add_officer_panel(views.report_panel)
