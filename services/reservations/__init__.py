"""What the hotel and flights services share: reservation request checks and reserve attempts."""
