#!/usr/bin/env python3
"""Open the built documentation site in headless Chromium and check that the catalogue renders.

The site is served on 127.0.0.1 from a thread. Chromium is driven over the DevTools
protocol on a pipe (no extra Python package), and may reach nothing but that server:
every other host name resolves to nothing, and every request the pages make is
recorded, so the check also proves that the pages need no network (mermaid, the
fonts and the search are served with the site).

On a ruleset page of the catalogue it checks, in the live DOM after the scripts have
run, that a rule's title is there as a heading and that its source link is in the
rule's section, and that the rule's text is highlighted rule code (its keywords in
Pygments' keyword spans, coloured apart from plain code), as is the rule code of the
language reference in both keyword sets; on the page of the value the rule decides, that mermaid drew the
exception tree as an SVG flowchart showing the rule and an exception (and draws it
again when the reader switches to the dark palette); and that the
site's own search finds the rule. It fails on an uncaught script error. It keeps a
screenshot of the rule and of the diagram under artefacts/ (a build artefact, not in git).

Usage: scripts/browser_check.py [--build] [--site DIR] [--rules DIR] [--cases DIR] [--artefacts DIR]
Exit status: 0 all checks passed, 1 a check failed (each failure is printed).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
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
            time.sleep(0.2)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

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


def pick_rule(rules: Path) -> tuple[str, str, str, str, str]:
    """A rule to look for: (ruleset page, value page, rule name, title, source url).

    A rule that is an exception to another (so the diagram has an exception in it),
    with a title and a source with a link; of those, the one nearest the top of its page.
    """
    sys.path.insert(0, str(ROOT / "src"))
    from passendezorg import load_rules

    program = load_rules(rules).program
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


def check_site(binary: str, base: str, ruleset_page: str, output_page: str, name: str, title: str, url: str,
               artefacts: Path) -> tuple[list[str], list[Path]]:
    problems: list[str] = []
    shots: list[Path] = []
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

            # the exception tree, drawn by mermaid
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
                shots.append(_screenshot(browser, "document.querySelector('div.pz-diagram')", 150,
                                         artefacts / "catalogue-output.png"))
                # switched to the dark palette, the diagram is drawn again in its colours
                browser.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
                try:
                    browser.wait_for("document.querySelector('div.pz-diagram').dataset.theme === 'dark' && "
                                     "document.querySelector('div.pz-diagram[data-processed] svg') !== null",
                                     30, "the diagram was not drawn again in the dark palette")
                except CheckFailed as e:
                    problems.append(f"{output_page}: {e}")
            problems += [f"{output_page}: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())

            # the offline search (its index is built in a web worker, in real time)
            browser.open(f"{base}/?q={name}")
            try:
                found = browser.wait_for(SEARCH, 60, "the search index was not ready")
            except CheckFailed as e:
                problems.append(f"search: {e}")
            else:
                if not found["meta"][:1].isdigit() or found["meta"].startswith("0"):
                    problems.append(f"search: the search for {name} found nothing ({found['meta']})")
                elif not any(ruleset_page in link for link in found["links"]):
                    problems.append(f"search: the search for {name} does not lead to {ruleset_page}")
            problems += [f"search: script error: {e}" for e in browser.script_errors()]
            outside.update(browser.requests())
        finally:
            browser.close()
    for request in sorted(outside):
        if not request.startswith((base, "data:", "blob:", "about:")):
            problems.append(f"a page asked the network for {request}")
    return problems, shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument("--build", action="store_true", help="build the site first with scripts/build_docs.sh")
    parser.add_argument("--rules", type=Path, default=Path(os.environ.get("PASSENDEZORG_RULES") or ROOT / "rules"))
    parser.add_argument("--cases", type=Path, default=Path(os.environ.get("PASSENDEZORG_CASES") or ROOT / "cases"))
    parser.add_argument("--artefacts", type=Path, default=ROOT / "artefacts", help="where to keep the screenshots")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        binary = find_chromium()
        if args.build or not (args.site / "index.html").exists():
            subprocess.run([str(ROOT / "scripts" / "build_docs.sh"), "--rules", str(args.rules), "--cases",
                            str(args.cases), "--site", str(args.site.resolve())], check=True)
        ruleset_page, output_page, name, title, url = pick_rule(args.rules)
        for page in (ruleset_page, output_page):
            if not (args.site / page / "index.html").exists():
                raise CheckFailed(f"{args.site / page}: the page is not in the built site")
        args.artefacts.mkdir(parents=True, exist_ok=True)
        for old in ("catalogue-ruleset.png", "catalogue-rule-code.png", "language-code.png", "catalogue-output.png"):
            (args.artefacts / old).unlink(missing_ok=True)
        with serve(args.site) as base:
            problems, shots = check_site(binary, base, ruleset_page, output_page, name, title, url,
                                         args.artefacts.resolve())
    except (CheckFailed, subprocess.CalledProcessError) as e:
        print(f"browser check FAILED: {e}", file=sys.stderr)
        return 1
    if problems:
        print("browser check FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"browser check passed in {time.monotonic() - started:.1f} s: rule {name} with its title and source link "
          f"on {ruleset_page}, its rule code and that of the language reference highlighted, the exception tree "
          f"drawn by mermaid on {output_page}, the offline search finds the rule, no script errors, no request off "
          "the local server")
    for shot in shots:
        print(f"  screenshot: {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
