"""The outside world, simulated: third parties the product talks to but does not own."""
