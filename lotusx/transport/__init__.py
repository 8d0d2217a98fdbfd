"""The only package that imports aiohttp: REST and WebSocket transports."""

from lotusx.transport.rest import AiohttpRest
from lotusx.transport.ws import AiohttpWs
from lotusx.transport.ws_rpc import Handshake, RpcCodec, WsRpc

__all__ = ["AiohttpRest", "AiohttpWs", "Handshake", "RpcCodec", "WsRpc"]
