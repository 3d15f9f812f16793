"""The client side of the team service: its API, and a session on it offered to the app."""
