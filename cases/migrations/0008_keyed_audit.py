"""The audit chain becomes keyed (HMAC under settings.AUDIT_KEY) and gets a head on the case.

Existing chains are re-keyed in place when they still verify as plain SHA-256 chains; a chain
that was already broken is left as it is (verify_audit will name it) and listed here.
"""

import datetime as dt
import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations, models


def _canonical(event, prev: str) -> bytes:
    # A frozen copy of CaseEvent.canonical as it was when this migration was written.
    content = {
        "request": event.case_id,
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_kind": event.actor_kind,
        "actor": event.actor_label,
        "action": event.action,
        "from": event.from_state,
        "to": event.to_state,
        "ground": event.ground,
        "message": event.message,
        "data": event.data,
        "prev": prev,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False).encode()


def _keyed(content: bytes) -> str:
    return hmac.new(settings.AUDIT_KEY.encode(), content, hashlib.sha256).hexdigest()


def rekey(apps, schema_editor):
    Case = apps.get_model("dsar", "Case")
    CaseEvent = apps.get_model("dsar", "CaseEvent")
    broken = []
    for case in Case.objects.order_by("pk").iterator():
        events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("seq"))
        previous, intact = "", True
        for event in events:
            plain = hashlib.sha256(_canonical(event, previous)).hexdigest()
            intact = intact and event.prev_hash == previous and plain == event.hash
            previous = event.hash
        if not events:
            continue
        if intact:
            previous = ""
            for event in events:
                new = _keyed(_canonical(event, previous))
                CaseEvent.objects.filter(pk=event.pk).update(prev_hash=previous, hash=new)
                previous = new
        else:
            broken.append(case.reference)
        head = _keyed(f"head:{case.pk}:{len(events)}:{previous}".encode())
        Case.objects.filter(pk=case.pk).update(audit_count=len(events), audit_head=head)
    if broken:
        print(f"\n  audit chains already broken, left as they were: {', '.join(broken)}")


class Migration(migrations.Migration):
    dependencies = [
        ("dsar", "0007_inbound_problem"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="audit_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="case",
            name="audit_head",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
