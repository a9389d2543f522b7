"""One lilya_ws endpoint routed by Starlette, FastAPI and Lilya, with path parameters.

Served by the frameworks' test clients and by a real server
(``framework_apps:starlette_app``, ``:fastapi_app``, ``:lilya_app``, imported from
this folder). ``room`` greets with what the router matched, then echoes text;
``broken`` raises after accepting, so the endpoint's 1011 ending is seen through
each router.
"""

from __future__ import annotations

from fastapi import FastAPI
from lilya.apps import Lilya
from lilya.routing import WebSocketPath
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from lilya_ws import WebSocket, endpoint

ROOM = "/rooms/{room}/seats/{seat:int}"
BROKEN = "/broken/{room}"


@endpoint
async def room(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"path_params": websocket.path_params, "path": websocket.url.path})
    async for text in websocket.iter_text():
        await websocket.send_text(f"{websocket.path_params['room']}: {text}")


@endpoint
async def broken(websocket: WebSocket) -> None:
    await websocket.accept()
    raise LookupError(f"no room {websocket.path_params['room']}")


# Starlette: an Endpoint is an ASGI app (not a function), so WebSocketRoute calls it
# as one, with the matched parameters in scope["path_params"].
starlette_app = Starlette(
    routes=[
        WebSocketRoute(ROOM, room, name="room"),
        WebSocketRoute(BROKEN, broken, name="broken"),
    ]
)

# FastAPI: add_api_websocket_route and @app.websocket are for functions whose
# parameters FastAPI injects; an ASGI app goes in with @app.websocket_route (its
# router's add_websocket_route), which FastAPI's router records as a change.
fastapi_app = FastAPI()
fastapi_app.websocket_route(ROOM, name="room")(room)
fastapi_app.websocket_route(BROKEN, name="broken")(broken)

# Lilya: WebSocketPath treats anything that is not a function as an ASGI app.
lilya_app = Lilya(
    routes=[
        WebSocketPath(ROOM, room, name="room"),
        WebSocketPath(BROKEN, broken, name="broken"),
    ]
)
