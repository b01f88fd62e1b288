from django.apps import AppConfig


class DemoConfig(AppConfig):
    """What `make run` needs beyond the product: demo accounts, demo systems full of fake people
    and a stub processor. It stands on top of everything and nothing imports it."""

    name = "demo"
    verbose_name = "Demo"
