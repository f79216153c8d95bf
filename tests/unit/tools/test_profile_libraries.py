"""Native profile samples grouped by library: idle waits left out, system calls to their caller."""

from __future__ import annotations

from tools.profile_libraries import INTERPRETER, by_library, is_idle, library

LOOP = "run_forever (loop.c:33397)"
GRPC = "0x7f6aa7392d28 (grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so)"


def test_a_system_call_counts_for_the_library_that_made_it() -> None:
    sends = [LOOP, "UVStream__try_write (loop.c:106818)", "write (libc.so.6)"]
    wakes = [
        "0x7f6aa73931ff (grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so)",
        GRPC,
        "eventfd_write (libc.so.6)",
    ]
    counts, idle = by_library([(sends, 3), (wakes, 2)])
    assert counts == {"uvloop": 3, "gRPC": 2} and idle == 0


def test_waiting_threads_are_left_out() -> None:
    selecting = [LOOP, "uv__io_poll (linux.c:1378)", "epoll_wait (libc.so.6)"]
    pooled = [
        "_queue_SimpleQueue_get_impl (_queuemodule.c:253)",
        "PyThread_acquire_lock_timed (libpython3.11.so.1.0)",
        "0x7f6aa90a3f16 (libc.so.6)",
    ]
    assert is_idle(selecting) and is_idle(pooled)
    assert by_library([(selecting, 4), (pooled, 5)]) == ({}, 9)


def test_frames_are_grouped_by_project_package_and_interpreter() -> None:
    assert library("Database._run (kit/database.py:243)") == "project code"
    assert library("__create_fn__.<locals>.__hash__ (<string>:3)") == "project code"
    assert library("AbstractConnection.send_command (redis/asyncio/connection.py:1215)") == "redis"
    assert library("Router.app (starlette/routing.py:704)") == "starlette"
    assert library("llhttp__internal__run (llhttp.c:8548)") == "uvicorn and httptools"
    assert library("PyUpb_Message_GetAttr (_message.abi3.so)") == "protobuf"
    assert library("sqlite3VdbeExec (libsqlite3.so.0.8.6)") == "SQLite"
    assert library("gc_collect_main (libpython3.11.so.1.0)") == INTERPRETER
    assert library("BaseEventLoop._run_once (asyncio/base_events.py:1922)") == INTERPRETER
    assert library("write (libc.so.6)") is None


def test_a_stack_with_no_known_frame_is_counted_unresolved() -> None:
    assert by_library([(["0x7f00 (libc.so.6)", "write (libc.so.6)"], 1)]) == ({"unresolved": 1}, 0)
