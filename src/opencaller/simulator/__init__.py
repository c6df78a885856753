"""A local stand-in for the phone network that speaks Twilio's own wire protocol.

opencaller's real Twilio adapter runs against it with no account and no internet: the simulator serves Twilio's
REST Calls API, sends signed status callbacks, fetches and runs TwiML, and opens Media Streams WebSockets to the
platform, where scripted callees (see :mod:`.scenarios`) answer, stay busy, leave voicemail greetings, present
IVR menus, talk, interrupt and hang up. It talks to opencaller only over HTTP and WebSocket and imports nothing
of it but :mod:`opencaller.audio`.

Public API: :func:`create_simulator_app` (the ASGI app) and :class:`SimulatorConfig`; the REST and inspection
endpoints are listed in :mod:`.app`. Callees speak with :class:`OfflineVoice` (real offline speech, the ``voice``
extra) or the model-free :class:`PlaceholderVoice`, as ``SimulatorConfig.voice`` says.
"""

from __future__ import annotations

from .app import create_simulator_app
from .config import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SimulatorConfig
from .scenarios import CalleeScenario, ScenarioBook, load_scenarios
from .speech import OfflineVoice, build_voice, offline_voice_available
from .voice import CalleeVoice, PlaceholderVoice

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "CalleeScenario",
    "CalleeVoice",
    "OfflineVoice",
    "PlaceholderVoice",
    "ScenarioBook",
    "SimulatorConfig",
    "build_voice",
    "create_simulator_app",
    "load_scenarios",
    "offline_voice_available",
]
