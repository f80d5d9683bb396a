#!/usr/bin/env python3
"""tests/vm/notebook-list.py: the notebook list of Jupyter's tree page, as text.

Reads the DOM headless Chromium dumped (stdin) and prints the page title and one line
per entry of Jupyter 6's file list (the span.item_name elements its scripts fill in
from /api/contents).  Exits 1 when the page has no list (the login page, an error)."""
import html.parser
import sys


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.title, self.items, self.where = "", [], None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "title":
            self.where = "title"
        elif tag == "span" and "item_name" in classes:
            self.where = "item"
            self.items.append("")

    def handle_endtag(self, tag):
        if tag in ("title", "span"):
            self.where = None

    def handle_data(self, data):
        if self.where == "title":
            self.title += data
        elif self.where == "item":
            self.items[-1] += data


page = Page()
page.feed(sys.stdin.read())
print("  page: " + page.title.strip())
items = [i.strip() for i in page.items if i.strip()]
for item in items:
    print("  - " + item)
sys.exit(0 if items else 1)
