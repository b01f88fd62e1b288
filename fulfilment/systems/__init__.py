"""What both rooms of fulfilment share: the connectors (one class a kind of system), the job
skeleton (claim, lease, dispatch by kind, submit-and-poll, retries, sweep, retry and skip), the
vault, the officer pages' helpers and the event words both write. It imports neither room
(import-linter's ``rooms`` contract)."""
