from django.apps import AppConfig


class MailInConfig(AppConfig):
    """Mail in: replies land in their case, new messages to a privacy address become cases."""

    name = "mailin"

    def ready(self) -> None:
        from anymail.signals import inbound

        from .ingest import on_inbound

        inbound.connect(on_inbound, dispatch_uid="dsar-inbound")
