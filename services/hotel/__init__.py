"""The hotel service: catalog search and stay pre-reservations at the hotel provider; hotel saga steps."""
