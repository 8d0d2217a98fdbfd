"""The only package that imports aiohttp: REST and WebSocket transports."""

from lotusx.transport.rest import AiohttpRest
from lotusx.transport.ws import AiohttpWs

__all__ = ["AiohttpRest", "AiohttpWs"]
