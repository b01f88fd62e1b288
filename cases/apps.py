from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    """The case core. Its label stays "dsar", the app it grew out of, so that existing databases
    keep their tables (dsar_case, dsar_caseevent, ...) and their migration history."""

    name = "cases"
    label = "dsar"
    verbose_name = _("Data-subject requests")

    def ready(self) -> None:
        from anymail.signals import tracking

        # The send tasks live beside the mail they send (cases.mail); importing it registers them.
        from . import mail

        tracking.connect(mail.on_tracking, dispatch_uid="dsar-tracking")
