#!/usr/bin/env python3
"""tests/chaos/delay-proxy.py — a TCP proxy that can delay or cut traffic.

netem is not available here, so the chaos suite puts this proxy between
some clients and one instance (command -> balance-1) and changes its
behaviour by writing one word to a control file, read every 100 ms:

  0 (or no file)  forward at once
  N               hold every chunk N ms before forwarding it (order kept)
  cut             a partition: forward nothing, in either direction, and
                  accept no new connection; held bytes are sent when the
                  cut ends (TCP would retransmit them)

    delay-proxy.py LISTEN_PORT TARGET_PORT CONTROL_FILE

Loopback only. Stops on SIGTERM or SIGINT.
"""
import asyncio
import os
import signal
import sys
import time

LISTEN, TARGET, CONTROL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
state = {"delay": 0.0, "cut": False}


async def watch_control():
    while True:
        try:
            with open(CONTROL) as f:
                word = f.read().strip()
        except OSError:
            word = "0"
        state["cut"] = word == "cut"
        state["delay"] = 0.0 if state["cut"] else (int(word) / 1000 if word.isdigit() else 0.0)
        await asyncio.sleep(0.1)


async def pipe(reader, writer):
    """Reads chunks and forwards each one once its delay has passed and no cut holds."""
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            while state["cut"] or time.monotonic() < due:
                await asyncio.sleep(min(0.01, max(0.0, due - time.monotonic())) or 0.01)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await queue.put((time.monotonic() + state["delay"], data))
    finally:
        await queue.put((0, None))
        try:
            await sender
        except (ConnectionError, OSError):
            pass
        writer.close()


async def handle(client_reader, client_writer):
    if state["cut"]:
        client_writer.close()
        return
    try:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, target_writer), pipe(target_reader, client_writer),
                         return_exceptions=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    watcher = asyncio.create_task(watch_control())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    watcher.cancel()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
