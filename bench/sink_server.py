"""A tus server that keeps nothing: it answers creation, HEAD and PATCH and throws the bytes
away, so an upload to it shows how fast the client itself can send on this machine (the
ceiling no server can beat with that client). Used by upload_bench.py; not a real server.

Usage: python sink_server.py <port>
"""
from __future__ import annotations

import itertools
import socket
import sys
import threading

BUFFER = 1 << 20
TUS = b"Tus-Resumable: 1.0.0\r\n"


def serve(conn: socket.socket, ids: itertools.count, sizes: dict) -> None:
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, pending = pending.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0") or 0)
            upload = path.rstrip("/").rsplit("/", 1)[-1]
            if method == "POST":
                n = str(next(ids))
                body, pending = pending[:length], pending[length:]
                sizes[n] = [int(headers.get("upload-length", "0")), len(body)]
                reply = (f"HTTP/1.1 201 Created\r\nLocation: /files/{n}\r\n"
                         f"Upload-Offset: {len(body)}\r\nContent-Length: 0\r\n").encode()
            elif method == "PATCH":
                taken = min(length, len(pending))
                pending = pending[taken:]
                left = length - taken
                while left:
                    got = conn.recv_into(view, min(left, BUFFER))
                    if not got:
                        return
                    left -= got
                sizes[upload][1] += length
                reply = (f"HTTP/1.1 204 No Content\r\nUpload-Offset: {sizes[upload][1]}\r\n"
                         ).encode()
            elif method == "HEAD":
                total, offset = sizes.get(upload, (0, 0))
                reply = (f"HTTP/1.1 200 OK\r\nUpload-Offset: {offset}\r\n"
                         f"Upload-Length: {total}\r\nCache-Control: no-store\r\n").encode()
            else:
                reply = b"HTTP/1.1 204 No Content\r\nTus-Version: 1.0.0\r\n"
            conn.sendall(reply + TUS + b"\r\n")


def main() -> None:
    port = int(sys.argv[1])
    ids, sizes = itertools.count(1), {}
    with socket.create_server(("127.0.0.1", port)) as server:
        print(f"listening {port}", flush=True)
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn, ids, sizes), daemon=True).start()


if __name__ == "__main__":
    main()
