"""The ground floor: the vocabulary every layer shares, importing nothing else of nanotui.

Model I/O types (`model_io`), the event union (`events`), the error classes and modes
(`basics`). Keep this package light: the command line imports parts of it before anything
heavy.
"""
