#!/usr/bin/env python3
"""tests/lib/tcp-record.py — a TCP relay that records every byte it forwards.

tcpdump is not there to capture loopback traffic, so a test puts this relay
between a client and a server and reads what went over the wire: both
directions of every connection are appended, as they pass, to one file.

    tcp-record.py LISTEN_PORT TARGET_PORT FILE

Loopback only. Stops on SIGTERM or SIGINT.
"""
import asyncio
import signal
import sys

LISTEN, TARGET, FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


async def pipe(reader, writer, record):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            record.write(data)
            record.flush()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def relay(client_reader, client_writer, record):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer, record),
                         pipe(server_reader, client_writer, record))


async def main():
    record = open(FILE, "ab")
    server = await asyncio.start_server(lambda r, w: relay(r, w, record), "127.0.0.1", LISTEN)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set)
    async with server:
        await stop.wait()
    record.close()


asyncio.run(main())
