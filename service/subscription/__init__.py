"""Webhook subscriptions: signed POSTs of new digest revisions, retried from a queue."""
