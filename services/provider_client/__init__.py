"""The product's client of the external hotel, flight and payment providers, and the port it implements."""
