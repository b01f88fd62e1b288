from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from controllers.models import Controller, Membership, Role
from controllers.policy import PolicyError, load_policy_files, policy_files
from controllers.systems import load_systems_files, systems_files
from demo import history, people

# Model permissions the demo roles get; which requests each may see is decided by membership.
ROLE_PERMISSIONS = {
    "Privacy officers": ["view_controller", "view_supervisoryauthority"],
    "Auditors": ["view_controller", "view_supervisoryauthority"],
}


class Command(BaseCommand):
    help = (
        "Prepare the demo of `make run`: migrate, load the controllers' policies and systems, "
        "fill the demo systems with fake people and the demo subject, create demo accounts "
        "(an officer per controller, an auditor, an administrator), and give each controller "
        "a past: months of requests in every state, to report on. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO:
            raise CommandError("setup_demo creates accounts with a known password: demo only")
        call_command("migrate", interactive=False, verbosity=0)
        try:
            controllers = load_policy_files(policy_files(Path(settings.POLICY_DIR)))
            load_systems_files(systems_files(Path(settings.SYSTEMS_DIR)))
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        built = people.build(Path(settings.VAR_DIR) / "systems")
        # The demo accounts share one published password: hashed once, not seven times (each
        # PBKDF2 hash costs a third of a second of a newcomer's first `make run`).
        self.password_hash = make_password(settings.DEMO_PASSWORD)
        with transaction.atomic():
            accounts = self._accounts(controllers)
        # After the accounts: the officers take the history's steps. Only once a controller.
        seeded = history.seed()
        password = settings.DEMO_PASSWORD
        self.stdout.write(f"\nLoaded {len(controllers)} controllers. Demo logins at /admin/:")
        for username, description in accounts:
            self.stdout.write(f"  {username:<28} {password:<18} {description}")
        subject = people.SUBJECT
        made = sum(built.values())
        self.stdout.write(
            f"Demo systems in {Path(settings.VAR_DIR) / 'systems'}"
            + (f" (just filled: {made} people and records)" if made else "")
            + f". The demo subject, with data at all five: {subject.name} <{subject.email}>.\n"
            "Make a request as them; the confirmation and download codes arrive in var/mail/.\n"
        )
        if seeded:
            self.stdout.write(
                f"Gave {len(seeded)} controllers a past to report on: "
                f"{sum(seeded.values())} requests of the last six months, each taken through "
                f"its steps (their subjects' addresses end in @{history.DOMAIN}).\n"
            )

    def _accounts(self, controllers: list[Controller]) -> list[tuple[str, str]]:
        groups = {}
        for name, codenames in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=name)
            group.permissions.set(Permission.objects.filter(codename__in=codenames))
            groups[name] = group
        accounts = [("admin", "administrator (superuser)")]
        self._user("admin", superuser=True)
        auditor = self._user("auditor", group=groups["Auditors"])
        accounts.append(("auditor", "auditor of every controller"))
        for controller in controllers:
            username = f"officer-{controller.slug}"
            officer = self._user(username, group=groups["Privacy officers"])
            Membership.objects.update_or_create(
                user=officer, controller=controller, defaults={"role": Role.OFFICER}
            )
            Membership.objects.update_or_create(
                user=auditor, controller=controller, defaults={"role": Role.AUDITOR}
            )
            accounts.append((username, f"privacy officer of {controller.legal_name}"))
        return accounts

    def _user(self, username: str, *, superuser: bool = False, group: Group | None = None) -> Any:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": superuser, "email": ""},
        )
        if created:
            # Only on creation: a password the demo user changed survives the next `make run`.
            user.password = self.password_hash
            user.save()
        if group is not None:
            user.groups.add(group)
        return user
