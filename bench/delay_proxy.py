# The delay line: a byte-forwarding TCP proxy that gives every round trip a set delay.
"""A delay line: `python3 bench/delay_proxy.py --upstream HOST:PORT [--rtt-ms 50]`.

It listens on 127.0.0.1 (port 0 picks one; first stdout line `listening on
http://HOST:PORT`, like mrs-sim's) and forwards bytes unchanged, so an HTTP request
arrives exactly as the client sent it: the signed Host header is the proxy's own
host:port, which is what the client dialled and signed.

The model of a link with round-trip time RTT:
- every chunk read from either side is written to the other side RTT/2 after it was read,
  in order; chunks are not held behind one another, so a request and its answer cost one
  RTT however many are in flight on other connections;
- a new connection costs the SYN / SYN-ACK round trip before its first byte can leave:
  over loopback the client's connect() returns at once and it writes its request at
  once, so the proxy holds that connection's first bytes until one RTT after the accept
  (then RTT/2 on the wire as above): the first request on a new connection costs 2 RTT.

Standard library only (asyncio); runs until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import signal
import sys

CHUNK = 64 * 1024


async def pipe(loop, src, dst, half_rtt, not_before):
    """Copies src to dst, each chunk RTT/2 after it was read and no earlier than
    `not_before` + RTT/2; EOF travels the same way, as a half-close."""
    queue = asyncio.Queue()

    async def read():
        while True:
            try:
                data = await src.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((max(loop.time(), not_before) + half_rtt, data))
            if not data:
                return

    async def write():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
            except (ConnectionError, OSError):
                return

    reader = asyncio.ensure_future(read())
    try:
        await write()
    finally:
        # The write side failed or ended: the read side has nothing left to feed.
        reader.cancel()


async def close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


def make_handler(upstream_host, upstream_port, rtt):
    async def handle(client_r, client_w):
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        try:
            up_r, up_w = await asyncio.open_connection(upstream_host, upstream_port)
        except OSError as e:
            print(f"delay-proxy: cannot reach upstream: {e}", file=sys.stderr, flush=True)
            await close(client_w)
            return
        try:
            await asyncio.gather(
                # The client's first bytes wait out the modelled handshake round trip.
                pipe(loop, client_r, up_w, rtt / 2, accepted + rtt),
                pipe(loop, up_r, client_w, rtt / 2, accepted),
            )
        except asyncio.CancelledError:
            # Shut down while a connection was still open or closing: nothing to report.
            pass
        finally:
            await close(up_w)
            await close(client_w)

    return handle


async def serve(listen_port, upstream, rtt):
    host, _, port = upstream.rpartition(":")
    server = await asyncio.start_server(
        make_handler(host or "127.0.0.1", int(port), rtt), "127.0.0.1", listen_port
    )
    addr = server.sockets[0].getsockname()
    print(f"listening on http://{addr[0]}:{addr[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--rtt-ms", type=float, default=50.0, help="round-trip time (ms)")
    ap.add_argument("--listen-port", type=int, default=0)
    args = ap.parse_args()
    if args.rtt_ms < 0:
        ap.error("--rtt-ms must not be negative")
    upstream = args.upstream.removeprefix("http://").rstrip("/")
    if ":" not in upstream or not upstream.rpartition(":")[2].isdigit():
        ap.error(f"--upstream {args.upstream!r} is not HOST:PORT")
    asyncio.run(serve(args.listen_port, upstream, args.rtt_ms / 1000.0))


if __name__ == "__main__":
    main()
