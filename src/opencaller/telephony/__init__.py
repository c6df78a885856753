"""Telephony providers behind one small Protocol: dial, hang up, verify and parse callbacks, answer calls.

The provider-neutral contract lives in :mod:`.base`, errors in :mod:`.errors`; each provider is a subpackage
(:mod:`.twilio`) imported only by the composition root, so vendor SDKs load only when configured. Telephony
depends on :mod:`opencaller.domain` alone: no store, no agent.
"""

from opencaller.telephony.base import (
    AnsweredBy,
    CallbackParams,
    CallbackRequest,
    CallEvent,
    MachineDetectionResult,
    PlaceCallRequest,
    PlacedCall,
    ProviderCallState,
    RecordingEvent,
    RecordingStatus,
    StreamStart,
    TelephonyProvider,
)
from opencaller.telephony.public_url import public_callback_url
from opencaller.telephony.stream_token import (
    STREAM_TOKEN_PARAMETER,
    mint_stream_token,
    stream_token_digest,
    stream_token_from_parameters,
    stream_token_matches,
)

__all__ = [
    "STREAM_TOKEN_PARAMETER",
    "AnsweredBy",
    "CallEvent",
    "CallbackParams",
    "CallbackRequest",
    "MachineDetectionResult",
    "PlaceCallRequest",
    "PlacedCall",
    "ProviderCallState",
    "RecordingEvent",
    "RecordingStatus",
    "StreamStart",
    "TelephonyProvider",
    "mint_stream_token",
    "public_callback_url",
    "stream_token_digest",
    "stream_token_from_parameters",
    "stream_token_matches",
]
