"""Process settings, read once from the environment (prefix ``OPENCALLER_``) and passed down explicitly.

Nothing reads the environment at import time: :func:`load_settings` is called by the composition root (the CLI
or a test) and the resulting object travels through constructors.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob opencaller reads, with defaults that run embedded on one laptop."""

    model_config = SettingsConfigDict(env_prefix="OPENCALLER_", extra="ignore")

    data_dir: Path = Field(default=Path(".opencaller"), description="Where the embedded database and files live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default SQLite in the data dir. Use postgresql+asyncpg://... to scale out.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts stored provider credentials (Fernet). Generated in the data dir when absent;"
        " set it explicitly when several nodes share one database.",
    )
    max_body_bytes: int = Field(default=5 * 1024 * 1024, description="Largest JSON request body accepted.")
    log_format: str = Field(default="console", description="'console' for people, 'json' for log collectors.")
    log_level: str = Field(default="INFO")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'opencaller.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite one."""
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides winning (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
