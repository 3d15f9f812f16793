"""Text as a reader sees it, for matching: what hides a phrase from a pattern is taken away.

A phrase aimed at the model stays readable to it when written in ways a plain pattern misses:
fullwidth or styled letters (NFKC folds them), zero-width and bidi characters inside words
(dropped), Cyrillic or Greek letters that look Latin (`ignore` spelt with a Cyrillic `i` is
read as the Latin word).
Only the copy used for matching changes; the model still gets the text as it was.

The confusables table is deliberately small: the Cyrillic and Greek letters that are drawn
like Latin ones in common fonts (Unicode's confusables.txt has thousands of entries, most of
them symbols no attack needs). Lines are kept one for one, so a flag still names its line.
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
"""Characters drawn as nothing: soft hyphen, zero-width joiners and spaces, bidi controls,
variation selectors, tag characters."""

# Written as escapes: the letters themselves would be indistinguishable from Latin here.
_LOOKALIKES = (
    # Cyrillic (and Latin script g), lower case: abeekmhopctyxiijsdqwhg
    (
        "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0456\u0457\u0458\u0455\u0501\u051b\u051d\u04bb\u0261",
        "abeekmhopctyxiijsdqwhg",
    ),
    # Cyrillic, upper case: ABEKMHOPCTYXIJS
    (
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0423\u0425\u0406\u0408\u0405",
        "ABEKMHOPCTYXIJS",
    ),
    # Greek: aopikvtuxeABEZHIKMNOPTYX
    (
        "\u03b1\u03bf\u03c1\u03b9\u03ba\u03bd\u03c4\u03c5\u03c7\u03b5\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
        "aopikvtuxeABEZHIKMNOPTYX",
    ),
)
LOOKALIKES = str.maketrans(
    "".join(source for source, _ in _LOOKALIKES), "".join(latin for _, latin in _LOOKALIKES)
)


def readable(text: str) -> str:
    """`text` folded (NFKC) with invisible characters dropped: what a reader sees."""
    if text.isascii():
        return text
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def latin_skeleton(text: str) -> str:
    """`readable(text)` with look-alike Cyrillic and Greek letters read as Latin ones.

    Letter for letter, so offsets and lines match those of `readable(text)`.
    """
    folded = readable(text)
    return folded if folded.isascii() else folded.translate(LOOKALIKES)
