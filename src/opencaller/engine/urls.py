"""The public URLs a provider is told to call back on, one set per call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallbackUrls:
    """Builds callback, answer and media-socket URLs under the platform's public base URL.

    The call id is in the path so a callback identifies its call even when the dialling worker died before it
    learned the provider's call id.
    """

    public_base_url: str

    def _base(self) -> str:
        return self.public_base_url.rstrip("/")

    def answer(self, call_id: str) -> str:
        """Where the provider fetches the answer document (TwiML) once the callee picks up."""
        return f"{self._base()}/telephony/twilio/answer/{call_id}"

    def status(self, call_id: str) -> str:
        """Where the provider posts status callbacks."""
        return f"{self._base()}/telephony/twilio/status/{call_id}"

    def recording(self, call_id: str) -> str:
        """Where the provider posts recording callbacks."""
        return f"{self._base()}/telephony/twilio/recording/{call_id}"

    def machine_detection(self, call_id: str) -> str:
        """Where the provider posts the verdict of asynchronous answering-machine detection."""
        return f"{self._base()}/telephony/twilio/amd/{call_id}"

    def media(self, call_id: str) -> str:
        """The media WebSocket (``ws``/``wss`` following the base URL's scheme)."""
        base = self._base()
        scheme, rest = base.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/telephony/twilio/media/{call_id}"
