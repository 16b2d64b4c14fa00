#!/usr/bin/python3
"""A terminal chat: lines typed are published, the room's messages printed in order.

    sdk/python/examples/chat.py lobby --user ada
"""
import argparse
import asyncio
import sys

from _common import URL, token_source

import arqonbus


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("room")
    ap.add_argument("--user", required=True)
    args = ap.parse_args()
    client = arqonbus.Client(URL, token=token_source(args.user))
    client.on("state", lambda s: print(f"* {s}"))
    client.on("error", lambda e: print(f"* error {e.code}: {e.reason}"))
    await client.connect()
    room = await client.join(args.room, since_seq=0)       # the whole history first
    room.on("message", lambda m: print(f"[{m.seq}] {m.sender}: {m.data.decode(errors='replace')}"))
    room.on("presence", lambda p: print(f"* {p.user} {p.kind}s"))
    room.on("gap", lambda g: print(f"* messages {g.from_seq}..{g.to_seq} are gone"))
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip():
                try:
                    await room.publish("chat", line.rstrip("\n").encode())
                except arqonbus.Error as e:
                    print(f"* not sent: {e.code} {e.reason}")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
