"""What `/policy` shows: each setting that is not a default and each command rule, with the
layer it comes from (the managed file, the user's config, the project's, the environment,
the command line, or the defaults)."""

from __future__ import annotations

from nanotui.protocol.setting_origins import SettingOrigins

RULE_KINDS = (("policy.deny", "deny"), ("policy.ask", "ask"), ("policy.allow", "allow"))


def policy_listing(origins: SettingOrigins) -> str:
    """The text of `/policy`, one fact per line."""
    if not origins.values and not origins.rules:
        return "This session's settings are the server's; ask its administrator for them."
    lines = []
    if origins.managed:
        lines.append("Some settings are managed by your organisation: no other layer loosens them.")
    lines.append("Settings that are not defaults, and where each comes from:")
    if not origins.values:
        lines.append("  none: every setting is a default")
    for name, (value, layer) in origins.values.items():
        if name.startswith("policy.") or name == "sandbox.allowed_domains":
            continue  # the rules and the names are listed one by one below
        lines.append(f"  {name} = {value}  ({layer})")
    lines.append("Command rules (deny wins over ask, ask over allow):")
    for setting, kind in RULE_KINDS:
        for rule, layer in origins.rules.get(setting, {}).items():
            lines.append(f"  {kind:<5} `{rule}`  ({layer})")
    protected: dict[str, list[str]] = {}
    for pattern, layer in origins.rules.get("policy.protected_paths", {}).items():
        protected.setdefault(layer, []).append(pattern)
    for layer, patterns in protected.items():
        lines.append(f"Protected paths ({layer}): {', '.join(patterns)}")
    names = origins.rules.get("sandbox.allowed_domains", {})
    if names:
        lines.append("Network names commands may reach (sandbox.allowed_domains):")
        lines += [f"  {name}  ({layer})" for name, layer in names.items()]
    return "\n".join(lines)
