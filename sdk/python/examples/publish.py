#!/usr/bin/python3
"""Publishes each argument to a room, each acknowledged before the next.

    sdk/python/examples/publish.py lobby "hello" "world" [--type chat]
"""
import argparse
import asyncio
import sys

from _common import URL, token_source

import arqonbus


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("room")
    ap.add_argument("text", nargs="+")
    ap.add_argument("--user", default="publisher")
    ap.add_argument("--type", default="chat")
    args = ap.parse_args()
    async with arqonbus.Client(URL, token=token_source(args.user)) as client:
        room = await client.join(args.room)
        for text in args.text:
            try:
                trace = await room.publish(args.type, text.encode())
            except arqonbus.Error as e:
                print(f"refused: {e.code} {e.reason}", file=sys.stderr)
                return 1
            # The ack says the Shield handed the message to the bus; its seq comes with its
            # delivery, which carries the trace id publish returned.
            while True:
                msg = await room.next(timeout=10)
                if msg.trace_id == trace:
                    break
            print(f"sent {text!r} as seq {msg.seq}", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
