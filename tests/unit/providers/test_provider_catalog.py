"""The seeded catalog: deterministic, large enough, and flight ids that round-trip."""

from __future__ import annotations

from datetime import date, timedelta

from simulated_world.providers.domain.catalog import CITIES, HORIZON_DAYS, Catalog

TODAY = date(2030, 3, 1)


def test_the_same_seed_gives_the_same_catalog() -> None:
    assert Catalog("a").hotels() == Catalog("a").hotels()
    assert list(Catalog("a").flights(TODAY, "LIS", "MAD")) == list(Catalog("a").flights(TODAY, "LIS", "MAD"))
    assert Catalog("a").hotels() != Catalog("b").hotels()


def test_every_city_has_hotels_with_prices_and_rooms() -> None:
    catalog = Catalog()
    assert {h.city for h in catalog.hotels()} == set(CITIES)
    assert all(h.nightly_price > 0 and h.rooms_per_night > 0 for h in catalog.hotels())
    assert all(h.city == "PAR" for h in catalog.hotels("PAR"))


def test_flights_fly_every_day_both_ways_within_the_horizon() -> None:
    catalog = Catalog()
    last = TODAY + timedelta(HORIZON_DAYS - 1)
    assert len(list(catalog.flights(TODAY, "LIS", "NYC", last))) == 2
    assert len(list(catalog.flights(TODAY, "NYC", "LIS", last))) == 2
    assert list(catalog.flights(TODAY, "LIS", "NYC", last + timedelta(1))) == []
    assert list(catalog.flights(TODAY, "LIS", "NYC", TODAY - timedelta(1))) == []


def test_a_flight_id_round_trips() -> None:
    catalog = Catalog()
    for flight in catalog.flights(TODAY, "OPO", "BER", TODAY + timedelta(9)):
        assert catalog.flight(flight.id, TODAY) == flight
        assert flight.price > 0 and flight.seats > 0
    assert catalog.flight("FL-OPO-BER-20300310-3", TODAY) is None
    assert catalog.flight("FL-OPO-OPO-20300310-1", TODAY) is None
    assert catalog.flight("FL-OPO-BER-2030031-1", TODAY) is None
    assert catalog.flight("nonsense", TODAY) is None
