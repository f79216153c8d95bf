"""Operating the running system: invariant checks, the demo, and the load and chaos driver."""
