"""The voice agent: what talks on an answered call.

The agent sees a call's audio only through :class:`~opencaller.agent.channel.MediaChannel`, so it never learns
which provider carries the call, and it never touches the database: it returns what happened and the engine
stores it.
"""
