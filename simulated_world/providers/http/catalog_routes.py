"""Catalog search and lookup: /hotels and /hotels/{id} (hotel), /flights and /flights/{id} (flight)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulated_world.providers.domain import requests
from simulated_world.providers.http.runtime import json_response, query, runtime


async def search_hotels(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx = runtime(request)
    booking = ctx.require_booking()
    return json_response(
        await ctx.require_database().read(lambda conn: booking.search_hotels(conn, params, page))
    )


async def get_hotel(request: Request) -> Response:
    ctx, hotel_id, params = runtime(request), request.path_params["id"], query(request)
    booking = ctx.require_booking()
    return json_response(
        await ctx.require_database().read(lambda conn: booking.hotel(conn, hotel_id, params))
    )


async def search_flights(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx = runtime(request)
    booking = ctx.require_booking()
    return json_response(
        await ctx.require_database().read(lambda conn: booking.search_flights(conn, params, page))
    )


async def get_flight(request: Request) -> Response:
    ctx, flight_id = runtime(request), request.path_params["id"]
    booking = ctx.require_booking()
    return json_response(await ctx.require_database().read(lambda conn: booking.flight(conn, flight_id)))


HOTEL_ROUTES = [
    Route("/hotels", search_hotels, methods=["GET"]),
    Route("/hotels/{id}", get_hotel, methods=["GET"]),
]
FLIGHT_ROUTES = [
    Route("/flights", search_flights, methods=["GET"]),
    Route("/flights/{id}", get_flight, methods=["GET"]),
]
