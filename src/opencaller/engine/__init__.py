"""Use-cases and background loops: the only package that ties store, telephony, agent and webhooks together.

Every use-case takes an open session and the caller's team id; the edge (a request, a dispatcher step) owns the
transaction and commits it once.
"""
