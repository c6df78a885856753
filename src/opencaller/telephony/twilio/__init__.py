"""The Twilio adapter: REST via the official ``twilio`` SDK, signed callbacks, ``<Connect><Stream>`` TwiML.

This package is the only place that imports the ``twilio`` SDK.
"""

from opencaller.telephony.twilio.provider import TwilioConfig, TwilioProvider

__all__ = ["TwilioConfig", "TwilioProvider"]
