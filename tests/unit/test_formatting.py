"""Slack mrkdwn → ADF / Jira wiki markup / plain text (bot.jira.formatting)."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

import pytest
from jsonschema import Draft4Validator

from bot.jira.formatting import (
    JIRA_DESCRIPTION_LIMIT,
    TRUNCATION_NOTE,
    Document,
    Link,
    Paragraph,
    SlackMentions,
    Styled,
    Text,
    UserMention,
    adf_paragraph_link,
    adf_text_length,
    append_adf,
    mentioned_user_ids,
    mrkdwn_to_adf,
    mrkdwn_to_plain,
    mrkdwn_to_wiki,
    parse_mrkdwn,
    summary_from_text,
    to_adf,
    truncate_for_slack_input,
    utf16_len,
    wiki_link,
)
from tests.specs import load_spec, require_spec

ADF_SCHEMA = "adf-full.schema.json"
MENTIONS = SlackMentions(
    users={"U1": "Alice Smith", "U2": "Bob"},
    channels={"C1": "general"},
    usergroups={"S1": "oncall"},
)


@lru_cache(maxsize=1)
def _validator() -> Draft4Validator | None:
    schema = load_spec(ADF_SCHEMA)
    return None if schema is None else Draft4Validator(schema)


def assert_valid_adf(doc: dict[str, Any]) -> None:
    """Validates against the ADF schema where it is present (always under CI)."""
    validator = _validator()
    if validator is None:
        return
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0].message


def adf(text: str, mentions: SlackMentions | None = MENTIONS, **kwargs: Any) -> dict[str, Any]:
    result = mrkdwn_to_adf(text, mentions, **kwargs)
    assert_valid_adf(result)
    return result


def content(text: str, mentions: SlackMentions | None = MENTIONS) -> list[dict[str, Any]]:
    return adf(text, mentions)["content"]


def para(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(nodes)}


def text(value: str, *marks: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    mark_list: list[dict[str, Any]] = [{"type": mark} for mark in marks]
    if href is not None:
        mark_list.append({"type": "link", "attrs": {"href": href}})
    if mark_list:
        node["marks"] = mark_list
    return node


def wiki(value: str, mentions: SlackMentions | None = MENTIONS) -> str:
    return mrkdwn_to_wiki(value, mentions)


HARD_BREAK = {"type": "hardBreak"}


# --- the tree -----------------------------------------------------------------------------------------


def test_parse_builds_a_typed_tree() -> None:
    assert parse_mrkdwn("*a* <@U1> <https://x.io|x>") == Document(
        (
            Paragraph(
                (
                    Styled("strong", (Text("a"),)),
                    Text(" "),
                    UserMention("U1"),
                    Text(" "),
                    Link("https://x.io", "x"),
                )
            ),
        )
    )


def test_to_adf_renders_a_parsed_document() -> None:
    assert to_adf(parse_mrkdwn("hi")) == {"type": "doc", "version": 1, "content": [para(text("hi"))]}


# --- empty and plain ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\n\n \t\n"])
def test_empty_text_gives_an_empty_document(value: str) -> None:
    assert adf(value) == {"type": "doc", "version": 1, "content": []}
    assert wiki(value) == ""
    assert mrkdwn_to_plain(value) == ""


def test_paragraphs_and_line_breaks() -> None:
    assert content("one\ntwo\n\nthree") == [
        para(text("one"), HARD_BREAK, text("two")),
        para(text("three")),
    ]
    assert wiki("one\ntwo\n\nthree") == "one\ntwo\n\nthree"
    assert mrkdwn_to_plain("one\ntwo\n\n\n\nthree") == "one\ntwo\n\nthree"


def test_windows_line_endings() -> None:
    assert content("a\r\nb") == [para(text("a"), HARD_BREAK, text("b"))]


# --- text styles --------------------------------------------------------------------------------------


def test_bold() -> None:
    assert adf("*hi*") == {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "hi", "marks": [{"type": "strong"}]}]}
        ],
    }
    assert wiki("*hi*") == "*hi*"


def test_italic() -> None:
    assert content("so _very_ nice") == [para(text("so "), text("very", "em"), text(" nice"))]
    assert wiki("so _very_ nice") == "so _very_ nice"


def test_strike() -> None:
    assert content("~gone~") == [para(text("gone", "strike"))]
    assert wiki("~gone~") == "-gone-"


def test_inline_code_is_not_formatted_inside() -> None:
    assert content("run `make *all* _now_`") == [para(text("run "), text("make *all* _now_", "code"))]
    assert wiki("run `make *all* _now_`") == r"run {{make \*all\* \_now\_}}"


def test_nested_styles() -> None:
    assert content("*_both_* and ~*all*~") == [
        para(text("both", "strong", "em"), text(" and "), text("all", "strike", "strong"))
    ]
    assert wiki("*_both_* and ~*all*~") == "*_both_* and -*all*-"


def test_style_around_part_of_the_text() -> None:
    assert content("*bold _and italic_ end*") == [
        para(text("bold ", "strong"), text("and italic", "strong", "em"), text(" end", "strong"))
    ]


def test_code_inside_bold_keeps_only_the_code_mark() -> None:
    # ADF forbids code beside strong/em/strike: the code mark wins.
    assert content("*see `x` here*") == [
        para(text("see ", "strong"), text("x", "code"), text(" here", "strong"))
    ]
    assert wiki("*see `x` here*") == "*see {{x}} here*"


@pytest.mark.parametrize(
    "value",
    [
        "snake_case_name",
        "2*3*4",
        "a*b*c",
        "*bold*text",
        "a * not bold*",
        "*not bold *",
        "**",
        "~/path/to ~/other",
        "_ _",
    ],
)
def test_markers_only_count_at_word_boundaries(value: str) -> None:
    assert content(value) == [para(text(value))]


def test_markers_next_to_punctuation_count() -> None:
    assert content('(*yes*), "_ok_".') == [
        para(text("("), text("yes", "strong"), text('), "'), text("ok", "em"), text('".'))
    ]


def test_unclosed_marker_stays_text() -> None:
    assert content("*half") == [para(text("*half"))]
    assert wiki("*half") == r"\*half"


def test_doubled_markers() -> None:
    assert content("**x**") == [para(text("*"), text("x", "strong"), text("*"))]


def test_formatting_does_not_span_lines() -> None:
    assert content("*a\nb*") == [para(text("*a"), HARD_BREAK, text("b*"))]


# --- code blocks --------------------------------------------------------------------------------------


def test_code_block() -> None:
    value = "```\ndef f():\n    return *x*\n```"
    assert content(value) == [{"type": "codeBlock", "content": [text("def f():\n    return *x*")]}]
    assert wiki(value) == "{noformat}\ndef f():\n    return *x*\n{noformat}"


def test_code_block_starting_mid_line() -> None:
    value = "look: ```a = 1\nb = 2``` done"
    assert content(value) == [
        para(text("look:")),
        {"type": "codeBlock", "content": [text("a = 1\nb = 2")]},
        para(text("done")),
    ]
    assert wiki(value) == "look:\n\n{noformat}\na = 1\nb = 2\n{noformat}\n\ndone"


def test_code_block_decodes_escapes_and_resolves_tokens() -> None:
    value = "```if a &lt; b &amp;&amp; <@U1> then <https://x.io|site>```"
    assert content(value) == [{"type": "codeBlock", "content": [text("if a < b && @Alice Smith then site")]}]


def test_code_block_holding_noformat_uses_code_macro() -> None:
    assert wiki("```{noformat}```") == "{code}\n{noformat}\n{code}"


def test_text_after_a_closing_fence_is_no_quote_or_list() -> None:
    assert content("```a``` &gt; b\n```c``` - d") == [
        {"type": "codeBlock", "content": [text("a")]},
        para(text("> b")),
        {"type": "codeBlock", "content": [text("c")]},
        para(text("- d")),
    ]


def test_unclosed_fence_is_text() -> None:
    assert content("a ``` b") == [para(text("a ``` b"))]


def test_empty_fence_is_dropped() -> None:
    assert content("a\n``````\nb") == [para(text("a")), para(text("b"))]


# --- quotes -------------------------------------------------------------------------------------------


def test_block_quote_escaped_as_slack_sends_it() -> None:
    value = "&gt; first\n&gt; *second*\nafter"
    assert content(value) == [
        {"type": "blockquote", "content": [para(text("first"), HARD_BREAK, text("second", "strong"))]},
        para(text("after")),
    ]
    assert wiki(value) == "{quote}\nfirst\n*second*\n{quote}\n\nafter"
    assert mrkdwn_to_plain(value) == "> first\n> second\n\nafter"


def test_block_quote_with_raw_marker() -> None:
    assert content("> quoted") == [{"type": "blockquote", "content": [para(text("quoted"))]}]


def test_quote_rest_of_message() -> None:
    value = "&gt;&gt;&gt; one\n\ntwo\n• three"
    assert content(value) == [
        {
            "type": "blockquote",
            "content": [
                para(text("one")),
                para(text("two")),
                {"type": "bulletList", "content": [_item("three")]},
            ],
        }
    ]
    assert wiki(value) == "{quote}\none\n\ntwo\n\n* three\n{quote}"


def test_quote_holding_a_code_block() -> None:
    value = "&gt; ```x = 1\n&gt; y = 2```"
    assert content(value) == [
        {"type": "blockquote", "content": [{"type": "codeBlock", "content": [text("x = 1\ny = 2")]}]}
    ]


def test_quote_marker_inside_a_quote_is_text() -> None:
    assert content("&gt; &gt; deeper") == [{"type": "blockquote", "content": [para(text("> deeper"))]}]


def test_empty_quote_lines_separate_paragraphs_and_an_empty_quote_vanishes() -> None:
    assert content("&gt; a\n&gt;\n&gt; b") == [
        {"type": "blockquote", "content": [para(text("a")), para(text("b"))]}
    ]
    assert content("&gt;") == []


def test_escaped_gt_not_at_line_start_is_text() -> None:
    assert content("a &gt; b") == [para(text("a > b"))]


# --- lists --------------------------------------------------------------------------------------------


def _item(value: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": [para(text(value)), *children]}


@pytest.mark.parametrize("bullet", ["•", "-", "*"])
def test_bullet_list(bullet: str) -> None:
    value = f"{bullet} one\n{bullet} *two*"
    assert content(value) == [
        {
            "type": "bulletList",
            "content": [_item("one"), {"type": "listItem", "content": [para(text("two", "strong"))]}],
        }
    ]
    assert wiki(value) == "* one\n* *two*"
    assert mrkdwn_to_plain(value) == "• one\n• two"


def test_ordered_list_keeps_its_start() -> None:
    assert content("1. one\n2. two") == [{"type": "orderedList", "content": [_item("one"), _item("two")]}]
    assert content("3. three\n4. four") == [
        {"type": "orderedList", "attrs": {"order": 3}, "content": [_item("three"), _item("four")]}
    ]
    assert wiki("1. one\n2. two") == "# one\n# two"
    assert mrkdwn_to_plain("3. three\n4. four") == "3. three\n4. four"


def test_nested_list() -> None:
    value = "• a\n    ◦ b\n        ▪ c\n• d"
    nested_c = {"type": "bulletList", "content": [_item("c")]}
    nested_b = {"type": "bulletList", "content": [_item("b", nested_c)]}
    assert content(value) == [{"type": "bulletList", "content": [_item("a", nested_b), _item("d")]}]
    assert wiki(value) == "* a\n** b\n*** c\n* d"


def test_ordered_inside_bullets() -> None:
    value = "- a\n    1. b"
    assert content(value) == [
        {"type": "bulletList", "content": [_item("a", {"type": "orderedList", "content": [_item("b")]})]}
    ]
    assert wiki(value) == "* a\n*# b"


def test_list_between_paragraphs() -> None:
    assert content("intro\n- a\n- b\noutro") == [
        para(text("intro")),
        {"type": "bulletList", "content": [_item("a"), _item("b")]},
        para(text("outro")),
    ]
    assert wiki("intro\n- a\n- b\noutro") == "intro\n\n* a\n* b\n\noutro"


def test_bold_at_line_start_is_not_a_list() -> None:
    assert content("*bold* text") == [para(text("bold", "strong"), text(" text"))]


def test_dash_without_space_is_not_a_list() -> None:
    assert content("-5 degrees") == [para(text("-5 degrees"))]
    assert wiki("-5 degrees") == r"\-5 degrees"


# --- links --------------------------------------------------------------------------------------------


def test_link_with_label() -> None:
    assert content("see <https://example.com/a?b=1&amp;c=2|the docs>") == [
        para(text("see "), text("the docs", href="https://example.com/a?b=1&c=2"))
    ]
    assert (
        wiki("see <https://example.com/a?b=1&amp;c=2|the docs>")
        == "see [the docs|https://example.com/a?b=1&c=2]"
    )
    assert mrkdwn_to_plain("<https://example.com|docs>") == "docs (https://example.com)"


def test_link_without_label() -> None:
    assert content("<https://example.com>") == [para(text("https://example.com", href="https://example.com"))]
    assert wiki("<https://example.com>") == "[https://example.com]"
    assert mrkdwn_to_plain("<https://example.com>") == "https://example.com"


def test_mailto_link() -> None:
    assert content("<mailto:a@b.io|a@b.io>") == [para(text("a@b.io", href="mailto:a@b.io"))]
    assert content("<mailto:a@b.io>") == [para(text("a@b.io", href="mailto:a@b.io"))]
    assert wiki("<mailto:a@b.io|a@b.io>") == "[a@b.io|mailto:a@b.io]"


def test_bare_url_is_linked_without_trailing_punctuation() -> None:
    assert content("go to https://example.com/a_b_c. (or https://x.io/p_(q))") == [
        para(
            text("go to "),
            text("https://example.com/a_b_c", href="https://example.com/a_b_c"),
            text(". (or "),
            text("https://x.io/p_(q)", href="https://x.io/p_(q)"),
            text(")"),
        )
    ]
    assert wiki("go to https://example.com/a_b_c.") == "go to [https://example.com/a_b_c]."


def test_link_inside_bold() -> None:
    assert content("*<https://x.io|site>*") == [para(text("site", "strong", href="https://x.io"))]
    assert wiki("*<https://x.io|site>*") == "*[site|https://x.io]*"


def test_link_label_and_url_escaped_in_wiki() -> None:
    # Slack splits at the first "|" (a "|" in the URL itself arrives percent-encoded).
    assert wiki("<https://x.io/a%7Cb|a [b] | c>") == r"[a \[b\] \| c|https://x.io/a%7Cb]"
    assert wiki("<https://x.io/a b{c}|x>") == "[x|https://x.io/a%20b%7Bc%7D]"


def test_unsafe_scheme_is_text() -> None:
    assert content("<javascript:alert(1)|click>") == [para(text("click"))]


def test_angle_text_that_is_no_token_stays() -> None:
    assert content("<not a link>") == [para(text("<not a link>"))]


# --- mentions and specials ---------------------------------------------------------------------------


def test_user_mentions_resolved_by_the_caller() -> None:
    assert content("hi <@U1>, <@U2|bobby> and <@U9|carol> and <@U8>") == [
        para(text("hi @Alice Smith, @Bob and @carol and @U8"))
    ]
    assert wiki("hi <@U1>") == "hi @Alice Smith"


def test_mentions_without_names() -> None:
    assert content("<@U1> <@U2|bob>", None) == [para(text("@U1 @bob"))]


def test_mention_keeps_surrounding_marks() -> None:
    assert content("*ping <@U1>*") == [para(text("ping @Alice Smith", "strong"))]


def test_channel_mentions() -> None:
    assert content("<#C1> <#C2|random> <#C3>") == [para(text("#general #random #C3"))]


def test_special_mentions() -> None:
    assert content("<!here> <!channel> <!everyone> <!here|@here>") == [
        para(text("@here @channel @everyone @here"))
    ]
    assert content("<!subteam^S1|@ops> <!subteam^S2|@devs> <!subteam^S3>") == [
        para(text("@oncall @devs @S3"))
    ]


def test_date_token_shows_its_fallback() -> None:
    assert content("due <!date^1392734382^{date_short}|Feb 18, 2014>") == [para(text("due Feb 18, 2014"))]
    assert content("<!date^1392734382^{date}>") == [para(text("2014-02-18 14:39 UTC"))]


def test_mentioned_user_ids() -> None:
    assert mentioned_user_ids("<@U1> <@W2|x> <#C1> &lt;@U3&gt; `<@U4>`") == {"U1", "W2", "U4"}
    assert mentioned_user_ids("") == set()


def test_mention_inside_inline_code_is_resolved_as_text() -> None:
    assert content("`<@U1>`") == [para(text("@Alice Smith", "code"))]


# --- emoji --------------------------------------------------------------------------------------------


def _emoji(short: str, char: str) -> dict[str, Any]:
    return {"type": "emoji", "attrs": {"shortName": short, "text": char}}


def test_emoji_shortcodes() -> None:
    assert content("ship it :rocket: :+1::skin-tone-2: :thumbsup:") == [
        para(
            text("ship it "),
            _emoji(":rocket:", "🚀"),
            text(" "),
            _emoji(":+1::skin-tone-2:", "👍🏻"),
            text(" "),
            _emoji(":thumbsup:", "👍"),
        )
    ]
    assert wiki("ship it :rocket: :+1::skin-tone-2:") == "ship it 🚀 👍🏻"
    assert mrkdwn_to_plain(":white_check_mark: done") == "✅ done"


def test_unknown_emoji_stays_text() -> None:
    assert content(":party_parrot: 10:30:45 :smile:") == [
        para(text(":party_parrot: 10:30:45 "), _emoji(":smile:", "😄"))
    ]


def test_emoji_in_bold_is_a_node_without_marks() -> None:
    assert content("*go :fire:*") == [para(text("go ", "strong"), _emoji(":fire:", "🔥"))]


def test_emoji_names_with_underscores_are_not_italic() -> None:
    assert content("_:white_check_mark:_") == [para(_emoji(":white_check_mark:", "✅"))]


def test_emoji_inside_code_stays_text() -> None:
    assert content("`:smile:`") == [para(text(":smile:", "code"))]


# --- escapes ------------------------------------------------------------------------------------------


def test_slack_escapes_are_decoded_once() -> None:
    assert content("a &amp; b &lt;c&gt; &amp;lt;") == [para(text("a & b <c> &lt;"))]
    assert wiki("a &amp; b &lt;c&gt;") == "a & b <c>"


def test_escaped_token_is_not_a_mention() -> None:
    assert content("&lt;@U1&gt;") == [para(text("<@U1>"))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{code} and {color}", r"\{code\} and \{color\}"),
        ("[not a link] a|b", r"\[not a link\] a\|b"),
        ("!image.png! wow!", r"\!image.png! wow!"),
        ("(i) (x) (/) :) ;)", r"\(i) \(x) \(/) :\) ;\)"),
        ("snake_case_name 2*3*4 well-known", "snake_case_name 2*3*4 well-known"),
        ("a -- b", r"a \-\- b"),
        ("x ^sup^ y +u+", r"x \^sup\^ y \+u\+"),
        ("what?? yes", r"what\?\? yes"),
        ("&copy; stays", "&amp;copy; stays"),
        ("C:\\dir\\*", "C:\\dir&#92;\\*"),
        ("# not a list", "&#35; not a list"),
        ("h1. not a heading", "h1&#46; not a heading"),
        ("bq. not a quote", "bq&#46; not a quote"),
        ("----", r"\-\-\-\-"),
    ],
)
def test_wiki_escapes_what_would_format(value: str, expected: str) -> None:
    assert wiki(value) == expected


def test_wiki_escapes_line_starts_after_a_break() -> None:
    assert wiki("a\n# b\nh2. c") == "a\n&#35; b\nh2&#46; c"


def test_wiki_list_item_starting_with_a_dash() -> None:
    assert wiki("• - a") == r"* \- a"


def test_wiki_inline_code_escapes_closing_braces() -> None:
    assert wiki("`a}}b`") == r"{{a\}\}b}}"


# --- helpers for callers ------------------------------------------------------------------------------


def test_append_a_permalink_paragraph() -> None:
    doc = adf("*bug* report")
    link = adf_paragraph_link("Created from a Slack message: ", "https://slack.example/archives/C1/p1")
    combined = append_adf(doc, [link])
    assert_valid_adf(combined)
    assert combined["content"][-1] == para(
        text("Created from a Slack message: "),
        text("https://slack.example/archives/C1/p1", href="https://slack.example/archives/C1/p1"),
    )
    assert len(doc["content"]) == 1  # the input is not changed
    assert adf_paragraph_link("", "https://x.io", "here") == para(text("here", href="https://x.io"))


def test_wiki_link() -> None:
    assert wiki_link("Slack message", "https://x.io/p|1") == "[Slack message|https://x.io/p%7C1]"
    assert wiki_link(None, "https://x.io") == "[https://x.io]"


# --- a long, mixed message ----------------------------------------------------------------------------


def _long_message(size: int = 6000, seed: int = 7) -> str:
    pieces = [
        "*bold words* ",
        "_italic_ ",
        "<@U1> ",
        "<@U2|bob> ",
        "<#C1> ",
        "<https://example.com/path_with_underscores|a link> ",
        "https://bare.example.org/x?y=1&amp;z=2 ",
        "`inline code` ",
        ":tada: ",
        ":thumbsup::skin-tone-4: ",
        "plain text &amp; more ",
        "\n",
        "\n\n",
        "\n• bullet item ",
        "\n&gt; quoted line ",
        "\n```block\ncode```\n",
        "~struck~ ",
        "{braces} [brackets] ",
    ]
    rng = random.Random(seed)
    message = ""
    while len(message) < size:
        message += rng.choice(pieces)
    return message[:size]


def test_long_mixed_message_loses_nothing() -> None:
    message = _long_message()
    assert len(message) == 6000
    doc = adf(message)
    wiki_text = wiki(message)
    plain = mrkdwn_to_plain(message, MENTIONS)

    def count(target: str, needle: str) -> int:
        return target.count(needle)

    for needle in ("@Alice Smith", "@Bob", "#general", "a link", "inline code", "🎉", "bullet item"):
        assert count(plain, needle) == count(wiki_text, needle) > 0, needle
    wiki_link_text = "[a link|https://example.com/path_with_underscores]"
    assert count(wiki_text, wiki_link_text) == count(message, "|a link>")
    assert count(wiki_text, "{{inline code}}") == count(message, "`inline code`")
    assert "<@" not in plain and "&amp;" not in plain and ":tada:" not in plain
    assert count(wiki_text, "{noformat}") == 2 * count(message, "```block")

    emoji_nodes = _collect(doc, "emoji")
    assert len(emoji_nodes) == count(message, ":tada:") + count(message, ":thumbsup::skin-tone-4:")
    code_blocks = _collect(doc, "codeBlock")
    assert len(code_blocks) == count(message, "```block")
    marks = [mark for node in _collect(doc, "text") for mark in node.get("marks", [])]
    links = [mark for mark in marks if mark["type"] == "link"]
    assert len(links) == count(message, "|a link>") + count(message, "https://bare")
    assert adf_text_length(doc) <= JIRA_DESCRIPTION_LIMIT


def _collect(node: Any, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == kind:
            found.append(node)
        for child in node.get("content", []):
            found.extend(_collect(child, kind))
    return found


# --- max_chars ----------------------------------------------------------------------------------------


def test_text_within_the_limit_is_not_touched() -> None:
    assert adf("*short*", max_chars=100) == adf("*short*")
    assert mrkdwn_to_wiki("*short*", max_chars=100) == "*short*"


@pytest.mark.parametrize("limit", [60, 120, 300, 1000])
def test_truncated_adf_stays_valid_and_fits(limit: int) -> None:
    doc = adf(_long_message(), max_chars=limit)
    assert adf_text_length(doc) <= limit
    assert doc["content"][-1] == para(text(TRUNCATION_NOTE))
    assert len(doc["content"]) > 1


@pytest.mark.parametrize("limit", [60, 120, 300, 1000])
def test_truncated_wiki_fits_and_closes_its_blocks(limit: int) -> None:
    result = mrkdwn_to_wiki(_long_message(), MENTIONS, max_chars=limit)
    assert utf16_len(result) <= limit
    assert result.endswith("\n\n" + TRUNCATION_NOTE)
    assert result.count("{noformat}") % 2 == 0
    assert result.count("{quote}") % 2 == 0


def test_truncation_inside_a_code_block_closes_it() -> None:
    value = "```" + "x" * 500 + "```"
    doc = adf(value, max_chars=100)
    assert doc["content"][0]["type"] == "codeBlock"
    assert adf_text_length(doc) <= 100
    result = mrkdwn_to_wiki(value, max_chars=100)
    assert result.startswith("{noformat}\nx") and "x\n{noformat}\n\n… (truncated" in result
    assert len(result) <= 100


def test_truncation_inside_bold_and_list() -> None:
    value = "*" + "word " * 50 + "end*\n• " + "item " * 40
    doc = adf(value, max_chars=80)
    first = doc["content"][0]["content"][0]
    assert first["marks"] == [{"type": "strong"}]
    assert adf_text_length(doc) <= 80


def test_truncation_never_splits_an_emoji_or_mention() -> None:
    value = "<@U1> " * 5 + ":+1::skin-tone-3:" * 20 + "👨‍👩‍👧" * 20
    full = mrkdwn_to_wiki(value, MENTIONS)
    bodies = set()
    for limit in range(40, 400, 3):
        result = mrkdwn_to_wiki(value, MENTIONS, max_chars=limit)
        assert utf16_len(result) <= limit
        body = result.removesuffix(TRUNCATION_NOTE).removesuffix("\n\n")
        bodies.add(body)
        assert full.startswith(body)
        assert body.count("@") == body.count("@Alice Smith")
        rest = full[len(body) :]
        assert not body.endswith("\u200d") and not rest.startswith(("\u200d", "\U0001f3fc"))
        doc = adf(value, max_chars=limit)
        assert adf_text_length(doc) <= limit
    assert len(bodies) > 20


def test_truncation_at_the_jira_limit() -> None:
    message = _long_message(size=60000, seed=3)
    # Not schema-checked here: validating a 32k-character document takes seconds of CPU, and the same
    # mix of markup is checked against the schema at 6,000 characters (test_long_mixed_message_…).
    doc = mrkdwn_to_adf(message, MENTIONS, max_chars=JIRA_DESCRIPTION_LIMIT)
    assert JIRA_DESCRIPTION_LIMIT - 2000 < adf_text_length(doc) <= JIRA_DESCRIPTION_LIMIT
    result = mrkdwn_to_wiki(message, MENTIONS, max_chars=JIRA_DESCRIPTION_LIMIT)
    assert JIRA_DESCRIPTION_LIMIT - 2000 < utf16_len(result) <= JIRA_DESCRIPTION_LIMIT


def test_limit_below_the_note_cuts_the_note() -> None:
    assert adf("a long enough text " * 5, max_chars=5) == {
        "type": "doc",
        "version": 1,
        "content": [para(text(TRUNCATION_NOTE[:5]))],
    }
    assert mrkdwn_to_wiki("a long enough text " * 5, max_chars=5) == TRUNCATION_NOTE[:5]
    assert adf("a long enough text", max_chars=0) == {"type": "doc", "version": 1, "content": []}


# --- plain text, summary, Slack inputs ----------------------------------------------------------------


def test_plain_text() -> None:
    value = "*Deploy* failed for <@U1> in <#C1> :fire:\n&gt; error: `exit 1`\n- retry <https://ci.io/1|build>"
    assert mrkdwn_to_plain(value, MENTIONS) == (
        "Deploy failed for @Alice Smith in #general 🔥\n\n> error: exit 1\n\n• retry build (https://ci.io/1)"
    )


def test_summary_is_the_first_non_empty_line() -> None:
    value = "\n\n  *Login*   is   _broken_ for <@U1> :fire:\nsecond line"
    assert summary_from_text(value, MENTIONS) == "Login is broken for @Alice Smith 🔥"


def test_summary_drops_quote_and_list_markers_and_link_urls() -> None:
    assert summary_from_text("&gt; see <https://x.io/long/path|the doc>") == "see the doc"
    assert summary_from_text("• first item\n• second") == "first item"
    assert summary_from_text("```\ncode first\n```") == "code first"


def test_summary_is_cut_at_a_word_boundary() -> None:
    value = "word " * 100
    summary = summary_from_text(value, limit=32)
    assert summary == "word word word word word word…"
    assert len(summary) <= 32
    assert len(summary_from_text(value)) <= 255


def test_summary_of_one_long_word() -> None:
    assert summary_from_text("x" * 300, limit=10) == "x" * 9 + "…"


def test_summary_counts_emoji_as_two_units() -> None:
    summary = summary_from_text("😀" * 300)
    assert utf16_len(summary) <= 255
    assert summary.endswith("…")
    assert set(summary[:-1]) == {"😀"}


def test_summary_of_nothing() -> None:
    assert summary_from_text("") == ""
    assert summary_from_text("  \n ") == ""


def test_slack_input_untouched_when_it_fits() -> None:
    assert truncate_for_slack_input("hello") == "hello"
    assert truncate_for_slack_input("x" * 3000) == "x" * 3000


def test_slack_input_cut_with_ellipsis() -> None:
    result = truncate_for_slack_input("x" * 3001)
    assert result == "x" * 2999 + "…"


@pytest.mark.parametrize(
    "unit",
    [
        "😀",  # a surrogate pair in UTF-16
        "e\u0301",  # combining accent
        "👍🏽",  # skin tone modifier
        "👨‍👩‍👧",  # ZWJ sequence
        "🇫🇷",  # a flag: two regional indicators
        "❤️",  # variation selector
    ],
)
def test_slack_input_never_splits_a_character(unit: str) -> None:
    value = "a" + unit * 2000
    for limit in (3000, 2999, 2998, 2997, 101, 100):
        result = truncate_for_slack_input(value, limit)
        assert utf16_len(result) <= limit
        assert result.endswith("…")
        body = result[:-1]
        assert body.startswith("a")
        assert body[1:] == unit * ((len(body) - 1) // len(unit)), (unit, limit)


# --- schema validation over many inputs -------------------------------------------------------------

SCHEMA_CASES = [
    "",
    "plain",
    "*bold* _italic_ ~strike~ `code`",
    "*`code in bold`*",
    "_*~all three~*_",
    "*<https://x.io|bold link>*",
    "`<https://x.io|code link>`",
    "<@U1> <@U404> <#C1> <!here> <!subteam^S1> <!date^1|x>",
    ":smile: :+1::skin-tone-6: :nope:",
    "a\nb\nc",
    "&gt; q1\n&gt;\n&gt; q2\n&gt; - li\n&gt; ```code```",
    "&gt;&gt;&gt; rest\n\n1. one\n    • two\n```three```",
    "• a\n    ◦ b\n        ▪ c\n            ▪ d",
    "1. a\n- b\n2. c",
    "```\n\n```",
    "``` ```",
    "```a``````b```",
    "*a\n*b*\n_",
    "<>",
    "< >",
    "<|>",
    "<@>",
    "<#>",
    "<!>",
    "<!date>",
    "<https://x.io|>",
    "&gt;",
    "&gt;&gt;&gt;",
    "- ",
    "• ",
    "1.",
    "* * *",
    "~~~",
    "___",
    "***",
    "`",
    "``",
    "```",
    "\u200d\ufe0f",
    "e\u0301 😀 🇫🇷",
]


@pytest.mark.parametrize("value", SCHEMA_CASES)
def test_adf_output_validates_against_the_schema(value: str) -> None:
    require_spec(ADF_SCHEMA)
    validator = _validator()
    assert validator is not None
    for limit in (None, 3, 12, 40):
        result = mrkdwn_to_adf(value, MENTIONS, max_chars=limit)
        errors = list(validator.iter_errors(result))
        assert not errors, (value, limit, errors[0].message)
        if limit is not None:
            assert adf_text_length(result) <= limit
        assert isinstance(mrkdwn_to_wiki(value, MENTIONS, max_chars=limit), str)


def test_fuzzed_markup_always_gives_valid_adf() -> None:
    require_spec(ADF_SCHEMA)
    validator = _validator()
    assert validator is not None
    pieces = [
        "*",
        "_",
        "~",
        "`",
        "```",
        ">",
        "&gt;",
        "&amp;",
        "&lt;",
        "\n",
        "\n\n",
        " ",
        "  ",
        "a",
        "word",
        "- ",
        "• ",
        "1. ",
        "    ",
        "<@U1>",
        "<@U9|x>",
        "<#C1>",
        "<!here>",
        "<https://x.io|l>",
        "https://y.io/a_b",
        ":smile:",
        ":+1:",
        ":skin-tone-2:",
        "<",
        ">",
        "|",
        "{",
        "[",
        "!",
        "#",
        "😀",
        "e\u0301",
        "\u200d",
        ":",
        "<!date^1^x|d>",
        "<mailto:a@b.c>",
    ]
    rng = random.Random(0)
    for _ in range(400):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        limit = rng.choice([None, None, 5, 20, 60])
        result = mrkdwn_to_adf(value, MENTIONS, max_chars=limit)
        errors = list(validator.iter_errors(result))
        assert not errors, (value, errors[0].message)
        if limit is not None:
            assert adf_text_length(result) <= limit
            assert utf16_len(mrkdwn_to_wiki(value, MENTIONS, max_chars=limit)) <= limit
        mrkdwn_to_plain(value, MENTIONS)
        assert "\n" not in summary_from_text(value, MENTIONS)
