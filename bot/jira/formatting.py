"""Slack message text (mrkdwn) to Jira descriptions: ADF for Jira Cloud, wiki markup for Data Center.

The text is parsed once into a small typed tree (:class:`Document`), then rendered by :func:`to_adf`,
:func:`to_wiki` or :func:`to_plain`. Parsing needs nothing from Slack; the names behind user and
channel mentions are looked up by the caller beforehand and handed to the renderers in
:class:`SlackMentions`.

What is understood, following Slack's formatting reference:

* paragraphs (separated by blank lines) and line breaks inside them;
* ``*bold*``, ``_italic_``, ``~strike~`` (markers only at word boundaries, so ``snake_case`` and
  ``2*3*4`` stay as they are), nested; ```` `code` ```` and ```` ```code blocks``` ````, inside which
  nothing is formatted;
* block quotes (``&gt;`` or ``>`` at the start of a line, ``&gt;&gt;&gt;`` for the rest of the text);
* lists: ``•``, ``◦``, ``▪``, ``- ``, ``* `` bullets and ``1.`` numbers, nested by indentation;
* ``<url|label>``, ``<url>``, ``<mailto:…>`` and bare ``https://`` URLs; ``<@U…>``, ``<#C…>``,
  ``<!here>``-style specials, ``<!subteam^…>`` and ``<!date^…|fallback>``;
* ``:emoji:`` shortcodes (with ``:skin-tone-N:``) known to :mod:`bot.jira.emoji`;
* Slack's escapes ``&amp;``, ``&lt;``, ``&gt;`` (decoded once).

Lengths (``max_chars``, ``limit``) are counted in UTF-16 code units, the unit of both Jira (Java) and
Slack (JavaScript): an emoji outside the Basic Multilingual Plane counts 2, so what fits here fits
there.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.jira.emoji import emoji_for_shortcode

#: Jira's limit on a text field (``description`` included).
JIRA_DESCRIPTION_LIMIT = 32767
#: Slack's largest ``max_length`` for a ``plain_text_input``.
SLACK_INPUT_LIMIT = 3000
#: What ends a description that had to be cut.
TRUNCATION_NOTE = "… (truncated, see the Slack message)"
ELLIPSIS = "…"

# URL schemes that become links; anything else is shown as text.
_LINK_SCHEMES = frozenset({"http", "https", "mailto", "ftp", "tel", "slack"})


# ---------------------------------------------------------------------------------------------------
# Mentions
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMentions:
    """Names for the IDs a message mentions, resolved by the caller (``users.info`` and the like).

    ``users`` maps a user ID to a display name, ``channels`` a channel ID to its name, ``usergroups``
    a user group ID to its handle (all without a leading ``@``/``#``; one is tolerated). An ID not
    found falls back to the label Slack sent in the token, then to the ID itself.
    ``user_links`` (user ID → profile URL) is accepted for callers that have it and not used.
    """

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, str] = field(default_factory=dict)
    user_links: Mapping[str, str] = field(default_factory=dict)


_NO_MENTIONS = SlackMentions()

_USER_TOKEN = re.compile(r"<@([A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL_TOKEN = re.compile(r"<#([A-Z0-9]+)(?:\|[^<>]*)?>")


def mentioned_user_ids(text: str) -> set[str]:
    """The user IDs of every ``<@U…>`` mention in ``text`` (to resolve before rendering)."""
    return set(_USER_TOKEN.findall(text or ""))


def mentioned_channel_ids(text: str) -> set[str]:
    """The channel IDs of every ``<#C…>`` mention in ``text`` that carries no name of its own."""
    return {match.group(1) for match in _CHANNEL_TOKEN.finditer(text or "") if "|" not in match.group(0)}


# ---------------------------------------------------------------------------------------------------
# The document tree
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Styled:
    """Bold, italic or strikethrough around other inlines; ``style`` is the ADF mark name."""

    style: str  # "strong" | "em" | "strike"
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class UserMention:
    user_id: str
    label: str | None = None


@dataclass(frozen=True)
class ChannelMention:
    channel_id: str
    label: str | None = None


@dataclass(frozen=True)
class GroupMention:
    group_id: str
    label: str | None = None


@dataclass(frozen=True)
class Special:
    """``@here``, ``@channel``, ``@everyone`` or a date's fallback: text fixed at parse time."""

    text: str


@dataclass(frozen=True)
class Link:
    url: str
    label: str | None = None


@dataclass(frozen=True)
class Emoji:
    shortcode: str  # as written, colons included: ":+1::skin-tone-2:"
    char: str


@dataclass(frozen=True)
class LineBreak:
    pass


# Text, mentions and link text inside code: nothing formatted, mentions still resolved.
CodePart = Text | UserMention | ChannelMention | GroupMention | Special


@dataclass(frozen=True)
class InlineCode:
    parts: tuple[CodePart, ...]


Inline = (
    Text
    | Styled
    | UserMention
    | ChannelMention
    | GroupMention
    | Special
    | Link
    | Emoji
    | LineBreak
    | InlineCode
)


@dataclass(frozen=True)
class Paragraph:
    inlines: tuple[Inline, ...]


@dataclass(frozen=True)
class CodeBlock:
    parts: tuple[CodePart, ...]


@dataclass(frozen=True)
class ListItem:
    inlines: tuple[Inline, ...]
    children: tuple[ListBlock, ...] = ()


@dataclass(frozen=True)
class ListBlock:
    ordered: bool
    items: tuple[ListItem, ...]
    start: int = 1


@dataclass(frozen=True)
class BlockQuote:
    blocks: tuple[Block, ...]  # paragraphs, lists and code blocks: never another quote


Block = Paragraph | CodeBlock | ListBlock | BlockQuote


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Parsing: blocks
# ---------------------------------------------------------------------------------------------------

_FENCE = "```"
_QUOTE_PREFIX = re.compile(r"(?:&gt;|>) ?")
_QUOTE_REST = re.compile(r"(?:&gt;|>){3} ?")
_LIST_LINE = re.compile(
    r"(?P<indent>[ \t]*)(?:(?P<bullet>[•◦▪▫‣⁃*-])|(?P<number>\d{1,3})[.)])[ \t]+(?P<body>\S.*)"
)


@dataclass(frozen=True)
class _Line:
    text: str
    continued: bool = False  # the rest of a closing fence's line: never a quote or list item


@dataclass(frozen=True)
class _Fenced:
    text: str
    quoted: bool = False


def parse_mrkdwn(text: str) -> Document:
    """Parse Slack message text into a :class:`Document` (never raises; unknown syntax stays text)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return Document()
    return Document(tuple(_blocks(_line_items(text), allow_quote=True)))


def _line_items(text: str) -> list[_Line | _Fenced]:
    """Split text into lines and fenced code, which may start and end in the middle of a line."""
    segments: list[tuple[bool, str]] = []  # (is_code, text)
    pos = 0
    while True:
        start = text.find(_FENCE, pos)
        end = text.find(_FENCE, start + len(_FENCE)) if start != -1 else -1
        if end == -1:
            segments.append((False, text[pos:]))
            break
        segments.append((False, text[pos:start]))
        segments.append((True, text[start + len(_FENCE) : end]))
        pos = end + len(_FENCE)

    items: list[_Line | _Fenced] = []
    for index, (is_code, chunk) in enumerate(segments):
        if is_code:
            continue
        lines = chunk.split("\n")
        # The last line starts a line unless this chunk directly follows a closing fence.
        last_at_line_start = len(lines) > 1 or index == 0
        before_code = index + 1 < len(segments)
        continued = index > 0
        if continued:
            # The rest of the closing fence's line: dropped when blank, else a line of its own.
            lines[0] = lines[0].lstrip(" \t")
            if not lines[0]:
                lines = lines[1:]
                continued = False
        quoted_code = False
        if before_code and lines:
            last = lines[-1]
            marker = _QUOTE_PREFIX.match(last) if last_at_line_start else None
            if marker and not last[marker.end() :].strip():
                quoted_code = True
                lines = lines[:-1]
            elif marker:
                quoted_code = True
                lines[-1] = last.rstrip()
            elif not last.strip():
                lines = lines[:-1]
            else:
                lines[-1] = last.rstrip()
        items.extend(_Line(line, continued and number == 0) for number, line in enumerate(lines))
        if before_code:
            code = segments[index + 1][1]
            if code.startswith("\n"):
                code = code[1:]
            if code.endswith("\n"):
                code = code[:-1]
            if quoted_code:
                code = "\n".join(_strip_quote(line) for line in code.split("\n"))
            items.append(_Fenced(code, quoted_code))
    return items


def _strip_quote(line: str) -> str:
    marker = _QUOTE_PREFIX.match(line)
    return line[marker.end() :] if marker else line


def _blocks(items: Sequence[_Line | _Fenced], *, allow_quote: bool) -> list[Block]:
    """Group line items into blocks: consecutive quoted items become one block quote."""
    marked: list[tuple[bool, _Line | _Fenced]] = []
    rest_quoted = False
    for item in items:
        if isinstance(item, _Fenced):
            marked.append((allow_quote and (item.quoted or rest_quoted), _Fenced(item.text)))
            continue
        line, quoted = item.text, rest_quoted
        if allow_quote and not rest_quoted and not item.continued:
            rest = _QUOTE_REST.match(line)
            if rest:
                rest_quoted = quoted = True
                line = line[rest.end() :]
            else:
                prefix = _QUOTE_PREFIX.match(line)
                if prefix:
                    quoted = True
                    line = line[prefix.end() :]
        marked.append((quoted, _Line(line, item.continued)))

    blocks: list[Block] = []
    index = 0
    while index < len(marked):
        quoted = marked[index][0]
        run_end = index
        while run_end < len(marked) and marked[run_end][0] == quoted:
            run_end += 1
        run = [item for _, item in marked[index:run_end]]
        if quoted:
            inner = _blocks(run, allow_quote=False)
            if inner:
                blocks.append(BlockQuote(tuple(inner)))
        else:
            blocks.extend(_plain_blocks(run))
        index = run_end
    return blocks


@dataclass
class _ListEntry:
    level: int
    ordered: bool
    number: int
    body: str


def _plain_blocks(items: Iterable[_Line | _Fenced]) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    entries: list[_ListEntry] = []

    def flush() -> None:
        if paragraph:
            inlines: list[Inline] = []
            for number, line in enumerate(paragraph):
                if number:
                    inlines.append(LineBreak())
                inlines.extend(parse_inline(line))
            blocks.append(Paragraph(tuple(inlines)))
            paragraph.clear()
        if entries:
            blocks.extend(_nest_lists(entries))
            entries.clear()

    for item in items:
        if isinstance(item, _Fenced):
            flush()
            if item.text:
                blocks.append(CodeBlock(_code_parts(item.text)))
            continue
        line = item.text
        if not line.strip():
            flush()
            continue
        match = None if item.continued else _LIST_LINE.fullmatch(line)
        if match:
            if paragraph:
                flush()
            indent = len(match.group("indent").expandtabs(4))
            bullet = match.group("bullet")
            level = (indent + 2) // 4 + (1 if bullet and bullet in "◦▫" and not indent else 0)
            number = int(match.group("number")) if bullet is None else 1
            entries.append(_ListEntry(level, bullet is None, number, match.group("body")))
        else:
            if entries:
                flush()
            paragraph.append(line)
    flush()
    return blocks


@dataclass
class _ListBuilder:
    ordered: bool
    start: int
    items: list[tuple[str, list[_ListBuilder]]] = field(default_factory=list)

    def build(self) -> ListBlock:
        return ListBlock(
            self.ordered,
            tuple(
                ListItem(tuple(parse_inline(body)), tuple(child.build() for child in children))
                for body, children in self.items
            ),
            self.start,
        )


def _nest_lists(entries: Sequence[_ListEntry]) -> list[ListBlock]:
    roots: list[_ListBuilder] = []
    stack: list[tuple[int, _ListBuilder]] = []
    for entry in entries:
        while stack and stack[-1][0] > entry.level:
            stack.pop()
        if stack and stack[-1][0] == entry.level and stack[-1][1].ordered != entry.ordered:
            stack.pop()
        if stack and stack[-1][0] == entry.level:
            current = stack[-1][1]
        else:
            current = _ListBuilder(entry.ordered, entry.number)
            (stack[-1][1].items[-1][1] if stack else roots).append(current)
            stack.append((entry.level, current))
        current.items.append((entry.body, []))
    return [root.build() for root in roots]


# ---------------------------------------------------------------------------------------------------
# Parsing: inline
# ---------------------------------------------------------------------------------------------------

_INLINE_TOKEN = re.compile(
    r"(?P<angle><(?P<angle_body>[^<>\n]+)>)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|(?P<url>(?<![A-Za-z0-9/])(?:https?|ftp)://(?:(?!&[lg]t;)[^\s<>`])+)"
    r"|(?P<emoji>:(?P<emoji_name>[a-zA-Z0-9_+'-]+):(?::(?P<tone>skin-tone-[2-6]):)?)"
    r"|(?P<entity>&(?:amp|lt|gt);)"
)
_CODE_TOKEN = re.compile(r"<(?P<angle_body>[^<>\n]+)>|(?P<entity>&(?:amp|lt|gt);)")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_TRAILING = ".,;:!?'\"*_~"
_MARKERS = {"*": "strong", "_": "em", "~": "strike"}

# A unit is one character of text or an inline already parsed (a token that formatting cannot split).
_Unit = str | Inline


def decode_entities(text: str) -> str:
    """Undo Slack's three escapes, once (``&amp;lt;`` becomes ``&lt;``)."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], text)


def parse_inline(line: str) -> list[Inline]:
    """Parse one line of mrkdwn (no newlines) into inlines."""
    units = _lex(line)
    closers = _closer_positions(units)
    return _span(units, 0, len(units), frozenset(), closers)


def _lex(line: str) -> list[_Unit]:
    units: list[_Unit] = []
    pos = 0
    while pos < len(line):
        match = _INLINE_TOKEN.search(line, pos)
        if match is None:
            units.extend(line[pos:])
            break
        units.extend(line[pos : match.start()])
        token: Inline | None = None
        end = match.end()
        if match.group("angle"):
            token = _angle_token(match.group("angle_body"))
        elif match.group("code"):
            token = InlineCode(_code_parts(match.group("code_body")))
        elif match.group("url"):
            url = _trim_url(match.group("url"))
            end = match.start() + len(url)
            token = Link(decode_entities(url))
        elif match.group("emoji"):
            token = _emoji(match)
        elif match.group("entity"):
            units.append(_ENTITIES[match.group(0)])
            pos = end
            continue
        if token is None:
            # Not a token after all (an unknown emoji, ``<foo>``): its first character is text, and
            # scanning resumes right after it (``:nope:smile:`` still finds ``:smile:``).
            units.append(line[match.start()])
            pos = match.start() + 1
            continue
        units.append(token)
        pos = end
    return units


def _trim_url(url: str) -> str:
    while url and url[-1] in _URL_TRAILING + ")":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _emoji(match: re.Match[str]) -> Emoji | None:
    name, tone = match.group("emoji_name"), match.group("tone")
    char = emoji_for_shortcode(name, tone)
    if char is None:
        return None
    if tone is None:
        return Emoji(f":{name}:", char)
    return Emoji(f":{name}::{tone}:", char)


def _angle_token(body: str) -> Inline | None:
    target, has_label, raw_label = body.partition("|")
    label = decode_entities(raw_label).strip() if has_label else None
    if target.startswith("@"):
        return UserMention(target[1:], _without_prefix(label, "@"))
    if target.startswith("#"):
        return ChannelMention(target[1:], _without_prefix(label, "#"))
    if target.startswith("!"):
        return _special(target[1:], label)
    url = decode_entities(target).strip()
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    if scheme.group(1).lower() not in _LINK_SCHEMES:
        return Text(label or url)
    return Link(url, label or None)


def _without_prefix(label: str | None, prefix: str) -> str | None:
    if label is None:
        return None
    label = label.removeprefix(prefix).strip()
    return label or None


def _special(command: str, label: str | None) -> Inline | None:
    name, _, argument = command.partition("^")
    if name in {"here", "channel", "everyone", "group"}:
        return Special(f"@{name}")
    if name == "subteam":
        return GroupMention(argument, _without_prefix(label, "@"))
    if name == "date":
        text = label or _date_fallback(argument)
        return Special(text) if text else None
    if label:
        return Special(label)
    return Special(f"@{name}") if name else None


def _date_fallback(argument: str) -> str:
    stamp = argument.split("^", 1)[0]
    try:
        moment = datetime.fromtimestamp(int(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _code_parts(raw: str) -> tuple[CodePart, ...]:
    """Code keeps its text as is; only Slack's tokens are resolved (a link shows its label or URL)."""
    parts: list[CodePart] = []
    buffer: list[str] = []
    pos = 0
    for match in _CODE_TOKEN.finditer(raw):
        buffer.append(raw[pos : match.start()])
        pos = match.end()
        if match.group("entity"):
            buffer.append(_ENTITIES[match.group("entity")])
            continue
        token = _angle_token(match.group("angle_body"))
        if isinstance(token, Link):
            buffer.append(token.label or _display_url(token.url))
        elif isinstance(token, (Text, UserMention, ChannelMention, GroupMention, Special)):
            if buffer:
                parts.append(Text("".join(buffer)))
                buffer.clear()
            parts.append(token)
        else:
            buffer.append(decode_entities(match.group(0)))
    buffer.append(raw[pos:])
    text = "".join(buffer)
    if text:
        parts.append(Text(text))
    return _merge_code_text(parts)


def _merge_code_text(parts: Sequence[CodePart]) -> tuple[CodePart, ...]:
    merged: list[CodePart] = []
    for part in parts:
        if isinstance(part, Text):
            if not part.text:
                continue
            if merged and isinstance(merged[-1], Text):
                merged[-1] = Text(merged[-1].text + part.text)
                continue
        merged.append(part)
    return tuple(merged)


def _is_space(unit: _Unit | None) -> bool:
    return isinstance(unit, str) and unit.isspace()


def _is_word(unit: _Unit | None) -> bool:
    return isinstance(unit, str) and unit.isalnum()


def _can_open(units: Sequence[_Unit], index: int) -> bool:
    marker = units[index]
    before = units[index - 1] if index else None
    after = units[index + 1] if index + 1 < len(units) else None
    return after is not None and not _is_space(after) and after != marker and not _is_word(before)


def _can_close(units: Sequence[_Unit], index: int) -> bool:
    marker = units[index]
    before = units[index - 1] if index else None
    after = units[index + 1] if index + 1 < len(units) else None
    return before is not None and not _is_space(before) and before != marker and not _is_word(after)


def _closer_positions(units: Sequence[_Unit]) -> dict[str, list[int]]:
    closers: dict[str, list[int]] = {marker: [] for marker in _MARKERS}
    for index, unit in enumerate(units):
        if isinstance(unit, str) and unit in _MARKERS and _can_close(units, index):
            closers[unit].append(index)
    return closers


def _span(
    units: Sequence[_Unit], start: int, end: int, active: frozenset[str], closers: dict[str, list[int]]
) -> list[Inline]:
    out: list[Inline] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            out.append(Text("".join(text)))
            text.clear()

    index = start
    while index < end:
        unit = units[index]
        if isinstance(unit, str):
            style = _MARKERS.get(unit)
            if style and style not in active and _can_open(units, index):
                positions = closers[unit]
                found = bisect_left(positions, index + 2)
                if found < len(positions) and positions[found] < end:
                    close = positions[found]
                    flush()
                    children = _span(units, index + 1, close, active | {style}, closers)
                    out.append(Styled(style, tuple(children)))
                    index = close + 1
                    continue
            text.append(unit)
        else:
            flush()
            out.append(unit)
        index += 1
    flush()
    return out


# ---------------------------------------------------------------------------------------------------
# Shared by the renderers
# ---------------------------------------------------------------------------------------------------


def _display_url(url: str) -> str:
    return url[len("mailto:") :] if url.lower().startswith("mailto:") else url


def _mention_text(node: CodePart, mentions: SlackMentions) -> str:
    """The text a mention, special or code text shows."""
    if isinstance(node, Text):
        return node.text
    if isinstance(node, Special):
        return node.text
    if isinstance(node, UserMention):
        name = mentions.users.get(node.user_id) or node.label or node.user_id
        return "@" + name.removeprefix("@")
    if isinstance(node, ChannelMention):
        name = mentions.channels.get(node.channel_id) or node.label or node.channel_id
        return "#" + name.removeprefix("#")
    name = mentions.usergroups.get(node.group_id) or node.label or node.group_id
    return "@" + name.removeprefix("@")


def _code_text(parts: Iterable[CodePart], mentions: SlackMentions) -> str:
    return "".join(_mention_text(part, mentions) for part in parts)


def _link_text(link: Link) -> str:
    return link.label or _display_url(link.url)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (Java's and JavaScript's string length)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _joins_previous(char: str) -> bool:
    """True for characters that belong to the grapheme before them (never cut in front of one)."""
    code = ord(char)
    return (
        unicodedata.category(char) in {"Mn", "Me", "Mc"}
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _cut(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 units that ends on a grapheme boundary."""
    if units <= 0:
        return ""
    used = 0
    end = 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > units:
            break
        used += size
        end += 1
    if end >= len(text):
        return text
    while end > 0 and (_joins_previous(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    # Regional indicators pair up into flags: never keep half of one.
    run = 0
    while end - run > 0 and 0x1F1E6 <= ord(text[end - run - 1]) <= 0x1F1FF:
        run += 1
    if run % 2 and end < len(text) and 0x1F1E6 <= ord(text[end]) <= 0x1F1FF:
        end -= 1
    return text[:end]


# ---------------------------------------------------------------------------------------------------
# ADF
# ---------------------------------------------------------------------------------------------------

_Mark = tuple[str, ...]  # ("strong",) or ("link", href)


def to_adf(doc: Document, mentions: SlackMentions | None = None) -> dict[str, Any]:
    """Render a document as an ADF ``doc`` node."""
    mentions = mentions or _NO_MENTIONS
    content = [node for block in doc.blocks if (node := _adf_block(block, mentions)) is not None]
    return {"type": "doc", "version": 1, "content": content}


def _adf_block(block: Block, mentions: SlackMentions) -> dict[str, Any] | None:
    if isinstance(block, Paragraph):
        content = _adf_inlines(block.inlines, mentions)
        return {"type": "paragraph", "content": content} if content else None
    if isinstance(block, CodeBlock):
        text = _code_text(block.parts, mentions)
        return {"type": "codeBlock", "content": [{"type": "text", "text": text}]} if text else None
    if isinstance(block, ListBlock):
        return _adf_list(block, mentions)
    content = [node for inner in block.blocks if (node := _adf_block(inner, mentions)) is not None]
    return {"type": "blockquote", "content": content} if content else None


def _adf_list(block: ListBlock, mentions: SlackMentions) -> dict[str, Any] | None:
    items = []
    for item in block.items:
        paragraph = {"type": "paragraph", "content": _adf_inlines(item.inlines, mentions)}
        content: list[dict[str, Any]] = [paragraph]
        nested = (_adf_list(child, mentions) for child in item.children)
        content.extend(node for node in nested if node is not None)
        items.append({"type": "listItem", "content": content})
    if not items:
        return None
    if not block.ordered:
        return {"type": "bulletList", "content": items}
    node: dict[str, Any] = {"type": "orderedList", "content": items}
    if block.start != 1:
        node["attrs"] = {"order": block.start}
    return node


def _adf_inlines(inlines: Iterable[Inline], mentions: SlackMentions) -> list[dict[str, Any]]:
    flat: list[tuple[str, Any, tuple[_Mark, ...]]] = []  # (kind, payload, marks)
    _adf_collect(inlines, (), mentions, flat)
    nodes: list[dict[str, Any]] = []
    previous_marks: tuple[_Mark, ...] | None = None
    for kind, payload, marks in flat:
        if kind == "text":
            if not payload:
                continue
            if nodes and previous_marks == marks and nodes[-1]["type"] == "text":
                nodes[-1]["text"] += payload
                continue
            node: dict[str, Any] = {"type": "text", "text": payload}
            if marks:
                node["marks"] = [_adf_mark(mark) for mark in marks]
            nodes.append(node)
            previous_marks = marks
        else:
            nodes.append(payload)
            previous_marks = None
    return nodes


def _adf_collect(
    inlines: Iterable[Inline],
    marks: tuple[_Mark, ...],
    mentions: SlackMentions,
    out: list[tuple[str, Any, tuple[_Mark, ...]]],
) -> None:
    for node in inlines:
        if isinstance(node, Styled):
            inner = marks if (node.style,) in marks else (*marks, (node.style,))
            _adf_collect(node.children, inner, mentions, out)
        elif isinstance(node, InlineCode):
            # ADF allows code only beside link (and annotation): the other marks are dropped.
            code_marks = (("code",), *(mark for mark in marks if mark[0] == "link"))
            out.append(("text", _code_text(node.parts, mentions), code_marks))
        elif isinstance(node, Link):
            out.append(("text", _link_text(node), (*marks, ("link", node.url))))
        elif isinstance(node, Emoji):
            attrs = {"shortName": node.shortcode, "text": node.char}
            out.append(("node", {"type": "emoji", "attrs": attrs}, ()))
        elif isinstance(node, LineBreak):
            out.append(("node", {"type": "hardBreak"}, ()))
        else:
            out.append(("text", _mention_text(node, mentions), marks))


def _adf_mark(mark: _Mark) -> dict[str, Any]:
    if mark[0] == "link":
        return {"type": "link", "attrs": {"href": mark[1]}}
    return {"type": mark[0]}


def adf_text_length(node: Any) -> int:
    """The text length of an ADF node in UTF-16 units: text, emoji text, and 1 per hard break."""
    if isinstance(node, list):
        return sum(adf_text_length(child) for child in node)
    if not isinstance(node, dict):
        return 0
    kind = node.get("type")
    if kind == "text":
        return utf16_len(node.get("text", ""))
    if kind == "hardBreak":
        return 1
    if kind == "emoji":
        attrs = node.get("attrs", {})
        return utf16_len(attrs.get("text") or attrs.get("shortName", ""))
    return adf_text_length(node.get("content", []))


def adf_paragraph(text: str) -> dict[str, Any]:
    """A plain ADF paragraph (no content when ``text`` is empty)."""
    return {"type": "paragraph", "content": [{"type": "text", "text": text}] if text else []}


def adf_paragraph_link(text: str, url: str, label: str | None = None) -> dict[str, Any]:
    """An ADF paragraph: ``text`` then a link to ``url`` shown as ``label`` (or the URL itself).

    ``adf_paragraph_link("Created from a Slack message: ", permalink)``.
    """
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append(
        {
            "type": "text",
            "text": label or _display_url(url) or url,
            "marks": [{"type": "link", "attrs": {"href": url}}],
        }
    )
    return {"type": "paragraph", "content": content}


def append_adf(doc: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of the ADF ``doc`` with block ``nodes`` appended (the input is not changed)."""
    return {**doc, "content": [*doc.get("content", []), *nodes]}


# ---------------------------------------------------------------------------------------------------
# Jira wiki markup
# ---------------------------------------------------------------------------------------------------

_WIKI_EFFECTS = frozenset("*_-+^~")
_WIKI_ALWAYS = frozenset("{}[]|")
# Characters Jira's renderer un-escapes after a backslash.
_WIKI_ESCAPABLE = frozenset("![]^~+?%{}()*_-|@")
_WIKI_EMOTICON = re.compile(r"\((?:y|n|i|/|x|!|\+|-|\?|on|off|\*[rgby]?|flag|flagoff)\)")
_WIKI_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
_WIKI_BLOCK_START = re.compile(r"(h[1-6]|bq)\.(?=\s)")
_WIKI_MARKS = {"strong": "*", "em": "_", "strike": "-"}


def wiki_escape(text: str, *, line_start: bool = False) -> str:
    """Escape ``text`` so Jira wiki markup shows it as is (nothing in it becomes formatting)."""
    out: list[str] = []
    size = len(text)
    for index, char in enumerate(text):
        before = text[index - 1] if index else None
        after = text[index + 1] if index + 1 < size else None
        if char in _WIKI_EFFECTS:
            # Escaped wherever it could open or close an effect; a neighbour outside this text is
            # unknown, so assumed to allow it.
            opens = (before is None or not before.isalnum()) and (after is None or not after.isspace())
            closes = (before is None or not before.isspace()) and (after is None or not after.isalnum())
            out.append("\\" + char if opens or closes else char)
        elif char in _WIKI_ALWAYS:
            out.append("\\" + char)
        elif char == "?" and "?" in (before, after):
            out.append("\\?")
        elif char == "!" and after is not None and not after.isspace():
            out.append("\\!")
        elif char == "(" and _WIKI_EMOTICON.match(text, index):
            out.append("\\(")
        elif char in "()" and before in (":", ";"):
            out.append("\\" + char)
        elif char == ":" and after in ("P", "D") and (index + 2 >= size or not text[index + 2].isalnum()):
            out.append("&#58;")
        elif char == "\\" and (after is None or after == "\\" or after in _WIKI_ESCAPABLE):
            out.append("&#92;")
        elif char == "&" and _WIKI_ENTITY.match(text, index):
            out.append("&amp;")
        else:
            out.append(char)
    escaped = "".join(out)
    if line_start:
        escaped = _wiki_escape_line_start(escaped)
    return escaped


def _wiki_escape_line_start(text: str) -> str:
    """Lines starting ``# ``, ``h1. `` or ``bq. `` would become lists, headings or quotes."""
    stripped = text.lstrip(" \t")
    indent = text[: len(text) - len(stripped)]
    if stripped[:1] in ("*", "-"):
        return indent + "\\" + stripped
    if stripped.startswith("#") and (len(stripped) == 1 or stripped[1] in " \t#*"):
        return indent + "&#35;" + stripped[1:]
    block = _WIKI_BLOCK_START.match(stripped)
    if block:
        return indent + block.group(1) + "&#46;" + stripped[block.end() :]
    return text


def _wiki_url(url: str) -> str:
    return "".join(f"%{ord(char):02X}" if char in "|[] {}" else char for char in url)


def wiki_link(label: str | None, url: str) -> str:
    """A wiki link: ``[label|url]``, or ``[url]`` without a label."""
    if not label or label == url:
        return f"[{_wiki_url(url)}]"
    return f"[{wiki_escape(label)}|{_wiki_url(url)}]"


def to_wiki(doc: Document, mentions: SlackMentions | None = None) -> str:
    """Render a document as Jira wiki markup (REST v2 ``description``)."""
    mentions = mentions or _NO_MENTIONS
    return "\n\n".join(text for block in doc.blocks if (text := _wiki_block(block, mentions)))


def _wiki_block(block: Block, mentions: SlackMentions) -> str:
    if isinstance(block, Paragraph):
        return _wiki_inlines(block.inlines, mentions)
    if isinstance(block, CodeBlock):
        text = _code_text(block.parts, mentions)
        if not text:
            return ""
        macro = "noformat" if "{noformat}" not in text else "code"
        return f"{{{macro}}}\n{text}\n{{{macro}}}"
    if isinstance(block, ListBlock):
        return "\n".join(_wiki_list(block, "", mentions))
    inner = "\n\n".join(text for child in block.blocks if (text := _wiki_block(child, mentions)))
    return f"{{quote}}\n{inner}\n{{quote}}" if inner else ""


def _wiki_list(block: ListBlock, prefix: str, mentions: SlackMentions) -> list[str]:
    marker = prefix + ("#" if block.ordered else "*")
    lines = []
    for item in block.items:
        lines.append(f"{marker} {_wiki_inlines(item.inlines, mentions)}".rstrip())
        for child in item.children:
            lines.extend(_wiki_list(child, marker, mentions))
    return lines


def _wiki_inlines(inlines: Iterable[Inline], mentions: SlackMentions, line_start: bool = True) -> str:
    out: list[str] = []
    for node in inlines:
        if isinstance(node, LineBreak):
            out.append("\n")
            line_start = True
            continue
        if isinstance(node, Styled):
            marker = _WIKI_MARKS[node.style]
            out.append(marker + _wiki_inlines(node.children, mentions, line_start=False) + marker)
        elif isinstance(node, InlineCode):
            out.append("{{" + wiki_escape(_code_text(node.parts, mentions)) + "}}")
        elif isinstance(node, Link):
            out.append(wiki_link(_wiki_link_label(node), node.url))
        elif isinstance(node, Emoji):
            out.append(node.char)
        else:
            out.append(wiki_escape(_mention_text(node, mentions), line_start=line_start))
        line_start = False
    return "".join(out)


def _wiki_link_label(link: Link) -> str | None:
    if link.label:
        return link.label
    return _display_url(link.url) if link.url.lower().startswith("mailto:") else None


# ---------------------------------------------------------------------------------------------------
# Plain text
# ---------------------------------------------------------------------------------------------------


def to_plain(doc: Document, mentions: SlackMentions | None = None, *, decorated: bool = True) -> str:
    """Render a document as readable plain text.

    ``decorated`` keeps list bullets, ``> `` before quoted lines and each link's URL after a label
    that differs from it; without it only the words are left (for a summary).
    """
    mentions = mentions or _NO_MENTIONS
    return "\n\n".join(text for block in doc.blocks if (text := _plain_block(block, mentions, decorated)))


def _plain_block(block: Block, mentions: SlackMentions, decorated: bool) -> str:
    if isinstance(block, Paragraph):
        return _plain_inlines(block.inlines, mentions, decorated)
    if isinstance(block, CodeBlock):
        return _code_text(block.parts, mentions)
    if isinstance(block, ListBlock):
        return "\n".join(_plain_list(block, 0, mentions, decorated))
    inner = "\n\n".join(text for child in block.blocks if (text := _plain_block(child, mentions, decorated)))
    if not decorated:
        return inner
    return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))


def _plain_list(block: ListBlock, depth: int, mentions: SlackMentions, decorated: bool) -> list[str]:
    lines = []
    for number, item in enumerate(block.items, start=block.start):
        text = _plain_inlines(item.inlines, mentions, decorated)
        if decorated:
            bullet = f"{number}." if block.ordered else "•◦▪"[depth % 3]
            text = f"{'    ' * depth}{bullet} {text}"
        lines.append(text)
        for child in item.children:
            lines.extend(_plain_list(child, depth + 1, mentions, decorated))
    return lines


def _plain_inlines(inlines: Iterable[Inline], mentions: SlackMentions, decorated: bool) -> str:
    out: list[str] = []
    for node in inlines:
        if isinstance(node, Styled):
            out.append(_plain_inlines(node.children, mentions, decorated))
        elif isinstance(node, InlineCode):
            out.append(_code_text(node.parts, mentions))
        elif isinstance(node, Link):
            label = _link_text(node)
            shown = _display_url(node.url)
            out.append(f"{label} ({shown})" if decorated and label != shown else label)
        elif isinstance(node, Emoji):
            out.append(node.char)
        elif isinstance(node, LineBreak):
            out.append("\n")
        else:
            out.append(_mention_text(node, mentions))
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Truncation
# ---------------------------------------------------------------------------------------------------


class _Budget:
    """Keeps a document's leading content up to a number of UTF-16 units of shown text."""

    def __init__(self, units: int, mentions: SlackMentions) -> None:
        self.left = units
        self.mentions = mentions

    @property
    def spent(self) -> bool:
        return self.left <= 0

    def take(self, text: str) -> str:
        kept = _cut(text, self.left)
        self.left = self.left - utf16_len(kept) if kept == text else 0
        return kept

    def atom(self, text: str) -> bool:
        size = utf16_len(text)
        if size > self.left:
            self.left = 0
            return False
        self.left -= size
        return True

    def document(self, doc: Document) -> Document:
        return Document(tuple(self.blocks(doc.blocks)))

    def blocks(self, blocks: Iterable[Block]) -> list[Block]:
        kept: list[Block] = []
        for block in blocks:
            if self.spent:
                break
            cut = self.block(block)
            if cut is not None:
                kept.append(cut)
        return kept

    def block(self, block: Block) -> Block | None:
        if isinstance(block, Paragraph):
            inlines = self.inlines(block.inlines)
            return Paragraph(inlines) if inlines else None
        if isinstance(block, CodeBlock):
            parts = self.code(block.parts)
            return CodeBlock(parts) if parts else None
        if isinstance(block, ListBlock):
            return self.list(block)
        inner = self.blocks(block.blocks)
        return BlockQuote(tuple(inner)) if inner else None

    def list(self, block: ListBlock) -> ListBlock | None:
        items: list[ListItem] = []
        for item in block.items:
            if self.spent:
                break
            inlines = self.inlines(item.inlines)
            if not inlines:
                break
            children = tuple(child for child in map(self.list, item.children) if child is not None)
            items.append(ListItem(inlines, children))
        return ListBlock(block.ordered, tuple(items), block.start) if items else None

    def inlines(self, inlines: Iterable[Inline]) -> tuple[Inline, ...]:
        kept: list[Inline] = []
        for node in inlines:
            if self.spent:
                break
            if isinstance(node, Text):
                text = self.take(node.text)
                if text:
                    kept.append(Text(text))
            elif isinstance(node, Styled):
                children = self.inlines(node.children)
                if children:
                    kept.append(Styled(node.style, children))
            elif isinstance(node, InlineCode):
                parts = self.code(node.parts)
                if parts:
                    kept.append(InlineCode(parts))
            elif isinstance(node, LineBreak):
                if self.atom("\n"):
                    kept.append(node)
            elif isinstance(node, Link):
                if self.atom(_link_text(node)):
                    kept.append(node)
            elif isinstance(node, Emoji):
                if self.atom(node.char):
                    kept.append(node)
            elif self.atom(_mention_text(node, self.mentions)):
                kept.append(node)
        while kept and isinstance(kept[-1], LineBreak):
            kept.pop()
        return tuple(kept)

    def code(self, parts: Iterable[CodePart]) -> tuple[CodePart, ...]:
        kept: list[CodePart] = []
        for part in parts:
            if self.spent:
                break
            if isinstance(part, Text):
                text = self.take(part.text)
                if text:
                    kept.append(Text(text))
            elif self.atom(_mention_text(part, self.mentions)):
                kept.append(part)
        return tuple(kept)


def _content_length(doc: Document, mentions: SlackMentions) -> int:
    return utf16_len(to_plain(doc, mentions, decorated=False))


def _fit(
    doc: Document,
    mentions: SlackMentions,
    max_chars: int,
    render: Callable[[Document, bool], Any],
    measure: Callable[[Any], int],
) -> Any:
    """The rendering of the longest leading part of ``doc`` that fits in ``max_chars`` with the note.

    ``render(doc, noted)`` renders, appending the truncation note when ``noted``.
    """
    full = render(doc, False)
    if measure(full) <= max_chars:
        return full
    best = render(Document(), True)
    if measure(best) > max_chars:
        return None  # not even the note fits: the caller cuts the note itself
    low, high = 0, min(_content_length(doc, mentions), max_chars)
    while low <= high:
        middle = (low + high) // 2
        candidate = render(_Budget(middle, mentions).document(doc), True)
        if measure(candidate) <= max_chars:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


# ---------------------------------------------------------------------------------------------------
# The entry points
# ---------------------------------------------------------------------------------------------------


def mrkdwn_to_adf(
    text: str, mentions: SlackMentions | None = None, *, max_chars: int | None = None
) -> dict[str, Any]:
    """Slack text → an ADF ``doc``; with ``max_chars``, its text (:func:`adf_text_length`) fits in it.

    A cut document ends with a paragraph holding :data:`TRUNCATION_NOTE`.
    """
    mentions = mentions or _NO_MENTIONS
    doc = parse_mrkdwn(text)
    if max_chars is None:
        return to_adf(doc, mentions)

    def render(document: Document, noted: bool) -> dict[str, Any]:
        adf = to_adf(document, mentions)
        return append_adf(adf, [adf_paragraph(TRUNCATION_NOTE)]) if noted else adf

    fitted = _fit(doc, mentions, max_chars, render, adf_text_length)
    if fitted is None:
        note = _cut(TRUNCATION_NOTE, max_chars)
        return {"type": "doc", "version": 1, "content": [adf_paragraph(note)] if note else []}
    return fitted


def mrkdwn_to_wiki(text: str, mentions: SlackMentions | None = None, *, max_chars: int | None = None) -> str:
    """Slack text → Jira wiki markup; with ``max_chars``, the result is at most that long.

    A cut text ends with a paragraph holding :data:`TRUNCATION_NOTE`.
    """
    mentions = mentions or _NO_MENTIONS
    doc = parse_mrkdwn(text)
    if max_chars is None:
        return to_wiki(doc, mentions)

    def render(document: Document, noted: bool) -> str:
        wiki = to_wiki(document, mentions)
        if not noted:
            return wiki
        return f"{wiki}\n\n{TRUNCATION_NOTE}" if wiki else TRUNCATION_NOTE

    fitted = _fit(doc, mentions, max_chars, render, utf16_len)
    return _cut(TRUNCATION_NOTE, max_chars) if fitted is None else fitted


def mrkdwn_to_plain(text: str, mentions: SlackMentions | None = None) -> str:
    """Slack text → readable plain text (formatting markers gone, mentions and emoji resolved)."""
    return to_plain(parse_mrkdwn(text), mentions)


_WHITESPACE = re.compile(r"\s+")


def summary_from_text(text: str, mentions: SlackMentions | None = None, limit: int = 255) -> str:
    """A one-line summary: the first non-empty line of the text's words, at most ``limit`` long.

    Whitespace is collapsed; a longer line is cut at a word boundary (or, for a very long word,
    inside it) and ends with "…".
    """
    plain = to_plain(parse_mrkdwn(text), mentions, decorated=False)
    line = next((found for raw in plain.split("\n") if (found := _WHITESPACE.sub(" ", raw).strip())), "")
    return _shorten(line, limit, at_word=True)


def truncate_for_slack_input(text: str, limit: int = SLACK_INPUT_LIMIT) -> str:
    """``text`` cut to fit a Slack ``plain_text_input`` of ``max_length`` ``limit``, ending with "…"."""
    return _shorten(text or "", limit, at_word=False)


def _shorten(text: str, limit: int, *, at_word: bool) -> str:
    if utf16_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    kept = _cut(text, limit - utf16_len(ELLIPSIS))
    if at_word:
        space = kept.rfind(" ")
        if space >= len(kept) // 2 and not text[len(kept)].isspace():
            kept = kept[:space]
    return kept.rstrip() + ELLIPSIS
