"""Shell policy: parse a command line, unwrap it, and judge every command in it."""
