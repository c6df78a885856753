"""Signed webhook deliveries: Standard Webhooks signatures, event names and payloads, target-URL safety,
the HTTP sender and the retry schedule. Storage-free; the outbox and its worker live elsewhere."""
