from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DsarConfig(AppConfig):
    name = "dsar"
    verbose_name = _("Data-subject requests")

    def ready(self) -> None:
        from anymail.signals import inbound, tracking

        tracking.connect(_on_tracking, dispatch_uid="dsar-tracking")
        inbound.connect(_on_inbound, dispatch_uid="dsar-inbound")


def _on_tracking(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
    # A thin adapter: the work is in dsar.mail.record_delivery.
    from .mail import record_delivery

    record_delivery(
        message_id=getattr(event, "message_id", "") or "",
        event_type=str(getattr(event, "event_type", "")),
        esp_name=esp_name,
        timestamp=getattr(event, "timestamp", None),
    )


def _on_inbound(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
    # A thin adapter: the work is in dsar.inbound.ingest.
    from .inbound import ingest

    message = getattr(event, "message", None)
    if message is not None:
        ingest(message.as_bytes())
