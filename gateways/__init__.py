"""Wire-protocol gateways that serve the simulated exchange to real client libraries."""
