"""The HTTP library the openai SDK itself uses (httpx2 from SDK 3.x on, httpx before).

Errors and transports must come from the same library as the SDK's client,
so everything here that speaks HTTP imports it from this one place.
"""

try:
    import httpx2 as http
except ImportError:  # pragma: no cover - older openai SDKs
    import httpx as http  # type: ignore[no-redef]

__all__ = ["http"]
