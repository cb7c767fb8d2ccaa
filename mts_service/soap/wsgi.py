"""The gunicorn target: ``mts_service.soap.wsgi:application``.

Built once per worker from the environment (``Settings.from_env``): engine, service
context, the SOAP app, and, when ``MTS_SECURITY`` is on (the default), the WS-Security
middleware around it with the server's certificate and key from the certs directory.
The request-id middleware is outermost, so refusals made by the security layer carry
the id too.
"""

from __future__ import annotations

import os
from typing import Mapping

from sqlalchemy.engine import Engine

from mts_service.bootstrap import engine_for, service_context
from mts_service.config import Settings
from mts_service.observability import WsgiApp, configure_logging
from mts_service.persistence.replay_cache import SqlReplayCache
from mts_service.pki import load_certificate, load_private_key
from mts_service.services.context import ServiceContext
from mts_service.soap.app import make_wsgi_app
from mts_service.soap import worker_gc
from mts_service.soap.security import SecurityMiddleware
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.trust import TrustStore

SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"
CA_CERT = "ca.pem"


def with_security(app: WsgiApp, settings: Settings, ctx: ServiceContext, engine: Engine) -> WsgiApp:
    """Wrap ``app`` in SecurityMiddleware: trust the dev/deployment CA, sign with the server key,
    remember signatures in the database (replays are refused across nodes)."""
    certs = settings.certs_dir
    return SecurityMiddleware(
        app,
        trust=TrustStore.from_pem_files(certs / CA_CERT, purpose="client"),
        profile=SecurityProfile(max_body_bytes=settings.max_request_bytes),
        clock=ctx.clock,
        replay=SqlReplayCache(engine, clock=ctx.clock),
        signer_key=load_private_key(certs / SERVER_KEY),
        signer_cert=load_certificate(certs / SERVER_CERT),
    )


def build_application(environ: Mapping[str, str]) -> WsgiApp:
    worker_gc.quiet_spyne()
    settings = Settings.from_env(environ)
    configure_logging(environ.get("MTS_LOG_LEVEL", "INFO"))
    engine = engine_for(settings)
    ctx = service_context(settings, engine=engine)
    # One request-id middleware, outermost (make_wsgi_app's), around the security layer.
    secure = (lambda app: with_security(app, settings, ctx, engine)) if settings.security else None
    return make_wsgi_app(ctx, settings, engine=engine, middleware=secure)


application = build_application(os.environ)
worker_gc.after_start_up()
