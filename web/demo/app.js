// The demo chat room, on the JavaScript SDK the Shield serves next to it (sdk/js/src/arqonbus.js).
//
// The URL fragment may carry `token` (joined at once: `make run` prints such a URL; a fragment
// never reaches the server), `room` (default lobby) and `ws` (the WebSocket path, default /ws).
// A room is joined with sinceSeq 0: the SDK hands over what the room's history still holds,
// then what comes live, each message once and in seq order across reconnects, and reports what
// history no longer has as a gap. The member list is read again after each reconnect, since
// presence events may have been missed meanwhile.
import { Client } from '../sdk/arqonbus.js';

const KEEP = 500; // messages kept on the page

const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
const decoder = new TextDecoder();
const encoder = new TextEncoder();

let client = null;
let clientToken = '';
let room = null;
let me = '';
let connectedOnce = false;
let reconnects = 0;
const members = new Map(); // conn id -> user

function showError(e) {
  $('error').textContent = !e ? '' :
    e.code ? `Error ${e.code}: ${e.reason || e.message}` : String(e.message || e);
}

function showState(state) {
  if (state === 'connected') {
    if (connectedOnce) reconnects++;
    connectedOnce = true;
    showError(null);
    if (room) refreshMembers(room); // sent by the SDK once the room is joined again
  }
  $('connection').dataset.state = state;
  $('state').textContent = state;
  $('reconnects').textContent = `${reconnects} reconnect${reconnects === 1 ? '' : 's'}`;
}

function setJoined(joined) {
  $('leave').disabled = !joined;
  $('text').disabled = $('send').disabled = !joined;
  $('room-name').textContent = joined ? `in ${room.name}` : '';
}

// ---- messages, in seq order --------------------------------------------------------------

function timeOf(ms) {
  const t = new Date(Number(ms) || Date.now());
  const el = document.createElement('time');
  el.dateTime = t.toISOString();
  el.textContent = t.toLocaleTimeString([], { hourCycle: 'h23' });
  return el;
}

function showMessage(m) {
  const list = $('messages');
  const seq = Number(m.seq) || 0;
  if (seq && list.querySelector(`li[data-seq="${seq}"]`)) return; // seen already (history and live)
  const li = document.createElement('li');
  li.dataset.seq = String(seq);
  if (m.sender === me) li.className = 'mine';
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.append(`#${seq} `, timeOf(m.timestamp));
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = m.sender || '?';
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = (m.type === 'chat' ? '' : `[${m.type}] `) + decoder.decode(m.data);
  li.append(meta, sender, text);
  // Usually the newest: walk back from the end to the first smaller seq.
  let after = list.lastElementChild;
  while (seq && after && Number(after.dataset.seq) > seq) after = after.previousElementSibling;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (after) after.after(li); else list.prepend(li);
  while (list.children.length > KEEP) list.firstElementChild.remove();
  if (atBottom || m.sender === me) list.scrollTop = list.scrollHeight;
}

function showGap(g) {
  const li = document.createElement('li');
  li.className = 'gap';
  li.dataset.seq = String(g.toSeq);
  li.textContent = g.fromSeq === g.toSeq ? `message #${g.fromSeq} is no longer available` :
    `messages #${g.fromSeq} to #${g.toSeq} are no longer available`;
  $('messages').append(li);
}

// ---- members -----------------------------------------------------------------------------

function showMembers() {
  const byUser = new Map();
  for (const user of members.values()) byUser.set(user, (byUser.get(user) || 0) + 1);
  const list = $('members');
  list.replaceChildren(...[...byUser.keys()].sort().map((user) => {
    const li = document.createElement('li');
    li.textContent = user + (user === me ? ' (you)' : '');
    const n = byUser.get(user);
    if (n > 1) {
      const conns = document.createElement('span');
      conns.className = 'conns';
      conns.textContent = ` ×${n}`;
      li.append(conns);
    }
    return li;
  }));
  $('member-count').textContent = byUser.size ? `(${byUser.size})` : '';
}

let replay = null; // presence events that arrive while the member list is being read

function applyPresence(p) {
  if (p.kind === 'join') members.set(p.connId, p.user);
  else if (p.kind === 'leave') members.delete(p.connId);
}

function onPresence(p) {
  if (replay) replay.push(p);
  applyPresence(p);
  showMembers();
}

// The list answers over another path than the events: an event that overtook it is applied
// again on top of it.
async function refreshMembers(r) {
  const events = [];
  replay = events;
  try {
    const list = await r.presence();
    if (r !== room) return;
    members.clear();
    for (const m of list) members.set(m.connId, m.user);
    events.forEach(applyPresence);
    showMembers();
  } catch (e) {
    if (r === room) showError(e);
  } finally {
    if (replay === events) replay = null;
  }
}

// ---- joining, leaving, sending -----------------------------------------------------------

async function join(token, name) {
  if (client && token !== clientToken) {
    client.close();
    client = null;
  }
  if (!client) {
    const ws = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
      (fragment.get('ws') || '/ws');
    client = new Client(ws, { token });
    clientToken = token;
    connectedOnce = false;
    reconnects = 0;
    client.on('state', showState);
    client.on('welcome', (w) => {
      me = w.user;
      $('identity').textContent = `as ${w.user} (tenant ${w.tenantId})`;
    });
    client.on('error', showError); // what goes wrong in the background, e.g. a lost connection
    await client.connect();
  }
  if (room) await leave();
  $('messages').replaceChildren();
  members.clear();
  const r = await client.join(name, { sinceSeq: 0 });
  room = r;
  r.on('message', (m) => { if (r === room) showMessage(m); });
  r.on('presence', (p) => { if (r === room) onPresence(p); });
  r.on('gap', (g) => { if (r === room) showGap(g); });
  setJoined(true);
  await refreshMembers(r);
}

async function leave() {
  const r = room;
  room = null;
  setJoined(false);
  members.clear();
  showMembers();
  await r.leave();
}

async function act(button, work) {
  button.disabled = true;
  showError(null);
  try {
    await work();
  } catch (e) {
    showError(e);
  } finally {
    if (button.id === 'join') button.disabled = false;
    else button.disabled = !room;
  }
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('join'), () => join($('token').value.trim(), $('room').value.trim()));
});
$('leave').addEventListener('click', () => act($('leave'), leave));
$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text || !room) return;
  act($('send'), async () => {
    await room.publish('chat', encoder.encode(text));
    $('text').value = '';
    $('text').focus();
  });
});

if (fragment.get('room')) $('room').value = fragment.get('room');
if (fragment.get('token')) {
  $('token').value = fragment.get('token');
  $('join-form').requestSubmit();
}
