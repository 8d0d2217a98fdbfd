"""Composable REST and WebSocket layers: retry, rate limit, sign, clock sync, trace, timeout, frames."""
