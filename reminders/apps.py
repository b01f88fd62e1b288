from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Celery's watch: deadline reminders, confirmation reminders, expiry of unconfirmed cases."""

    name = "reminders"
