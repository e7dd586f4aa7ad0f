"""Business rules and safeguards: what may happen, in which transaction, with which retries."""
