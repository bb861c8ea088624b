#!/usr/bin/env python3
"""Open the built documentation site in headless Chromium and check what a reader meets.

The site is served on 127.0.0.1 from a thread. Chromium is driven over the DevTools
protocol on a pipe (no extra Python package), and may reach nothing but that server:
every other host name resolves to nothing, and every request the pages make is
recorded, so the check also proves that the pages need no network (mermaid, the
fonts and the search are served with the site).

In the live DOM, after the scripts have run, it checks:

- on a ruleset page of the catalogue, that a rule's title is there as a heading, that its
  source link is in the rule's section, and that the rule's text is highlighted rule code
  (its keywords in Pygments' keyword spans, coloured apart from plain code), as is the rule
  code of the language reference in both keyword sets;
- on every page with an exception diagram, that mermaid drew it and that it fits its text:
  every box shows the whole text of its label in the diagram's source (nothing cut short),
  the text lies within its box, and it is drawn at a readable size; on the page of the
  value the rule decides, that the diagram shows the rule and an exception, and that it is
  drawn again when the reader switches to the dark palette;
- on every page of the site, that no table is wider than the column it stands in, and that
  the page declares its language: `nl` for the Dutch catalogue, `en` for the rest (of the
  hundreds of pages of example cases, which share one layout, the 15 with the longest table
  rows; --every-case opens them all);
- that the site's own search finds the rule (a Dutch page) and a word of an English page;
- on the example report of `passendezorg simulate` that the build generates
  (guide/simulation-example/report.html), that its charts are drawn (inline SVG with bars
  and lines, laid out at their size) and that the sample of changed claims shows both
  decisions side by side, the changed outputs marked on both sides with different values.

It fails on an uncaught script error. It keeps screenshots under artefacts/ (a build
artefact, not in git): the rule, its code, the language reference, and whole exception
diagrams of two output pages (the rule's, and the largest tree).

Usage: scripts/browser_check.py [--build] [--site DIR] [--rules DIR] [--cases DIR] [--artefacts DIR] [--every-case]
Exit status: 0 all checks passed, 1 a check failed (each failure is printed).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 1000
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
    # only the local server can be reached: everything the pages need must be served with the site
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-pipe",
]


MIN_DIAGRAM_TEXT_PX = 11.0
"""The smallest text a diagram may draw on the screen (the page's text is 16 px): a wide tree scaled down to fit
its column must stay readable."""

CASE_PAGES = 15
"""How many pages of example cases the check opens (those with the longest table rows); --every-case: all."""

SEARCH_ENGLISH = ("ClaimProcessor", "guide/insurers/")
"""A word of an English page, and the page the search must lead to."""


class CheckFailed(Exception):
    pass


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise CheckFailed("no Chromium found: install Debian's package (apt-get install -y chromium)")


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 on a free port, from a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, binary: str, profile: str) -> None:
        to_browser_r, self._out = os.pipe()
        self._in, from_browser_w = os.pipe()
        # the shell puts the pipes on fds 3 and 4 of Chromium, where --remote-debugging-pipe expects them
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(["/bin/sh", "-c", script, binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"], pass_fds=(to_browser_r, from_browser_w),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise CheckFailed("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise CheckFailed(f"Chromium stopped (exit {self.proc.wait()}):\n{err[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = True,
             timeout: float = 60) -> Any:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CheckFailed(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CheckFailed(f"script failed in the page: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", 60, f"{url} did not load")

    def wait_for(self, expression: str, seconds: float, failure: str) -> Any:
        """Poll a JavaScript expression until it is truthy; fail after ``seconds`` (real time)."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CheckFailed(f"{failure} (waited {seconds:.0f} s)")
            time.sleep(0.05)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def screenshot_of(self, element: str, path: Path, margin: int = 12) -> None:
        """A picture of the whole of an element (a JavaScript expression), also where it is taller than the window
        or scrolls sideways in its box (for the picture, the box lets it show)."""
        self.evaluate(f"(() => {{ const e = {element}; e.dataset.overflow = e.style.overflow; "
                      "e.style.overflow = 'visible'; })()")
        box = self.evaluate(f"""(() => {{ const e = {element}; const s = e.querySelector('svg');
            const a = e.getBoundingClientRect(), b = s ? s.getBoundingClientRect() : a;
            const left = Math.min(a.left, b.left);
            const r = {{left: left, top: a.top, width: Math.max(a.right, b.right) - left, height: a.height}};
            return {{x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height}}; }})()""")
        clip = {"x": max(0, box["x"] - margin), "y": max(0, box["y"] - margin), "width": box["width"] + 2 * margin,
                "height": box["height"] + 2 * margin, "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        self.evaluate(f"(() => {{ const e = {element}; e.style.overflow = e.dataset.overflow; }})()")

    def script_errors(self) -> list[str]:
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                d = e["params"]["exceptionDetails"]
                out.append((d.get("exception") or {}).get("description") or d.get("text", "an error"))
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout=10)
        except CheckFailed:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)


def load_program(rules: Path) -> Any:
    sys.path.insert(0, str(ROOT / "src"))
    from passendezorg import load_rules

    return load_rules(rules).program


def diagram_texts(program: Any) -> dict[str, list[str]]:
    """Per page of a value, the texts its exception diagram must show whole: each rule's name and title."""
    out = {}
    for v in program.values.values():
        if v.rules:
            kind = "uitvoer" if v.is_output else "afgeleid"
            out[f"catalogus/{kind}/{v.name}/"] = [" ".join(f"{r} {program.rules[r].title or ''}".split())
                                                 for r in v.rules]
    return out


def pick_rule(program: Any, rules: Path) -> tuple[str, str, str, str, str]:
    """A rule to look for: (ruleset page, value page, rule name, title, source url).

    A rule that is an exception to another (so the diagram has an exception in it),
    with a title and a source with a link; of those, the one nearest the top of its page.
    """
    candidates = [r for r in program.rules.values() if r.title and any(s.url for s in r.sources)]
    if not candidates:
        raise CheckFailed(f"{rules}: no rule with a title and a source with a url to look for")
    position = {}
    for r in program.rules.values():
        position[r.name] = sum(1 for o in program.rules.values() if o.ruleset == r.ruleset and o.order < r.order)
    candidates.sort(key=lambda r: (not r.exception_to, position[r.name], r.order))
    rule = candidates[0]
    url = next(s.url for s in rule.sources if s.url)
    assert url is not None and rule.title is not None
    ruleset_page = f"catalogus/regelsets/{rule.ruleset}/" if rule.ruleset else "catalogus/overige-regels/"
    kind = "uitvoer" if program.values[rule.target].is_output else "afgeleid"
    return ruleset_page, f"catalogus/{kind}/{rule.target}/", rule.name, rule.title, url


RULE_SECTION = """(() => {
  const h = document.getElementById(%(id)s);
  if (!h) return null;
  const links = [];
  for (let el = h.nextElementSibling; el && el.tagName !== 'H3' && el.tagName !== 'H2'; el = el.nextElementSibling) {
    el.querySelectorAll('a[href]').forEach(a => links.push(a.getAttribute('href')));
  }
  return {tag: h.tagName, title: h.textContent.replace('\u00b6', '').trim(), links: links};
})()"""

DIAGRAM = """(() => {
  const svg = document.querySelector('div.pz-diagram svg');
  if (!svg) return null;
  return {role: svg.getAttribute('aria-roledescription') || '', text: svg.textContent};
})()"""

# Rule code highlighted by the passendezorg Pygments lexer: keyword spans (.kd declarations, .k clauses) whose
# colour the theme sets apart from plain code. ``%(scope)s`` selects where to look; details are opened first.
HIGHLIGHT = """(() => {
  const scope = %(scope)s;
  if (!scope) return null;
  [scope, ...scope.querySelectorAll('details')].forEach(d => { if (d.tagName === 'DETAILS') d.open = true; });
  const blocks = Array.from(scope.querySelectorAll('.highlight code')).filter(c => c.querySelector('span.kd'));
  if (!blocks.length) return {blocks: 0};
  const keywords = {};
  for (const code of blocks) {
    const plain = getComputedStyle(code).color;
    for (const span of code.querySelectorAll('span.kd, span.k')) {
      const word = span.textContent.replace(/\\s+/g, ' ');
      if (!(word in keywords)) keywords[word] = {colour: getComputedStyle(span).color, plain: plain};
    }
  }
  return {blocks: blocks.length, keywords: keywords};
})()"""

RULE_CODE = """(() => {
  const h = document.getElementById(%(id)s);
  if (!h) return null;
  for (let el = h.nextElementSibling; el && el.tagName !== 'H3' && el.tagName !== 'H2'; el = el.nextElementSibling) {
    if (el.tagName === 'DETAILS') return el;
  }
  return null;
})()"""

# Every exception diagram on the page against its source: each box shows the whole text of its label (the
# label's text as written in the ```mermaid source, tags and mermaid's escapes undone), that text lies inside
# the box mermaid drew for it, and it is drawn at a readable size (its font size on the screen, in pixels).
DIAGRAM_FIT = r"""(() => {
  const norm = t => t.replace(/\s+/g, ' ').trim();
  const unescape = t => t.replace(/#quot;/g, '"').replace(/#lt;/g, '<').replace(/#gt;/g, '>')
                         .replace(/#35;/g, '#').replace(/#amp;/g, '&');
  const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  const px = r => `${Math.round(r.width)}×${Math.round(r.height)}`;
  const diagrams = [];
  document.querySelectorAll('div.pz-diagram').forEach((box, k) => {
    const d = {index: k, problems: [], labels: 0, smallest: null, texts: []};
    diagrams.push(d);
    const svg = box.querySelector('svg');
    if (!svg) { d.problems.push('mermaid drew nothing'); return; }
    const want = [];
    for (const line of (box.dataset.source || '').split('\n')) {
      const m = line.match(/^\s*\w+\s*(?:\(\[|\[|\()"(.*)"(?:\]\)|\]|\))\s*$/);
      if (m) want.push(norm(unescape(m[1].replace(/<br\s*\/?>/g, '\n').replace(/<[^>]+>/g, ''))));
      for (const e of line.matchAll(/\|([^|]+)\|/g)) want.push(norm(unescape(e[1])));
    }
    const got = [];
    const scale = svg.getBoundingClientRect().width / (svg.viewBox.baseVal.width || svg.getBoundingClientRect().width);
    if (svg.getBoundingClientRect().width > box.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
      d.problems.push(`the diagram (${Math.round(svg.getBoundingClientRect().width)} px) runs out of its column ` +
                      `(${box.clientWidth} px) and cannot be scrolled`);
    svg.querySelectorAll('g.node, g.edgeLabel').forEach(g => {
      const fo = g.querySelector('foreignObject');
      const label = fo && fo.querySelector('div');
      const text = norm(label ? label.innerText : g.textContent);
      if (!text) return;  // an edge without a label
      got.push(text);
      d.texts.push(text);
      d.labels += 1;
      const range = document.createRange();
      range.selectNodeContents(label || g);
      const t = range.getBoundingClientRect();
      const f = fo.getBoundingClientRect();
      const shape = g.classList.contains('node') ? g.querySelector('.label-container') : null;
      if (!inside(t, f)) d.problems.push(`the text “${text}” (${px(t)} px) does not fit the space for it (${px(f)} px)`);
      if (shape && !inside(t, shape.getBoundingClientRect()))
        d.problems.push(`the text “${text}” (${px(t)} px) runs out of its box (${px(shape.getBoundingClientRect())} px)`);
      if (label && (label.scrollWidth > label.clientWidth + 1 || label.scrollHeight > label.clientHeight + 1))
        d.problems.push(`the text “${text}” overflows its label`);
      const size = parseFloat(getComputedStyle(label || g).fontSize) * scale;
      if (d.smallest === null || size < d.smallest) d.smallest = size;
    });
    const missing = want.filter(w => !got.includes(w));
    const extra = got.filter(g => !want.includes(g));
    missing.forEach(w => d.problems.push(`the label “${w}” of the source is not shown whole` +
                                         (extra.length ? ` (shown: ${extra.map(e => '“' + e + '”').join(', ')})` : '')));
  });
  return diagrams;
})()"""

# Every table of the page (folded details opened) against the column it stands in: the table may not be wider
# than the article's text column, nor scroll sideways inside it.
TABLE_FIT = r"""(() => {
  document.querySelectorAll('article details').forEach(d => { d.open = true; });
  const article = document.querySelector('article.md-content__inner') || document.querySelector('article');
  if (!article) return [];
  const style = getComputedStyle(article);
  const column = article.getBoundingClientRect();
  const right = column.right - parseFloat(style.paddingRight);
  const width = column.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const out = [];
  article.querySelectorAll('table').forEach((table, k) => {
    const r = table.getBoundingClientRect();
    if (!r.width) return;
    const wrap = table.closest('.md-typeset__scrollwrap');
    const scrolls = table.scrollWidth > table.clientWidth + 1 || (wrap && wrap.scrollWidth > wrap.clientWidth + 1);
    if (r.right > right + 1 || scrolls) {
      const head = Array.from(table.querySelectorAll('th')).map(th => th.textContent.trim()).join(' | ');
      out.push({index: k, head: head, width: Math.round(Math.max(table.scrollWidth, r.width)), column: Math.round(width)});
    }
  });
  return out;
})()"""

REPORT = "guide/simulation-example/report.html"

REPORT_DOM = """(() => {
  const charts = Array.from(document.querySelectorAll('svg.pz-chart')).map(svg => {
    const r = svg.getBoundingClientRect();
    return {width: r.width, height: r.height, title: (svg.querySelector('title') || {}).textContent || '',
            marks: svg.querySelectorAll('rect.pz-bar, polyline.pz-line').length};
  });
  const samples = Array.from(document.querySelectorAll('section.pz-sample')).map(section => {
    const sides = Array.from(section.querySelectorAll('.pz-sides > .pz-side'));
    const boxes = sides.map(side => side.getBoundingClientRect());
    const changed = sides.map(side => Array.from(side.querySelectorAll('tr.pz-changed')).map(
      tr => [tr.querySelector('th').textContent.trim(), tr.querySelector('td').textContent.trim()]));
    return {id: section.id, sides: sides.length, changed: changed,
            apart: boxes.length === 2 && boxes[1].left >= boxes[0].right - 1 && Math.abs(boxes[1].top - boxes[0].top) < 2};
  });
  return {charts: charts, samples: samples};
})()"""

SEARCH = """(() => {
  const meta = document.querySelector('.md-search-result__meta');
  if (!meta || /Initializing/i.test(meta.textContent)) return null;
  return {meta: meta.textContent.trim(),
          links: Array.from(document.querySelectorAll('.md-search-result__link')).map(a => a.getAttribute('href'))};
})()"""


def _screenshot(browser: Browser, element: str, above: int, shot: Path) -> Path:
    """Scroll ``element`` (a JavaScript expression) into view, ``above`` pixels below the top bar, and keep a picture."""
    browser.evaluate(f"{element}.scrollIntoView(); window.scrollBy(0, -{above})")
    time.sleep(0.3)
    browser.screenshot(shot)
    return shot


def check_highlight(browser: Browser, page: str, scope: str, words: list[str]) -> list[str]:
    """Rule code in ``scope`` (a JavaScript expression) is highlighted: each of ``words`` is a coloured keyword."""
    found = browser.evaluate(HIGHLIGHT % {"scope": scope})
    if found is None:
        return [f"{page}: no rule code to look at"]
    if not found["blocks"]:
        return [f"{page}: the rule code is not highlighted (no keyword spans of the Pygments lexer)"]
    problems = []
    for word in words:
        seen = found["keywords"].get(word)
        if seen is None:
            problems.append(f"{page}: `{word}` is not highlighted as a keyword in the rule code "
                            f"(keywords seen: {', '.join(sorted(found['keywords']))})")
        elif seen["colour"] == seen["plain"]:
            problems.append(f"{page}: the keyword `{word}` has the colour of plain code ({seen['colour']})")
    return problems


def check_diagrams(browser: Browser, page: str, expected: list[str] | None = None) -> tuple[list[str], float | None]:
    """Every exception diagram of an open page fits its text, and shows the ``expected`` texts (of the rule
    book: each rule's name and title) whole; the smallest text size drawn, in pixels."""
    try:
        browser.wait_for("document.querySelectorAll('div.pz-diagram').length === "
                         "document.querySelectorAll('div.pz-diagram[data-ready] svg').length", 30,
                         "mermaid did not draw every diagram")
    except CheckFailed as e:
        return [f"{page}: {e}"], None
    problems: list[str] = []
    smallest: float | None = None
    diagrams = browser.evaluate(DIAGRAM_FIT)
    shown = {t for d in diagrams for t in d["texts"]}
    for want in expected or []:
        if want not in shown:
            problems.append(f"{page}: the diagram does not show the rule “{want}” whole")
    for d in diagrams:
        problems += [f"{page}: diagram {d['index'] + 1}: {p}" for p in d["problems"]]
        if d["labels"] == 0:
            problems.append(f"{page}: diagram {d['index'] + 1} shows no text")
        if d["smallest"] is not None:
            smallest = d["smallest"] if smallest is None else min(smallest, d["smallest"])
            if d["smallest"] < MIN_DIAGRAM_TEXT_PX:
                problems.append(f"{page}: diagram {d['index'] + 1} draws its text at {d['smallest']:.1f} px, "
                                f"smaller than {MIN_DIAGRAM_TEXT_PX} px")
    return problems, smallest


def check_page(browser: Browser, base: str, page: str, expected: list[str] | None = None) -> list[str]:
    """A page of the site: its language, its tables within their column, its diagrams, no script errors."""
    browser.open(f"{base}/{page}")
    problems = []
    lang = browser.evaluate("document.documentElement.lang")
    want = "nl" if page.startswith("catalogus/") else "en"
    if lang != want:
        problems.append(f"{page}: the page declares lang={lang!r}, not {want!r}")
    if browser.evaluate("document.querySelector('div.pz-diagram') !== null"):
        problems += check_diagrams(browser, page, expected)[0]
    for t in browser.evaluate(TABLE_FIT):
        problems.append(f"{page}: table {t['index'] + 1} ({t['head']}) is {t['width']} px wide, "
                        f"wider than its column ({t['column']} px)")
    problems += [f"{page}: script error: {e}" for e in browser.script_errors()]
    return problems


def self_check(browser: Browser, page: str) -> list[str]:
    """The fit checks can fail: a diagram's text made larger than mermaid measured it, and a table given a cell
    too wide for its column, are reported (and then put back)."""
    problems = []
    browser.evaluate("""(() => { const s = document.createElement('style'); s.id = 'pz-self-check';
        s.textContent = '.pz-diagram foreignObject span { font-size: 150% !important; }';
        document.head.appendChild(s); })()""")
    if not any(d["problems"] for d in browser.evaluate(DIAGRAM_FIT)):
        problems.append(f"{page}: the diagram check does not see text larger than its boxes")
    browser.evaluate("document.getElementById('pz-self-check').remove()")
    if any(d["problems"] for d in browser.evaluate(DIAGRAM_FIT)):
        problems.append(f"{page}: the diagram does not fit its text again after the check's own change")
    added = browser.evaluate("""(() => { const td = document.querySelector('article table td');
        if (!td) return false;
        const wide = document.createElement('span'); wide.id = 'pz-self-check';
        wide.style.cssText = 'display: inline-block; width: 3000px';
        td.appendChild(wide); return true; })()""")
    if added:
        if not browser.evaluate(TABLE_FIT):
            problems.append(f"{page}: the table check does not see a table wider than its column")
        browser.evaluate("document.getElementById('pz-self-check').remove()")
    return problems


def site_pages(site: Path, every_case: bool = False) -> list[str]:
    """The pages of the built site to check, as paths under its root (``catalogus/index.html`` is ``catalogus/``).

    Every page, but of the pages of the example cases (one template, a page per case, hundreds of them) only
    the CASE_PAGES with the longest table rows, where a table is most likely to run out of its column; with
    ``every_case``, all of them.
    """
    pages, cases = [], []
    for index in sorted(site.rglob("index.html")):
        rel = index.parent.relative_to(site).as_posix()
        if rel.split("/")[0] in ("assets", "search"):
            continue
        page = "" if rel == "." else rel + "/"
        if page.startswith("catalogus/casussen/") and page != "catalogus/casussen/":
            rows = re.findall(r"<tr>(.*?)</tr>", index.read_text(encoding="utf-8"), flags=re.S)
            cases.append((max((len(re.sub(r"<[^>]+>", "", r)) for r in rows), default=0), page))
        else:
            pages.append(page)
    cases.sort(reverse=True)
    return pages + sorted(page for _, page in (cases if every_case else cases[:CASE_PAGES]))


def largest_diagram_page(site: Path) -> str | None:
    """The catalogue page with the largest exception diagram (the most rules in its source)."""
    best: tuple[int, str] | None = None
    for kind in ("uitvoer", "afgeleid"):
        for index in sorted((site / "catalogus" / kind).glob("*/index.html")):
            text = index.read_text(encoding="utf-8")
            if 'class="pz-diagram"' in text:
                size = text.count("&lt;b&gt;") + text.count("<b>")
                page = f"catalogus/{kind}/{index.parent.name}/"
                if best is None or size > best[0]:
                    best = (size, page)
    return best[1] if best else None


def check_report(browser: Browser, base: str, artefacts: Path, shots: list[Path]) -> list[str]:
    """The simulation report: charts drawn with marks at their size, and changed claims explained side by side."""
    problems: list[str] = []
    browser.open(f"{base}/{REPORT}")
    found = browser.evaluate(REPORT_DOM)
    drawn = [c for c in found["charts"] if c["marks"] > 0 and c["width"] > 200 and c["height"] > 40]
    if len(drawn) < 3:
        problems.append(f"{REPORT}: {len(drawn)} chart(s) drawn with bars or lines (of {len(found['charts'])}); "
                        "expected the totals, the yearly eigen risico and a breakdown")
    if not found["samples"]:
        problems.append(f"{REPORT}: no changed claim explained side by side")
    for sample in found["samples"]:
        where = f"{REPORT}#{sample['id']}"
        if sample["sides"] != 2 or not sample["apart"]:
            problems.append(f"{where}: the two decisions are not side by side ({sample['sides']} side(s))")
            continue
        before, after = sample["changed"]
        if not before or [o for o, _v in before] != [o for o, _v in after]:
            problems.append(f"{where}: the changed outputs are not marked alike on both sides ({before} / {after})")
        elif all(b[1] == a[1] for b, a in zip(before, after)):
            problems.append(f"{where}: the outputs marked as changed show the same values on both sides")
    if drawn:
        shots.append(_screenshot(browser, "document.querySelector('svg.pz-chart')", 40,
                                 artefacts / "simulation-chart.png"))
    if found["samples"]:
        first = json.dumps(found["samples"][0]["id"])
        shots.append(_screenshot(browser, f"document.getElementById({first})", 16,
                                 artefacts / "simulation-sample.png"))
    return problems


def check_site(binary: str, base: str, site: Path, texts: dict[str, list[str]], ruleset_page: str, output_page: str,
               name: str, title: str, url: str, artefacts: Path, every_case: bool = False
               ) -> tuple[list[str], list[Path], dict[str, Any]]:
    problems: list[str] = []
    shots: list[Path] = []
    seen: dict[str, Any] = {}
    outside: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="pz-chromium-") as profile:
        browser = Browser(binary, profile)
        try:
            # a rule's title and its source link
            browser.open(f"{base}/{ruleset_page}")
            section = browser.evaluate(RULE_SECTION % {"id": json.dumps(f"regel-{name}")})
            if section is None:
                problems.append(f"{ruleset_page}: no heading for rule {name} (id regel-{name})")
            else:
                if section["title"] != title:
                    problems.append(f"{ruleset_page}: the heading of rule {name} reads {section['title']!r}, "
                                    f"not its title {title!r}")
                if url not in section["links"]:
                    problems.append(f"{ruleset_page}: the section of rule {name} has no link to its source {url}")
                heading = json.dumps(f"regel-{name}")
                shots.append(_screenshot(browser, f"document.getElementById({heading})", 72,
                                         artefacts / "catalogue-ruleset.png"))
                # the rule's text, in its (opened) details box, highlighted as Dutch rule code
                rule_code = RULE_CODE % {"id": heading}
                highlight = check_highlight(browser, ruleset_page, rule_code, ["regel", "als", "dan"])
                problems += highlight
                if not highlight:
                    shots.append(_screenshot(browser, rule_code, 72, artefacts / "catalogue-rule-code.png"))
            problems += [f"{ruleset_page}: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())

            # rule code in the language reference, in both keyword sets
            browser.open(f"{base}/language/")
            problems += check_highlight(browser, "language/", "document.querySelector('article')",
                                        ["rule", "when", "then", "regel", "als", "dan", "uitzondering op"])
            shots.append(_screenshot(browser, "document.querySelector('article .highlight')", 72,
                                     artefacts / "language-code.png"))
            problems += [f"language/: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())

            # the exception tree of the rule's value, drawn by mermaid, whole
            browser.open(f"{base}/{output_page}")
            try:
                diagram = browser.wait_for(DIAGRAM, 30, "mermaid drew no diagram")
            except CheckFailed as e:
                problems.append(f"{output_page}: {e}")
            else:
                if not diagram["role"].startswith("flowchart"):
                    problems.append(f"{output_page}: the diagram is not a flowchart ({diagram['role']!r})")
                if name not in diagram["text"]:
                    problems.append(f"{output_page}: the diagram does not show rule {name}")
                if "uitzondering" not in diagram["text"]:
                    problems.append(f"{output_page}: the diagram shows no exception")
                fit, smallest = check_diagrams(browser, output_page, texts.get(output_page))
                problems += fit
                seen["text_px"] = smallest
                problems += self_check(browser, output_page)
                shot = artefacts / "catalogue-output.png"
                browser.screenshot_of("document.querySelector('div.pz-diagram')", shot)
                shots.append(shot)
                # switched to the dark palette, the diagram is drawn again in its colours, and still fits
                browser.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
                try:
                    browser.wait_for("document.querySelector('div.pz-diagram').dataset.ready === 'dark' && "
                                     "document.querySelector('div.pz-diagram[data-processed] svg') !== null",
                                     30, "the diagram was not drawn again in the dark palette")
                except CheckFailed as e:
                    problems.append(f"{output_page}: {e}")
                else:
                    problems += [f"{p} (dark palette)" for p in check_diagrams(browser, output_page)[0]]
            problems += [f"{output_page}: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())

            # the largest exception tree, whole
            largest = largest_diagram_page(site)
            if largest is not None:
                browser.open(f"{base}/{largest}")
                fit, smallest = check_diagrams(browser, largest, texts.get(largest))
                problems += fit
                seen["largest"] = (largest, smallest)
                if not fit:
                    shot = artefacts / "catalogue-output-largest.png"
                    browser.screenshot_of("document.querySelector('div.pz-diagram')", shot)
                    shots.append(shot)

            # every page: its language, its tables, its diagrams
            pages = site_pages(site, every_case)
            for page in pages:
                problems += check_page(browser, base, page, texts.get(page))
                outside.update(browser.requests())
            seen["pages"] = len(pages)

            # the offline search finds a Dutch page of the catalogue and an English guide
            for query, target in ((name, ruleset_page), (SEARCH_ENGLISH[0], SEARCH_ENGLISH[1])):
                browser.open(f"{base}/?q={query}")
                try:
                    found = browser.wait_for(SEARCH, 60, "the search index was not ready")
                except CheckFailed as e:
                    problems.append(f"search: {e}")
                else:
                    if not found["meta"][:1].isdigit() or found["meta"].startswith("0"):
                        problems.append(f"search: the search for {query} found nothing ({found['meta']})")
                    elif not any(target in link for link in found["links"]):
                        problems.append(f"search: the search for {query} does not lead to {target}")
                problems += [f"search: script error: {e}" for e in browser.script_errors()]
                outside.update(browser.requests())

            # the example report of a simulation: its charts and its changed claims side by side
            problems += check_report(browser, base, artefacts, shots)
            problems += [f"{REPORT}: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())
        finally:
            browser.close()
    for request in sorted(outside):
        if not request.startswith((base, "data:", "blob:", "about:")):
            problems.append(f"a page asked the network for {request}")
    return problems, shots, seen


SCREENSHOTS = ("catalogue-ruleset.png", "catalogue-rule-code.png", "language-code.png", "catalogue-output.png",
               "catalogue-output-largest.png", "simulation-chart.png", "simulation-sample.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument("--build", action="store_true", help="build the site first with scripts/build_docs.sh")
    parser.add_argument("--rules", type=Path, default=Path(os.environ.get("PASSENDEZORG_RULES") or ROOT / "rules"))
    parser.add_argument("--cases", type=Path, default=Path(os.environ.get("PASSENDEZORG_CASES") or ROOT / "cases"))
    parser.add_argument("--artefacts", type=Path, default=ROOT / "artefacts", help="where to keep the screenshots")
    parser.add_argument("--every-case", action="store_true",
                        help=f"open the page of every example case, not only the {CASE_PAGES} with the longest rows")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        binary = find_chromium()
        if args.build or not (args.site / "index.html").exists():
            subprocess.run([str(ROOT / "scripts" / "build_docs.sh"), "--rules", str(args.rules), "--cases",
                            str(args.cases), "--site", str(args.site.resolve())], check=True)
        program = load_program(args.rules)
        ruleset_page, output_page, name, title, url = pick_rule(program, args.rules)
        for page in (ruleset_page, output_page):
            if not (args.site / page / "index.html").exists():
                raise CheckFailed(f"{args.site / page}: the page is not in the built site")
        if not (args.site / REPORT).exists():
            raise CheckFailed(f"{args.site / REPORT}: the example simulation report is not in the built site")
        args.artefacts.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS:
            (args.artefacts / old).unlink(missing_ok=True)
        with serve(args.site) as base:
            problems, shots, seen = check_site(binary, base, args.site, diagram_texts(program), ruleset_page,
                                               output_page, name, title, url, args.artefacts.resolve(), args.every_case)
    except (CheckFailed, subprocess.CalledProcessError) as e:
        print(f"browser check FAILED: {e}", file=sys.stderr)
        return 1
    if problems:
        print(f"browser check FAILED ({len(problems)} problem(s)):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    largest, largest_px = seen.get("largest", (None, None))
    print(f"browser check passed in {time.monotonic() - started:.1f} s: rule {name} with its title and source link "
          f"on {ruleset_page}, its rule code and that of the language reference highlighted; every exception "
          f"diagram drawn by mermaid with its whole text in its boxes (on {output_page} at {seen.get('text_px') or 0:.1f} "
          f"px, the largest, on {largest}, at {largest_px or 0:.1f} px); on all {seen.get('pages')} pages no table "
          "wider than its column and the page's language declared (nl for the catalogue); the offline search "
          "finds a Dutch and an English page; the example simulation report's charts and its changed claims "
          "side by side; no script errors, no request off the local server")
    for shot in shots:
        print(f"  screenshot: {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
