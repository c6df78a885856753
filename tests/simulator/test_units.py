"""Pure pieces of the simulator: audio codec, signatures, TwiML, scenarios and the playback buffer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from opencaller.audio import read_wav, resample, rms, tone, ulaw_decode, ulaw_encode, wav_bytes
from opencaller.simulator.dtmf import KeyListener, detect_key, dtmf_tone
from opencaller.simulator.line import PlaybackBuffer
from opencaller.simulator.scenarios import load_scenarios, parse_scenarios
from opencaller.simulator.signature import twilio_signature
from opencaller.simulator.twiml import ConnectStream, Hangup, Pause, Say, TwimlError, Unsupported, parse_twiml


def test_ulaw_matches_the_g711_reference_coder() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the stdlib reference, still present on Python 3.11/3.12

    everything = np.arange(-32768, 32768, dtype=np.int16)
    assert ulaw_encode(everything) == audioop.lin2ulaw(everything.tobytes(), 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)


def test_resampling_keeps_length_and_level() -> None:
    speech_band = tone(440, 1.0, 8000)
    up = resample(speech_band, 8000, 16000)
    down = resample(up, 16000, 8000)
    assert up.size == 16000 and down.size == 8000
    assert abs(rms(up) - rms(speech_band)) < 0.02 * rms(speech_band)
    assert np.abs(down[100:-100].astype(int) - speech_band[100:-100]).max() < 100
    assert resample(tone(440, 1.0, 22050), 22050, 8000).size == 8000
    aliased = resample(tone(6000, 1.0, 16000), 16000, 8000)  # above the 4 kHz Nyquist limit: filtered out
    assert rms(aliased[100:-100]) < 0.05 * rms(tone(6000, 1.0, 16000))


def test_wav_round_trip() -> None:
    pcm = tone(300, 0.25)
    samples, rate = read_wav(wav_bytes(pcm, 8000))
    assert rate == 8000
    assert np.array_equal(samples, pcm)


def test_signature_matches_twilio_documented_vector_and_sdk() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    signature = twilio_signature("12345", url, params)
    assert signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert RequestValidator("12345").validate(url, params, signature)
    assert not RequestValidator("other").validate(url, params, signature)


def test_twiml_parsing_strips_stream_query_and_keeps_parameters() -> None:
    verbs = parse_twiml(
        "<Response><Say>Hello  there</Say><Pause length='2'/>"
        '<Connect><Stream url="wss://example.test/media?token=x" statusCallback="https://example.test/s">'
        '<Parameter name="callToken" value="abc"/></Stream></Connect><Play>x.mp3</Play><Hangup/></Response>'
    )
    assert verbs == [
        Say("Hello there"),
        Pause(2.0),
        ConnectStream(
            url="wss://example.test/media",
            parameters={"callToken": "abc"},
            status_callback="https://example.test/s",
        ),
        Unsupported("Play"),
        Hangup(),
    ]


@pytest.mark.parametrize(
    "document",
    [
        "<Response><Say>unclosed</Response>",
        "<Hangup/>",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><Response><Say>&a;</Say></Response>',
        f'<Response><Connect><Stream url="wss://x.test/m"><Parameter name="p" value="{"v" * 500}"/>'
        "</Stream></Connect></Response>",
    ],
)
def test_bad_twiml_is_rejected(document: str) -> None:
    with pytest.raises(TwimlError):
        parse_twiml(document)


def test_builtin_scenarios_cover_the_documented_numbers() -> None:
    book = load_scenarios()
    expected = {
        "+12025550100": "answer",
        "+12025550101": "busy",
        "+12025550102": "no-answer",
        "+12025550103": "answer",
        "+12025550104": "answer",
        "+12025550105": "fail",
        "+12025550106": "answer",
        "+12025550107": "answer",
        "+12025550108": "answer",
        "+12025550109": "answer",
    }
    assert {number: callee.outcome for number, callee in book.numbers.items()} == expected
    assert book.numbers["+12025550101"].final_sip_code == 486
    assert book.numbers["+12025550105"].final_sip_code == 404
    assert book.numbers["+12025550103"].voicemail is not None
    assert book.numbers["+12025550104"].ivr is not None
    persona = book.numbers["+12025550100"].persona
    assert persona is not None and persona.email == "alex.morgan@example.com"
    assert any("tomorrow at 5 pm" in line for line in book.numbers["+12025550106"].lines)
    assert book.numbers["+12025550109"].interrupt_after is not None
    assert book.for_number("+14155550000").outcome == "answer"  # unknown numbers reach the default callee


def test_scenario_files_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        parse_scenarios("numbers:\n  '+12025550100':\n    outcom: busy\n")  # a typo is an error
    with pytest.raises(ValidationError):
        parse_scenarios("numbers:\n  '2025550100': {outcome: busy}\n")  # not E.164
    path = tmp_path / "mine.yaml"
    path.write_text("default: {outcome: busy, ring_seconds: 0}\n")
    assert load_scenarios(path).for_number("+12025550100").final_sip_code == 486


def test_playback_buffer_plays_in_order_and_clears() -> None:
    buffer = PlaybackBuffer()
    assert buffer.add_mark("now") == ["now"]
    buffer.add_audio(b"\x01" * 200)
    assert buffer.add_mark("m1") == []
    buffer.add_audio(b"\x02" * 100)
    assert buffer.add_mark("m2") == []
    played, due = buffer.play(160)
    assert played == b"\x01" * 160 and due == []
    played, due = buffer.play(160)
    assert played == b"\x01" * 40 + b"\x02" * 100 and due == ["m1", "m2"]
    buffer.add_audio(b"\x03" * 400)
    buffer.add_mark("m3")
    assert buffer.clear() == ["m3"]
    assert buffer.play(160) == (b"", [])


def test_dtmf_detection_survives_ulaw_and_ignores_tones() -> None:
    for digit in "0123456789*#":
        frame = ulaw_decode(ulaw_encode(dtmf_tone(digit, 0.02)))
        assert detect_key(frame) == digit
    assert detect_key(tone(440, 0.02)) is None
    assert detect_key(np.zeros(160, dtype=np.int16)) is None
    listener = KeyListener()
    key_frames = [dtmf_tone("7", 0.02)] * 4 + [np.zeros(160, dtype=np.int16)] + [dtmf_tone("7", 0.02)] * 2
    assert [k for k in (listener.feed(f) for f in key_frames) if k] == ["7", "7"]
