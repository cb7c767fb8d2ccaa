"""Prometheus metrics of the SOAP layer (prometheus_client writes the exposition format).

Labels are bounded: ``service`` is one of gateway/shop/admin, ``operation`` a WSDL
operation name (or ``unknown`` when the request never reached one), ``outcome`` one of
ok/client_fault/server_fault, ``code`` an ``ErrorCode`` value.

Several gunicorn workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``mts-service serve``
sets it), each worker writes its samples there and ``/metrics`` aggregates all workers
with prometheus_client's multiprocess collector.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

OUTCOME_OK = "ok"
OUTCOME_CLIENT = "client_fault"
OUTCOME_SERVER = "server_fault"


class SoapMetrics:
    """The SOAP layer's metrics, in their own registry (tests get a fresh one each)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mts_soap_requests", "SOAP requests by service, operation and outcome",
            ["service", "operation", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "mts_soap_request_duration_seconds", "Time to answer a SOAP request, faults included",
            ["service", "operation"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.faults = Counter(
            "mts_soap_faults", "SOAP faults by service and fault code", ["service", "code"], registry=self.registry,
        )

    def observe(self, service: str, operation: str, seconds: float, fault_code: str | None, server_side: bool) -> None:
        if fault_code is None:
            outcome = OUTCOME_OK
        else:
            outcome = OUTCOME_SERVER if server_side else OUTCOME_CLIENT
            self.faults.labels(service, fault_code).inc()
        # The two children of an (service, operation, outcome), looked up once: labels()
        # takes a lock and checks the values on every call (the labels are bounded).
        children = self._children.get((service, operation, outcome))
        if children is None:
            children = self._children[(service, operation, outcome)] = (
                self.requests.labels(service, operation, outcome), self.latency.labels(service, operation))
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) for ``GET /metrics``; all workers' samples in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
