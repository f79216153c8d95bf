"""`python -m tools.settings_table [--update docs/configuration.md]`: every setting the system reads.

The product's and the simulated providers' settings together, as `make run` starts them all; the
table itself is made by `kit.settings_table`, which knows none of these modules.
"""

from __future__ import annotations

import sys
from types import ModuleType

import gateway.config
import kit.settings
import kit.shared_settings
import kit.topology
import services.customers.config
import services.expiry.config
import services.participant.config
import services.payments.config
import services.sessions.config
import simulated_world.providers.config
from bus import runtime
from bus import settings as bus_settings
from kit.settings_table import main

# The modules that declare settings; a new one is added here, and docs/configuration.md regenerated.
DECLARING_MODULES: tuple[ModuleType, ...] = (
    kit.settings,
    kit.topology,
    kit.shared_settings,
    runtime,
    bus_settings,
    gateway.config,
    services.customers.config,
    services.sessions.config,
    services.expiry.config,
    services.participant.config,
    services.payments.config,
    simulated_world.providers.config,
)

if __name__ == "__main__":
    sys.exit(main(DECLARING_MODULES, prog="python -m tools.settings_table"))
