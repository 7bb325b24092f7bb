"""Every door of the chat over TLS (`--tls-cert`, `--tls-key`), with a trustme certificate, met
by clients from outside the project: the terminal client (`--ca`), the `ssl` module for IRC
(ircs) and HTTPS, the `websockets` library over wss:// (its asyncio client: see `_wss`),
Debian's `openssl s_client`, and Debian's Chromium (the page over https://, the chat over
wss://)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from typing import TYPE_CHECKING

import pytest
import trustme
from _processes import ChatServer, ScriptClient
from _support import WAIT
from _wss import WssClient
from websockets.typing import Subprotocol

from examples.chat.browser import CHAT_PATH, SUBPROTOCOL
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    chain, key, ca_file = directory / "chain.pem", directory / "key.pem", directory / "ca.pem"
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    return chain, key, ca_file


@pytest.fixture(scope="module")
def server(tls_files: tuple[Path, Path, Path]) -> Iterator[ChatServer]:
    chain, key, _ = tls_files
    chat_server = ChatServer(0, "--tls-cert", str(chain), "--tls-key", str(key))
    try:
        yield chat_server
    finally:
        chat_server.stop()


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def tls_socket(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return context.wrap_socket(raw, server_hostname="localhost")


def binary(data: str | bytes) -> bytes:
    assert isinstance(data, bytes), f"the chat sent a text message: {data!r}"
    return data


def irc_lines_until(sock: ssl.SSLSocket, command: str) -> list[str]:
    data = b""
    while True:
        *lines, _ = data.split(b"\r\n")
        if any(line.split(b" ")[1:2] == [command.encode()] for line in lines):
            return [line.decode() for line in lines]
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk


def test_a_terminal_client_a_websocket_user_and_an_ircs_user_talk_over_tls(
    server: ChatServer, tls_files: tuple[Path, Path, Path], trusting: ssl.SSLContext
) -> None:
    _, _, ca_file = tls_files
    with (
        ScriptClient(server.port, "term", "#lobby", options=("--ca", str(ca_file))) as term,
        WssClient(
            f"wss://localhost:{server.http_port}{CHAT_PATH}",
            ssl=trusting,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            proxy=None,
            timeout=WAIT,
            ping_interval=None,
        ) as web,
        tls_socket(server.irc_port, trusting) as ircs,
    ):
        term.expect("welcome term actornet-chat")
        term.expect("names #lobby term")
        web.send(chat.CODEC.encode(chat.Hello(version=chat.PROTOCOL_VERSION, nick="web")))
        assert isinstance(chat.CODEC.decode(binary(web.recv(timeout=WAIT))), chat.Welcome)
        web.send(chat.CODEC.encode(chat.Join(room="#lobby")))
        ircs.sendall(b"NICK ircs\r\nUSER ircs 0 * :ircs\r\nJOIN #lobby\r\n")
        assert any(" 366 " in line for line in irc_lines_until(ircs, "366"))
        term.expect("joined #lobby ircs")
        term.type("hello over tls")
        lines = irc_lines_until(ircs, "PRIVMSG")
        assert ":term!term@actornet-chat PRIVMSG #lobby :hello over tls" in lines
        ircs.sendall(b"PRIVMSG #lobby :and back\r\n")
        term.expect("said #lobby ircs and back")
        while True:
            message = chat.CODEC.decode(binary(web.recv(timeout=WAIT)))
            if isinstance(message, chat.Said) and message.nick == "ircs":
                assert message.text == "and back"
                break


def test_https_serves_the_page_and_the_terminal_client_refuses_an_unknown_ca(
    server: ChatServer, trusting: ssl.SSLContext
) -> None:
    with tls_socket(server.http_port, trusting) as page:
        page.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := page.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200")
    assert b"<html" in response.lower()
    with ScriptClient(server.port, "doubter", options=("--tls",)) as doubter:
        assert doubter.wait_exit() == 1
        assert doubter.process.stderr is not None
        error = doubter.process.stderr.read()
        assert "certificate verify failed" in error, error


def test_openssl_s_client_completes_a_handshake_with_every_door(
    server: ChatServer, tls_files: tuple[Path, Path, Path]
) -> None:
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is not installed; .ci/run installs it (apt-get install openssl)")
        pytest.skip("openssl is not installed (apt-get install openssl)")
    _, _, ca_file = tls_files
    for port in (server.port, server.irc_port, server.http_port):
        result = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                "-servername",
                "localhost",
                "-CAfile",
                str(ca_file),
                "-verify_return_error",
                "-brief",
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert "Verification: OK" in result.stderr, (port, result.stderr)
        assert "Protocol version: TLSv1.3" in result.stderr, (port, result.stderr)


def test_chromium_opens_the_page_over_https_and_chats_over_wss(
    browser: Browser, server: ChatServer, tls_files: tuple[Path, Path, Path]
) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415 - only browser tests need it

    _, _, ca_file = tls_files
    wait_ms = WAIT * 1000
    # The test CA is not in Chromium's store: the context accepts the certificate instead.
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"https://localhost:{server.http_port}/")
        page.fill("#nick-input", "secure")
        page.click("#nick-submit")
        expect(page.locator("#status")).to_contain_text("connected as secure", timeout=wait_ms)
        assert page.evaluate("window.ActornetChat.state.ws.url").startswith("wss://")
        page.fill("#join-input", "#lobby")
        page.press("#join-input", "Enter")
        with ScriptClient(server.port, "term2", "#lobby", options=("--ca", str(ca_file))) as term:
            term.expect("welcome term2 actornet-chat")
            expect(page.locator('#members li[data-nick="term2"]')).to_have_count(1, timeout=wait_ms)
            page.fill("#message-input", "hello over wss")
            page.press("#message-input", "Enter")
            term.expect("said #lobby secure hello over wss")
    finally:
        context.close()
