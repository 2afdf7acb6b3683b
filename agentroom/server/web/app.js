// The room in a browser: a participant of a served room over the wire protocol
// (docs/protocol.md).  One ES module, no build step, no third-party code.
//
// Every piece of text from the room (an envelope, a name, a reply) is put on the page
// with textContent or a text node, never as markup: what a model or a person wrote is
// shown as written and can never run script or load anything.

const TAIL = 200; // envelopes asked for on a first connection (older ones stay on the server)
const WINDOW = 500; // messages kept drawn; the oldest go first, so a long room stays fast
const BACKOFF_FIRST = 500; // ms before the first reconnect; doubled up to BACKOFF_MOST
const BACKOFF_MOST = 10000;
const CLOSE_UNAUTHORIZED = 4401;
const DURABLE = new Set(["message", "action", "status"]);
const TOKEN_KEY = "agentroom-token";

const $ = (id) => document.getElementById(id);
const transcript = $("transcript");
const input = $("input");
const notice = $("notice");

const room = {
  socket: null,
  you: null,
  lastSeq: 0, // the highest seq drawn: a reconnect asks for what came after it
  state: null,
  online: [],
  streams: new Map(), // "sender\0turn" -> the in-flight reply's element
  pending: new Map(), // line id -> its text, until the room answers
  sent: 0,
  backoff: BACKOFF_FIRST,
  refused: false,
};

// -- the token: from the link's #token=, then kept for this tab only ----------------------

function readToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromLink = hash.get("token");
  if (fromLink) {
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    // Off the address bar (and out of history), so it is not left on screen.
    history.replaceState(null, "", location.pathname + location.search);
    return fromLink;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

// -- drawing ----------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function colour(name) {
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `s${hash % 8}`;
}

function atBottom() {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
}

function append(node) {
  const follow = atBottom();
  transcript.append(node);
  while (transcript.childElementCount > WINDOW) transcript.firstElementChild.remove();
  if (follow) transcript.scrollTop = transcript.scrollHeight;
}

function entry(kind, sender, receiver, text) {
  const quiet = kind !== "message";
  const node = el("article", quiet ? "msg quiet" : "msg");
  const head = el("span", "head");
  head.append(el("span", `who ${colour(sender)}`, sender));
  if (receiver && receiver !== "*") head.append(el("span", "to", ` → ${receiver}`));
  node.append(head, el(quiet ? "span" : "div", "body", text));
  node.dataset.sender = String(sender);
  return node;
}

function streamKey(sender, turn) {
  return `${sender}\u0000${turn}`;
}

function durable(frame) {
  if (typeof frame.seq !== "number" || frame.seq <= room.lastSeq) return; // never twice
  room.lastSeq = frame.seq;
  const node = entry(frame.type, frame.sender, frame.receiver, frame.content ?? "");
  node.dataset.seq = String(frame.seq);
  const turn = frame.metadata?.turn;
  const key = streamKey(frame.sender, turn);
  const streaming = turn !== undefined && room.streams.get(key);
  if (streaming) {
    // The saved reply replaces what was streamed: the only one kept.
    streaming.remove();
    room.streams.delete(key);
  }
  append(node);
}

function streamed(frame, replace) {
  const key = streamKey(frame.sender, frame.turn);
  let node = room.streams.get(key);
  if (!node) {
    node = entry("message", frame.sender, "*", "");
    node.classList.add("streaming");
    room.streams.set(key, node);
    append(node);
  }
  const body = node.querySelector(".body");
  if (replace) body.textContent = String(frame.text ?? "");
  else body.append(document.createTextNode(String(frame.text ?? "")));
  if (atBottom()) transcript.scrollTop = transcript.scrollHeight;
}

function say(text, warning = false) {
  notice.textContent = text;
  notice.classList.toggle("warning", warning);
}

function drawState() {
  const s = room.state;
  if (!s) return;
  $("title").textContent = s.title || "agentroom";
  document.title = s.title ? `${s.title} · agentroom` : "agentroom";
  const run = s.stopped ? `stopped: ${s.stopped}` : s.paused ? "paused" : "running";
  const parts = [s.strategy, `turn ${s.turn}`, `${s.tokens} tokens`, s.cost, run];
  const yours = Array.isArray(s.waiting) && s.waiting.includes(room.you);
  if (yours) parts.unshift("your turn");
  const status = $("status");
  status.textContent = parts.filter(Boolean).join(" · ");
  status.classList.toggle("yours", yours);
  const list = $("members");
  list.replaceChildren();
  for (const member of s.members ?? []) {
    const item = el("li");
    item.append(el("span", `who ${colour(member.id)}`, member.id));
    if (member.id === s.speaker) item.classList.add("speaking");
    if (member.kind === "human") {
      if (member.id === room.you) item.append(el("span", "label", " (you)"));
      else if (!room.online.includes(member.id)) item.append(el("span", "away", " away"));
    } else if (member.label) {
      item.append(el("span", "label", ` ${member.label}`));
    }
    list.append(item);
  }
}

// -- the wire ---------------------------------------------------------------------------------

function receive(frame) {
  if (DURABLE.has(frame.type)) return durable(frame);
  switch (frame.type) {
    case "hello":
      room.you = frame.you;
      room.state = frame.state;
      room.online = frame.state?.online ?? [];
      room.backoff = BACKOFF_FIRST;
      say("");
      return drawState();
    case "delta":
      return streamed(frame, false);
    case "partial":
      return streamed(frame, true);
    case "state":
      room.state = frame.state;
      room.online = frame.state?.online ?? room.online;
      return drawState();
    case "presence":
      room.online = frame.online ?? room.online;
      return drawState();
    case "reply":
      return answered(frame.id, frame.ok, frame.text ?? "");
    case "error":
      return answered(frame.id, false, frame.message ?? frame.code);
    default:
      return undefined; // a frame of a later protocol: nothing to draw
  }
}

function answered(id, ok, text) {
  const line = room.pending.get(id);
  room.pending.delete(id);
  if (!ok && line !== undefined && input.value === "") input.value = line; // not said: kept
  if (text) say(text, !ok);
  else if (ok) say("");
}

function connect() {
  const token = readToken();
  if (!token) {
    say("This page needs your own link: open the URL agentroom serve printed for you (…/#token=…).", true);
    return;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = room.lastSeq > 0 ? `since=${room.lastSeq}` : `tail=${TAIL}`;
  const socket = new WebSocket(`${scheme}//${location.host}/ws?${query}`);
  room.socket = socket;
  socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token })));
  socket.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame && typeof frame === "object") receive(frame);
  });
  socket.addEventListener("close", (event) => {
    if (room.socket !== socket) return;
    room.socket = null;
    if (event.code === CLOSE_UNAUTHORIZED) {
      room.refused = true;
      say("This link's token was refused: ask whoever serves the room for a new one.", true);
      return;
    }
    const wait = room.backoff;
    room.backoff = Math.min(room.backoff * 2, BACKOFF_MOST);
    say(`Disconnected; reconnecting in ${Math.round(wait / 1000) || 1} s (nothing is missed).`, true);
    setTimeout(connect, wait);
  });
}

function send(frame) {
  if (!room.socket || room.socket.readyState !== WebSocket.OPEN) {
    say("Not connected right now: your line is kept here, send it again once reconnected.", true);
    return false;
  }
  room.socket.send(JSON.stringify(frame));
  return true;
}

function sendLine() {
  const text = input.value;
  if (!text.trim()) return;
  room.sent += 1;
  const id = `w${room.sent}`;
  if (!send({ type: "line", text, id })) return;
  room.pending.set(id, text);
  input.value = "";
}

function interrupt() {
  room.sent += 1;
  send({ type: "interrupt", id: `w${room.sent}` });
}

// -- the person -------------------------------------------------------------------------------

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  sendLine();
  input.focus();
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendLine();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    interrupt();
  }
});
$("interrupt").addEventListener("click", () => {
  interrupt();
  input.focus();
});

input.focus();
connect();
