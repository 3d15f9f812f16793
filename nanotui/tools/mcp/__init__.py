"""Tools of MCP servers, offered to the model beside the built-in ones.

`[mcp.servers.NAME]` (README, MCP servers) names each server: a stdio command, started in
the command sandbox (`connection`, `stdio_transport`), or a streamable-HTTP URL. Each tool
becomes an `ExternalTool` (`adapter`) judged like every built-in one, under a name providers
accept (`names`), with its definition pinned per project (`pins`). `hub` starts them all for
a session and stops them with it. The `mcp` SDK is imported only when a server starts.
"""
