"""Catalog search and lookup: /hotels and /hotels/{id} (hotel), /flights and /flights/{id} (flight)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.providers.domain import requests
from services.providers.http.runtime import json_response, query, runtime


async def search_hotels(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx = runtime(request)
    async with ctx.require_engine().connect() as conn:
        return json_response(await ctx.require_booking().search_hotels(conn, params, page))


async def get_hotel(request: Request) -> Response:
    ctx = runtime(request)
    async with ctx.require_engine().connect() as conn:
        body = await ctx.require_booking().hotel(conn, request.path_params["id"], query(request))
    return json_response(body)


async def search_flights(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx = runtime(request)
    async with ctx.require_engine().connect() as conn:
        return json_response(await ctx.require_booking().search_flights(conn, params, page))


async def get_flight(request: Request) -> Response:
    ctx = runtime(request)
    async with ctx.require_engine().connect() as conn:
        body = await ctx.require_booking().flight(conn, request.path_params["id"])
    return json_response(body)


HOTEL_ROUTES = [
    Route("/hotels", search_hotels, methods=["GET"]),
    Route("/hotels/{id}", get_hotel, methods=["GET"]),
]
FLIGHT_ROUTES = [
    Route("/flights", search_flights, methods=["GET"]),
    Route("/flights/{id}", get_flight, methods=["GET"]),
]
