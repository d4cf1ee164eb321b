"""Phrase matching tolerant of inflection and word order: the text layer shared by the scorer and the
simulated interviewer (which reveals a fact when a question matches one of its trigger phrasings).

A phrasing such as ``"latency budget"`` matches when all of its meaningful words occur, in any order and in
any inflection, within a short window of one sentence of the text. ``#`` in a phrasing stands for any
number, written in digits ("150", "1.5k") or words ("ten", "million"). Everything here is pure and fast:
a text is analysed once into an index of word stems, then each phrasing is a few dictionary look-ups.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

NUMBER = "#"

# Small words that carry no domain meaning. Negations, question words and words such as "top", "first",
# "before" and "under" stay meaningful: "not just clicks", "how many users" and "top 20" depend on them.
FUNCTION_WORDS = frozenset(
    """a an the of to in on at for by with from into onto about as and or but if then than so that this these
    those it its is are was were be been being am do does did doing done have has had having will would should
    could can may might must shall i we you they he she me us our ours your yours their theirs my them him her
    his hers which who whom whose there here each every any some such very just also only own same other others
    both either neither again further once too via let let's e g ie eg etc i'd we'd i'll we'll
    i'm we're you're they're it's that's there's what's one's like really quite""".split()
)

NEGATIONS = frozenset({"not", "no", "never", "without", "avoid", "instead", "rather", "nor", "neither", "against"})

_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty
    sixty seventy eighty ninety hundred hundreds thousand thousands million millions billion billions trillion
    dozen dozens half""".split()
)

# Words marking reasoning rather than a bare list: causes, purposes, contrasts, consequences.
CONNECTIVES = frozenset(
    """because since so therefore thus hence otherwise which while whereas instead rather unless avoid avoids
    prevent prevents means given then if but vs versus why whether until when after before""".split()
)
_SYMBOL_MARKERS = ("→", "->", "=>", "=", ":", "<", ">", "≤", "≥", "~", "(", "×", "+", "?")
# Words that hold a sentence together although they matter for matching ("how many users", "not clicks").
_GLUE_WORDS = frozenset(
    "how many much what when why where who not no never before after under over per most more than".split()
)

_TOKEN_RE = re.compile(r"[a-z]+\d+[a-z0-9]*|\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?")
_SEGMENT_RE = re.compile(r"\n+|(?<=[.!?;])\s+")
_LIST_ITEM_RE = re.compile(r"^\s*([-*•>]|\d+[.)]|[a-z][a-z &/-]{0,30}:\s)")
#: A line at least this long that does not end a sentence is prose wrapped by an editor, not a note.
_WRAPPED_LINE = 50
_NUMERIC_RE = re.compile(r"\d")


_IRREGULAR = {
    "indices": "index",
    "matrices": "matrix",
    "vertices": "vertex",
    "criteria": "criterion",
    "analyses": "analysis",
    "biases": "bias",
    "children": "child",
    "people": "person",
    "ads": "ad",
    "ids": "id",
    "gpus": "gpu",
    "centre": "center",
    "centres": "center",
    "metre": "meter",
    "metres": "meter",
    "behaviour": "behavior",
    "behaviours": "behavior",
    "favour": "favor",
    "colour": "color",
    "labour": "labor",
    "catalogue": "catalog",
    "catalogues": "catalog",
    "programme": "program",
}
_KEEP_S = frozenset({"bias", "alias", "news", "canvas", "atlas", "lens", "always", "across", "series", "chaos"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Reduce an English word to a crude stem so that inflections of one word compare equal.

    Deliberately light: plurals, -ing, -ed, -ly, -ization/-ation and a final -e, plus British -ise spellings.
    It only has to map a word and its inflections to the same key; it never has to produce a real word.
    """
    w = word.lower().replace("'", "")
    if w in _IRREGULAR:
        w = _IRREGULAR[w]
    if len(w) <= 3 or _NUMERIC_RE.search(w) or w in _KEEP_S:
        return w
    if len(w) > 5:
        w = re.sub(r"is(e|ed|es|ing|ation|ations|er|ers)$", r"iz\1", w)
        # British doubling: labelled, modelling, cancelled -> labeled, modeling, canceled.
        w = re.sub(r"^(\w{3,}e)ll(ed|ing|er|ers)$", r"\1l\2", w)
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses") or w.endswith(("xes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix, replacement in (("ization", "ize"), ("ational", "ate"), ("ation", "ate")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + replacement
            break
    else:
        if w.endswith("ing") and len(w) - 3 >= 3 and re.search(r"[aeiouy]", w[:-3]):
            w = _undouble(w[:-3])
        elif w.endswith("ed") and not w.endswith("eed") and len(w) - 2 >= 3 and w != "embed":
            w = _undouble(w[:-2])
        elif w.endswith("ly") and len(w) - 2 >= 4:
            w = w[:-2]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return "note" if w == "not" else w  # "notes" must not turn into the negation "not"


def _undouble(w: str) -> str:
    if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz" and w[-1] not in "aeiou":
        return w[:-1]
    return w


def _normalise(text: str) -> str:
    text = text.lower().replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"\bor not\b", "or", text)  # "fraud or not" negates nothing
    text = re.sub(r"\ba/b\b", "ab", text)
    text = text.replace("&", " and ").replace("%", " percent ")
    return text


def is_number(token: str) -> bool:
    """True for numbers in digits or words ("150", "1.5", "ten", "million")."""
    return token[0].isdigit() or token in _NUMBER_WORDS


@dataclass(frozen=True)
class Segment:
    """A sentence or a line of the text, with what makes it read as reasoning rather than a word list."""

    start: int
    """Character offset where the segment starts."""
    end: int
    """Character offset where it ends."""
    words: int
    """How many words it has."""
    function_words: int
    """How many of them are function words (the glue of real sentences)."""
    connectives: int
    """Reasoning markers: because, so, which, →, =, ... ."""
    numbers: int
    """Numbers (specific figures are a sign of substance)."""
    commas: int
    """Commas, slashes and semicolons: separators of a list."""

    @property
    def articulation(self) -> float:
        """From 0 (a bare list of terms) to 1 (a reasoned sentence or a note with reasons)."""
        if self.words == 0:
            return 0.0
        # Real sentences are held together by small words; notes by arrows, colons and numbers instead.
        glue = min(1.0, (self.function_words / self.words) / 0.2)
        structure = 0.6 * min(1.0, self.connectives / 1.0) + 0.4 * min(1.0, self.numbers / 1.0)
        value = max(glue, structure)
        items = self.commas + 1
        if items >= 4 and self.words / items < 3.0:
            value *= 0.3  # a comma-separated run of short items reads as a keyword list
        return min(1.0, value)


@dataclass
class AnalysedText:
    """A text turned into an index: the position of every meaningful stem, and its segments."""

    stems: list[str] = field(default_factory=list)
    segment_of: list[int] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    number_positions: list[int] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    words: int = 0

    @property
    def is_empty(self) -> bool:
        """True when the text has no meaningful words at all."""
        return not self.stems


def analyse(text: str) -> AnalysedText:
    """Index a text for phrase matching."""
    out = AnalysedText()
    norm = _normalise(text)
    pos = 0
    for seg_index, piece in enumerate(_split_segments(norm)):
        start, chunk = piece
        tokens = _TOKEN_RE.findall(chunk)
        function = connectives = numbers = 0
        for token in tokens:
            if token in FUNCTION_WORDS:
                function += 1
                if token in CONNECTIVES:
                    connectives += 1
                continue
            if token in CONNECTIVES:
                connectives += 1
            if token in _GLUE_WORDS:
                function += 1
            numeric = is_number(token)
            numbers += numeric
            key = NUMBER if numeric and token[0].isdigit() else stem(token)
            out.stems.append(key)
            out.segment_of.append(seg_index)
            out.positions.setdefault(key, []).append(pos)
            if numeric:
                out.number_positions.append(pos)
            # Digits are indexed both as "#" and literally, so "top 20" and "top #" both match "top 20".
            if key == NUMBER:
                out.positions.setdefault(token.replace(",", ""), []).append(pos)
            pos += 1
        connectives += sum(chunk.count(symbol) for symbol in _SYMBOL_MARKERS)
        commas = chunk.count(",") + chunk.count("/") + chunk.count(";") + chunk.count("|")
        out.segments.append(Segment(start, start + len(chunk), len(tokens), function, connectives, numbers, commas))
        out.words += len(tokens)
    return out


def _unwrap(text: str) -> str:
    """Join lines of hard-wrapped prose, so a phrase broken across a line end still reads as one sentence.

    Short lines, list items and lines that end a sentence keep their break: in notes each line is a thought.
    The text keeps its length, so character offsets stay valid.
    """
    lines = text.split("\n")
    for i in range(len(lines) - 1):
        line, following = lines[i].rstrip(), lines[i + 1]
        if (
            len(line) >= _WRAPPED_LINE
            and not line.endswith((".", "!", "?", ";", ":"))
            and following.strip()
            and not _LIST_ITEM_RE.match(following)
        ):
            lines[i] = lines[i] + "\r"
    return "\n".join(lines).replace("\r\n", "  ")


def _split_segments(text: str) -> Iterable[tuple[int, str]]:
    text = _unwrap(text)
    start = 0
    for match in _SEGMENT_RE.finditer(text):
        if match.start() > start:
            yield start, text[start : match.start()]
        start = match.end()
    if start < len(text):
        yield start, text[start:]


@dataclass(frozen=True)
class Phrase:
    """A compiled phrasing: its meaningful stems (``#`` for any number)."""

    text: str
    terms: tuple[str, ...]

    @property
    def window(self) -> int:
        """How far apart (in meaningful words) the terms may be."""
        return len(self.terms) + 2


@lru_cache(maxsize=16384)
def compile_phrase(text: str) -> Phrase:
    """Compile a phrasing from content into the stems it needs."""
    norm = _normalise(text)
    raw = [NUMBER if t == "#" else t for t in re.findall(r"#|" + _TOKEN_RE.pattern, norm)]
    meaningful = [t for t in raw if t not in FUNCTION_WORDS] or raw
    # "# billion impressions" should match "billions of impressions": a number word is a number already.
    meaningful = [
        t
        for i, t in enumerate(meaningful)
        if not (t == NUMBER and i + 1 < len(meaningful) and meaningful[i + 1] in _NUMBER_WORDS)
    ]
    terms = []
    for token in meaningful:
        if token == NUMBER:
            terms.append(NUMBER)
        elif token[0].isdigit():
            terms.append(token.replace(",", ""))
        else:
            terms.append(stem(token))
    return Phrase(text=text, terms=tuple(terms))


def _term_positions(text: AnalysedText, term: str) -> list[int]:
    if term == NUMBER:
        return text.number_positions
    return text.positions.get(term, [])


def find(phrase: Phrase, text: AnalysedText) -> list[int]:
    """Segment indices where the phrase occurs (all terms within its window, inside one segment)."""
    if not phrase.terms:
        return []
    lists = [_term_positions(text, term) for term in phrase.terms]
    if any(not positions for positions in lists):
        return []
    anchor_index = min(range(len(lists)), key=lambda i: len(lists[i]))
    window = phrase.window
    found: list[int] = []
    for anchor in lists[anchor_index]:
        segment = text.segment_of[anchor]
        if found and found[-1] == segment:
            continue
        ok = True
        for i, positions in enumerate(lists):
            if i == anchor_index:
                continue
            j = bisect_left(positions, anchor - window)
            hit = False
            while j < len(positions) and positions[j] <= anchor + window:
                q = positions[j]
                if text.segment_of[q] == segment and (q != anchor or phrase.terms[i] == phrase.terms[anchor_index]):
                    hit = True
                    break
                j += 1
            if not hit:
                ok = False
                break
        if ok:
            found.append(segment)
    return found


def negated(text: AnalysedText, segment: int, phrase: Phrase) -> bool:
    """True when a negation ("not", "avoid", "instead of"...) appears in the segment just before the phrase."""
    first_term = phrase.terms[0]
    for pos in _term_positions(text, first_term):
        if text.segment_of[pos] != segment:
            continue
        lo = pos - 4
        for q in range(max(lo, 0), pos):
            if text.segment_of[q] == segment and text.stems[q] in _NEGATION_STEMS:
                return True
    return False


_NEGATION_STEMS = frozenset(stem(w) for w in NEGATIONS | {"misleading", "misleads", "wrong", "bad", "poor"})


def matches_any(phrasings: Iterable[str], text: AnalysedText) -> bool:
    """True when any of the phrasings occurs in the text."""
    return any(find(compile_phrase(p), text) for p in phrasings)
