"""The reference service: the system under test (orders, payments, ledger, assignments on PostgreSQL).

It implements `../shared/API.md` and knows nothing of the harness.
"""
