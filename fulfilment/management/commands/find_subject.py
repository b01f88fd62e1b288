import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from controllers.models import Controller
from fulfilment.searches.find import as_json, find_subject


class Command(BaseCommand):
    help = (
        "Where is this person's data? Count, per system and table, the rows that hold the "
        "subject (and, apart, the rows an earlier erasure of theirs kept, found by the keys it "
        "recorded), with what erasure would do to each. Reads only; no request is made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--controller", required=True, metavar="SLUG")
        parser.add_argument("--email", required=True, metavar="ADDR")
        parser.add_argument("--customer-number", metavar="N", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        controller = Controller.objects.filter(slug=options["controller"]).first()
        if controller is None:
            known = ", ".join(Controller.objects.values_list("slug", flat=True)) or "none loaded"
            raise CommandError(f"no controller {options['controller']!r} (known: {known})")
        try:
            validate_email(options["email"])
        except ValidationError:
            raise CommandError(f"not an email address: {options['email']!r}") from None
        identities = {"email": options["email"]}
        for kind in ("customer_number", "phone"):
            value = options[kind].strip()
            if value:
                if len(value) > 100 or not value.isprintable():
                    raise CommandError(f"--{kind.replace('_', '-')}: not a plausible value")
                identities[kind] = value
        findings = find_subject(controller, identities)
        if options["json"]:
            self.stdout.write(json.dumps(as_json(findings), indent=2, ensure_ascii=False))
        else:
            for finding in findings:
                self.stdout.write(f"{finding.title} [{finding.system}, {finding.kind}]")
                if finding.error:
                    self.stdout.write(f"  not searched: {finding.error}")
                elif finding.note:
                    self.stdout.write(f"  {finding.note}")
                for table in finding.tables:
                    marks = "".join(f"; {name}: {n}" for name, n in table.marks.items())
                    kept = (
                        f" + {table.kept} kept after an erasure (found by its recorded keys)"
                        if table.kept
                        else ""
                    )
                    self.stdout.write(
                        f"  {table.table}: {table.rows} rows{kept}{marks}; erasure: {table.erasure}"
                    )
            total = sum(finding.rows for finding in findings)
            self.stdout.write(f"{total} rows in the systems searched")
        if any(finding.error for finding in findings):
            raise CommandError("a system could not be searched (see above)", returncode=2)
