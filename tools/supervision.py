"""Processes under supervisord: its configuration from a topology, and kill/start through its XML-RPC API."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import xmlrpc.client
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from honcho.environ import parse_procfile
from supervisor.xmlrpc import SupervisorTransport

from tools.topology import Process, Topology


def read_procfile(path: Path) -> dict[str, str]:
    """The one process list of the project: name -> command, in file order."""
    return dict(parse_procfile(path.read_text()).processes)


def _escaped(value: str) -> str:
    # supervisord expands %(name)s in its configuration; a literal percent sign is doubled.
    return value.replace("%", "%%")


def _environment_line(environment: Mapping[str, str]) -> str:
    return ",".join(f'{key}="{_escaped(value)}"' for key, value in environment.items())


def program_section(process: Process, directory: Path, log_dir: Path) -> str:
    # The Procfile's commands are shell lines (NAME=value prefixes, ${VAR:-default}); `exec env` keeps
    # the service itself as the supervised pid, so a SIGKILL hits the service and not a shell.
    script = f"exec env {process.command}"
    lines = [
        f"[program:{process.name}]",
        f"command=/bin/sh -c {_escaped(shlex.quote(script))}",
        f"directory={directory}",
        f"environment={_environment_line(process.environment)}",
        "autostart=true",
        # A process that ends by itself, however it ends, comes back at once; one stopped on purpose
        # (the killer's pause) stays down until started again.
        "autorestart=true",
        "startsecs=1",
        "startretries=30",
        # Stopping is the process killer's SIGKILL: no graceful shutdown to hide a lost message.
        "stopsignal=KILL",
        "stopwaitsecs=10",
        "redirect_stderr=true",
        f"stdout_logfile={log_dir / (process.name + '.log')}",
        "stdout_logfile_maxbytes=0",
    ]
    return "\n".join(lines)


def supervisord_config(topology: Topology, directory: Path, log_dir: Path, socket_path: Path) -> str:
    header = f"""[unix_http_server]
file={socket_path}

[supervisord]
nodaemon=true
silent=true
logfile={log_dir / "supervisord.log"}
logfile_maxbytes=0
pidfile={log_dir / "supervisord.pid"}
childlogdir={log_dir}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{socket_path}
"""
    programs = [program_section(process, directory, log_dir) for process in topology.processes]
    return header + "\n" + "\n\n".join(programs) + "\n"


class Supervisor:
    """A supervisord of our own, driven through its XML-RPC interface (what supervisorctl uses)."""

    def __init__(self, config_path: Path, socket_path: Path, env: Mapping[str, str]) -> None:
        self._config_path = config_path
        self._socket_path = socket_path
        self._env = dict(env)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self._config_path)],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _rpc(self) -> Any:
        # One proxy per call: xmlrpc proxies are not safe to share between threads.
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self._socket_path}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def states(self) -> dict[str, str]:
        return {info["name"]: info["statename"] for info in self._rpc().getAllProcessInfo()}

    def pid(self, name: str) -> int:
        return int(self._rpc().getProcessInfo(name)["pid"])

    def kill(self, name: str) -> None:
        """SIGKILL, then autorestart brings the process back at once (`supervisorctl signal KILL name`)."""
        self._rpc().signalProcess(name, "KILL")

    def kill_and_hold(self, name: str) -> None:
        """SIGKILL (the stop signal), and keep the process down until `resume`."""
        self._rpc().stopProcess(name, True)

    def resume(self, name: str) -> None:
        self._rpc().startProcess(name, True)

    def pids(self) -> list[int]:
        return [int(info["pid"]) for info in self._rpc().getAllProcessInfo() if info["pid"]]

    def pid_by_name(self) -> dict[str, int]:
        """The pid of every running program (a stopped one has none)."""
        return {info["name"]: int(info["pid"]) for info in self._rpc().getAllProcessInfo() if info["pid"]}

    @property
    def own_pid(self) -> int | None:
        """supervisord's own pid."""
        return self._process.pid if self._process is not None else None

    def shutdown(self, timeout: float = 30) -> None:
        if self._process is None:
            return
        children: list[int] = []
        try:
            if self.alive:
                children = self.pids()
                self._rpc().shutdown()
            self._process.wait(timeout=timeout)
        except (OSError, xmlrpc.client.Fault, subprocess.TimeoutExpired):
            # supervisord did not stop its children: end them by pid, then supervisord itself.
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._process.kill()
            self._process.wait()
