"""``mts-service bench``: throughput and latency of signed operations against a bare Spyne echo.

``runner`` starts both servers with the same gunicorn settings and drives them; ``load``
holds the load generators (wrk + Lua, or a Python fallback); ``echo`` is the echo service.
See ``runner`` for what is measured and how.
"""
