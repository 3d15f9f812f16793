"""The `[keys]` section of the config applied to the app: binding id -> keys.

Textual's own keymap silently ignores an id that no binding carries, so a typo in the
config would leave the old key in place with no word said; `apply_keymap` reports each one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping

from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.keys import Keys, key_to_character

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(key.value for key in Keys)


def known_binding_ids(app: App[object]) -> set[str]:
    """Every binding id of every widget, screen and app class loaded, mounted or not.

    Classes rather than the live DOM, because most bindings belong to screens and widgets
    that appear later (an approval, the help screen) and the keymap must reach them too.
    """
    ids = {binding.id for _, binding in app._bindings if binding.id}
    for cls in _dom_classes(DOMNode):
        for binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", [])):
            if binding.id:
                ids.add(binding.id)
    return ids


def _dom_classes(base: type[DOMNode]) -> Iterator[type[DOMNode]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _dom_classes(cls)


def is_key_name(key: str) -> bool:
    """Whether `key` names a key Textual can report: `a`, `?`, `f2`, `ctrl+j`, `shift+tab`…"""
    *modifiers, name = key.strip().split("+")
    if not name or any(modifier not in MODIFIERS for modifier in modifiers):
        return False
    if len(name) == 1 or name in _NAMED_KEYS:
        return True
    return key_to_character(name) is not None  # "question_mark", "full_stop"…


def apply_keymap(app: App[object], keys: Mapping[str, str]) -> list[str]:
    """Remap the app's bindings from `[keys]`; return one sentence for each entry ignored.

    An entry is ignored when no binding has its id, or when one of its keys is not a key
    name; the other entries still apply.
    """
    known = known_binding_ids(app)
    keymap: dict[str, str] = {}
    warnings: list[str] = []
    for binding_id, value in keys.items():
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(known), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            warnings.append(
                f'[keys] names "{binding_id}", which is no binding id{hint}; '
                "the help screen (F1) lists them, so that entry was ignored."
            )
            continue
        bad = [key.strip() for key in value.split(",") if not is_key_name(key)]
        if bad:
            warnings.append(
                f'[keys] "{binding_id}" = "{value}": "{bad[0]}" is not a key name '
                '(for example "ctrl+k", "f2", "escape", "shift+tab"), so that entry was ignored.'
            )
            continue
        keymap[binding_id] = ",".join(key.strip() for key in value.split(","))
    app.set_keymap(keymap)
    return warnings


def current_keymap(app: App[object]) -> Mapping[str, str]:
    """The keymap the app applies now (Textual keeps it private, normalised)."""
    return getattr(app, "_keymap", {})


def remapped(bindings: BindingsMap, app: App[object]) -> BindingsMap:
    """A copy of `bindings` with the app's keymap applied, as the app dispatches them."""
    result = bindings.copy()
    if keymap := current_keymap(app):
        result.apply_keymap(dict(keymap))
    return result


def key_label(key: str) -> str:
    """A key as it is written in `[keys]`: "?" rather than "question_mark"."""
    character = key_to_character(key)
    if (
        character is not None
        and len(key) > 1
        and character.isprintable()
        and not character.isspace()
    ):
        return character
    return key
