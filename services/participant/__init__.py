"""The process shape the hotel, flights and payments services share, and its settings."""
