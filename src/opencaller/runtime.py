"""The live-call machinery of a node, started and stopped as one: provider, embedded simulator, dispatcher.

With no real provider credentials configured, the provider is opencaller's own Twilio adapter pointed at an
embedded phone-network simulator served on a loopback port, so a laptop places real (simulated) calls with no
account and no network.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
import uvicorn

from opencaller.agent.espeak import EspeakTTS
from opencaller.engine.calls_runtime import CallRuntime
from opencaller.engine.dispatcher import Dispatcher, DispatcherOptions
from opencaller.engine.recording_links import RecordingLinks, link_signing_key
from opencaller.engine.recordings import RecordingStore
from opencaller.engine.urls import CallbackUrls
from opencaller.settings import Settings
from opencaller.simulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SimulatorConfig, create_simulator_app
from opencaller.store.db import Database
from opencaller.telephony.twilio.provider import TwilioConfig, TwilioProvider

if TYPE_CHECKING:
    from opencaller.agent.conversation import ConversationalAgent

log = structlog.get_logger(__name__)


@dataclass
class NodeCalls:
    """What a running node exposes about its call machinery (for the API, the demo and tests)."""

    runtime: CallRuntime
    dispatcher: Dispatcher | None
    simulator_url: str | None


@asynccontextmanager
async def embedded_simulator(settings: Settings) -> AsyncIterator[str]:
    """Serve the phone-network simulator on a loopback port for as long as the block runs; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY needs the proto
    sock.bind(("127.0.0.1", settings.simulator_port))
    port = sock.getsockname()[1]
    config = SimulatorConfig(host="127.0.0.1", port=port, scenario_file=settings.simulator_scenario_file)
    server = uvicorn.Server(uvicorn.Config(create_simulator_app(config), log_level="warning", lifespan="on"))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        log.info("embedded phone-network simulator started", url=config.base_url)
        yield config.base_url
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)


@asynccontextmanager
async def node_calls(settings: Settings, db: Database, *, run_dispatcher: bool) -> AsyncIterator[NodeCalls]:
    """Start the provider (and the simulator when no credentials are set) and, if asked, the dispatcher."""
    async with _provider(settings) as (provider, simulator_url):
        public_url = settings.public_url or "http://127.0.0.1:8000"
        dispatcher = (
            Dispatcher(
                db,
                provider,
                CallbackUrls(public_url),
                options=DispatcherOptions(
                    ring_timeout_seconds=settings.ring_timeout_seconds,
                    reconcile_after_seconds=settings.dispatcher_reconcile_seconds,
                    dial_concurrency=settings.dispatcher_concurrency,
                ),
            )
            if run_dispatcher
            else None
        )
        voice_agent = await _voice_agent(settings)
        runtime = CallRuntime(
            db=db,
            provider=provider,
            urls=CallbackUrls(public_url),
            speaker=EspeakTTS(),
            voice_agent=voice_agent,
            on_new_calls=dispatcher.wake.set if dispatcher is not None else lambda: None,
            recordings=RecordingStore(settings.resolved_recordings_dir),
            links=RecordingLinks(link_signing_key(settings), public_url, settings.recording_link_seconds),
        )
        stop = asyncio.Event()
        task = asyncio.ensure_future(dispatcher.run(stop)) if dispatcher is not None else None
        try:
            yield NodeCalls(runtime=runtime, dispatcher=dispatcher, simulator_url=simulator_url)
        finally:
            stop.set()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            if voice_agent is not None:
                await voice_agent.models.close()


async def _voice_agent(settings: Settings) -> ConversationalAgent | None:
    """The conversational agent when the setting asks for it (or 'auto' and its packages are installed).

    Its models are loaded here, once per process, before the first call is answered.
    """
    from opencaller.agent.voice_models import voice_stack_available

    if settings.agent == "minimal" or (settings.agent == "auto" and not voice_stack_available()):
        log.info("voice agent: minimal (greeting only)")
        return None
    from opencaller.agent.conversation import ConversationalAgent, VoiceModels
    from opencaller.agent.llm_brain import LlmDefaults

    models = VoiceModels.offline_defaults()
    try:
        await models.start()
    except BaseException:
        await models.close()
        raise
    log.info(
        "voice agent: scripted",
        whisper_load_seconds=models.whisper.load_seconds,
        piper_start_seconds=models.piper.start_seconds,
    )
    return ConversationalAgent(models, llm=LlmDefaults.from_settings(settings))


@asynccontextmanager
async def _provider(settings: Settings) -> AsyncIterator[tuple[TwilioProvider, str | None]]:
    if settings.twilio_account_sid and settings.twilio_auth_token:
        config = TwilioConfig(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_base_url=settings.twilio_api_base_url,
        )
        async with TwilioProvider(config) as provider:
            yield provider, None
        return
    async with embedded_simulator(settings) as simulator_url:
        config = TwilioConfig(
            account_sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN, api_base_url=simulator_url
        )
        async with TwilioProvider(config) as provider:
            yield provider, simulator_url


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """A worker process: the dispatcher and the webhook delivery worker, until ``stop`` is set.

    Workers serve no HTTP: provider callbacks and media sockets reach the API nodes at ``public_url``.
    """
    from opencaller.engine.credentials import CredentialCipher
    from opencaller.engine.webhook_worker import WebhookDeliveryWorker, WorkerConfig
    from opencaller.store.migrate import upgrade

    db = Database(settings.resolved_database_url)
    try:
        await upgrade(db)
        webhooks = WebhookDeliveryWorker(
            db, CredentialCipher.from_settings(settings), WorkerConfig.from_settings(settings)
        )
        await webhooks.start()
        try:
            async with node_calls(settings, db, run_dispatcher=True):
                await stop.wait()
        finally:
            await webhooks.stop()
    finally:
        await db.dispose()
