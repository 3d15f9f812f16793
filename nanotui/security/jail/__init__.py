"""The workspace jail: which paths the tools may touch, and what a command may leave behind."""
