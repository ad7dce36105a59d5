"""Who may call, and how much: API keys and auth, rate limits, body limits."""
