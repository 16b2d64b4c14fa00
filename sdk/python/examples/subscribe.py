#!/usr/bin/python3
"""Prints a room's messages in seq order, across reconnects, with presence and gaps.

    sdk/python/examples/subscribe.py lobby [--since 0] [--count 10] [--encoding json]
"""
import argparse
import asyncio

from _common import URL, token_source

import arqonbus


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("room")
    ap.add_argument("--user", default="subscriber")
    ap.add_argument("--since", type=int, default=None, help="replay history after this seq")
    ap.add_argument("--count", type=int, default=0, help="stop after this many messages")
    ap.add_argument("--encoding", default="binary", choices=["binary", "json"])
    args = ap.parse_args()

    async with arqonbus.Client(URL, token=token_source(args.user), encoding=args.encoding) as client:
        client.on("state", lambda s: print(f"# {s}", flush=True))
        room = await client.join(args.room, since_seq=args.since, gaps="yield")
        room.on("presence", lambda p: print(f"# {p.user} {p.kind}s ({p.conn_id})", flush=True))
        members = await room.presence()
        print(f"# in {args.room}: {', '.join(sorted({m.user for m in members}))}", flush=True)
        n = 0
        async for item in room:
            if isinstance(item, arqonbus.Gap):
                print(f"# gap: seqs {item.from_seq}..{item.to_seq} are gone", flush=True)
                continue
            print(f"{item.seq} {item.sender} {item.type} {item.data.decode(errors='replace')}",
                  flush=True)
            n += 1
            if args.count and n >= args.count:
                break


if __name__ == "__main__":
    asyncio.run(main())
