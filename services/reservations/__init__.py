"""What the hotel and flights services share: reservation request checks and the saga steps on holds."""
