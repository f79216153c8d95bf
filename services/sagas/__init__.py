"""The travel sagas in one place: their vocabulary, the routing slips that define them, and each
participant's step handlers (hotel, flights, payments, sessions), which each service's app wires.

The bus (top-level `bus/`) carries slips and knows no travel word; everything here may import a
service's domain, ports and reservation modules, and no service's composition root.
"""
