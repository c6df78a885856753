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
    webhooks_allow_private: bool = Field(
        default=False,
        description="Allow webhook targets on private, loopback and link-local addresses (receivers on this machine"
        " or network). Cloud metadata addresses are refused whatever this says.",
    )
    webhook_max_age_hours: float = Field(
        default=24.0, gt=0, description="How long after the event a webhook delivery is still retried."
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="Deadline of one delivery attempt.")
    webhook_backoff_base_seconds: float = Field(
        default=5.0, gt=0, description="Ceiling of the first retry delay (exponential backoff with full jitter)."
    )
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0, description="Largest retry delay ceiling.")
    webhook_worker_enabled: bool = Field(
        default=True, description="Run the webhook delivery worker inside the API server process."
    )
    webhook_worker_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Deliveries one worker sends at the same time."
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often a worker looks for due deliveries when nothing wakes it sooner."
    )

    public_url: str | None = Field(
        default=None,
        description="The base URL providers reach this node at (callbacks and the media socket);"
        " `serve` defaults it to its own address.",
    )
    telephony: str = Field(
        default="auto",
        pattern="^(auto|none)$",
        description="'auto': Twilio when credentials are set, else the embedded simulator; 'none': no calls.",
    )
    twilio_account_sid: str | None = Field(default=None)
    twilio_auth_token: SecretStr | None = Field(default=None)
    twilio_api_base_url: str = Field(default="https://api.twilio.com")
    simulator_port: int = Field(default=0, ge=0, le=65535, description="Embedded simulator port (0: any free).")
    simulator_scenario_file: Path | None = Field(default=None, description="Callee scenarios; default built in.")
    dispatcher_enabled: bool = Field(default=True, description="Run the dispatcher inside this process.")
    ring_timeout_seconds: int = Field(default=30, ge=1, le=600, description="How long a call rings unanswered.")
    dispatcher_reconcile_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a dial whose worker died may stay unacknowledged before it is dialled again (a"
        " provider callback within this time adopts it instead).",
    )
    dispatcher_concurrency: int = Field(default=20, ge=1, le=1000, description="Dials in flight per worker.")
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Largest lead-list upload accepted by POST /v1/files (413 above)."
    )

    agent: str = Field(
        default="auto",
        pattern="^(auto|scripted|minimal)$",
        description="Who talks on answered calls: 'scripted' (the conversational Pipecat agent with offline"
        " Whisper and Piper; needs the voice packages), 'minimal' (greets with espeak-ng and hangs up), or 'auto'"
        " (scripted when the voice packages are installed).",
    )
    llm_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="OpenAI-compatible chat API of templates whose brain is 'llm' and names no baseUrl (OpenAI,"
        " Groq, vLLM, Ollama, llama.cpp server: the URL that ends before /chat/completions).",
    )
    llm_model: str = Field(
        default="gpt-4o-mini", description="Chat model of templates whose brain is 'llm' and names no model."
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="Bearer key of the chat API. Sent only to llm_base_url, never to a URL a template names.",
    )
    llm_allow_private_base_urls: bool = Field(
        default=False,
        description="Let a template's brain name a baseUrl on a private or loopback address (a model server on"
        " your own network). Off by default: the server would fetch whatever address any API key holder names.",
    )
    recordings_dir: Path | None = Field(
        default=None,
        description="Where call recordings are written (default: `recordings` in the data dir). Nodes behind a load"
        " balancer must share it, since any node may serve a recording link.",
    )
    recording_link_seconds: int = Field(
        default=86400,
        ge=60,
        description="How long a signed `recordingUrl` stays valid (at least; expiry is rounded up to the hour).",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'opencaller.db').resolve()}"

    @property
    def resolved_recordings_dir(self) -> Path:
        """The recordings directory, defaulting to ``recordings`` inside the data dir."""
        return self.recordings_dir if self.recordings_dir is not None else self.data_dir / "recordings"

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite one."""
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides winning (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
