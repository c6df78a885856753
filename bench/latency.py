"""Voice agent latency at the simulator's end of the line, and the media plane's capacity with a null agent.

Voice mode: a real deployment on loopback, each part its own process: the phone-network simulator (its callees
speak with Piper and listen with Whisper) and one ``opencaller serve`` node with the dispatcher and the scripted
conversational agent (Silero VAD, Whisper tiny.en, the scripted brain, Piper over HTTP). Calls go to the
cooperative callee (+12025550100) through the public API, first ``--calls`` calls one at a time, then rounds of
2, 3, ... simultaneous calls until the turn latency p95 passes 1.5 s or ``--max-concurrency`` is reached.

Everything is measured at the simulator's end, from the two recorded tracks of each call (what the callee said,
what it heard), which share the line's 20 ms clock frame for frame:

* greeting: from the answer (frame 0 of the line) to the first audible frame the callee heard, and from the end
  of the callee's own "Hello" to it;
* turn (voice-to-voice): from the callee's last speech frame of each line to the first audible agent frame after
  it;
* the breakdown of a turn from the node's log (Pipecat's metrics and the agent's own lines);
* CPU: the node's process (and its Piper server) CPU seconds during a round, per call.

Media mode (``--media-calls``): the same node with a null agent (no STT, brain or TTS: it plays a paced 20 ms
tone frame by frame and drops what it hears) and a silent callee; N simultaneous calls. Outbound frame jitter is
measured at the simulator: the arrival time of each of the platform's ``media`` messages on the simulator's
timing record, as ``|inter-arrival - 20 ms|``.

    python bench/latency.py                         # about 12 minutes
    python bench/latency.py --calls 2 --max-concurrency 2 --media-calls 50

It prints figures and asserts nothing; it kills only the processes it started (and their children).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster import cli_team_key, free_port, wait_for_http  # noqa: E402
from tests.support import COOPERATIVE_CALLEE_COLUMNS  # noqa: E402

from opencaller.audio import read_wav  # noqa: E402
from opencaller.simulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN  # noqa: E402

COOPERATIVE = "+12025550100"
FINAL = {"busy", "failed", "noAnswer", "cancelled", "completed"}
FRAME = 160
"""Samples in one 20 ms frame at 8 kHz."""
FRAME_SECONDS = 0.02
AUDIBLE_RMS = 100.0
"""A 20 ms frame with an RMS above this (16-bit units, about -50 dBFS) is sound; µ-law silence decodes to 0."""
TURN_GOAL_P95 = 1.5
VAD_STOP_SECONDS = 0.2
"""Silero's stop_secs in the agent: the VAD reports the end of speech this long after it."""
SILENT_CALLEE = """\
# Media-plane benchmark: every number answers at once and stays silent until it hangs up.
default:
  label: silent line
  ring_seconds: 0.5
  hangup_after: {seconds}
"""


# ---- processes ---------------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state), or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid``, with its start time (to recognise the same process later)."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (the node and its Piper server)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in (pid, *descendants(pid)):
        fields = _stat(member)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Processes:
    """The processes this benchmark started; :meth:`close` stops them and any children they left behind."""

    workdir: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start ``args`` with its output in ``workdir/name.log``."""
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(list(args), env=env, stdout=log, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM (SIGKILL after 20 s) the process, then any of its descendants still running."""
        children = descendants(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for pid, started in children.items():
            fields = _stat(pid)
            if fields is not None and fields[19] == started:  # still the very process we started
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def close(self) -> None:
        """Stop everything, newest first."""
        for process in reversed(self.started):
            self.stop(process)


class Deployment:
    """A simulator and one opencaller node on loopback; ``node_args`` says how the node is started."""

    def __init__(self, workdir: Path, node_args: Sequence[str], *, scenarios: str | None = None) -> None:
        self.workdir = workdir
        self.processes = Processes(workdir)
        self.node_args = list(node_args)
        self.scenarios = scenarios
        self.simulator_url = f"http://127.0.0.1:{free_port()}"
        self.node_port = free_port()
        self.node_url = f"http://127.0.0.1:{self.node_port}"
        self.node: subprocess.Popen[bytes] | None = None
        self.simulator: subprocess.Popen[bytes] | None = None
        self.sim = httpx.Client(base_url=self.simulator_url, timeout=60, trust_env=False)

    def env(self) -> dict[str, str]:
        """The node's environment: the external simulator as its Twilio, SQLite in the work directory."""
        return {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OPENCALLER_DATA_DIR": str(self.workdir),
            "OPENCALLER_SECRET_KEY": "bench-secret",
            "OPENCALLER_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "OPENCALLER_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "OPENCALLER_TWILIO_API_BASE_URL": self.simulator_url,
            "OPENCALLER_PUBLIC_URL": self.node_url,
            "OPENCALLER_WEBHOOK_WORKER_ENABLED": "false",
            "OPENCALLER_RING_TIMEOUT_SECONDS": "30",
            "OPENCALLER_AGENT": "scripted",
            "OPENCALLER_LOG_LEVEL": "INFO",
        }

    def start(self) -> None:
        """Start the simulator, then the node (which loads its models before it answers)."""
        sim_args = [sys.executable, "-m", "opencaller", "simulator", "--port", self.simulator_url.rsplit(":", 1)[1]]
        if self.scenarios is not None:
            scenario_file = self.workdir / "scenarios.yaml"
            scenario_file.write_text(self.scenarios)
            sim_args += ["--scenarios", str(scenario_file)]
        self.simulator = self.processes.spawn("simulator", sim_args, self.env())
        wait_for_http(f"{self.simulator_url}/_simulator/stats", self.simulator)
        self.node = self.processes.spawn("node", [*self.node_args, "--port", str(self.node_port)], self.env())
        wait_for_http(f"{self.node_url}/healthz", self.node, timeout=180)

    def team(self) -> httpx.Client:
        """A team made with the CLI, with no concurrency limit, a caller number and an API client."""
        client = httpx.Client(
            base_url=self.node_url,
            headers={"aicaller-api-key": cli_team_key(self.env(), "Bench")},
            timeout=120,
            trust_env=False,
        )
        client.patch("/v1/teams/me", json={"concurrencyLimit": 10_000}).raise_for_status()
        client.post("/v1/phoneNumbers", json={"number": "+12025550199"}).raise_for_status()
        return client

    def node_cpu(self) -> float:
        """CPU seconds the node (with its Piper server) has used so far."""
        assert self.node is not None
        return cpu_seconds(self.node.pid)

    def simulator_cpu(self) -> float:
        """CPU seconds the simulator (with its Piper process) has used so far."""
        assert self.simulator is not None
        return cpu_seconds(self.simulator.pid)

    def simulator_sids(self) -> set[str]:
        """Every call the simulator knows."""
        return {call["sid"] for call in self.sim.get("/_simulator/calls").json()["calls"]}

    def close(self) -> None:
        """Stop the node and the simulator (and their children)."""
        self.sim.close()
        self.processes.close()


# ---- one round of calls ------------------------------------------------------------------------------------------


@dataclass
class Round:
    """What one round of simultaneous calls produced."""

    calls: int
    seconds: float
    node_cpu: float
    simulator_cpu: float
    sids: list[str]
    statuses: list[str]
    steady_seconds: float = 0.0
    """How long every call of the round was in progress at once (between two polls of the simulator)."""
    steady_node_cpu: float = 0.0
    steady_simulator_cpu: float = 0.0


def place_calls(deployment: Deployment, client: httpx.Client, body: dict[str, Any], count: int) -> Round:
    """Queue ``count`` calls at once, wait until all have ended, and return them with the CPU they cost.

    Progress is read from the simulator (not the node, whose CPU is being measured), twice a second; the CPU
    while every call was in progress at once is kept apart from the round's total.
    """
    known = deployment.simulator_sids()
    cpu_node, cpu_sim = deployment.node_cpu(), deployment.simulator_cpu()
    started = time.perf_counter()
    created = client.post("/v1/phoneCalls/batch", json={"phoneCalls": [body] * count})
    created.raise_for_status()
    ids = {call["_id"] for call in created.json()["data"]}
    deadline = time.monotonic() + 600
    steady: list[tuple[float, float, float]] = []
    fresh: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        time.sleep(0.5)
        calls = deployment.sim.get("/_simulator/calls").json()["calls"]
        fresh = [call for call in calls if call["sid"] not in known]
        if len(fresh) >= count and all(call["status"] == "in-progress" for call in fresh):
            steady.append((time.perf_counter(), deployment.node_cpu(), deployment.simulator_cpu()))
        if len(fresh) >= count and all(call["finished"] for call in fresh):
            break
    seconds = time.perf_counter() - started
    node, sim = deployment.node_cpu() - cpu_node, deployment.simulator_cpu() - cpu_sim
    statuses: dict[str, str] = {}
    while len(statuses) < count and time.monotonic() < deadline:  # the node stores each outcome after the call
        page = client.get("/v1/phoneCalls", params={"limit": 1000}).json()["data"]
        statuses = {c["_id"]: c["status"] for c in page if c["_id"] in ids and c["status"] in FINAL}
        time.sleep(0.5)
    result = Round(count, seconds, node, sim, [call["sid"] for call in fresh], list(statuses.values()))
    if len(steady) >= 2:
        result.steady_seconds = steady[-1][0] - steady[0][0]
        result.steady_node_cpu = steady[-1][1] - steady[0][1]
        result.steady_simulator_cpu = steady[-1][2] - steady[0][2]
    return result


# ---- voice mode: what the callee said and heard ------------------------------------------------------------------


def frame_levels(wav: bytes) -> np.ndarray:
    """RMS of each 20 ms frame of a recorded track."""
    pcm, _ = read_wav(wav)
    frames = pcm[: pcm.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    return np.sqrt((frames**2).mean(axis=1))


@dataclass
class CallLatency:
    """The latencies of one call, in seconds, as the callee experienced them."""

    greeting_after_answer: float | None = None
    greeting_after_hello: float | None = None
    turns: list[float] = field(default_factory=list)
    overlapped: int = 0
    unanswered: int = 0
    stream_connect: float | None = None


def call_latency(deployment: Deployment, sid: str) -> CallLatency:
    """Greeting and turn latencies of one call from its two tracks and its transcript."""
    detail = deployment.sim.get(f"/_simulator/calls/{sid}").json()
    said = frame_levels(deployment.sim.get(f"/_simulator/calls/{sid}/audio/sent.wav").content) > AUDIBLE_RMS
    heard = frame_levels(deployment.sim.get(f"/_simulator/calls/{sid}/audio/received.wav").content) > AUDIBLE_RMS
    result = CallLatency()
    events = {entry["event"] if entry["event"] != "status" else entry["status"]: entry["at"] for entry in detail["log"]}
    if "stream-started" in events and "in-progress" in events:
        result.stream_connect = events["stream-started"] - events["in-progress"]
    starts = [
        round(entry["at"] / FRAME_SECONDS)
        for entry in detail["transcript"]
        if entry["speaker"] == "callee" and entry["text"] and not entry["text"].startswith("[")
    ]
    for index, start in enumerate(starts):
        until = starts[index + 1] if index + 1 < len(starts) else said.size
        spoken = np.flatnonzero(said[start:until])
        if spoken.size == 0:
            continue
        end = start + int(spoken[-1])  # the callee's last speech frame of this line
        if index == 0:  # the hello: the agent greets on the answer, usually over it
            first = np.flatnonzero(heard)
            if first.size:
                result.greeting_after_answer = int(first[0]) * FRAME_SECONDS
                result.greeting_after_hello = (int(first[0]) - end) * FRAME_SECONDS  # < 0: over the hello
            continue
        if heard[start : end + 1].any():
            result.overlapped += 1  # the agent talked during the line (answered a pause, or was barged into)
            continue
        onset = np.flatnonzero(heard[end + 1 : until])
        if onset.size == 0:
            result.unanswered += 1  # e.g. the callee's goodbye, after which it hangs up
            continue
        agent = end + 1 + int(onset[0])
        result.turns.append((agent - end) * FRAME_SECONDS)
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation), NaN for no values."""
    return float(np.percentile(values, q)) if values else math.nan


def p50_p95(values: Sequence[float]) -> str:
    """``p50 X  p95 Y ms``."""
    return f"p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))} ms"


def ms(value: float) -> str:
    """Seconds as whole milliseconds (or a dash)."""
    return "-" if math.isnan(value) else f"{value * 1000:.0f}"


# ---- voice mode: where a turn's time goes, from the node's log ---------------------------------------------------

_LOGURU = re.compile(r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \| \w+\s*\| \S+ - (?P<text>.*)$")
_LINK = re.compile(r"^Linking (?P<a>[\w#:]+) -> (?P<b>[\w#:]+)$")
_NAMED = re.compile(r"^(?P<name>[A-Za-z]+#\d+)[: ] ?(?P<rest>.*)$")
_STRATEGY = re.compile(r"\(strategy: (?P<name>[A-Za-z]+#\d+)\)")
_SECONDS = re.compile(r"(TTFB|processing time): (?P<v>[\d.]+)s$")


def breakdown(log_text: str) -> dict[str, list[float]]:
    """Where each answered turn's time went, from the node's log (Pipecat's debug lines and metrics).

    The processors of one call's pipeline are found from Pipecat's "Linking A -> B" lines; then, per turn after
    the greeting: VAD stop -> end of turn (the speech timeout, or waiting for Whisper when it is slower), Whisper's
    processing time, end of turn -> the first sentence sent to TTS (the brain), and that sentence's TTS TTFB.
    """
    owner: dict[str, int] = {}
    pipelines = 0
    figures: dict[str, list[float]] = {"endpointing": [], "stt": [], "brain": [], "tts": []}
    state: dict[int, dict[str, Any]] = {}
    for line in log_text.splitlines():
        match = _LOGURU.match(line)
        if match is None:
            continue
        at = datetime.strptime(match["time"], "%Y-%m-%d %H:%M:%S.%f").timestamp()
        text = match["text"]
        link = _LINK.match(text)
        if link is not None:
            if link["a"].endswith("::Source") and link["a"].startswith("Pipeline#"):
                pipelines += 1
            for name in (link["a"], link["b"]):
                owner.setdefault(name.split("::")[0], pipelines)
            continue
        named = _NAMED.match(text)
        if named is None or named["name"] not in owner:
            continue
        strategy = _STRATEGY.search(text)
        if strategy is not None:  # "LLMUserAggregator#3: User ... (strategy: SpeechTimeout...Strategy#3)"
            owner.setdefault(strategy["name"], owner[named["name"]])
        call = state.setdefault(owner[named["name"]], {"turns": 0, "stt": None})
        rest = named["rest"]
        if "VADUserStoppedSpeakingFrame received" in rest:
            call["vad_stop"] = at
        elif "Whisper" in named["name"] and rest.startswith("processing time"):
            value = _SECONDS.search(rest)
            call["stt"] = float(value["v"]) if value else None
        elif "User stopped speaking" in rest:
            call["turns"] += 1
            call["turn_end"] = at
            call["awaiting_tts"] = call["turns"] > 1  # the first turn is the callee's hello (greeting: timed apart)
            if call["awaiting_tts"] and "vad_stop" in call:
                figures["endpointing"].append(at - call["vad_stop"])
                if call["stt"] is not None:
                    figures["stt"].append(call["stt"])
            call["stt"] = None
        elif ("TTS" in named["name"] or "Speech" in named["name"]) and call.get("awaiting_tts"):
            if "Generating TTS" in rest and "brain_done" not in call:
                call["brain_done"] = at
                figures["brain"].append(at - call["turn_end"])
            elif rest.startswith("TTFB") and "brain_done" in call:
                value = _SECONDS.search(rest)
                if value:
                    figures["tts"].append(float(value["v"]))
                call["awaiting_tts"] = False
                call.pop("brain_done")
    return figures


# ---- media mode: a node with a null agent ------------------------------------------------------------------------


def serve_null_node(port: int) -> None:
    """Run ``opencaller serve`` with a null agent in place of the voice agent (this process is the node)."""
    import asyncio

    import uvicorn

    import opencaller.runtime
    from opencaller.agent.channel import AgentOutcome, AudioInbox, MediaChannel
    from opencaller.app import create_app
    from opencaller.audio import tone
    from opencaller.logs import configure_logging
    from opencaller.settings import load_settings

    frame = tone(440.0, FRAME_SECONDS, amplitude=0.2)

    class NullModels:
        async def close(self) -> None:
            """Nothing to stop."""

    class NullAgent:
        """No STT, brain or TTS: plays one 20 ms frame every 20 ms and drops what it hears, until the line ends."""

        models = NullModels()

        async def run(self, channel: MediaChannel, inbox: AudioInbox, *_: Any) -> AgentOutcome:
            async def drain() -> None:
                while await inbox.get() is not None:
                    pass

            draining = asyncio.ensure_future(drain())
            started, sent = time.monotonic(), 0
            try:
                while not channel.closed.is_set():
                    await channel.play(frame)
                    sent += 1
                    await asyncio.sleep(max(0.0, started + sent * FRAME_SECONDS - time.monotonic()))
            finally:
                draining.cancel()
                await asyncio.gather(draining, return_exceptions=True)
            return AgentOutcome(turns=[], status_code="HUNG_UP_BY_HUMAN")

    async def null_agent(_: Any) -> Any:
        return NullAgent()

    opencaller.runtime._voice_agent = null_agent  # type: ignore[assignment]  # the one seam: who talks on calls
    settings = load_settings()
    configure_logging("WARNING", settings.log_format)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


@dataclass
class MediaRound:
    """Jitter and CPU of one media-plane round."""

    calls: int
    answered: int
    frames: int
    jitter_p50: float
    jitter_p99: float
    jitter_max: float
    tick_late_p99: float
    node_cores: float
    simulator_cores: float


def media_round(deployment: Deployment, client: httpx.Client, body: dict[str, Any], count: int) -> MediaRound:
    """``count`` simultaneous null-agent calls; jitter measured while all of them were up."""
    result = place_calls(deployment, client, body, count)
    jitter: list[float] = []
    late: list[float] = []
    answered = 0
    for sid in result.sids:
        timing = deployment.sim.get(f"/_simulator/calls/{sid}/timing").json()
        arrivals = np.asarray(timing["media_arrivals"])
        if arrivals.size > 1:
            answered += 1
            # |inter-arrival - 20 ms| of each platform frame, but the first few, sent while the stream was set up
            jitter.extend(np.abs(np.diff(arrivals) - FRAME_SECONDS)[10:].tolist())
        late.extend(timing["tick_lateness"])
    steady = result.steady_seconds or result.seconds
    return MediaRound(
        calls=count,
        answered=answered,
        frames=len(jitter),
        jitter_p50=percentile(jitter, 50),
        jitter_p99=percentile(jitter, 99),
        jitter_max=max(jitter) if jitter else math.nan,
        tick_late_p99=percentile(late, 99),
        node_cores=(result.steady_node_cpu if result.steady_seconds else result.node_cpu) / steady,
        simulator_cores=(result.steady_simulator_cpu if result.steady_seconds else result.simulator_cpu) / steady,
    )


# ---- the benchmark -----------------------------------------------------------------------------------------------


@contextmanager
def deployment(workdir: Path, node_args: Sequence[str], scenarios: str | None = None) -> Iterator[Deployment]:
    """A started deployment, always stopped afterwards."""
    running = Deployment(workdir, node_args, scenarios=scenarios)
    try:
        running.start()
        yield running
    finally:
        running.close()


def voice_benchmark(args: argparse.Namespace, workdir: Path) -> None:
    """The voice agent's latency, one call at a time and then with simultaneous calls."""
    with deployment(workdir, [sys.executable, "-m", "opencaller", "serve"]) as running:
        client = running.team()
        template = client.post(
            "/v1/callTemplates",
            json={
                "name": "Latency",
                "firstMessage": "Hi {{customer_name}}, this is Sam from Sunny Solar.",
                "promptVariables": [{"key": "customer_name", "required": True}],
                "resultColumns": COOPERATIVE_CALLEE_COLUMNS,
            },
        )
        template.raise_for_status()
        body = {
            "callTemplateId": template.json()["data"]["_id"],
            "nameOfHuman": "Alex",
            "toPhoneNumber": COOPERATIVE,
            "promptVariableValues": [{"key": "customer_name", "value": "Alex"}],
        }
        log_path = workdir / "node.log"
        print("\nvoice agent, one call at a time")
        single: list[CallLatency] = []
        cpu = wall = 0.0
        log_start = log_path.stat().st_size
        for _ in range(args.calls):
            result = place_calls(running, client, body, 1)
            cpu += result.node_cpu
            wall += result.seconds
            single += [call_latency(running, sid) for sid in result.sids]
        log_text = log_path.read_bytes()[log_start:].decode(errors="replace")
        report_single(single, cpu, wall, args.calls, breakdown(log_text))
        print("\nvoice agent, simultaneous calls (all placed at once, so they talk in lockstep: the worst case)")
        print(f"{'calls':>5} {'turns':>5} {'p50':>6} {'p95':>6} {'max':>6} {'greet p95':>9} {'cpu s/call':>10}")
        rounds = [(1, single, cpu / max(1, args.calls))]
        summarize_round(*rounds[0])
        for count in range(2, args.max_concurrency + 1):
            result = place_calls(running, client, body, count)
            latencies = [call_latency(running, sid) for sid in result.sids]
            summary = summarize_round(count, latencies, result.node_cpu / count)
            if summary > TURN_GOAL_P95:
                break


def report_single(calls: list[CallLatency], cpu: float, wall: float, count: int, parts: dict[str, list[float]]) -> None:
    """Print the one-call-at-a-time figures."""
    turns = [t for call in calls for t in call.turns]
    after_answer = [c.greeting_after_answer for c in calls if c.greeting_after_answer is not None]
    after_hello = [c.greeting_after_hello for c in calls if c.greeting_after_hello is not None]
    connect = [c.stream_connect for c in calls if c.stream_connect is not None]
    print(
        f"  calls: {count}, turns measured: {len(turns)}, overlapped lines skipped:"
        f" {sum(c.overlapped for c in calls)}, lines with no reply: {sum(c.unanswered for c in calls)}"
    )
    print(f"  answer -> media stream connected: p50 {ms(percentile(connect, 50))} ms")
    print(f"  greeting after answer:           {p50_p95(after_answer)}")
    print(f"  greeting vs end of callee's hello: {p50_p95(after_hello)} (negative: the agent began during it)")
    print(f"  turn (voice to voice):           {p50_p95(turns)}, max {ms(max(turns) if turns else math.nan)} ms")
    labels = {
        "endpointing": "VAD stop -> end of turn:",
        "stt": "Whisper processing:",
        "brain": "end of turn -> TTS request:",
        "tts": "TTS first sentence TTFB:",
    }
    print(f"  breakdown (node log; after Silero's {VAD_STOP_SECONDS} s stop, turns after the greeting):")
    for name, values in parts.items():
        print(f"    {labels[name]:<31}{p50_p95(values)} (n={len(values)})")
    known = VAD_STOP_SECONDS + sum(percentile(parts[k], 50) for k in ("endpointing", "brain", "tts"))
    rest = ms(percentile(turns, 50) - known)
    print(f"    rest of the turn p50 (audio in and out, resampling, TTS leading silence, playback): {rest} ms")
    print(
        f"  node CPU per call: {cpu / max(1, count):.1f} s over {wall / max(1, count):.0f} s"
        f" ({100 * cpu / max(wall, 1e-9):.0f} % of one core)"
    )


def summarize_round(count: int, calls: list[CallLatency], cpu_per_call: float) -> float:
    """Print one concurrency round's line; returns its turn p95 (seconds)."""
    turns = [t for call in calls for t in call.turns]
    greet = [c.greeting_after_answer for c in calls if c.greeting_after_answer is not None]
    p95 = percentile(turns, 95)
    print(
        f"{count:>5} {len(turns):>5} {ms(percentile(turns, 50)):>6} {ms(p95):>6}"
        f" {ms(max(turns) if turns else math.nan):>6} {ms(percentile(greet, 95)):>9} {cpu_per_call:>10.1f}"
    )
    return p95


def media_benchmark(args: argparse.Namespace, workdir: Path) -> None:
    """The media plane alone: simultaneous calls with a null agent, outbound jitter at the simulator."""
    node_args = [sys.executable, str(Path(__file__).resolve()), "--serve-null-node"]
    scenarios = SILENT_CALLEE.format(seconds=args.media_seconds)
    print(f"\nmedia plane (null agent, silent callee, {args.media_seconds} s calls)")
    print(
        f"{'calls':>5} {'up':>4} {'frames':>7} {'jitter p50':>10} {'p99':>6} {'max':>6}"
        f" {'sim tick late p99':>17} {'node cores':>10} {'sim cores':>9} {'calls/core':>10}"
    )
    with deployment(workdir, node_args, scenarios) as running:
        client = running.team()
        template = client.post("/v1/callTemplates", json={"name": "Media", "firstMessage": "Hi."})
        template.raise_for_status()
        body = {"callTemplateId": template.json()["data"]["_id"], "nameOfHuman": "N", "toPhoneNumber": "+12025550142"}
        for count in args.media_calls:
            r = media_round(running, client, body, count)
            print(
                f"{r.calls:>5} {r.answered:>4} {r.frames:>7} {r.jitter_p50 * 1000:>10.2f} {r.jitter_p99 * 1000:>6.1f}"
                f" {r.jitter_max * 1000:>6.1f} {r.tick_late_p99 * 1000:>17.1f} {r.node_cores:>10.2f}"
                f" {r.simulator_cores:>9.2f} {r.calls / max(r.node_cores, 1e-9):>10.0f}"
            )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="calls placed one at a time (default 3)")
    parser.add_argument("--max-concurrency", type=int, default=4, help="largest simultaneous round (default 4)")
    parser.add_argument("--media-calls", default="25,50,75,100,150", help="media-plane rounds, comma-separated")
    parser.add_argument("--media-seconds", type=int, default=20, help="length of a media-plane call")
    parser.add_argument("--skip-voice", action="store_true")
    parser.add_argument("--skip-media", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    parser.add_argument("--serve-null-node", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_null_node:
        serve_null_node(args.port)
        return
    args.media_calls = [int(n) for n in args.media_calls.split(",") if n.strip()]
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
    scratch = Path(tempfile.mkdtemp(prefix="opencaller-latency-"))
    try:
        if not args.skip_voice:
            (scratch / "voice").mkdir()
            voice_benchmark(args, scratch / "voice")
        if not args.skip_media and args.media_calls:
            (scratch / "media").mkdir()
            media_benchmark(args, scratch / "media")
    finally:
        if args.keep:
            print(f"work directory kept: {scratch}")
        else:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
