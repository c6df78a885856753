"""Persistence: SQLAlchemy 2 async tables, the database handle, repositories and Alembic migrations.

One code path serves the embedded SQLite database and PostgreSQL.
"""
