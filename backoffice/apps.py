from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The officers' and auditors' side: the queue and case file in the Django admin."""

    name = "backoffice"
