"""nanotui as an Agent Client Protocol agent: the front end editors drive (`nanotui acp`).

Only this package imports the ACP SDK, and only the `acp` command imports this package.
"""
