"""What both rooms of fulfilment share: the connectors (one module a kind of system), the job
skeleton (lease, heartbeat, retries), the vault, the officer pages' helpers and the event words
both write. It imports neither room (import-linter's ``rooms`` contract)."""
