"""Pure domain rules: ids, phone numbers, call statuses, calling windows, retry policy, template rendering.

Nothing here performs I/O or imports a web or database framework, so the rules can be tested in isolation and
shared by the API, the engine and the dashboard.
"""
