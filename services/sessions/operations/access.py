"""Who may call the operator console: customers whose verified token carries the admin role, only."""

from __future__ import annotations

from travel.operations.v1 import operations_pb2 as pb

from kit.access_policy import AccessPolicy

SERVICE = pb.DESCRIPTOR.services_by_name["OperationsService"]

ACCESS = AccessPolicy.of(SERVICE.full_name, admin=[method.name for method in SERVICE.methods])
