"""The bare Spyne echo service, kept here for ``bench/signed_bench.py``; it lives in
``mts_service.benchmark.echo`` (the gunicorn target of ``mts-service bench``)."""

from mts_service.benchmark.echo import EchoService, application, echo_request  # noqa: F401
