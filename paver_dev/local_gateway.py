"""Chalice's local server, made to answer like API Gateway where it does not.

- API Gateway percent-decodes path parameters after matching the route (``/codes/a%3Ab`` gives
  ``code_id = "a:b"``); chalice's local matcher hands the raw ``a%3Ab`` to the view.
- ``http.server`` answers methods it has no ``do_*`` handler for (TRACE, QUERY, ...) with a
  501; API Gateway answers every undeclared method like any other (403, no such route).

``paver serve`` uses :class:`GatewayRequestHandler`; schemathesis runs against it in the tests.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from chalice import local


class _DecodingRouteMatcher(local.RouteMatcher):
    def match_route(self, url: str) -> local.MatchResult:
        found = super().match_route(url)
        return found._replace(captured={k: unquote(v) for k, v in found.captured.items()})


class GatewayRequestHandler(local.ChaliceRequestHandler):
    """Chalice's request handler with API Gateway's path decoding and method handling."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any,
                 config: Any) -> None:
        gateway = local.LocalGateway(app_object, config)
        gateway.event_converter = local.LambdaEventConverter(
            _DecodingRouteMatcher(list(app_object.routes)), app_object.api.binary_types)
        self.local_gateway = gateway
        # BaseHTTPRequestHandler serves the request from its constructor
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any method: the gateway decides (403 when undeclared)
            return self._generic_handle
        raise AttributeError(name)

