from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The data subject's pages: the companies, the request form, confirmation and status."""

    name = "public"
