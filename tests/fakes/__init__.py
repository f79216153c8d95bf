"""In-memory stand-ins for the ports, for unit tests of pure logic; each passes its port's contract suite."""
