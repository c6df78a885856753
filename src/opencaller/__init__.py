"""opencaller: an open-source AI phone-calling platform, wire-compatible with the aicaller.io v1 API."""

__version__ = "0.1.0"
