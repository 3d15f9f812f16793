"""The async agent engine. It never imports textual: every front end listens to its events."""
