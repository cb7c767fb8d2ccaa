"""Garbage collection in a server worker: the MTS workers and the bench's echo use the same.

- Spyne forces a full ``gc.collect()`` once a second per worker when a method context
  closes: 50-180 ms each with this heap, about a quarter of a signed request's time and
  most of its p99. ``quiet_spyne`` switches that off; CPython's own collector still runs.
- ``after_start_up``: everything built at start-up (schemas, WSDLs, Spyne and zeep types,
  the phone metadata) is permanent, so ``gc.freeze()`` keeps it out of every collection;
  and the young generation is collected every 50,000 net allocations instead of 700. A
  signed request allocates tens of thousands of short-lived objects (lxml proxies, Spyne
  contexts), nearly all freed by reference counting: at 700 the collector ran several times
  per request over objects that were about to go anyway. Measured in process, batches
  interleaved in one process (EC keys): 6-7 % less CPU per SubmitSms, RedeemCode and
  PlaceOrder. Cycles are still collected, a few requests later.
"""

from __future__ import annotations

import gc

import spyne.const

THRESHOLDS = (50_000, 20, 100)


def quiet_spyne() -> None:
    spyne.const.MIN_GC_INTERVAL = float("inf")


def after_start_up() -> None:
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
