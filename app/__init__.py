"""LocalAI Gateway: an OpenAI-compatible gateway in front of LocalAI."""
