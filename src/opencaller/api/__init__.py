"""The public REST API (aicaller.io v1 compatible), provider callbacks and the media socket."""
