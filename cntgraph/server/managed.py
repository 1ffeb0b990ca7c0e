"""The managed local Neo4j server: a JVM of ours, started in the background, bound to loopback.

Folder layout under the cntgraph home (``CNTGRAPH_HOME``, default ``~/.cache/cntgraph``)::

    neo4j-5.26.x/lib/*.jar          jars resolved by Maven (shared by every instance)
    neo4j-5.26.x/plugins/*.jar      the APOC core plugin, also resolved by Maven
    server/                         the default instance
        conf/neo4j.conf             written at every start
        data/ logs/ run/
        password                    generated once, readable by its owner only
        state.json                  pid and ports of the running server
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from string import Template

from cntgraph.errors import ServerError
from cntgraph.home import default_home
from cntgraph.server.maven import (
    ADMIN_CLASS,
    MAIN_CLASS,
    Distribution,
    distribution,
    install,
)
from cntgraph.server.tools import find_java
from cntgraph.store.browser import post_connect_cmd

USER = "neo4j"
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474
DEFAULT_HEAP = "512m"
DEFAULT_PAGECACHE = "256m"
#: CPU priority of the server: the lowest, so training beside it keeps the CPU (bench/bench_overhead.py)
DEFAULT_NICE = 19

# The flags Neo4j's own launcher passes on Java 17 (server.jvm.additional in its neo4j.conf).
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


@dataclass(frozen=True)
class ServerState:
    """What a started server recorded about itself."""

    pid: int
    bolt_port: int
    http_port: int
    version: str
    instance: str
    started_at: float

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of the managed server for ``cntgraph neo4j status`` (never holds the password)."""

    running: bool
    installed: bool
    version: str
    instance: Path
    data_dir: Path
    state: ServerState | None


class ManagedServer:
    """A Neo4j 5.26 Community server that cntgraph installs, starts and stops itself.

    Nothing happens in the constructor; ``install``, ``start`` and ``stop`` do the work.

    Example:
        >>> server = ManagedServer(home=Path("/tmp/cntgraph-doc"))
        >>> server.instance == Path("/tmp/cntgraph-doc/server")
        True
    """

    def __init__(self, home: Path | None = None, instance: Path | None = None) -> None:
        self.home = home if home is not None else default_home()
        self.instance = instance if instance is not None else self.home / "server"

    # -- folders ---------------------------------------------------------------------------
    @property
    def distribution(self) -> Distribution:
        return distribution(self.home)

    @property
    def data_dir(self) -> Path:
        return self.instance / "data"

    @property
    def logs_dir(self) -> Path:
        return self.instance / "logs"

    @property
    def password_file(self) -> Path:
        return self.instance / "password"

    @property
    def _state_file(self) -> Path:
        return self.instance / "state.json"

    @property
    def _console_log(self) -> Path:
        return self.logs_dir / "console.log"

    # -- lifecycle -------------------------------------------------------------------------
    def install(self, *, progress: bool = True) -> Distribution:
        """Resolve the jars with Maven (idempotent); see :func:`cntgraph.server.maven.install`."""
        return install(self.home, progress=progress)

    def start(
        self,
        *,
        bolt_port: int | None = None,
        http_port: int | None = None,
        heap: str | None = None,
        pagecache: str | None = None,
        nice: int | None = None,
        timeout: float = 180.0,
        progress: bool = True,
    ) -> tuple[ServerState, bool]:
        """Start the server unless it runs; return its state and whether this call started it.

        Ports, memory and CPU priority come from the arguments, else ``CNTGRAPH_BOLT_PORT``,
        ``CNTGRAPH_HTTP_PORT``, ``CNTGRAPH_HEAP``, ``CNTGRAPH_PAGECACHE``, ``CNTGRAPH_NICE``, else
        7687, 7474, 512m, 256m and nice 19 (the lowest priority: a training run on the same machine
        keeps the CPU, and the server uses what is left). Returns once Bolt accepts connections.
        """
        running = self.state()
        if running is not None:
            return running, False
        java = find_java()
        dist = self.install(progress=progress)
        bolt = _env_int("CNTGRAPH_BOLT_PORT", DEFAULT_BOLT_PORT, "a port number") if bolt_port is None else bolt_port
        http = _env_int("CNTGRAPH_HTTP_PORT", DEFAULT_HTTP_PORT, "a port number") if http_port is None else http_port
        nice = background_nice() if nice is None else _nice_value(nice)
        _require_free(bolt, "Bolt", "--bolt-port or CNTGRAPH_BOLT_PORT")
        _require_free(http, "HTTP", "--http-port or CNTGRAPH_HTTP_PORT")
        heap = _memory_size(heap or os.environ.get("CNTGRAPH_HEAP", DEFAULT_HEAP), "heap", "--heap or CNTGRAPH_HEAP")
        pagecache = _memory_size(
            pagecache or os.environ.get("CNTGRAPH_PAGECACHE", DEFAULT_PAGECACHE),
            "page cache",
            "--pagecache or CNTGRAPH_PAGECACHE",
        )
        self._write_config(bolt_port=bolt, http_port=http, pagecache=pagecache, plugins_dir=dist.plugins)
        self._ensure_password(java, dist)
        process = self._launch(java, dist, heap)
        set_priority(process.pid, nice)
        state = ServerState(
            pid=process.pid,
            bolt_port=bolt,
            http_port=http,
            version=dist.version,
            instance=str(self.instance),
            started_at=time.time(),
        )
        self._state_file.write_text(json.dumps(asdict(state)), encoding="utf-8")
        self._wait_until_ready(process, state, timeout)
        return state, True

    def stop(self, *, timeout: float = 60.0) -> ServerState | None:
        """Stop the server this instance started (SIGTERM, then wait); return what was stopped.

        Returns None when no server of this instance runs. Raises ServerError when it does not
        exit within ``timeout`` seconds.
        """
        state = self.state()
        if state is None:
            self._state_file.unlink(missing_ok=True)
            return None
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_our_server(state.pid, self.instance):
            if time.monotonic() > deadline:
                raise ServerError(
                    f"Neo4j (pid {state.pid}) did not stop within {timeout:.0f} s of SIGTERM; "
                    f"see {self.logs_dir / 'neo4j.log'}, or end it with `kill -9 {state.pid}`."
                )
            time.sleep(0.2)
        _reap(state.pid)
        self._state_file.unlink(missing_ok=True)
        return state

    def state(self) -> ServerState | None:
        """The recorded state if this instance's server is running, else None."""
        try:
            recorded = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        state = ServerState(**recorded)
        return state if _is_our_server(state.pid, self.instance) else None

    def status(self) -> ServerStatus:
        """Whether it is installed and running, its version, ports and data folder."""
        dist = self.distribution
        state = self.state()
        return ServerStatus(
            running=state is not None,
            installed=dist.installed,
            version=dist.version,
            instance=self.instance,
            data_dir=self.data_dir,
            state=state,
        )

    def logs(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's own log and of its console output."""
        parts = []
        for log in (self.logs_dir / "neo4j.log", self._console_log):
            if log.is_file():
                parts.append(f"==> {log} <==\n{_tail(log, lines)}")
        return "\n".join(parts) if parts else f"no logs yet in {self.logs_dir}"

    def password(self) -> str:
        """The generated password of user ``neo4j`` (the file is readable by its owner only)."""
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ServerError(
                f"no password file at {self.password_file}: start the server once "
                "(`cntgraph neo4j start`) to create it."
            ) from None

    # -- helpers ---------------------------------------------------------------------------
    def _write_config(self, **values: object) -> None:
        # the store, its logs and the password are the owner's only: any local user could copy
        # every weight from readable files, past Neo4j's authentication
        for folder in (self.instance, self.instance / "conf", self.data_dir, self.logs_dir, self.instance / "run"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)  # also a store made before this rule
        template = resources.files("cntgraph.server").joinpath("neo4j.conf").read_text("utf-8")
        text = Template(template).substitute(
            values,
            data_dir=self.data_dir,
            logs_dir=self.logs_dir,
            run_dir=self.instance / "run",
            browser_post_connect_cmd=post_connect_cmd(),
        )
        conf = self.instance / "conf" / "neo4j.conf"
        conf.write_text(text, encoding="utf-8")
        conf.chmod(0o600)

    def _ensure_password(self, java: Path, dist: Distribution) -> None:
        """Generate the password and set it in the store before the very first start."""
        if self.password_file.exists():
            return
        password = _new_password()
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        try:
            self._admin(java, dist, "dbms", "set-initial-password", password, what="set the initial password of the managed server")
        except ServerError:
            self.password_file.unlink()
            raise

    def admin_import(self, arguments: list[str], database: str = "neo4j", *, timeout: float = 24 * 3600) -> str:
        """Run ``neo4j-admin database import full`` on this instance's (stopped) server with
        ``arguments`` (``--nodes=...``, ``--relationships=...``), replacing database ``database``;
        return the tool's report. Raises ServerError if the server runs or the import fails.

        Example:
            server.stop(); print(server.admin_import(["--nodes=Run=runs.csv", ...])); server.start()
        """
        if self.state() is not None:
            raise ServerError("the managed server is running: stop it (`cntgraph neo4j stop`) before a bulk import replaces its store")
        return self._admin(
            find_java(), self.install(progress=False), "database", "import", "full", *arguments,
            "--overwrite-destination=true", database, what=f"import into database {database!r}", timeout=timeout,
        )

    def _admin(self, java: Path, dist: Distribution, *arguments: str, what: str, timeout: float = 300) -> str:
        """Run neo4j-admin (its Java entry point) on this instance; its output, or ServerError saying what failed."""
        completed = subprocess.run(
            [str(java), "-cp", dist.classpath, *self._home_flags(), ADMIN_CLASS, *arguments],
            capture_output=True, text=True, timeout=timeout, check=False, env=self._env(),
        )
        if completed.returncode != 0:
            raise ServerError(f"could not {what} (neo4j-admin failed):\n" + (completed.stderr or completed.stdout).strip()[-2000:])
        return completed.stdout + completed.stderr

    def _launch(self, java: Path, dist: Distribution, heap: str) -> subprocess.Popen[bytes]:
        with open(self._console_log, "ab") as console:
            return subprocess.Popen(
                [str(java), f"-Xms{heap}", f"-Xmx{heap}", *JVM_FLAGS, "-cp", dist.classpath, *self._home_flags(), MAIN_CLASS,
                 f"--home-dir={self.instance}", f"--config-dir={self.instance / 'conf'}"],
                stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=self._env(),
            )

    def _home_flags(self) -> list[str]:
        return [f"-Dneo4j.home={self.instance}", f"-Dneo4j.conf={self.instance / 'conf'}"]

    def _env(self) -> dict[str, str]:
        return {**os.environ, "NEO4J_HOME": str(self.instance), "NEO4J_CONF": str(self.instance / "conf")}

    def _wait_until_ready(self, process: subprocess.Popen[bytes], state: ServerState, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                self._state_file.unlink(missing_ok=True)
                raise ServerError(
                    f"Neo4j exited with code {code} while starting. The end of its logs:\n{self.logs(30)}"
                )
            if _port_answers(state.bolt_port) and _port_answers(state.http_port):
                return
            time.sleep(0.25)
        raise ServerError(
            f"Neo4j (pid {state.pid}) did not open Bolt on 127.0.0.1:{state.bolt_port} within "
            f"{timeout:.0f} s; it is still running (stop it with `cntgraph neo4j stop`). "
            f"The end of its logs:\n{self.logs(30)}"
        )


def _new_password() -> str:
    """32 random URL-safe characters, never starting with '-' (neo4j-admin would read an option)."""
    while (password := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return password


def _env_int(name: str, default: int, what: str) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ServerError(f"{name}={raw!r} is not {what}") from None


def background_nice() -> int:
    """The CPU priority of cntgraph's work beside training: the managed server and the recorder's
    writer process (``CNTGRAPH_NICE``, 0 normal to 19 lowest; default 19).

    Example:
        >>> background_nice() if "CNTGRAPH_NICE" not in os.environ else 19
        19
    """
    return _nice_value(_env_int("CNTGRAPH_NICE", DEFAULT_NICE, "a nice value"))


def _nice_value(nice: int) -> int:
    if not 0 <= nice <= 19:
        raise ServerError(
            f"nice {nice} is out of range: give 0 (normal priority) to 19 (lowest) with --nice or CNTGRAPH_NICE."
        )
    return nice


def set_priority(pid: int, nice: int) -> None:
    """Give process ``pid`` and all its threads the CPU priority ``nice`` (Linux; elsewhere the process only).

    The server runs in a session of its own. Where the kernel groups CPU time by session
    (autogroup, the default of most Linux kernels), sessions share the CPU first and thread nice
    values only rank threads within one, so the session's own nice is set too.

    Example:
        set_priority(server.state().pid, 19)
    """
    autogroup = Path(f"/proc/{pid}/autogroup")
    try:
        autogroup.write_text(str(nice))
    except OSError:
        pass  # no autogroup scheduling here: the threads' nice values below are what counts
    tasks = Path(f"/proc/{pid}/task")
    for task in [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]:
        try:
            os.setpriority(os.PRIO_PROCESS, task, nice)
        except (ProcessLookupError, PermissionError):
            pass  # a thread that just ended; or lowering a raised nice, which only root may


_SIZE = re.compile(r"[1-9][0-9]*[kmgKMG]?")


def _memory_size(value: str, what: str, how: str) -> str:
    """Check a JVM-style size such as ``512m`` or ``2g``."""
    if not _SIZE.fullmatch(value):
        raise ServerError(f"{what} size {value!r} is not a size like 512m or 2g; set it with {how}.")
    return value


def _reap(pid: int) -> None:
    """Collect the exit status of a server this process started, so no zombie is left."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # started by another process: init reaps it


def _require_free(port: int, what: str, how: str) -> None:
    if not 1 <= port <= 65535:
        raise ServerError(f"port {port}, wanted for {what}, is not a port number (1 to 65535); choose one with {how}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the server's own sockets do, so that connections in TIME_WAIT do not count as "in use"
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ServerError(
                f"port {port} on 127.0.0.1, wanted for {what}, is already in use by another "
                f"program; choose another port with {how}."
            ) from None


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _is_our_server(pid: int, instance: Path) -> bool:
    """True when ``pid`` is alive and is the Neo4j JVM of ``instance`` (never a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the recorded pid
    wanted = f"--home-dir={instance}".encode()
    return MAIN_CLASS.encode() in cmdline and wanted in cmdline


def _tail(path: Path, lines: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * lines * 4))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
