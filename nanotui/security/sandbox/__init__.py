"""The command sandbox: backends (bwrap, landlock, plain) over one process runner, and limits."""
