"""The chat page in a real browser: Debian's Chromium, headless, driven by Playwright.

The server is `python -m examples.chat serve` as a subprocess, as a person runs
it; the third user is the terminal client in script mode on the binary door.
Every wait is Playwright's own (an expectation with a deadline) or a line read
with a deadline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _processes import ChatServer, ScriptClient
from _support import WAIT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

# Playwright's expectations take milliseconds.
_WAIT_MS = WAIT * 1000


@pytest.fixture
def server() -> Iterator[ChatServer]:
    running = ChatServer()
    try:
        yield running
    finally:
        running.stop()


def _open_chat(browser: Browser, server: ChatServer, nick: str, room: str) -> Page:
    """Open the page in a fresh context, register `nick` and join `room`."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/")
    page.fill("#nick-input", nick)
    page.click("#nick-submit")
    expect(page.locator("#status")).to_contain_text(f"connected as {nick}", timeout=_WAIT_MS)
    page.fill("#join-input", room)
    page.press("#join-input", "Enter")
    expect(page.locator(f'#rooms li[data-room="{room}"]:not([data-pending="true"])')).to_have_count(
        1, timeout=_WAIT_MS
    )
    expect(page.locator(f'#members li[data-nick="{nick}"]')).to_have_count(1, timeout=_WAIT_MS)
    return page


def _said(page: Page, room: str, nick: str, text: str) -> None:
    """Wait until `page` shows `nick` saying `text` in `room`."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    line = page.locator(f'#log li[data-kind="said"][data-room="{room}"][data-nick="{nick}"]')
    expect(line.filter(has_text=text)).to_have_count(1, timeout=_WAIT_MS)


def test_two_pages_and_a_terminal_client_talk_in_one_room(
    browser: Browser, server: ChatServer
) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    alice = _open_chat(browser, server, "alice", "#lobby")
    bob = _open_chat(browser, server, "bob", "#lobby")
    try:
        expect(alice.locator('#members li[data-nick="bob"]')).to_have_count(1, timeout=_WAIT_MS)
        with ScriptClient(server.port, "carol", "#lobby") as carol:
            carol.expect("welcome carol actornet-chat")
            carol.expect("names #lobby alice bob carol")
            expect(bob.locator('#members li[data-nick="carol"]')).to_have_count(
                1, timeout=_WAIT_MS
            )

            alice.fill("#message-input", "hello from a browser ünïcode")
            alice.press("#message-input", "Enter")
            _said(bob, "#lobby", "alice", "hello from a browser ünïcode")
            _said(alice, "#lobby", "alice", "hello from a browser ünïcode")
            carol.expect("said #lobby alice hello from a browser ünïcode")

            # Chromium offered permessage-deflate and the chat's subprotocol, and got both;
            # it compresses what it sends, so a long line goes through our inflater.
            socket = "window.ActornetChat.state.ws"
            assert alice.evaluate(f"{socket}.protocol") == "actornet-chat.v1"
            assert "permessage-deflate" in alice.evaluate(f"{socket}.extensions")
            long_line = " ".join(["compressible"] * 70)  # 909 bytes: under the 1,000 limit
            alice.fill("#message-input", long_line)
            alice.press("#message-input", "Enter")
            _said(bob, "#lobby", "alice", long_line)
            carol.expect(f"said #lobby alice {long_line}")

            carol.type("hi browsers")
            _said(alice, "#lobby", "carol", "hi browsers")
            _said(bob, "#lobby", "carol", "hi browsers")

            carol.type("/quit")
            assert carol.wait_exit() == 0
            expect(
                alice.locator('#log li[data-kind="quit"][data-nick="carol"]')
            ).to_have_count(1, timeout=_WAIT_MS)
            expect(alice.locator('#members li[data-nick="carol"]')).to_have_count(
                0, timeout=_WAIT_MS
            )
    finally:
        alice.context.close()
        bob.context.close()


def test_a_page_whispers_and_is_told_of_a_taken_nick(browser: Browser, server: ChatServer) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    alice = _open_chat(browser, server, "alice", "#lobby")
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.http_port}/")
        page.fill("#nick-input", "alice")
        page.click("#nick-submit")
        expect(page.locator("#nick-error")).to_contain_text("alice", timeout=_WAIT_MS)
        page.fill("#nick-input", "dave")
        page.click("#nick-submit")
        expect(page.locator("#status")).to_contain_text("connected as dave", timeout=_WAIT_MS)

        page.fill("#message-input", "/msg alice psst")
        page.press("#message-input", "Enter")
        whisper = alice.locator('#log li[data-kind="whisper"]').filter(has_text="psst")
        expect(whisper).to_have_count(1, timeout=_WAIT_MS)
    finally:
        context.close()
        alice.context.close()


def test_the_page_fits_a_phone_sized_viewport(browser: Browser, server: ChatServer) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.http_port}/")
        page.fill("#nick-input", "phone")
        page.click("#nick-submit")
        expect(page.locator("#status")).to_contain_text("connected as phone", timeout=_WAIT_MS)
        # Nothing is wider than the screen: no sideways scrolling.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        expect(page.locator("#message-input")).to_be_visible()
    finally:
        context.close()
