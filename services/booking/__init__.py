"""What the hotel, flights and payments services share: the client of the external providers."""
