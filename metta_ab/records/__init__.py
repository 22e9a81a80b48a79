"""What happened to each run, on disk: the status records jobs write, the ledger resume reads, the looks a
sequential design decided. The source of truth for retries, resume and the report."""
