"""A small DOM for report tests: parse a report page and look up elements, as a browser would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element"] = field(default_factory=list)
    text: str = ""  # all text inside, children's included

    def find_all(self, tag: str) -> list["Element"]:
        """Every descendant element with this tag, in document order."""
        found = []
        for child in self.children:
            if child.tag == tag:
                found.append(child)
            found.extend(child.find_all(tag))
        return found

    def by_id(self, ident: str) -> "Element | None":
        for element in [self, *self.find_all_elements()]:
            if element.attrs.get("id") == ident:
                return element
        return None

    def find_all_elements(self) -> list["Element"]:
        out = []
        for child in self.children:
            out.append(child)
            out.extend(child.find_all_elements())
        return out


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return
        raise AssertionError(f"</{tag}> closes nothing")

    def handle_data(self, data):
        for element in self.stack:
            element.text += data


def parse(document: str) -> Element:
    """The document tree; raises when an end tag closes nothing, or an element is left open."""
    builder = _Builder()
    builder.feed(document)
    builder.close()
    assert len(builder.stack) == 1, f"unclosed: {[e.tag for e in builder.stack[1:]]}"
    return builder.root
