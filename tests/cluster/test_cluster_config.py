"""The pieces of the cluster and load tool that need no server: haproxy's configuration and
the load tool's refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mts_service.cluster import ClusterError, NodeState, haproxy_config, with_application_name
from mts_service.load import LoadConfig, LoadRefused

NODES = [NodeState("node1", 18001), NodeState("node2", 18002)]


def test_haproxy_terminates_tls_and_checks_healthz_on_every_node(tmp_path):
    text = haproxy_config(port=18443, pem=tmp_path / "haproxy.pem", nodes=NODES, maxconn_per_node=1)
    assert f"bind 127.0.0.1:18443 ssl crt {tmp_path / 'haproxy.pem'}" in text
    assert "uri /healthz" in text and "http-check expect status 200" in text
    assert "server node1 127.0.0.1:18001 check maxconn 1" in text
    assert "server node2 127.0.0.1:18002 check maxconn 1" in text
    assert "retry-on" not in text  # only failed connections are retried by the balancer


@pytest.mark.skipif(not shutil.which("haproxy") and not Path("/usr/sbin/haproxy").exists(), reason="no haproxy")
def test_haproxy_accepts_the_configuration(tmp_path):
    from mts_service.pki import create_dev_pki

    certs = create_dev_pki(tmp_path / "certs").directory
    pem = tmp_path / "haproxy.pem"
    pem.write_bytes((certs / "server.pem").read_bytes() + (certs / "server.key").read_bytes())
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(port=18443, pem=pem, nodes=NODES, maxconn_per_node=2))
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    checked = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_cluster_needs_postgresql():
    with pytest.raises(ClusterError, match="PostgreSQL"):
        with_application_name("sqlite+pysqlite:///var/mts.db")
    assert "application_name=mts-cluster" in with_application_name("postgresql://u@127.0.0.1/db")


@pytest.mark.parametrize("url", ["https://10.0.0.5:8443", "https://mts.example.com", "http://0.0.0.0:8080"])
def test_the_load_tool_only_talks_to_loopback(url):
    with pytest.raises(LoadRefused, match="loopback"):
        LoadConfig(url=url, certs_dir=Path("certs")).check()


def test_the_load_tool_is_bounded_and_knows_its_faults():
    LoadConfig(url="https://127.0.0.1:8443", certs_dir=Path("certs"), faults=("worker", "node")).check()
    with pytest.raises(LoadRefused):
        LoadConfig(url="https://localhost:8443", certs_dir=Path("certs"), faults=("meteor",)).check()
    with pytest.raises(LoadRefused):
        LoadConfig(url="https://localhost:8443", certs_dir=Path("certs"), workers=0).check()
