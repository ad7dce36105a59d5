"""Anthropic Messages and Open Responses to and from chat, for the in-process backend.

llama.cpp speaks chat; these pure functions make its chat body from a Messages or Responses
body, and its answers (whole, or chunk by chunk) into that API's reply or events. LocalAI
speaks both APIs itself, so its requests never come here.
"""
