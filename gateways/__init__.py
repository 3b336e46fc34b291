"""Wire-protocol gateways that serve the simulated exchange to real client libraries.

These are wall-clock servers: sockets, real time (``realtime.RealtimeMarket`` paces
the simulated market by trio's clock) and long-lived connections. They live apart
from ``sim/``, which is deterministic and refuses sockets and threads during a run.
Gateways use the simulator and the codecs in ``wire``; they never import an adapter.
"""
