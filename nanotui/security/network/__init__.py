"""Network for sandboxed commands by domain: an allowlist proxy on the host, a forwarder inside."""
