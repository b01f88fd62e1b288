from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FulfilmentConfig(AppConfig):
    """Fulfilment in the controller's systems: access and portability (collect and package) and
    the rights that change data (plan, approve, execute, verify, notify). A room above the case
    core, joined to it only through ``cases.extensions`` and the steps it adds to the core's
    table (``cases.steps.register``); the core never imports it."""

    name = "fulfilment"
    verbose_name = _("Fulfilment")

    def ready(self) -> None:
        from cases import events, extensions
        from cases.steps import register
        from controllers.models import SystemKind
        from controllers.systems import add_system_check

        # Importing registers the Celery tasks that live beside their work.
        from . import hooks, report
        from .changes import execute, steps
        from .changes import officer as changes_officer
        from .searches import collect, officer, package, views  # noqa: F401
        from .systems.connectors.sql import check_database

        for step, before in steps.STEPS:
            register(step, before=before)
        extensions.step_checking.connect(hooks.on_checking, dispatch_uid="fulfilment-checking")
        extensions.step_taken.connect(hooks.on_taken, dispatch_uid="fulfilment-taken")
        extensions.mail_fate.connect(execute.mail_left, dispatch_uid="fulfilment-mail")
        extensions.add_subject_panel(views.subject_panel)
        extensions.add_officer_panel(officer.officer_panel)
        extensions.add_officer_panel(changes_officer.changes_panel)
        events.register(hooks.EVENT_TYPES, hooks.RENDERERS, hooks.DESCRIBERS)
        extensions.add_report_section(report.sections)
        # load_systems (controllers) holds a file's SQL systems against their databases.
        add_system_check(SystemKind.SQL, check_database)
