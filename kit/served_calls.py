"""The one server interceptor every gRPC call passes: its ids, its caller, its field rules, its status.

One pass rather than a stack of interceptors: each layer of grpc.aio interception costs a handler
wrapper and a coroutine per call, and these four steps always run together, in this order.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_interceptor.server import AsyncServerInterceptor

from kit import errors
from kit.auth import CallerCheck, bind_caller, unbind_caller
from kit.call_context import IncomingIds, incoming_ids
from kit.field_rules import violations_of
from kit.grpc_status import DEFAULT_DOMAIN, aborted_code, to_rpc_status
from kit.metrics import observe_grpc_served
from kit.tokens import Caller

log = logging.getLogger(__name__)

# Probes and tooling call these all day; a line per call would drown the ones that matter.
_UNLOGGED = ("/grpc.health.", "/grpc.reflection.")


class ServedCallInterceptor(AsyncServerInterceptor):
    """For each call: bind its request id, session id and trace for its log lines; admit its caller
    (token verified, access policy checked); refuse a request breaking its declared field rules;
    run the handler with the caller current; turn any error into a rich status; time it by method
    and code; log one line per call.

    The caller is checked before the fields: an anonymous caller hears UNAUTHENTICATED, not what it
    got wrong. Without a `caller_check` (a server with no policy, as in tests) every call is
    anonymous. A streaming call is timed until its stream is handed back, not to its end. Every
    error status names `error_domain` (the process) in its google.rpc.ErrorInfo.
    """

    def __init__(self, caller_check: CallerCheck | None = None, error_domain: str = DEFAULT_DOMAIN) -> None:
        self._caller_check = caller_check
        self._domain = error_domain

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        metadata = context.invocation_metadata()
        if method_name.startswith(_UNLOGGED):
            return await self._answer(method, request_or_iterator, context, method_name, metadata, None)
        ids = incoming_ids(metadata, request_or_iterator)
        with ids.log_fields(), ids.trace():
            return await self._answer(method, request_or_iterator, context, method_name, metadata, ids)

    async def _answer(
        self,
        method: Callable[..., Any],
        request_or_iterator: Any,
        context: Any,
        method_name: str,
        metadata: Iterable[tuple[str, Any]] | None,
        ids: IncomingIds | None,
    ) -> Any:
        started = time.perf_counter()
        code, outcome = "OK", "failed"
        try:
            caller = self._admit(method_name, metadata, request_or_iterator)
            bound = bind_caller(caller)
            try:
                response = method(request_or_iterator, context)
                if hasattr(response, "__aiter__"):
                    outcome = "streaming"
                    return _streamed(response, caller, ids, method_name, context, self._domain)
                result = await response
            finally:
                unbind_caller(bound)
            outcome = "served"
            return result
        except (errors.DomainError, errors.TransientError) as error:
            status = to_rpc_status(error, self._domain)
            code = status.code.name
            await context.abort_with_status(status)
        except grpc.aio.AbortError:
            code = aborted_code(context)
            raise
        except Exception as error:
            code = "INTERNAL"
            log.exception("unhandled error in %s", method_name)
            await context.abort_with_status(to_rpc_status(error, self._domain))
        finally:
            elapsed = time.perf_counter() - started
            observe_grpc_served(method_name, code, elapsed)
            if ids is not None and outcome == "served":
                log.info("%s served in %.1f ms", method_name, elapsed * 1000)
            elif ids is not None and outcome == "failed":
                log.info("%s failed in %.1f ms", method_name, elapsed * 1000)

    def _admit(
        self, method_name: str, metadata: Iterable[tuple[str, Any]] | None, request_or_iterator: Any
    ) -> Caller | None:
        caller = None if self._caller_check is None else self._caller_check.admit(method_name, metadata)
        if isinstance(request_or_iterator, Message):
            found = violations_of(request_or_iterator)
            if found:
                raise errors.FieldRulesBroken(found)
        return caller


async def _streamed(
    responses: Any,
    caller: Caller | None,
    ids: IncomingIds | None,
    method_name: str,
    context: Any,
    domain: str,
) -> AsyncIterator[Any]:
    with contextlib.ExitStack() as scope:
        if ids is not None:
            scope.enter_context(ids.log_fields())
            scope.enter_context(ids.trace())
            log.info("%s stream opened", method_name)
        bound = bind_caller(caller)
        try:
            async for response in responses:
                yield response
        except (errors.DomainError, errors.TransientError) as error:
            await context.abort_with_status(to_rpc_status(error, domain))
        finally:
            unbind_caller(bound)
