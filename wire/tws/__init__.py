"""The TWS API wire format, as ``ib_async`` 2.x speaks it: one codec both sides import.

The simulated gateway (``gateways.tws``) speaks the server side of this wire and the
live adapter's side is ``ib_async``; code on either side that needs the frame layout
imports it from here, so neither owns it. Ground truth for every layout here is
``ib_async``'s own ``decoder.py`` (what it reads) and ``client.py`` (what it writes).

The package is split by what each module holds, and every public name is re-exported
here, so ``from triotrade.wire import tws as P; P.frame(...)`` reads the same as it
always has:

* ``ids`` — message ids in both directions, tick types;
* ``framing`` — the handshake, the length-prefixed field lists, ``ProtocolError``;
* ``fields`` — prices, integers, booleans and quantities as wire text;
* ``client_messages`` — parsing what a client sends (contracts, placeOrder);
* ``server_messages`` — building what the server sends (one frame per builder);
* ``times`` — TWS date-time text.

Nothing here does I/O or keeps state: builders return ``bytes`` frames, parsers take
field lists. Prices are exact integers (1e-8 units); no float is ever formatted.
"""
from __future__ import annotations

from .client_messages import (
    ContractQuery,
    PlaceOrder,
    parse_contract,
    parse_place_order,
)
from .fields import (
    UNSET_DOUBLE,
    UNSET_INTEGER,
    parse_bool,
    parse_int,
    parse_price,
    parse_quantity,
    price_text,
)
from .framing import (
    HEADER,
    MIN_CLIENT_VERSION,
    SERVER_VERSION,
    Field,
    FrameReader,
    ProtocolError,
    frame,
    join_fields,
    server_hello,
)
from .ids import In, Out, TickType
from .server_messages import (
    ExecView,
    OrderView,
    StockSpec,
    account_download_end,
    account_summary,
    account_summary_end,
    account_update_multi,
    account_update_multi_end,
    account_update_time,
    account_value,
    commission_report,
    completed_order,
    completed_orders_end,
    contract_details,
    contract_details_end,
    current_time,
    error,
    exec_details,
    exec_details_end,
    managed_accounts,
    market_data_type,
    next_valid_id,
    open_order,
    open_order_end,
    order_status,
    portfolio_value,
    position,
    position_end,
    tick_price,
    tick_req_params,
    tick_size,
    tick_snapshot_end,
)
from .times import fmt_ib_time, parse_ib_time

__all__ = [
    # ids
    "In", "Out", "TickType",
    # framing
    "SERVER_VERSION", "MIN_CLIENT_VERSION", "HEADER", "Field", "ProtocolError", "frame",
    "server_hello", "FrameReader", "join_fields",
    # field values
    "UNSET_DOUBLE", "UNSET_INTEGER", "price_text", "parse_price", "parse_int", "parse_bool",
    "parse_quantity",
    # client -> server
    "ContractQuery", "parse_contract", "PlaceOrder", "parse_place_order",
    # server -> client
    "StockSpec", "OrderView", "ExecView", "error", "next_valid_id", "managed_accounts",
    "current_time", "tick_price", "tick_size", "tick_req_params", "market_data_type",
    "tick_snapshot_end", "contract_details", "contract_details_end", "open_order",
    "open_order_end", "completed_order", "completed_orders_end", "order_status",
    "exec_details", "exec_details_end", "commission_report", "position", "position_end",
    "account_value", "portfolio_value", "account_update_time", "account_download_end",
    "account_summary", "account_summary_end", "account_update_multi",
    "account_update_multi_end",
    # date-times
    "fmt_ib_time", "parse_ib_time",
]
