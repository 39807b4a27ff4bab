"""Accessibility, checked by a machine and by the keyboard (DESIGN.md §8).

axe-core (Deque's rules engine, run in the page by axe-playwright-python, which ships
axe-core's script: nothing is downloaded at run time) checks every page of app.py's
navigation after its script run ends, and the playground in the states a student meets: the
player (a components-v2 element in the main document, inside an open shadow root that axe
walks), its "your turn" quiz, the drawing canvas and the typed numbers. A serious or critical
violation fails the test; minor and moderate ones are listed in the output (pytest -rA).

The keyboard test tabs through the playground, the player and its quiz included: every
control that takes a click must take the focus by Tab (a radio group is one stop, the arrow
keys move inside it; a select box's "Open" button is reached through its text box) and must
show that it has it: an outline, a box shadow or a border that it does not show unfocused, on
itself or a wrapper one can see. A faint background tint alone does not count.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.test_offline import (
    VIEWPORT,
    app_pages,
    draw_stroke,
    is_own,
    open_page,
    settle,
    track_requests,
)

AXE = Axe()
FAILING_IMPACTS = ("serious", "critical")

# (rule, target) pairs left out on purpose, each with the reason: only violations in Streamlit's
# own chrome that no option, theme setting or CSS of ours can change. Empty: nothing is
# excluded today.
ACCEPTED: dict[tuple[str, str], str] = {}


@pytest.fixture
def screen(browser, app_url: str):
    """A page at the projector's 1280×720, offline like a classroom without internet (axe
    included: it must need nothing from outside), with its JavaScript errors in
    ``js_errors``."""
    context = browser.new_context(viewport=VIEWPORT)
    outside: list[str] = []
    context.on("request", lambda r: None if is_own(r.url, app_url) else outside.append(r.url))
    context.route(lambda url: not is_own(url, app_url), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    track_requests(page)
    page.app_url = app_url
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    yield page
    context.close()
    assert outside == [], f"requests outside the app's server: {outside}"


def target_text(node: dict) -> str:
    """axe's target: a selector, or a list of them through shadow roots (host, then inside)."""
    return " >> ".join(str(t) if isinstance(t, str) else " >>> ".join(t) for t in node["target"])


def violations(page, context: object = None) -> tuple[list[str], list[str]]:
    """Run axe on the page (or ``context``): (failing, other) violations, one line per element:
    rule (impact): target — what axe says to fix."""
    result = AXE.run(page, context=context, options={"resultTypes": ["violations"]})
    failing, other = [], []
    for rule in result.response["violations"]:
        for node in rule["nodes"]:
            target = target_text(node)
            if (rule["id"], target) in ACCEPTED:
                continue
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:300]
            html = node["html"][:160]
            line = f"{rule['id']} ({rule['impact']}): {target}\n    {html}\n    {summary}"
            (failing if rule["impact"] in FAILING_IMPACTS else other).append(line)
    return failing, other


def check(page, where: str) -> list[str]:
    """The serious and critical violations on the page now, each line headed by ``where``;
    the minor and moderate ones are printed."""
    failing, other = violations(page)
    if other:
        print(f"\n{where}: {len(other)} minor/moderate axe findings:\n" + "\n".join(other))
    assert page.js_errors == []
    return [f"{where}: {line}" for line in failing]


def no_failures(failing: list[str]) -> None:
    assert failing == [], "serious/critical axe violations:\n" + "\n".join(failing)


def player_checked_by_axe(page) -> set[str]:
    """The rules axe passed inside the player: proof that it looks into the shadow root."""
    assert len(page.frames) == 1  # no iframe: the player is in the main document
    # The player mounts in its shadow root after the script run ends: wait for it.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
                 .some(h => h.shadowRoot && h.shadowRoot.querySelector('.cp-root'))""",
        timeout=30_000,
    )
    host = "[data-testid='stBidiComponentIsolated']"
    result = AXE.run(
        page,
        context={"include": [{"fromShadowDom": [host, ".cp-root"]}]},
        options={"resultTypes": ["passes"]},
    )
    return {rule["id"] for rule in result.response["passes"]}


@pytest.mark.parametrize("page_info", app_pages(), ids=lambda p: p.path or "home")
def test_page_has_no_serious_axe_violations(screen, page_info) -> None:
    open_page(screen, page_info.path)
    failing = check(screen, f"/{page_info.path}")
    if page_info.path == "convolution":  # the player, then with its quiz open
        assert {"button-name", "aria-allowed-attr"} <= player_checked_by_axe(screen)
        screen.locator("[data-testid='cp-quiz-toggle']").click()
        screen.locator("[data-testid='cp-answer']").wait_for()
        failing += check(screen, "/convolution, the player's quiz open")
    no_failures(failing)


def test_canvas_and_typed_numbers_have_no_serious_axe_violations(screen) -> None:
    open_page(screen, "convolution?src=draw")
    screen.locator("canvas.upper-canvas").wait_for()
    failing = check(screen, "/convolution, the empty canvas")
    draw_stroke(screen)
    failing += check(screen, "/convolution, a drawing and its result")
    screen.get_by_role("radio", name="Numbers").click()
    screen.locator("textarea").wait_for()
    settle(screen)
    failing += check(screen, "/convolution, typed numbers")
    no_failures(failing)


# ----------------------------------------------------------------------------- the keyboard

# Installed in the page as window.__kb: the controls a pointer can use, their styles unfocused,
# and, for the focused element, which focus-related styles changed on it or its 3 nearest
# ancestors (Streamlit often draws the ring on a wrapper: the select box's frame, the slider).
KEYBOARD_JS = """
(() => {
  const CONTROLS = 'a[href], button, input, select, textarea, summary, [tabindex], '
    + '[contenteditable="true"], [role="button"], [role="slider"], [role="combobox"], '
    + '[role="tab"], [role="radio"], [role="checkbox"], [role="switch"], [role="link"]';
  const NATIVE = 'a[href], button, input, select, textarea, summary';
  const ROVING = '[role="radiogroup"], [role="toolbar"], [role="tablist"], [role="listbox"], '
    + '[role="menu"], [role="menubar"], [role="grid"], [role="tree"]';
  const PROPS = ['outline-style', 'outline-width', 'outline-color', 'box-shadow',
                 'border-top-color', 'border-bottom-color', 'background-color'];

  const parentOf = e => e.parentElement
    || (e.getRootNode() instanceof ShadowRoot ? e.getRootNode().host : null);
  function* walk(root) {
    for (const e of root.querySelectorAll('*')) {
      yield e;
      if (e.shadowRoot) yield* walk(e.shadowRoot);
    }
  }
  function laidOut(e, strict) {  // strict: also big enough and opaque enough to see
    const r = e.getBoundingClientRect();
    if (strict ? r.width < 4 || r.height < 4 : r.width === 0 && r.height === 0) return false;
    for (let a = e; a; a = parentOf(a)) {
      const cs = getComputedStyle(a);
      if (a.hidden || a.inert || cs.display === 'none' || cs.visibility === 'hidden') return false;
      if (strict && (parseFloat(cs.opacity) < 0.1 || cs.clipPath === 'inset(50%)'
                     || cs.clip === 'rect(0px, 0px, 0px, 0px)')) return false;
    }
    return true;
  }
  function usable(e) {  // takes a click and can take the focus
    if (!e.matches(CONTROLS) || e.disabled || e.getAttribute('aria-disabled') === 'true') {
      return false;
    }
    // tabindex=-1 takes a native control out of the Tab order: only a composite widget's
    // roving focus (a radio group, a toolbar, a list) may do that to its members.
    if (e.tabIndex < 0 && !(e.matches(NATIVE) && !e.closest(ROVING))) return false;
    return laidOut(e, false);
  }
  const chain = e => {
    const out = [];
    for (let a = e; a && out.length < 4; a = parentOf(a)) out.push(a);
    return out;
  };
  const styles = e => chain(e).map(a => {
    const cs = getComputedStyle(a);
    return PROPS.map(p => cs.getPropertyValue(p));
  });
  const deepActive = () => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    return a;
  };
  let next = 0;
  const ids = new WeakMap(), unfocused = new Map();
  const id = e => { if (!ids.has(e)) ids.set(e, ++next); return ids.get(e); };
  function name(e) {
    const label = e.getAttribute('aria-label')
      || (e.labels && e.labels[0] && e.labels[0].innerText)
      || e.innerText || e.getAttribute('title') || e.value || '';
    const test = e.getAttribute('data-testid');
    const tag = e.tagName.toLowerCase() + (e.type ? ' type=' + e.type : '')
      + (test ? ' data-testid=' + test : '');
    return `<${tag}> ` + JSON.stringify(String(label).replace(/\\s+/g, ' ').trim().slice(0, 50));
  }
  function group(e) {
    // A radio group is one tab stop: Tab reaches it, the arrow keys move inside it.
    if (e.type === 'radio' && e.name) return 'radio:' + e.name;
    const g = e.closest('[role="radiogroup"]');
    if (g) return 'group:' + id(g);
    // A select box's "Open" button is out of the Tab order on purpose: its text box (a
    // combobox) takes the focus and opens the list with the arrow keys.
    const box = e.matches('[aria-haspopup]') && e.parentElement
      && e.parentElement.querySelector(':scope > [role="combobox"]');
    return 'el:' + id(box || e);
  }
  function indicator(e, before) {  // what focusing changed, on elements one can see
    const found = [], tint = [], elements = chain(e);
    styles(e).forEach((row, i) => {
      if (!before || !laidOut(elements[i], true)) return;
      row.forEach((v, j) => {
        const p = PROPS[j];
        if (v === before[i][j]) return;
        if (p === 'background-color') tint.push(`${i}:${p}`);
        else if (p.startsWith('outline') && (row[0] === 'none' || parseFloat(row[1]) < 1)) return;
        else if (p === 'box-shadow' && v === 'none') return;
        else found.push(`${i}:${p} ${v}`);
      });
    });
    return {found, tint};
  }
  window.__kb = {
    controls() {
      return [...walk(document)].filter(usable).map(e => {
        unfocused.set(id(e), styles(e));
        return {id: id(e), name: name(e), group: group(e)};
      });
    },
    async focused() {
      const e = deepActive();
      if (!e || e === document.body || e === document.documentElement) return null;
      const known = unfocused.has(id(e));
      // Some controls (Base Web's text boxes and sliders) draw their focus from React state,
      // a frame or more after the focus moves: on a busy machine, look again for up to 3 s
      // (1 s was not always enough on a loaded CI machine: five Base Web controls at once).
      let seen = indicator(e, unfocused.get(id(e)));
      for (let t = 0; known && !seen.found.length && t < 60; t++) {
        await new Promise(r => setTimeout(r, 50));
        seen = indicator(e, unfocused.get(id(e)));
      }
      return {id: id(e), name: name(e), group: group(e), known, ...seen};
    },
    blur() { const e = deepActive(); if (e && e.blur) e.blur(); },
    noteAndBlur() {  // an element drawn anew since controls(): note it unfocused
      const e = deepActive();
      e.blur();
      unfocused.set(id(e), styles(e));
    },
  };
})();
"""
NO_MOTION = "*, *::before, *::after { transition: none !important; animation: none !important; }"


def still(page) -> None:
    """No transitions (a ring fading in would be read half-drawn), in shadow roots too."""
    page.add_style_tag(content=NO_MOTION)
    page.evaluate(
        """css => { const walk = r => r.querySelectorAll('*').forEach(e => { if (e.shadowRoot) {
            const s = document.createElement('style'); s.textContent = css;
            e.shadowRoot.append(s); walk(e.shadowRoot); } }); walk(document); }""",
        NO_MOTION,
    )


def tab_round(page) -> tuple[list[dict], list[dict]]:
    """Blur, note every usable control unfocused, then Tab once round the page: (controls, the
    stops in order)."""
    page.evaluate("__kb.blur()")
    controls = page.evaluate("__kb.controls()")
    stops: list[dict] = []
    for _ in range(len(controls) + 40):
        page.keyboard.press("Tab")
        stop = page.evaluate("__kb.focused()")
        if stop is None:
            continue
        if not stop["known"]:  # Streamlit drew it anew (a rerun): note it, focus it again
            page.evaluate("__kb.noteAndBlur()")
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")
            stop = page.evaluate("__kb.focused()")
            if stop is None:
                continue
        if stops and stop["id"] == stops[0]["id"]:
            break
        stops.append(stop)
    return controls, stops


def keyboard_problems(controls: list[dict], stops: list[dict]) -> list[str]:
    reached = {stop["group"] for stop in stops}
    problems = [f"not reachable by Tab: {c['name']}" for c in controls if c["group"] not in reached]
    seen: set[int] = set()
    for stop in stops:
        if stop["id"] in seen:
            continue
        seen.add(stop["id"])
        if not stop["found"]:
            how = "only a faint background tint" if stop["tint"] else "nothing changes"
            problems.append(f"no visible focus indicator ({how}): {stop['name']}")
    return problems


def test_every_playground_control_is_reachable_by_tab_and_shows_its_focus(screen) -> None:
    open_page(screen, "convolution")
    screen.wait_for_selector("[data-testid='cp-play']")
    still(screen)
    screen.evaluate(KEYBOARD_JS)
    controls, stops = tab_round(screen)
    names = " | ".join(stop["name"] for stop in stops)
    for player_control in ("cp-play", "cp-start", "cp-forward", "cp-scrub", "cp-quiz-toggle"):
        assert f"data-testid={player_control}" in names, names
    problems = keyboard_problems(controls, stops)

    # The quiz, opened from the keyboard: its answer box and buttons join the round.
    toggle = next(stop for stop in stops if "data-testid=cp-quiz-toggle" in stop["name"])
    screen.evaluate("__kb.blur()")
    for _ in range(len(controls) + 40):
        screen.keyboard.press("Tab")
        if (screen.evaluate("__kb.focused()") or {}).get("id") == toggle["id"]:
            break
    screen.keyboard.press("Enter")
    screen.locator("[data-testid='cp-answer']").wait_for()
    settle(screen)  # the player reports the quiz to the server: a rerun
    screen.wait_for_timeout(300)
    controls, stops = tab_round(screen)
    names = " | ".join(stop["name"] for stop in stops)
    for quiz_control in ("cp-answer", "cp-check", "cp-reveal"):
        assert f"data-testid={quiz_control}" in names, names
    problems += [p for p in keyboard_problems(controls, stops) if p not in problems]
    assert problems == [], "keyboard problems on the playground:\n" + "\n".join(problems)
    assert screen.js_errors == []
