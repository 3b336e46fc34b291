"""Broker wire protocols, one module (or package) per protocol, owned by neither side.

Our adapters (``venues``, client side) and our gateways (``gateways``, server side)
both speak these formats; keeping each codec here means a change to one end is a
change to the other, and the tests that run the brokers' own client libraries
against the gateways keep both honest. Codecs only: no I/O, no state, no clocks,
and no imports from ``venues``, ``gateways`` or ``sim``.
"""
