#!/usr/bin/env python3
"""Open the built documentation site in headless Chromium and check that the catalogue renders.

The site is served on 127.0.0.1 from a thread, and Chromium may reach nothing else
(every other host name resolves to nothing), so the check also proves that the
pages need no network: mermaid, the fonts and the search are served with the site.

It opens a ruleset page and an output page of the catalogue and checks, in the DOM
after the scripts have run, that a rule's title is there as a heading, that its
source link is there, and that the exception tree was drawn by mermaid as an SVG;
and it searches for the rule's name with the site's own search.
It keeps a screenshot of both pages under artefacts/ (a build artefact, not in git).

Usage: scripts/browser_check.py [--build] [--site DIR] [--rules DIR] [--cases DIR] [--artefacts DIR]
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # only the local server can be reached: everything the pages need must be served with the site
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars", "--window-size=1280,1600",
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


def chromium(binary: str, url: str, *extra: str, wait: str = "--virtual-time-budget=15000") -> str:
    """Run headless Chromium on a page with a fresh profile; return what it prints on stdout."""
    with tempfile.TemporaryDirectory(prefix="pz-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", wait, *extra, url]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"Chromium did not finish within 180 s on {url}") from None
    if done.returncode != 0:
        raise CheckFailed(f"Chromium failed on {url} (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def pick_rule(rules: Path) -> tuple[str, str, str, str, str]:
    """A rule to look for: (ruleset page, output page, rule name, title, source url).

    Prefer a rule that is an exception to another (so the diagram has an exception
    in it), with a title and a source with a link.
    """
    sys.path.insert(0, str(ROOT / "src"))
    from passendezorg import load_rules

    program = load_rules(rules).program
    candidates = [r for r in program.rules.values() if r.title and any(s.url for s in r.sources)]
    if not candidates:
        raise CheckFailed(f"{rules}: no rule with a title and a source with a url to look for")
    candidates.sort(key=lambda r: (not r.exception_to, r.order))
    rule = candidates[0]
    url = next(s.url for s in rule.sources if s.url)
    assert url is not None and rule.title is not None
    ruleset_page = f"catalogus/regelsets/{rule.ruleset}/" if rule.ruleset else "catalogus/overige-regels/"
    kind = "uitvoer" if program.values[rule.target].is_output else "afgeleid"
    return ruleset_page, f"catalogus/{kind}/{rule.target}/", rule.name, rule.title, url


def check_ruleset_page(dom: str, name: str, title: str, url: str) -> list[str]:
    problems = []
    heading = re.search(rf'<h3 id="regel-{re.escape(name)}"[^>]*>(.*?)</h3>', dom, re.S)
    if heading is None:
        problems.append(f"no heading for rule {name} (id regel-{name})")
    elif html.escape(title, quote=False) not in heading.group(1) and title not in html.unescape(heading.group(1)):
        problems.append(f"the heading of rule {name} does not show its title {title!r}")
    if f'href="{html.escape(url)}"' not in dom and f'href="{url}"' not in dom:
        problems.append(f"no link to the source {url}")
    return problems


def check_output_page(dom: str, rule: str) -> list[str]:
    m = re.search(r'<div(?=[^>]*class="pz-diagram")(?=[^>]*data-processed="true")[^>]*>', dom)
    if m is None:
        return ["the exception tree was not drawn: no processed mermaid diagram in the page"]
    end = dom.find("</svg>", m.end())
    svg = dom[m.end():end]
    problems = []
    if end < 0 or "<svg" not in svg or 'aria-roledescription="flowchart' not in svg:
        problems.append("the mermaid diagram has no flowchart SVG")
    if rule not in svg:
        problems.append(f"the diagram does not show rule {rule}")
    if "uitzondering" not in svg:
        problems.append("the diagram shows no exception")
    return problems


def check_search(dom: str, name: str, ruleset_page: str) -> list[str]:
    meta = re.search(r'class="md-search-result__meta">([^<]*)<', dom)
    if meta is None or not re.match(r"[1-9]\d* matching document", meta.group(1)):
        return [f"the search for {name} found nothing ({meta.group(1) if meta else 'no search results shown'})"]
    if ruleset_page not in dom:
        return [f"the search for {name} does not lead to {ruleset_page}"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument("--build", action="store_true", help="build the site first with scripts/build_docs.sh")
    parser.add_argument("--rules", type=Path, default=Path(os.environ.get("PASSENDEZORG_RULES") or ROOT / "rules"))
    parser.add_argument("--cases", type=Path, default=Path(os.environ.get("PASSENDEZORG_CASES") or ROOT / "cases"))
    parser.add_argument("--artefacts", type=Path, default=ROOT / "artefacts", help="where to keep the screenshots")
    args = parser.parse_args()
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
        problems: list[str] = []
        with serve(args.site) as base:
            dom = chromium(binary, f"{base}/{ruleset_page}", "--dump-dom")
            problems += [f"{ruleset_page}: {p}" for p in check_ruleset_page(dom, name, title, url)]
            dom = chromium(binary, f"{base}/{output_page}", "--dump-dom")
            problems += [f"{output_page}: {p}" for p in check_output_page(dom, name)]
            # the search index is built in a web worker, in real time: give it longer on a slow machine
            for seconds in (10, 30, 60):
                dom = chromium(binary, f"{base}/?q={name}", "--dump-dom", wait=f"--timeout={seconds * 1000}")
                found = check_search(dom, name, ruleset_page)
                if not found or "Initializing search" not in dom:
                    break
            problems += [f"search: {p}" for p in found]
            shots = []
            for page, file in ((ruleset_page, "catalogue-ruleset.png"), (output_page, "catalogue-output.png")):
                shot = (args.artefacts / file).resolve()
                shot.unlink(missing_ok=True)
                chromium(binary, f"{base}/{page}#regel-{name}" if page == ruleset_page else f"{base}/{page}",
                         f"--screenshot={shot}")
                if not shot.exists() or shot.stat().st_size == 0:
                    problems.append(f"{page}: no screenshot was made")
                shots.append(shot)
    except (CheckFailed, subprocess.CalledProcessError) as e:
        print(f"browser check: {e}", file=sys.stderr)
        return 1
    if problems:
        print("browser check FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"browser check passed: rule {name} with its title and source link on {ruleset_page}, "
          f"the exception tree drawn on {output_page}, and the offline search finds the rule")
    for shot in shots:
        print(f"  screenshot: {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
