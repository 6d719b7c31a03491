"""Transactions through aggregated codes, exactly-once accrual, milestone benefits (claim 5)."""
