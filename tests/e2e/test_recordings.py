"""Call recordings end to end: a real call through the simulator with ``record: true``, the signed link in
``recordingUrl`` fetched without an API key, and the file checked against what the simulated callee said and heard.

The simulator keeps its own two tracks of the line (what the callee said, what it heard) on its 20 ms clock; our
recording must hold the same audio on its two channels, lined up with each other."""

from __future__ import annotations

import csv
import io
import wave
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from opencaller.engine.recording_links import link_signing_key, sign
from opencaller.simulator import DEFAULT_AUTH_TOKEN
from opencaller.simulator.signature import twilio_signature
from tests.e2e.conftest import wait_for_end
from tests.integration.test_tenant_isolation import assert_error_shape
from tests.support import LiveServer, TeamClient

FRAME = 160
TELEPHONE_QUARTER_SECOND = 2000
GREETING = "Hello {{customer_name}}, this call is recorded for quality. Thank you and goodbye."


def _call(team: TeamClient, *, record: bool, **template: Any) -> dict[str, Any]:
    created = team.add_template(**{"firstMessage": GREETING, **template})
    call = team.data(team.post("/v1/phoneCalls", team.call_body(created["_id"], record=record)))
    return wait_for_end(team, call["_id"], timeout=120)


def _stereo(data: bytes) -> npt.NDArray[np.int16]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def _track(server: LiveServer, call: dict[str, Any], track: str, attempt: int = 0) -> npt.NDArray[np.int16]:
    """The simulator's own record of the line: ``sent`` (the callee's voice) or ``received`` (what it heard)."""
    sid = call["attempts"][attempt]["providerCallId"]
    data = httpx.get(f"{server.app.state.node_calls.simulator_url}/_simulator/calls/{sid}/audio/{track}.wav").content
    with wave.open(io.BytesIO(data)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def _match(ours: npt.NDArray[np.int16], theirs: npt.NDArray[np.int16], frames: range) -> tuple[int, float]:
    """The frame offset into ``theirs`` where ``ours`` fits best, and how well (normalised correlation, 1 = same)."""
    a = ours.astype(np.float64)
    best = (-1, -1.0)
    for offset in frames:
        b = theirs[offset * FRAME : offset * FRAME + a.size].astype(np.float64)
        n = min(a.size, b.size)
        norm = float(np.linalg.norm(a[:n]) * np.linalg.norm(b[:n]))
        score = float(a[:n] @ b[:n]) / norm if norm else 0.0
        if score > best[1]:
            best = (offset, score)
    return best


def _utterances(audio: npt.NDArray[np.int16]) -> list[tuple[int, int]]:
    """Sample ranges where ``audio`` is loud (20 ms frames above the simulator's speech level; short gaps bridged)."""
    frames = audio[: audio.size // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 300)
    runs: list[list[int]] = []
    for frame in loud.tolist():
        if runs and frame - runs[-1][1] <= 10:
            runs[-1][1] = frame + 1
        else:
            runs.append([frame, frame + 1])
    return [(first * FRAME, last * FRAME) for first, last in runs]


def _find(piece: npt.NDArray[np.int16], theirs: npt.NDArray[np.int16], around: int, slack: int) -> tuple[int, float]:
    """Where ``piece`` lies in ``theirs`` within ``slack`` samples of ``around``, to the sample, and how well."""
    lo = max(0, around - slack)
    window = theirs[lo : around + slack + piece.size].astype(np.float64)
    a = piece.astype(np.float64)
    if window.size < a.size:
        return -1, 0.0
    dots = np.correlate(window, a, mode="valid")
    energy = np.convolve(window**2, np.ones(a.size), mode="valid")
    scores = dots / np.sqrt(np.maximum(energy, 1e-9) * float(a @ a))
    best = int(np.argmax(scores))
    return lo + best, float(scores[best])


def assert_holds_both_sides(
    server: LiveServer, call: dict[str, Any], audio: npt.NDArray[np.int16], attempt: int = 0
) -> None:
    """Left is what the callee said, right what it heard, both at the same place on the line's clock.

    The simulator recorded the line on its 20 ms clock from the answer on; our file starts with the media stream. The
    callee's side is the same frames, so it fixes the offset between the two; each of the agent's utterances must
    then be found in what the callee heard, at the same time give or take a quarter of a second (the network's
    delay, which is far less here; the bound only keeps a loaded test machine from failing the test)."""
    callee, agent = audio[:, 0], audio[:, 1]
    assert np.sqrt(np.mean(callee.astype(np.float64) ** 2)) > 100, "no callee audio on the left channel"
    said, heard = _track(server, call, "sent", attempt), _track(server, call, "received", attempt)
    offset, said_score = _match(callee, said, range(0, said.size // FRAME))
    assert said_score > 0.95, f"the left channel is not what the callee said ({said_score:.2f})"
    utterances = _utterances(agent)
    assert utterances, "no agent audio on the right channel"
    for first, last in utterances:
        where, score = _find(agent[first:last], heard, offset * FRAME + first, slack=TELEPHONE_QUARTER_SECOND)
        assert score > 0.95, f"agent audio at {first / 8000:.2f} s is not what the callee heard ({score:.2f})"
        assert abs(where - offset * FRAME - first) <= TELEPHONE_QUARTER_SECOND


def test_a_recorded_call_has_both_sides_behind_a_link_that_needs_no_key(
    calling_server: LiveServer, caller: TeamClient
) -> None:
    call = _call(caller, record=True)
    assert call["status"] == "completed"
    url = call["recordingUrl"]
    assert url.startswith(f"{calling_server.base_url}/v1/phoneCalls/{call['_id']}/recording?")

    response = httpx.get(url)  # no API key: the link is the credential

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert_holds_both_sides(calling_server, call, _stereo(response.content))
    listed = caller.data(caller.get("/v1/phoneCalls", params={"toPhoneNumber": "+12025550100"}))
    assert all(c["recordingUrl"] for c in listed if c["_id"] == call["_id"])


def test_an_audio_player_can_seek_in_a_recording(caller: TeamClient) -> None:
    url = _call(caller, record=True)["recordingUrl"]
    whole = httpx.get(url).content

    header = httpx.get(url, headers={"Range": "bytes=0-43"})
    tail = httpx.get(url, headers={"Range": "bytes=-100"})

    assert header.status_code == 206 and header.content == whole[:44]
    assert header.headers["content-range"] == f"bytes 0-43/{len(whole)}"
    assert tail.status_code == 206 and tail.content == whole[-100:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert_error_shape(beyond, "range_not_satisfiable")
    for bad in ("bytes=abc", "lines=0-5", "bytes=9-3"):
        malformed = httpx.get(url, headers={"Range": bad})
        assert malformed.status_code == 400, bad
        assert_error_shape(malformed, "validation_error")


def test_tampered_and_expired_links_are_refused(calling_server: LiveServer, caller: TeamClient) -> None:
    call = _call(caller, record=True)
    parts = urlsplit(call["recordingUrl"])
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    base = f"{calling_server.base_url}{parts.path}"
    key = link_signing_key(calling_server.settings)
    past = int(query["expires"]) - 3 * 86400

    refused = {
        "tampered signature": {**query, "signature": query["signature"][:-2] + "xx"},
        "later expiry, old signature": {**query, "expires": str(int(query["expires"]) + 3600)},
        "expired (rightly signed)": {"expires": str(past), "signature": sign(key, call["_id"], past)},
        "another call's link": {**query, "signature": sign(key, "65f0c0ffee0000000000abcd", int(query["expires"]))},
    }
    for name, params in refused.items():
        response = httpx.get(base, params=params)
        assert response.status_code == 403, name
        assert_error_shape(response, "forbidden")
    assert "expired" in httpx.get(base, params=refused["expired (rightly signed)"]).json()["error"]["message"]
    missing = httpx.get(base)
    assert missing.status_code == 400
    assert_error_shape(missing, "validation_error")
    assert httpx.get(base, params=query).status_code == 200  # the untouched link still works


def test_a_call_without_record_keeps_no_recording(calling_server: LiveServer, caller: TeamClient) -> None:
    call = _call(caller, record=False)
    assert call["status"] == "completed"

    assert call["recordingUrl"] is None
    recordings = calling_server.settings.resolved_recordings_dir / caller.team_id
    assert not (recordings / f"{call['_id']}.wav").exists()
    key = link_signing_key(calling_server.settings)
    forged = httpx.get(
        f"{calling_server.base_url}/v1/phoneCalls/{call['_id']}/recording",
        params={"expires": "4102444800", "signature": sign(key, call["_id"], 4102444800)},
    )
    assert forged.status_code == 404  # even a rightly signed link finds nothing
    assert_error_shape(forged, "not_found")


def test_exports_carry_a_working_recording_link(caller: TeamClient) -> None:
    call = _call(caller, record=True)

    export = caller.get("/v1/phoneCalls/export.csv", params={"callTemplateId": call["callTemplateId"]})

    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["_id"] for row in rows] == [call["_id"]]
    link = rows[0]["recordingUrl"]
    assert link.startswith("http")
    assert httpx.get(link).status_code == 200


@pytest.mark.parametrize("body", [{"CallSid": "CA" + "0" * 32, "AnsweredBy": "machine_end_beep"}])
def test_a_forged_detection_callback_is_refused_and_changes_nothing(
    calling_server: LiveServer, caller: TeamClient, body: dict[str, str]
) -> None:
    call = _call(caller, record=False, voicemailMessage="Please call us back.")
    url = f"{calling_server.base_url}/telephony/twilio/amd/{call['_id']}"
    body = {**body, "CallSid": call["attempts"][0]["providerCallId"]}

    unsigned = httpx.post(url, data=body)
    wrong_key = httpx.post(url, data=body, headers={"X-Twilio-Signature": twilio_signature("not-the-token", url, body)})

    for response in (unsigned, wrong_key):
        assert response.status_code == 403
        assert_error_shape(response, "forbidden")
    assert caller.data(caller.get(f"/v1/phoneCalls/{call['_id']}"))["attempts"] == call["attempts"]
    # rightly signed but malformed: a 400, never a 500
    malformed = {"CallSid": body["CallSid"]}
    signed = httpx.post(
        url, data=malformed, headers={"X-Twilio-Signature": twilio_signature(DEFAULT_AUTH_TOKEN, url, malformed)}
    )
    assert signed.status_code == 400
    assert_error_shape(signed, "validation_error")


def test_the_detection_verdict_is_stored_on_the_attempt(calling_server: LiveServer, caller: TeamClient) -> None:
    # the greeting outlasts the callee's hello, so detection (which waits for the hello to end) has spoken by then
    call = _call(
        caller,
        record=False,
        voicemailMessage="Please call us back.",
        firstMessage="Hello {{customer_name}}, this is a call with a long enough greeting for detection to finish "
        "listening to your hello before we say goodbye. Thank you, goodbye.",
    )

    assert [attempt["answeredBy"] for attempt in call["attempts"]] == ["human"]
    sid = call["attempts"][0]["providerCallId"]
    simulated = httpx.get(f"{calling_server.app.state.node_calls.simulator_url}/_simulator/calls/{sid}").json()
    amd = [c for c in simulated["callbacks"] if c["kind"] == "amd"]
    assert [(c["params"]["AnsweredBy"], c["status_code"]) for c in amd] == [("human", 204)]
