"""The rights that change data: the plan (a dry run, hashed), its change and verification in
each system, the Art. 19 notices and the completion letter; the officer's pages. It never
imports ``fulfilment.searches`` (import-linter's ``rooms-apart`` contract)."""
