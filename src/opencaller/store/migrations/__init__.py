"""Alembic migration scripts for the opencaller schema."""
