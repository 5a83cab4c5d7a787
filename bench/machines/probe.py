#!/usr/bin/python3
"""The rate of the link between two emulated machines, both directions at once.

One TCP connection; each end sends `bytes` and receives `bytes` at the same time (a sender thread
beside the receiving loop), as an allreduce between two machines does. Each end prints one JSON
line with the rate at which it received: bytes over the time from its first byte received to its
last. The connection is set up and a first megabyte exchanged before timing, so the rate holds
no handshake and no slow start.

    probe.py serve ADDRESS PORT BYTES     (run first, on one machine)
    probe.py connect ADDRESS PORT BYTES   (on the other)
"""
import json
import socket
import sys
import threading
import time

WRITE = 4 << 20  # bytes per send(): large, so that Python's per-call cost is nothing beside the wire's
WARMUP = 1 << 20
DEADLINE_S = 120  # every wait has a deadline: a peer that never comes fails the probe


def receive_exactly(sock, count, buffer):
    view = memoryview(buffer)
    got = 0
    first = None
    while got < count:
        n = sock.recv_into(view[:min(len(buffer), count - got)])
        if n == 0:
            raise ConnectionError(f"the peer closed the connection after {got} of {count} bytes")
        if first is None:
            first = time.perf_counter()
        got += n
    return first, time.perf_counter()


def send_all(sock, count, block, errors):
    try:
        left = count
        while left > 0:
            n = min(left, len(block))
            sock.sendall(block[:n])
            left -= n
    except OSError as error:  # reported by the main thread
        errors.append(error)


def exchange(sock, count):
    sock.settimeout(DEADLINE_S)
    block = bytes(range(256)) * (WRITE // 256)
    buffer = bytearray(WRITE)
    # Warm-up: connection open, windows grown, both ends present.
    sender = threading.Thread(target=send_all, args=(sock, WARMUP, block, []))
    sender.start()
    receive_exactly(sock, WARMUP, buffer)
    sender.join()
    errors = []
    sender = threading.Thread(target=send_all, args=(sock, count, block, errors))
    start = time.perf_counter()
    sender.start()
    first, last = receive_exactly(sock, count, buffer)
    sender.join()
    sent = time.perf_counter() - start
    if errors:
        raise errors[0]
    return {"bytes": count, "receive_s": last - first, "receive_MBps": count / (last - first) / 1e6,
            "send_s": sent}


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("serve", "connect"):
        sys.exit(__doc__)
    mode, address, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if not 0 < count <= 1 << 34:
        sys.exit(f"probe: BYTES {count} is out of range (1 to 16 GiB)")
    if mode == "serve":
        with socket.create_server((address, port)) as server:
            server.settimeout(DEADLINE_S)
            sock, _ = server.accept()
    else:
        deadline = time.monotonic() + DEADLINE_S
        while True:  # the server may not listen yet
            try:
                sock = socket.create_connection((address, port), timeout=DEADLINE_S)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    with sock:
        print(json.dumps(exchange(sock, count)), flush=True)


if __name__ == "__main__":
    main()
