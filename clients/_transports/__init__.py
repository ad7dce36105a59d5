"""How `UpstreamClient` sends a request: the native HTTP/1.1 pool or any httpx transport."""
