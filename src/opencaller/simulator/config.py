"""Settings of the phone-network simulator, given by whoever starts it (the CLI or a test)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ACCOUNT_SID = "AC" + "5" * 32
"""The simulator's account SID unless configured otherwise (``AC`` + 32 hex digits, like Twilio's)."""

DEFAULT_AUTH_TOKEN = "simulator-auth-token"  # noqa: S105 - a well-known local test credential, not a secret
"""The simulator's auth token unless configured otherwise; it keys every ``X-Twilio-Signature``."""


class SimulatorConfig(BaseModel):
    """Where the simulator listens, which credentials it accepts and signs with, and which callees it has."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    account_sid: str = Field(default=DEFAULT_ACCOUNT_SID, pattern=r"^AC[0-9a-f]{32}$")
    auth_token: str = Field(default=DEFAULT_AUTH_TOKEN, min_length=1)
    scenario_file: Path | None = None
    """A scenario YAML file; None uses the built-in scenarios shipped with the package."""
    public_url: str | None = None
    """Base URL the platform reaches the simulator at (for ``RecordingUrl``); default ``http://host:port``."""
    allow_loopback_ws: bool = True
    """Accept ``ws://`` stream URLs to loopback hosts (Twilio itself accepts only ``wss://``)."""
    callback_timeout_seconds: float = Field(default=15.0, gt=0)
    """How long a callback or TwiML fetch may take (Twilio's own limit is 15 s)."""
    voice: Literal["auto", "offline", "placeholder"] = "auto"
    """How callees speak and listen: ``offline`` is real speech (Piper TTS out of process, Whisper STT; needs the
    ``voice`` extra), ``placeholder`` is model-free tones that hear nothing (fast tests), ``auto`` is offline when
    its packages are installed, else placeholder."""

    @property
    def base_url(self) -> str:
        """The URL the simulator's REST API and recordings are reached at."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
