"""A development cluster: N ``mts-service serve`` nodes on one PostgreSQL behind haproxy.

::

    clients ──TLS──> haproxy 127.0.0.1:8443 ──HTTP──> node 1  127.0.0.1:p1  (gunicorn, --no-tls)
                     (server.pem, /healthz checks) ─> node 2  127.0.0.1:p2      │
                                                                             one PostgreSQL

TLS is re-terminated at the balancer with the server certificate of the dev PKI; the nodes
serve plain HTTP on loopback only. Message security stays end to end: every SOAP body is
signed by the client and verified by the node (and the answer signed by the node), so the
balancer sees the XML but can neither forge nor replay it (the replay cache lives in the
database and holds across nodes). ``docs/scaling.md`` explains the choice.

Everything the cluster starts is recorded in ``<dir>/cluster.json``: each node's process
(``mts-service serve``, the leader of its own process group, with gunicorn's master and
workers below it) and haproxy's. ``down`` stops exactly those process groups, nothing else.
All nodes share one deployment secret (``<dir>/mts-secret.hex``) and one database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from sqlalchemy.engine import make_url

STATE_FILE = "cluster.json"
DEFAULT_PORT = 8443
LOOPBACK = "127.0.0.1"
HAPROXY = "haproxy"
APPLICATION_NAME = "mts-cluster"


class ClusterError(RuntimeError):
    """The cluster could not be started, found or stopped; the message says why."""


@dataclass(frozen=True)
class ClusterSpec:
    """What ``cluster up`` starts. Build it once at the edge (CLI, test fixture)."""

    directory: Path
    """Holds cluster.json, the logs, haproxy's config and PEM, the secret and (by default) the PKI."""
    database_url: str
    """PostgreSQL URL shared by every node (SQLite would serialise the nodes on one file lock)."""
    nodes: int = 2
    workers_per_node: int = 1
    worker_class: str = "sync"
    """gunicorn worker class of the nodes; sync is right behind a balancer that holds the client connections."""
    port: int = DEFAULT_PORT
    """The balancer's TLS port on 127.0.0.1 (0: any free port)."""
    certs_dir: Path | None = None
    """Dev PKI; None: ``<directory>/certs``, created when missing."""
    log_level: str = "warning"

    @property
    def certs(self) -> Path:
        return Path(self.certs_dir) if self.certs_dir else Path(self.directory) / "certs"


@dataclass
class NodeState:
    name: str
    port: int
    pid: int | None = None
    """pid of ``mts-service serve``, leader of the node's process group."""

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


@dataclass
class ClusterState:
    url: str
    database_url: str
    certs: str
    workers_per_node: int
    worker_class: str
    log_level: str
    nodes: list[NodeState] = field(default_factory=list)
    haproxy_pid: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        data = json.loads(text)
        data["nodes"] = [NodeState(**node) for node in data.get("nodes", [])]
        return cls(**data)


# -- small process helpers ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the given processes (each read once from /proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _stop_group(pid: int | None, *, grace: float = 15.0) -> None:
    """SIGTERM the process group led by ``pid`` (one we started), SIGKILL it after ``grace``."""
    if not pid or not alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)  # stragglers of the group (workers) too
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def with_application_name(url: str, name: str = APPLICATION_NAME) -> str:
    """The URL with ``application_name`` set, so the cluster's connections can be told apart."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ClusterError("the cluster needs a PostgreSQL URL: several nodes share one database")
    if "application_name" in parsed.query:
        return url
    return parsed.update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def with_schema(url: str, schema: str) -> str:
    """The URL whose connections use ``schema`` (created if missing) as their search_path."""
    from sqlalchemy import text

    from mts_service.persistence.engine import make_engine

    if not schema.replace("_", "").isalnum():
        raise ClusterError(f"schema name {schema!r}: letters, digits and _ only")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


# -- haproxy -----------------------------------------------------------------------------------

def haproxy_config(*, port: int, pem: Path, nodes: list[NodeState], maxconn_per_node: int) -> str:
    """haproxy.cfg: TLS on the front, HTTP to the nodes, /healthz checks, retries on connect only.

    Only a failed *connection* is retried by haproxy (its default ``retry-on conn-failure``):
    a request that reached a node is never replayed by the balancer, since the node may have
    acted on it and the same signed bytes would be refused as a replay anyway. The client
    re-signs and retries idempotent calls itself (same messageId / orderId).
    """
    servers = "\n".join(
        f"    server {node.name} {node.address} check maxconn {maxconn_per_node}" for node in nodes
    )
    return f"""# written by `mts-service cluster up`; regenerated on every up
global
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.2
    tune.ssl.default-dh-param 2048

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout queue 30s
    timeout http-request 10s
    timeout http-keep-alive 30s
    retries 3
    option redispatch 1

frontend mts
    bind {LOOPBACK}:{port} ssl crt {pem} alpn http/1.1
    http-request set-header X-Forwarded-Proto https
    default_backend nodes

backend nodes
    balance leastconn
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host mts
    http-check expect status 200
    default-server inter 1s fastinter 500ms downinter 1s rise 2 fall 2 on-marked-down shutdown-sessions
{servers}
"""


def haproxy_binary() -> str:
    path = shutil.which(HAPROXY) or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if not path:
        raise ClusterError("haproxy is not installed: apt-get install haproxy")
    return path


# -- the cluster -------------------------------------------------------------------------------

class Cluster:
    """Start, inspect, hurt and stop the processes of one cluster directory."""

    def __init__(self, directory: Path, state: ClusterState | None = None, *, environ: Mapping[str, str] | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.state = state
        self.environ = dict(os.environ if environ is None else environ)

    # -- state ------------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path, *, environ: Mapping[str, str] | None = None) -> Cluster:
        path = Path(directory) / STATE_FILE
        try:
            state = ClusterState.from_json(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no cluster in {directory} ({STATE_FILE} is missing)") from None
        return cls(directory, state, environ=environ)

    def _save(self) -> None:
        path = self.directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.state.to_json())
        tmp.replace(path)

    @property
    def url(self) -> str:
        return self._state().url

    @property
    def certs(self) -> Path:
        return Path(self._state().certs)

    @property
    def database_url(self) -> str:
        return self._state().database_url

    @property
    def secret_file(self) -> Path:
        return self.directory / "mts-secret.hex"

    def _state(self) -> ClusterState:
        if self.state is None:
            raise ClusterError("the cluster is not up")
        return self.state

    # -- up / down --------------------------------------------------------------------------

    def up(self, spec: ClusterSpec, *, timeout: float = 120.0) -> str:
        """Create (or reuse) the PKI, upgrade the schema, start the nodes and haproxy; return the URL."""
        from mts_service.persistence.engine import make_engine
        from mts_service.persistence.migrate import upgrade
        from mts_service.pki import create_dev_pki
        from mts_service.services.keys import load_or_create_secret

        if self.state is not None and any(alive(p) for p in self._pids()):
            raise ClusterError(f"a cluster is already running from {self.directory}: run `down` first")
        haproxy = haproxy_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        certs = create_dev_pki(spec.certs).directory.resolve()
        load_or_create_secret(self.secret_file)
        database_url = with_application_name(spec.database_url)
        engine = make_engine(database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

        port = spec.port or free_port()
        self.state = ClusterState(
            url=f"https://{LOOPBACK}:{port}",
            database_url=database_url,
            certs=str(certs),
            workers_per_node=spec.workers_per_node,
            worker_class=spec.worker_class,
            log_level=spec.log_level,
            nodes=[NodeState(f"node{i + 1}", free_port()) for i in range(spec.nodes)],
        )
        self._save()
        try:
            for node in self.state.nodes:
                self._start_node_process(node)
            self._save()
            pem = self.directory / "haproxy.pem"
            _write_private(pem, (certs / "server.pem").read_bytes() + (certs / "server.key").read_bytes())
            threads = 4 if spec.worker_class == "gthread" else 1
            config = self.directory / "haproxy.cfg"
            config.write_text(haproxy_config(port=port, pem=pem, nodes=self.state.nodes,
                                             maxconn_per_node=spec.workers_per_node * threads))
            check = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
            if check.returncode != 0:
                raise ClusterError(f"haproxy refused {config}: {check.stderr.strip() or check.stdout.strip()}")
            self.state.haproxy_pid = self._spawn([haproxy, "-db", "-f", str(config)], "haproxy")
            self._save()
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.down()
            raise
        return self.state.url

    def down(self) -> list[int]:
        """Stop haproxy and every node (their whole process groups); return the pids stopped."""
        if self.state is None:
            return []
        stopped = []
        for pid in [self.state.haproxy_pid] + [node.pid for node in self.state.nodes]:
            if pid and alive(pid):
                _stop_group(pid)
                stopped.append(pid)
            if pid:
                _reap(pid)
        self.state.haproxy_pid = None
        for node in self.state.nodes:
            node.pid = None
        self._save()
        for node in self.state.nodes:
            shutil.rmtree(self._metrics_dir(node), ignore_errors=True)
        return stopped

    def _pids(self) -> list[int]:
        if self.state is None:
            return []
        return [pid for pid in [self.state.haproxy_pid] + [n.pid for n in self.state.nodes] if pid]

    # -- nodes ------------------------------------------------------------------------------

    def node(self, name_or_index: str | int) -> NodeState:
        nodes = self._state().nodes
        if isinstance(name_or_index, int):
            return nodes[name_or_index]
        for node in nodes:
            if node.name == name_or_index:
                return node
        raise ClusterError(f"no node {name_or_index!r} (nodes: {', '.join(n.name for n in nodes)})")

    def _metrics_dir(self, node: NodeState) -> Path:
        return self.directory / f"metrics-{node.name}"

    def _node_env(self, node: NodeState) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if not k.startswith("MTS_")}
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        env["MTS_SECRET_FILE"] = str(self.secret_file)
        metrics = self._metrics_dir(node)
        shutil.rmtree(metrics, ignore_errors=True)  # a fresh directory per gunicorn run
        metrics.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        return env

    def _start_node_process(self, node: NodeState) -> None:
        state = self._state()
        command = [
            sys.executable, "-m", "mts_service", "serve", "--no-tls",
            "--bind", node.address,
            "--workers", str(state.workers_per_node),
            "--worker-class", state.worker_class,
            "--database", state.database_url,
            "--certs", state.certs,
            "--log-level", state.log_level,
        ]
        node.pid = self._spawn(command, node.name, env=self._node_env(node))

    def _spawn(self, command: list[str], name: str, *, env: dict[str, str] | None = None) -> int:
        with open(self.directory / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                command, cwd=self.directory, env=env or self.environ, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return process.pid

    def start_node(self, name_or_index: str | int, *, timeout: float = 90.0) -> NodeState:
        """(Re)start a node that is down, on its recorded port, and wait until it is healthy."""
        node = self.node(name_or_index)
        if alive(node.pid):
            raise ClusterError(f"{node.name} is running (pid {node.pid})")
        if node.pid:
            _reap(node.pid)
        self._start_node_process(node)
        self._save()
        self._wait_node(node, timeout)
        return node

    def stop_node(self, name_or_index: str | int) -> None:
        node = self.node(name_or_index)
        _stop_group(node.pid)
        if node.pid:
            _reap(node.pid)

    def kill_node(self, name_or_index: str | int) -> list[int]:
        """kill -9 the whole node: serve, gunicorn's master and its workers, all at once."""
        node = self.node(name_or_index)
        if not alive(node.pid):
            raise ClusterError(f"{node.name} is not running")
        pids = [node.pid, *descendants(node.pid)]
        os.killpg(node.pid, signal.SIGKILL)
        _reap(node.pid)
        return pids

    def gunicorn_master(self, name_or_index: str | int) -> int | None:
        node = self.node(name_or_index)
        if not alive(node.pid):
            return None
        masters = children(node.pid)
        return masters[0] if masters else None

    def workers(self, name_or_index: str | int) -> list[int]:
        master = self.gunicorn_master(name_or_index)
        return children(master) if master else []

    def kill_worker(self, name_or_index: str | int) -> int:
        """kill -9 one gunicorn worker of a node (its master forks a new one)."""
        workers = self.workers(name_or_index)
        if not workers:
            raise ClusterError(f"{self.node(name_or_index).name} has no live worker")
        os.kill(workers[0], signal.SIGKILL)
        return workers[0]

    def server_pids(self) -> list[int]:
        """Every live process serving requests: each node's serve, gunicorn master and workers."""
        pids = []
        for node in self._state().nodes:
            if alive(node.pid):
                pids += [node.pid, *descendants(node.pid)]
        return pids

    # -- health -----------------------------------------------------------------------------

    def _healthy(self, url: str, *, verify: str | bool = True) -> bool:
        import requests

        session = requests.Session()
        session.trust_env = False
        try:
            return session.get(f"{url}/healthz", timeout=2, verify=verify).status_code == 200
        except requests.RequestException:
            return False
        finally:
            session.close()

    def _wait_node(self, node: NodeState, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(node.pid):
                raise ClusterError(f"{node.name} exited:\n{_tail(self.directory / f'{node.name}.log')}")
            if self._healthy(f"http://{node.address}"):
                return
            time.sleep(0.25)
        raise ClusterError(f"{node.name} did not answer /healthz within {timeout:.0f}s")

    def wait_ready(self, *, timeout: float = 120.0) -> None:
        """Every node healthy, then the balancer answering /healthz over TLS."""
        state = self._state()
        started = time.monotonic()
        for node in state.nodes:
            self._wait_node(node, max(1.0, timeout - (time.monotonic() - started)))
        ca = str(Path(state.certs) / "ca.pem")
        while time.monotonic() - started < timeout:
            if not alive(state.haproxy_pid):
                raise ClusterError(f"haproxy exited:\n{_tail(self.directory / 'haproxy.log')}")
            if self._healthy(state.url, verify=ca):
                time.sleep(2.5)  # let haproxy's checks mark every node up (rise 2, inter 1s)
                return
            time.sleep(0.25)
        raise ClusterError(f"the balancer did not answer {state.url}/healthz within {timeout:.0f}s")

    def status(self) -> list[tuple[str, str, int | None, bool]]:
        state = self._state()
        rows = [("haproxy", state.url, state.haproxy_pid, alive(state.haproxy_pid))]
        for node in state.nodes:
            rows.append((node.name, f"http://{node.address}", node.pid, alive(node.pid)))
        return rows


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


__all__ = [
    "Cluster", "ClusterError", "ClusterSpec", "ClusterState", "NodeState", "cpu_seconds", "descendants",
    "haproxy_config", "with_application_name", "with_schema",
]
