"""The page in real Chromium against a real served room (uvicorn in this test's loop):
people in browsers see one order, hostile text stays text, and a refresh mid-reply
shows the reply so far and then the whole one, once."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import GatedReplay, mint, open_served, serving, visible
from tests.waiting import until

WAIT = 60_000  # ms: Playwright's guard against a hang, not a measure

SAID = """() => [...document.querySelectorAll('#transcript .msg:not(.quiet)')]
  .map(n => [n.dataset.sender, n.querySelector('.body').textContent,
             n.classList.contains('streaming')])"""
"""What a page shows as said: (sender, text, still streaming) per message, in order."""


async def open_page(browser: Any, base: str, token: str) -> Any:
    page = await browser.new_page()
    page.set_default_timeout(WAIT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{base}/#token={token}")
    return page


async def said(page: Any) -> list[tuple[str, str, bool]]:
    return [tuple(row) for row in await page.evaluate(SAID)]


async def shows(page: Any, sender: str, text: str) -> None:
    """Wait until ``page`` shows ``text`` said by ``sender`` (saved, not streaming)."""
    await page.wait_for_function(
        f"() => ({SAID})().some(([s, t, live]) => s === {sender!r} && t === {text!r} && !live)"
    )


async def your_turn(page: Any) -> None:
    """Wait until ``page``'s status line says the room is asking its person."""
    await page.wait_for_function(
        "() => document.getElementById('status').textContent.includes('your turn')"
    )


async def test_two_pages_see_one_order_and_a_line_typed_in_one_shows_in_both(db_path, browser):
    served = open_served(db_path, ["Whiskers?", "Or Mittens?"] * 10)
    async with serving(served) as base:
        alice = await open_page(browser, base, await mint(served, "alice"))
        bob = await open_page(browser, base, await mint(served, "bob"))
        # The token left the address bar; the room asks alice, and her page says so.
        assert "#token" not in alice.url and "token=" not in alice.url
        await your_turn(alice)
        await shows(bob, "ada", "Whiskers?")
        # The input has the focus on load: typing goes straight into it, Enter sends.
        await alice.keyboard.type("Call it Pixel")
        await alice.keyboard.press("Enter")
        await shows(alice, "alice", "Call it Pixel")
        await shows(bob, "alice", "Call it Pixel")
        assert await alice.input_value("#input") == ""
        # Bob's turn: a line over two lines (Shift+Enter), sent with the button.
        await your_turn(bob)
        await bob.locator("#input").type("Pixel it is")
        await bob.keyboard.press("Shift+Enter")
        await bob.keyboard.type("or Byte")
        await bob.get_by_role("button", name="Send").click()
        for page in (alice, bob):
            await shows(page, "bob", "Pixel it is\nor Byte")
        # Who is here, as alice sees it: ada with her model, bob online, carol away.
        members = (await alice.locator("#members").inner_text()).splitlines()
        assert members == ["ada replay", "alice (you)", "bob", "carol away"]
        saved = [
            (f["sender"], f["content"])
            for f in await visible(served, "alice")
            if f["type"] == "message"
        ]
        seen = {name: await said(page) for name, page in (("alice", alice), ("bob", bob))}
        for page in (alice, bob):
            assert page.script_errors == []
    shown = [(s, t) for s, t, _ in seen["alice"]]
    assert shown == [(s, t) for s, t, _ in seen["bob"]]
    assert shown == saved[: len(shown)] and ("bob", "Pixel it is\nor Byte") in shown


HOSTILE = (
    "<script>window.pwned=1</script> "
    '<img src=x onerror="window.pwned=1"> '
    "[x](javascript:window.pwned=1) "
    '<b>bold</b> <a href="javascript:window.pwned=1">click</a> &amp; \x1b[31mred'
)


async def test_hostile_text_from_an_agent_and_a_person_shows_as_written_and_runs_nothing(
    db_path, browser
):
    served = open_served(db_path, [HOSTILE] * 10)
    async with serving(served) as base:
        alice = await open_page(browser, base, await mint(served, "alice"))
        await shows(alice, "ada", HOSTILE)
        await your_turn(alice)
        await alice.locator("#input").fill(HOSTILE)
        await alice.keyboard.press("Enter")
        await shows(alice, "alice", HOSTILE)
        # Links and images a click could follow: none; nothing ran.
        await alice.locator("#members >> text=alice").wait_for()
        transcript = alice.locator("#transcript")
        assert await transcript.locator("script, img, a, b").count() == 0
        assert await alice.evaluate("() => window.pwned") is None
        assert alice.script_errors == []


async def test_a_page_refreshed_mid_reply_shows_it_so_far_then_whole_once(db_path, browser):
    model = GatedReplay(
        ["one two three four five six seven eight nine ten"] * 20, hold_after=4, delay=0.03
    )
    served = open_served(db_path, model=model)
    async with serving(served) as base:
        alice = await open_page(browser, base, await mint(served, "alice"))
        await until(lambda: served.room.partial())
        await alice.wait_for_function(f"() => ({SAID})().some(([s, t, live]) => live)")
        await alice.reload()
        # After the refresh: the reply so far (a partial frame), still being written.
        await alice.wait_for_function(
            f"() => ({SAID})().some(([s, t, live]) => s === 'ada' && live "
            "&& t.startsWith('one two'))"
        )
        before = [row for row in await said(alice) if row[0] == "ada"]
        assert len(before) == 1 and before[0][2]
        model.gate.set()
        whole = "one two three four five six seven eight nine ten"
        await shows(alice, "ada", whole)
        await your_turn(alice)
        after = [row for row in await said(alice) if row[0] == "ada"]
        assert alice.script_errors == []
    assert after == [("ada", whole, False)]
