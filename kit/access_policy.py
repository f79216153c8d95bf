"""Who may call each RPC of a gRPC service: anyone, its customers, its admins, or the services it names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from google.api import annotations_pb2
from google.protobuf import descriptor_pool

from kit.error_reasons import ErrorReason
from kit.errors import PermissionDenied, Unauthenticated
from kit.tokens import SERVICE_IDENTITIES, Caller


@dataclass(frozen=True)
class AccessPolicy:
    """Public methods take any caller; internal ones (no HTTP binding) only the services listed for them;
    admin ones only a customer whose verified token carries the admin role; every other method only a
    customer. A customer method without an HTTP binding (a stream the gateway cannot transcode) is
    declared as such, so that leaving out an internal method's callers is still caught."""

    service: str
    public: frozenset[str]
    internal: Mapping[str, frozenset[str]]
    admin: frozenset[str] = frozenset()
    customer_streams: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        service: str,
        public: Iterable[str] = (),
        internal: Mapping[str, Iterable[str]] | None = None,
        admin: Iterable[str] = (),
        customer_streams: Iterable[str] = (),
    ) -> AccessPolicy:
        """Check the declaration against the service's descriptor: every RPC without an HTTP binding
        must name its callers, so a new internal RPC cannot be left open by omission."""
        methods = descriptor_pool.Default().FindServiceByName(service).methods_by_name
        public_names = frozenset(_method_name(service, m) for m in public)
        admin_names = frozenset(_method_name(service, m) for m in admin)
        allowed = {name: frozenset(callers) for name, callers in (internal or {}).items()}
        streams = frozenset(_method_name(service, m) for m in customer_streams)
        unbound = {n for n, m in methods.items() if not m.GetOptions().HasExtension(annotations_pb2.http)}
        unbound -= streams
        declared, listed = public_names | admin_names | set(allowed) | streams, set(allowed)
        problems = [f"{n} is not a method of {service}" for n in sorted(declared - set(methods))]
        problems += [f"{n} cannot be both public and for admins" for n in sorted(public_names & admin_names)]
        problems += [f"{n} is internal, so it cannot be for admins" for n in sorted(admin_names & unbound)]
        problems += [
            f"{n} is not a server stream"
            for n in sorted(streams & set(methods))
            if not methods[n].server_streaming
        ]
        problems += [f"{n} has no HTTP binding, must list its callers" for n in sorted(unbound - listed)]
        problems += [f"{n} has an HTTP binding, so it is not internal" for n in sorted(listed - unbound)]
        problems += [
            f"{n} must list known services, got {sorted(callers)}"
            for n, callers in allowed.items()
            if not callers or callers - set(SERVICE_IDENTITIES)
        ]
        if problems:
            raise ValueError(f"access policy of {service}: " + "; ".join(problems))
        return cls(service, public_names, MappingProxyType(allowed), admin_names, streams)

    def callers(self) -> frozenset[str]:
        """Every service some internal method accepts: the public keys this process must trust."""
        return frozenset().union(*self.internal.values())

    def is_public(self, method_path: str) -> bool:
        return self._name(method_path) in self.public

    def check(self, method_path: str, caller: Caller | None) -> None:
        """Raise Unauthenticated or PermissionDenied unless `caller` may call `method_path`."""
        name = self._name(method_path)
        if name is None:
            raise PermissionDenied(
                f"{method_path} is not a method of {self.service}", reason=ErrorReason.METHOD_UNKNOWN
            )
        if name in self.public:
            return
        if caller is None:
            raise Unauthenticated("missing bearer token", reason=ErrorReason.TOKEN_MISSING)
        allowed = self.internal.get(name)
        if allowed is None:
            if caller.is_service:
                raise PermissionDenied(
                    f"{method_path} is for customers, not for service {caller.service}",
                    reason=ErrorReason.CALLER_NOT_ALLOWED,
                )
            if name in self.admin and not caller.is_admin:
                raise PermissionDenied(
                    f"{method_path} needs the admin role", reason=ErrorReason.ADMIN_REQUIRED
                )
            return
        if not caller.is_service:
            raise PermissionDenied(
                f"{method_path} is internal; a customer token cannot call it",
                reason=ErrorReason.CALLER_NOT_ALLOWED,
            )
        if caller.service not in allowed:
            raise PermissionDenied(
                f"{method_path} does not accept service {caller.service} "
                f"(accepts {', '.join(sorted(allowed))})",
                reason=ErrorReason.CALLER_NOT_ALLOWED,
            )

    def _name(self, method_path: str) -> str | None:
        prefix = f"/{self.service}/"
        return method_path[len(prefix) :] if method_path.startswith(prefix) else None


class Access(Protocol):
    """What the auth interceptor asks of the access rules of the services one server hosts."""

    def is_public(self, method_path: str) -> bool: ...

    def check(self, method_path: str, caller: Caller | None) -> None: ...


@dataclass(frozen=True)
class ServerAccess:
    """The policies of every service one server hosts; each method is judged by its own service's."""

    policies: tuple[AccessPolicy, ...]

    def callers(self) -> frozenset[str]:
        return frozenset().union(*(policy.callers() for policy in self.policies))

    def is_public(self, method_path: str) -> bool:
        policy = self._policy(method_path)
        return policy is not None and policy.is_public(method_path)

    def check(self, method_path: str, caller: Caller | None) -> None:
        policy = self._policy(method_path)
        if policy is None:
            raise PermissionDenied(
                f"{method_path} is not a method this server serves", reason=ErrorReason.METHOD_UNKNOWN
            )
        policy.check(method_path, caller)

    def _policy(self, method_path: str) -> AccessPolicy | None:
        return next((p for p in self.policies if method_path.startswith(f"/{p.service}/")), None)


def _method_name(service: str, method: str) -> str:
    """`Register` or `/pkg.Service/Register` -> `Register`."""
    prefix = f"/{service}/"
    return method[len(prefix) :] if method.startswith(prefix) else method
