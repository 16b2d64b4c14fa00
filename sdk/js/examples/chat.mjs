// A terminal chat on ArqonBus: joins a room, prints its messages (in seq order, once) and
// presence, and publishes every line typed. Ctrl-D leaves.
//
//   node examples/chat.mjs ws://127.0.0.1:4000/ws "$(arq auth gen --tenant default --sub me)" lobby
//
// Node 22 has a global WebSocket; on Node 20 run with --experimental-websocket; otherwise
// `npm install ws` next to this file and it is used instead.
import { createInterface } from 'node:readline';
import { Client } from '../src/arqonbus.js';

const [url, token, roomName = 'lobby'] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node examples/chat.mjs WS_URL TOKEN [ROOM]');
  process.exit(2);
}
const WebSocket = globalThis.WebSocket ?? (await import('ws')).default;

const client = new Client(url, { token, WebSocket, encoding: 'binary' });
client.on('state', (s) => console.error(`[${s}]`));
client.on('error', (e) => console.error(`[error ${e.code}] ${e.reason}${e.room ? ` (room ${e.room})` : ''}`));

await client.connect();
// sinceSeq 0: the room's history first (as far as it is kept), then live messages, each once.
const room = await client.join(roomName, { sinceSeq: 0 });
const text = new TextDecoder();
room.on('message', (m) => console.log(`#${m.seq} ${m.sender}: ${text.decode(m.data)}`));
room.on('presence', (p) => console.error(`[${p.user} ${p.kind === 'join' ? 'joined' : 'left'}]`));
room.on('gap', (g) => console.error(`[messages ${g.fromSeq}..${g.toSeq} are no longer in the history]`));

console.error(`[members: ${(await room.presence()).map((m) => m.user).join(', ')}]`);

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line) return;
  room.publish('chat.message', line).catch((e) => console.error(`[not sent: ${e.code} ${e.reason}]`));
});
rl.on('close', async () => {
  await room.leave().catch(() => {});
  client.close();
});
