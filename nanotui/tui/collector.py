"""When the garbage collector runs while the app is up: between frames, and small.

CPython collects on allocation counts, so a full collection starts wherever the count runs
out: often inside a message handler that is already laying out a frame, and a full
collection walks every object the app holds (Textual, Rich, pygments and our widgets: on a
slow machine 100 ms and more). The streaming benchmark saw those as its longest stalls. So,
while the main screen is up:

- everything alive once the screen is ready is frozen (`gc.freeze`): modules, classes and
  the screen itself live as long as the app, and later collections skip them;
- automatic collection is off, and a timer runs the collection that CPython would have run
  (same thresholds, same generations), each on its own turn of the event loop rather than
  on top of a handler's work;
- from a turn's start until its garbage is settled, only the youngest generation is
  collected (a few ms): the older ones hold the reply's drawn lines by then, and collecting
  them took 20 to 45 ms mid-stream or as a turn's last frames went out. They wait for the
  settling, or for `YOUNG_ONLY_LIMIT` young collections;
- a moment after each turn's end (once its last frames are out), what the turn left is
  collected and its survivors (the reply on the screen, the records) frozen too, so a full
  collection costs one turn's objects, not the whole session's (`settle`);
- after `/clear`, whose old widgets may still sit in frozen reference cycles, everything is
  unfrozen and collected once (a pause the user asked for), then frozen again.

`stop` gives the process back the interpreter's usual behaviour (tests run many apps in one
process).
"""

from __future__ import annotations

import gc

from textual.dom import DOMNode

# How often the timer looks at the allocation counts: a young collection is cheap, and
# 20 a second keeps memory close to what automatic collection would hold.
CHECK_EVERY_S = 0.05

# Until a turn's garbage is settled, the older generations are collected only after this
# many young collections (5 s at least, at the timer's pace): memory stays bounded.
YOUNG_ONLY_LIMIT = 100

_active = False
_young_only = False


def start(owner: DOMNode) -> None:
    """Freeze what is alive now and collect on `owner`'s timer until `stop`."""
    global _active
    if _active:
        return
    gc.collect()
    gc.freeze()
    gc.disable()
    _active = True
    owner.set_interval(CHECK_EVERY_S, collect_if_due, name="garbage collection")


def collect_if_due() -> int | None:
    """Run the collection CPython would have run by now; the generation collected, or None."""
    if not _active:
        return None
    generation = generation_to_collect(gc.get_count(), gc.get_threshold(), _young_only)
    if generation is not None:
        gc.collect(generation)
    return generation


def generation_to_collect(
    counts: tuple[int, int, int], thresholds: tuple[int, ...], young_only: bool
) -> int | None:
    """`due_generation`, but only the youngest when `young_only` (up to `YOUNG_ONLY_LIMIT`)."""
    generation = due_generation(counts, thresholds)
    if generation and young_only and counts[1] < YOUNG_ONLY_LIMIT:
        return 0
    return generation


def turn_started() -> None:
    """Only young collections from now until `settle`."""
    global _young_only
    _young_only = True


def is_young_only() -> bool:
    return _young_only


def due_generation(counts: tuple[int, int, int], thresholds: tuple[int, ...]) -> int | None:
    """The oldest generation whose count has passed its threshold, as CPython decides it.

    The count of generation 0 is allocations since its last collection; the counts of 1 and
    2 are collections of the generation below since their own last one.
    """
    if counts[0] <= thresholds[0]:
        return None
    if counts[1] < thresholds[1]:
        return 0
    if counts[2] < thresholds[2]:
        return 1
    return 2


def settle() -> None:
    """After a turn's end: collect what it left, keep its survivors out of later
    collections, and let the older generations be collected when due again."""
    global _young_only
    _young_only = False
    if _active:
        gc.collect()
        gc.freeze()


def release() -> None:
    """After widgets were dropped wholesale (`/clear`): collect them too."""
    if _active:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def stop() -> None:
    """Back to the interpreter's own collection (the screen is gone)."""
    global _active, _young_only
    _young_only = False
    if not _active:
        return
    _active = False
    gc.unfreeze()
    gc.enable()


def is_active() -> bool:
    return _active
