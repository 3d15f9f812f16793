"""Every command-line front end: the parser (`main`), headless runs, and the sub-commands."""
