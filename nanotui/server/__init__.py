"""The team service (`nanotui serve`): accounts, projects and an authenticated HTTP API.

A front end like the app: it sits above the engine and never imports the screens.
"""
