"""The connectors: one class a kind of system that a worker speaks to (``SqlConnector``,
``HttpConnector``), found by the system's kind in ``CONNECTORS``. A manual system has none: a
person answers for it, never a worker."""

from __future__ import annotations

from controllers.models import SystemKind
from controllers.systems import SystemSpec

from .base import Connector
from .http import HttpConnector
from .sql import SqlConnector

CONNECTORS: dict[str, type[Connector]] = {
    SystemKind.SQL: SqlConnector,
    SystemKind.HTTP: HttpConnector,
}


def connector_for(kind: str, spec: SystemSpec) -> Connector | None:
    """The connector of a system of ``kind`` (None: no worker speaks to that kind)."""
    connector = CONNECTORS.get(kind)
    return connector(spec) if connector else None
