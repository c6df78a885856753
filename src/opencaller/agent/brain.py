"""What a brain is to the rest of the voice agent: text in, speech out, an outcome at the end.

The :class:`~.brain_processor.BrainProcessor` owns the call's timing (greeting, machines, silences) and asks the
brain only what to say. Two brains satisfy :class:`Brain`: the deterministic
:class:`~.scripted.ScriptedBrain`, whose replies are whole :class:`~.scripted.Reply` texts, and the
:class:`~.llm_brain.LlmBrain`, whose replies are :class:`StreamedReply` streams spoken sentence by sentence while
the model still writes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Protocol

from opencaller.agent.channel import Turn
from opencaller.agent.scripted import BrainResult, Reply


@dataclass(frozen=True)
class StreamedReply:
    """A reply spoken while it is written: ``chunks`` yields its text in pieces.

    Whether the call ends after it is known only once every chunk is out: ask ``ends_call()`` then.
    """

    chunks: AsyncGenerator[str, None]
    ends_call: Callable[[], bool]


Speech = Reply | StreamedReply
"""What a brain answers: a whole text, or a stream of text."""


class Brain(Protocol):
    """One call's conversation: :meth:`opening` once, then :meth:`hear` for each callee turn."""

    finished: bool
    """True once the brain has decided the call ends (its last words may still be playing)."""
    result: BrainResult
    """What the conversation established so far (complete after :meth:`conclude`)."""

    def opening(self) -> Speech:
        """The first thing said, the moment the call is answered (a :class:`Reply` is synthesized ahead)."""
        ...

    def hear_hello(self, text: str) -> Speech | None:
        """What the callee said on picking up, over the opening; None when it needs no answer ("Hello?")."""
        ...

    def hear(self, text: str) -> Speech | None:
        """The reply to one callee turn; None when there is nothing to say."""
        ...

    def complete_answer(self, text: str) -> bool:
        """True when ``text`` already completes the callee's turn, so it may end before the usual pause."""
        ...

    def on_silence(self) -> Speech | None:
        """The callee said nothing for a while after the agent spoke."""
        ...

    def out_of_time(self) -> Speech:
        """The call reached its maximum duration: a short goodbye that ends it."""
        ...

    async def conclude(self, turns: list[Turn]) -> BrainResult:
        """The call's outcome once it is over, ``turns`` being its transcript."""
        ...
