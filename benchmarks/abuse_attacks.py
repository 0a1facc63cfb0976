"""The attacker of `make bench-abuse` (benchmarks/bench_abuse.py): one
process, from one loopback address (127.0.0.66), every kind of issue 11's
cheap attacks at once, each kind in threads of its own. Every kind counts
what the studio answered; nothing here measures the server's cost (the
benchmark does, from /proc).
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import select
import socket
import threading
import time
from collections import Counter

from abuse_clients import NETWORK_ERRORS, new_account, sign_in, signed_in
from bench_e2e import Session
from PIL import Image

ATTACKER = "127.0.0.66"
KINDS = ("bombs", "slow", "signup", "convert", "login", "bodies")
SLOW_CONNECTIONS = 300
ATTACKER_NICE = 19
LOCKOUT_FAILURES = 5  # STUDIO_LOGIN_FAILURE_LIMIT's default


def bomb_images() -> list[bytes]:
    """A 7000x7000 16-bit grey PNG of one flat colour (~100 KB, 49 MP) and a
    progressive 7000x7000 JPEG (libjpeg keeps every DCT coefficient of a
    progressive image in memory, whatever scale it is asked to decode at)."""
    png = io.BytesIO()
    Image.new("I;16", (7000, 7000), 4321).save(png, "PNG")
    jpeg = io.BytesIO()
    gradient = Image.linear_gradient("L").resize((7000, 7000))
    Image.merge("RGB", (gradient, gradient.rotate(90), gradient)).save(
        jpeg, "JPEG", quality=90, progressive=True, subsampling=0
    )
    return [png.getvalue(), jpeg.getvalue()]


def _status(session: Session, method: str, path: str, **kw) -> int | None:
    try:
        if "fields" in kw:
            return session.multipart(path, kw["fields"], kw["files"])[0]
        return session.request(method, path, kw.get("body"), kw.get("headers"))[0]
    except NETWORK_ERRORS:
        return None
    except StopIteration:  # no CSRF cookie: never got a form (limited)
        return 403


def _tally(counts: Counter, status: int | None, ok: str, refused: str) -> None:
    if status is None:
        counts["connection errors"] += 1
    elif status >= 500 and status != 503:
        counts["5xx"] += 1
    elif status < 300:
        counts[ok] += 1
    else:
        counts[refused] += 1


def _csrf(session: Session) -> str:
    return next((c.value for c in session.jar if c.name == "csrftoken"), "")


def _signed_in_session(ctx: dict, until: float) -> Session:
    """The attacker's own account, signed in as soon as the limits let it
    (its sign-in page may be refused 429 for a while)."""
    while True:
        try:
            session = sign_in(ctx["base"], ATTACKER, *ctx["attacker_account"])
            if signed_in(session) or time.monotonic() >= until:
                return session
        except (StopIteration, *NETWORK_ERRORS):
            if time.monotonic() >= until:
                return Session(ctx["base"], ATTACKER)
        time.sleep(1)


def bombs(ctx: dict, counts: Counter, until: float) -> None:
    session = ctx["session"]
    rng = random.Random()
    while time.monotonic() < until:
        # Trailing bytes change the content hash (no cache hit), not the image.
        data = rng.choice(ctx["bombs"]) + os.urandom(16)
        status = _status(
            session, "POST", "/api/preview/",
            fields=[("style", "pencil")], files={"image": data},
        )  # fmt: skip
        _tally(counts, status, "bombs rendered", "bombs refused")


def slow(ctx: dict, counts: Counter, until: float) -> None:
    """300 connections that send half a request (headers without their end,
    or a body far shorter than its Content-Length), a byte every few
    seconds; each one nginx closes is opened again."""
    host, port = ctx["address"]
    heads = [
        b"POST /api/artworks/ HTTP/1.1\r\nHost: x\r\n",
        b"POST /api/artworks/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n",
    ]

    def open_one(index: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(
                (host, port), timeout=5, source_address=(ATTACKER, 0)
            )
            sock.sendall(heads[index % 2])
            counts["slow opened"] += 1
            return sock
        except OSError:
            counts["slow connect errors"] += 1
            return None

    sockets = [open_one(i) for i in range(SLOW_CONNECTIONS)]
    closed_at = [0.0] * SLOW_CONNECTIONS
    trickle = time.monotonic()
    while time.monotonic() < until:
        live = [s for s in sockets if s is not None]
        readable = select.select(live, [], [], 0.5)[0] if live else []
        for sock in readable:  # an answer (408, 429) or a close
            index = sockets.index(sock)
            sock.close()
            sockets[index], closed_at[index] = None, time.monotonic()
            counts["slow closed by the server"] += 1
        # Held, not a connection flood: a closed one comes back after 1 s.
        for index, sock in enumerate(sockets):
            if sock is None and time.monotonic() - closed_at[index] >= 1:
                sockets[index] = open_one(index)
        if time.monotonic() - trickle > 5:
            trickle = time.monotonic()
            for sock in sockets:
                try:
                    sock and sock.send(b"X")
                except OSError:
                    pass
    for sock in sockets:
        if sock:
            sock.close()


def signup(ctx: dict, counts: Counter, until: float) -> None:
    while time.monotonic() < until:
        session = Session(ctx["base"], ATTACKER)
        username, password = new_account("farm")
        status = _status(session, "GET", "/accounts/signup/")
        if status != 200 or not _csrf(session):  # the form was refused
            _tally(counts, status, "sign-up forms served", "sign-up forms refused")
            continue
        fields = {"username": username, "password1": password, "password2": password}
        try:
            status = session.form("/accounts/signup/", fields)
        except NETWORK_ERRORS:
            status = None
        if status is not None and status < 300:
            status = 200 if signed_in(session) else 400
        _tally(counts, status, "sign-ups accepted", "sign-ups refused")


def convert(ctx: dict, counts: Counter, until: float) -> None:
    session = Session(ctx["base"], ATTACKER)  # anonymous
    formats = ("png", "webp")
    turn = 0
    while time.monotonic() < until:
        turn += 1
        path = f"/media/artworks/{ctx['public_id']}/result/?format={formats[turn % 2]}"
        status = _status(session, "GET", path)
        _tally(counts, status, "conversions served", "conversions refused")


def login(ctx: dict, counts: Counter, until: float) -> None:
    """Guess the victim's password with a new X-Forwarded-For each time. The
    right one comes every 5th guess once the app has answered more wrong
    ones than the lockout allows (5): any sign-in that works is a success
    past the lockout."""
    username, password = ctx["victim_account"]
    guess = wrong = 0
    while time.monotonic() < until:
        guess += 1
        session = Session(ctx["base"], ATTACKER)
        spoofed = f"203.0.{guess // 250 % 250}.{guess % 250 + 1}"
        headers = {"X-Forwarded-For": spoofed}
        status = _status(session, "GET", "/accounts/login/", headers=headers)
        if status != 200 or not _csrf(session):
            _tally(counts, status, "login forms served", "login forms refused")
            continue
        right = wrong > LOCKOUT_FAILURES and guess % 5 == 0
        tried = password if right else f"guess{guess}"
        body = f"username={username}&password={tried}&csrfmiddlewaretoken="
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = ctx["base"] + "/accounts/login/"
        try:
            status, page = session.request(
                "POST", "/accounts/login/", (body + _csrf(session)).encode(), headers
            )
        except NETWORK_ERRORS:
            status, page = None, b""
        if status is not None and signed_in(session):
            counts["logins past lockout"] += 1
        elif status == 429 and b"from your address" in page:
            counts["logins refused by nginx"] += 1
        elif status in (200, 403, 429):  # the form again, or the lockout page
            wrong += 1
            counts["logins locked out" if status != 200 else "logins wrong"] += 1
        else:
            _tally(counts, status, "logins ?", "logins refused")


def _raw(ctx: dict, request: bytes, body_chunks=()) -> int | None:
    """Send a hand-made request; the status of the answer, None on a
    connection error (nginx may close once it has refused the headers)."""
    try:
        with socket.create_connection(
            ctx["address"], timeout=20, source_address=(ATTACKER, 0)
        ) as sock:
            sock.sendall(request)
            for chunk in body_chunks:
                sock.sendall(chunk)
            reply = sock.recv(256)
    except OSError:
        return None
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def bodies(ctx: dict, counts: Counter, until: float) -> None:
    """Oversized and malformed bodies, anonymous and signed in."""
    session = ctx["session"]
    csrf = {"X-CSRFToken": _csrf(session), "Referer": ctx["base"] + "/"}
    head = "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    big = b"x" * (41 * 1024 * 1024)
    cases = [
        # Declared far over nginx's cap: refused unread.
        lambda: _raw(ctx, (head + "Content-Length: 2000000000\r\n\r\n").format(
            path="/api/artworks/").encode()),
        # Chunked, never-ending body before login.
        lambda: _raw(ctx, (head + "Transfer-Encoding: chunked\r\n\r\n").format(
            path="/accounts/login/").encode(), [b"100000\r\n" + b"y" * 65536]),
        # Broken multipart framing, signed in.
        lambda: _status(session, "POST", "/api/artworks/", body=b"--nope\r\n\r\n" * 50,
                        headers={**csrf, "Content-Type": "multipart/form-data; boundary=b"}),
        # Parameters nested 50,000 deep, and a 5000-digit integer.
        lambda: _status(session, "POST", "/api/preview/", fields=[
            ("style", "oil"), ("params", "[" * 50000)], files={"image": b"GIF89a"}),
        lambda: _status(session, "POST", "/api/artworks/", fields=[
            ("style", "oil"), ("params", json.dumps({"oil": {"size": 0}}).replace(
                "0", "9" * 5000))], files={"image": b"\xff\xd8\xff"}),
        # A body of 41 MB, just over the upload cap, really sent.
        lambda: _status(session, "POST", "/api/artworks/", body=big,
                        headers={**csrf, "Content-Type": "application/octet-stream"}),
    ]  # fmt: skip
    turn = 0
    while time.monotonic() < until:
        turn += 1
        # The 41 MB one every tenth turn: bandwidth is not what is tested.
        case = cases[-1] if turn % 10 == 0 else cases[turn % (len(cases) - 1)]
        _tally(counts, case(), "bodies accepted", "bodies refused")


ATTACKS = {
    "bombs": (bombs, 4),
    "slow": (slow, 1),
    "signup": (signup, 1),
    "convert": (convert, 2),
    "login": (login, 1),
    "bodies": (bodies, 1),
}


def attack(ctx: dict, kinds: list[str], seconds: float, results) -> None:
    """Run ``kinds`` at once for ``seconds``; put {kind: Counter} and the
    attacker's own CPU seconds on ``results`` (a multiprocessing queue: this
    runs in a process of its own).

    At nice 19: on the benchmark's machine the attacker's own CPU (building
    requests, its side of every connection) competes with the server's,
    which a real attacker's, on its own machines, does not. It still sends
    as fast as it can whenever the CPU is free; its CPU time is reported.
    """
    os.nice(ATTACKER_NICE)
    until = time.monotonic() + seconds
    if {"bombs", "bodies"} & set(kinds):  # signed in once, shared
        ctx = {**ctx, "session": _signed_in_session(ctx, until)}
    counts = {kind: Counter() for kind in kinds}
    threads = [
        threading.Thread(target=ATTACKS[kind][0], args=(ctx, counts[kind], until))
        for kind in kinds
        for _ in range(ATTACKS[kind][1])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answer = {kind: dict(c) for kind, c in counts.items()}
    results.put((answer, usage.ru_utime + usage.ru_stime))
