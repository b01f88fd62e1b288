from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ControllersConfig(AppConfig):
    name = "controllers"
    verbose_name = _("Controllers")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import lookups, models, registry

        # Before any query: no integer beyond the column's range reaches the database driver.
        lookups.register()
        # Any change to what a controller declared makes every process reload it.
        for model in (
            models.Controller,
            models.RightDeclaration,
            models.DataCategory,
            models.Recipient,
            models.SupervisoryAuthority,
        ):
            for signal in (post_save, post_delete):
                signal.connect(
                    registry.invalidate_after_commit,
                    sender=model,
                    dispatch_uid=f"registry-{model}",
                )
