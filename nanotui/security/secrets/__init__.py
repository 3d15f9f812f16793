"""Secrets: which environment variables and files are credentials, and scrubbing them out."""
