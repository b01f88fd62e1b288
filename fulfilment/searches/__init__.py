"""Access and portability: every system searched for the subject, what was found staged and
sealed, the package and the Art. 15(1) letter, its delivery; the officer's and the subject's
pages. It never imports ``fulfilment.changes`` (import-linter's ``rooms-apart`` contract)."""
