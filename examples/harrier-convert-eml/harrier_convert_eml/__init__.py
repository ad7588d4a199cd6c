"""Email messages (``.eml``: RFC 5322 with MIME) for harrier, on Python's own ``email``
package: the worked example of a converter package outside harrier
(docs/writing-a-converter.md). Each message becomes its header lines (who wrote to whom,
when, about what), then its text (the plain-text part, else the HTML part's text), then the
names of its attachments; its subject is its title."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import BinaryIO

from harrier.sources.convert import Conversion, Converter, Unconvertible

__all__ = ["CONVERTER", "convert_eml"]

CONVERTER = Converter(
    format="eml",
    name="harrier-convert-eml",  # the distribution: its version is part of each file's hash
    function="harrier_convert_eml:convert_eml",
    requires=(),  # the standard library only
    extensions=(".eml",),
)
"""What the ``harrier.converters`` entry point names."""

_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def convert_eml(stream: BinaryIO) -> Conversion:
    """One piece for the headers, one for the text, one naming the attachments."""
    message = BytesParser(policy=policy.default).parse(stream)
    assert isinstance(message, EmailMessage)
    if not message.keys():  # a MIME part without From or Subject is still a message
        raise Unconvertible("not an email: it starts with no header lines")
    headers = "\n".join(f"{name}: {message[name]}" for name in _HEADERS if message.get(name))
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if isinstance(body, EmailMessage):
        content = body.get_content()
        text = _html_text(content) if body.get_content_subtype() == "html" else content
    names = [name for part in message.iter_attachments() if (name := part.get_filename())]
    pieces = [headers, text.strip(), "Attachments: " + ", ".join(names) if names else ""]
    subject = message.get("Subject")
    return Conversion([piece for piece in pieces if piece], title=str(subject) if subject else None)


class _Text(HTMLParser):
    """The text of an HTML part, without its scripts and styles; blocks on lines of their own."""

    _HIDDEN = frozenset({"script", "style", "head", "title"})
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
