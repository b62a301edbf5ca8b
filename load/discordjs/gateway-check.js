// Raw WebSocket checks of cordbank-discord-sim --serve's Gateway, with the
// `ws` package only (no Discord library): what a client sees byte by byte.
// Run by tests/integration/sim-server.sh against a simulator started with
//   --shards 2 --guilds 4 --max-concurrency 2 --heartbeat-ms 1000
//   --identify-interval-ms 3000 --disallowed-intents 2 --callback-window-ms 1500
//
//   SIM_URL=http://127.0.0.1:P node gateway-check.js
//
// Prints "PASS name" or "FAIL name: detail" per check and a last line
// "gateway-check: N passed, M failed"; exits 1 when any failed. Every wait
// is bounded (WAIT_MS per message, the whole run by RUN_TIMEOUT_MS).
'use strict';
const zlib = require('node:zlib');
const WebSocket = require('ws');

const base = process.env.SIM_URL;
const wsBase = base.replace(/^http/, 'ws');
const TOKEN = 'cordbank-dev-token';
const WAIT_MS = 5000;
let passed = 0;
let failed = 0;
setTimeout(() => {
  console.log('FAIL run: timed out');
  process.exit(1);
}, Number(process.env.RUN_TIMEOUT_MS || 90000)).unref();

function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`PASS ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${detail === undefined ? '' : JSON.stringify(detail)}`);
  }
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function control(path, body) {
  const res = await fetch(`${base}${path}`, body ? { method: 'POST', body: JSON.stringify(body) } : {});
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}
const stats = async () => (await control('/_sim/stats')).body;

// A connection that queues every payload (decoded) and its close code.
class Conn {
  constructor(url, { zlibStream = false } = {}) {
    this.messages = [];
    this.waiters = [];
    this.frames = [];
    this.closed = null;
    this.seq = 0; // the last dispatch sequence seen
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    if (zlibStream) {
      this.inflate = zlib.createInflate();
      this.text = '';
      this.inflate.on('data', (chunk) => (this.text += chunk.toString('utf8')));
      this.chain = Promise.resolve();
    }
    this.ws.on('message', (data, binary) => this.onFrame(data, binary));
    this.ws.on('close', (code) => {
      this.closed = code;
      clearInterval(this.beating);
      this.wake();
    });
    this.ws.on('error', () => {});
  }
  onFrame(data, binary) {
    this.frames.push({ data, binary });
    if (!this.inflate) {
      this.push(data.toString('utf8'));
      return;
    }
    // One inflate context for the connection; a message ends with 00 00 ff ff.
    this.chain = this.chain.then(
      () =>
        new Promise((resolve) => {
          this.inflate.write(data);
          this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            const text = this.text;
            this.text = '';
            this.push(text);
            resolve();
          });
        }),
    );
  }
  push(text) {
    try {
      const m = JSON.parse(text);
      if (typeof m.s === 'number' && m.s > this.seq) this.seq = m.s;
      this.messages.push(m);
    } catch (e) {
      this.messages.push({ unparsable: text });
    }
    this.wake();
  }
  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }
  opened() {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
  }
  // The next payload matching pred (or null after WAIT_MS / on close).
  async next(pred = () => true, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (this.closed !== null || Date.now() >= deadline) return null;
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
  }
  async closeCode(ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    while (this.closed === null && Date.now() < deadline)
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    return this.closed;
  }
  // Heartbeats every ms, as a client must to stay connected.
  beat(ms = 500) {
    this.beating = setInterval(() => this.ws.readyState === WebSocket.OPEN && this.send({ op: 1, d: null }), ms);
    this.beating.unref();
  }
  send(payload) {
    this.ws.send(typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
  identify(shard, extra = {}) {
    this.send({
      op: 2,
      d: { token: TOKEN, intents: 1, properties: { os: 'linux', browser: 'check', device: 'check' }, shard, ...extra },
    });
  }
  end() {
    this.ws.terminate();
  }
}

const dispatch = (t) => (m) => m.op === 0 && m.t === t;

// HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeat ACK.
async function helloIdentifyReady() {
  const c = new Conn(`${wsBase}/?v=10&encoding=json`);
  const hello = await c.next();
  check('HELLO first, op 10 with heartbeat_interval', hello && hello.op === 10 && hello.d.heartbeat_interval === 1000, hello);
  c.identify([0, 2]);
  const ready = await c.next(dispatch('READY'));
  check('READY after IDENTIFY, s=1', ready && ready.s === 1, ready);
  const d = ready ? ready.d : {};
  check('READY has a 32-hex session_id', /^[0-9a-f]{32}$/.test(d.session_id || ''), d.session_id);
  check('READY resume_gateway_url is the /resume path', d.resume_gateway_url === `${wsBase}/resume`, d.resume_gateway_url);
  check('READY shard is [0, 2]', JSON.stringify(d.shard) === '[0,2]', d.shard);
  const ids = (d.guilds || []).map((g) => BigInt(g.id));
  check('READY lists the shard\'s guilds, unavailable', ids.length === 2 && ids.every((id) => (id >> 22n) % 2n === 0n) && d.guilds.every((g) => g.unavailable === true), d.guilds);
  const creates = [await c.next(dispatch('GUILD_CREATE')), await c.next(dispatch('GUILD_CREATE'))];
  check('a GUILD_CREATE per guild, s=2 and 3', creates.every((g) => g) && creates[0].s === 2 && creates[1].s === 3 && creates[0].d.channels.length === 1, creates.map((g) => g && g.s));
  c.send({ op: 1, d: 3 });
  const ack = await c.next((m) => m.op === 11);
  check('heartbeat is ACKed (op 11)', ack !== null, c.messages);
  c.beat(); // or it is a zombie (closed 4009) 2.5 s from now
  return { c, session: d.session_id };
}

// Interactions, callbacks, then a RESUME that replays what was missed.
async function interactionsAndResume(c, session) {
  const queued = await control('/_sim/interactions', { count: 3, rate: 1000, guilds: 1, command: 'pay', options: { user: '$member', amount: 5 } });
  check('/_sim/interactions answers queued', queued.status === 200 && queued.body.queued === 3, queued);
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await c.next(dispatch('INTERACTION_CREATE')));
  check('3 INTERACTION_CREATE on shard 0, s=4..6', got.every((m) => m) && got.map((m) => m.s).join() === '4,5,6', got.map((m) => m && m.s));
  const ix = got[0] ? got[0].d : {};
  const amount = ((ix.data && ix.data.options) || []).find((o) => o.name === 'amount');
  check('the interaction has the HTTP fields and typed options', ix.type === 2 && ix.data.name === 'pay' && ix.guild_id === '7000' && ix.member.user.id && amount && amount.type === 4 && amount.value === 5 && ix.data.resolved && ix.token && ix.application_id === '1100000000000000001', ix);
  const cb = (i, body) => fetch(`${base}/api/v10/interactions/${got[i].d.id}/${got[i].d.token}/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const first = await cb(0, { type: 4, data: { content: 'paid' } });
  check('callback type 4: 204', first.status === 204, first.status);
  const second = await cb(0, { type: 4, data: { content: 'paid again' } });
  const secondBody = await second.json();
  check('second callback: 400 code 40060', second.status === 400 && secondBody.code === 40060, secondBody);
  const empty = await cb(1, { type: 4, data: {} });
  check('empty type 4 message: 400 code 50006', empty.status === 400 && (await empty.json()).code === 50006, empty.status);
  const deferred = await cb(1, { type: 5 });
  check('deferred callback (type 5): 204', deferred.status === 204, deferred.status);
  const edit = await fetch(`${base}/api/v10/webhooks/1100000000000000001/${got[1].d.token}/messages/@original`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'done' }) });
  const edited = await edit.json();
  check('PATCH @original after a deferral: 200 with the message', edit.status === 200 && edited.content === 'done' && edited.edited_timestamp, edited);
  await sleep(1700); // past --callback-window-ms 1500
  const late = await cb(2, { type: 4, data: { content: 'late' } });
  check('a callback after the window: 404 code 10062', late.status === 404 && (await late.json()).code === 10062, late.status);
  // The client loses its connection; two interactions arrive meanwhile.
  c.end();
  await c.closeCode();
  await control('/_sim/interactions', { count: 2, rate: 1000, guilds: 1 });
  await sleep(300);
  const r = new Conn(`${wsBase}/resume?v=10&encoding=json`);
  await r.next((m) => m.op === 10);
  r.beat();
  r.send({ op: 6, d: { token: TOKEN, session_id: session, seq: 6 } });
  const replay = [await r.next(dispatch('INTERACTION_CREATE')), await r.next(dispatch('INTERACTION_CREATE'))];
  const resumed = await r.next(dispatch('RESUMED'));
  check('RESUME replays the missed dispatches with their seq (7, 8)', replay.every((m) => m) && replay.map((m) => m.s).join() === '7,8', replay.map((m) => m && m.s));
  check('then RESUMED (s=9)', resumed && resumed.s === 9, resumed);
  const s = await stats();
  check('stats: one resume, at the resume URL', s.resumes === 1 && s.resumed_at_resume_url === 1, { resumes: s.resumes, at: s.resumed_at_resume_url });
  check('stats: answered 2, answered_twice 1, deferred 1, edited 1, expired 1', s.interactions.answered === 2 && s.interactions.answered_twice === 1 && s.interactions.deferred === 1 && s.interactions.edited === 1 && s.interactions.expired === 1, s.interactions);
  const bad = new Conn(`${wsBase}/resume?v=10&encoding=json`);
  await bad.next((m) => m.op === 10);
  bad.send({ op: 6, d: { token: TOKEN, session_id: 'nope', seq: 1 } });
  const invalid = await bad.next((m) => m.op === 9);
  check('RESUME of an unknown session: op 9 d=false', invalid && invalid.d === false, invalid);
  bad.end();
  return r;
}

// compress=zlib-stream: one zlib stream for the connection, each message flushed.
async function zlibStream() {
  const c = new Conn(`${wsBase}/?v=10&encoding=json&compress=zlib-stream`, { zlibStream: true });
  const hello = await c.next();
  check('zlib-stream: HELLO inflates', hello && hello.op === 10, hello);
  c.identify([1, 2]);
  const ready = await c.next(dispatch('READY'));
  check('zlib-stream: READY inflates on the same context', ready && JSON.stringify(ready.d.shard) === '[1,2]', ready);
  const frames = c.frames;
  check('zlib-stream: binary frames ending in 00 00 ff ff', frames.length >= 2 && frames.every((f) => f.binary && f.data.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))), frames.length);
  let standalone = true;
  try {
    zlib.inflateSync(frames[1].data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    standalone = false;
  }
  check('zlib-stream: a later frame does not inflate alone (one stream)', !standalone, standalone);
  return c;
}

// Close codes for a payload sent after HELLO (or as IDENTIFY d).
async function closesWith(name, payload, code, url = `${wsBase}/?v=10&encoding=json`) {
  const c = new Conn(url);
  await c.next((m) => m.op === 10);
  if (payload !== undefined) c.send(payload);
  const got = await c.closeCode();
  check(`${name}: close ${code}`, got === code, got);
}
const identifyPayload = (d) => ({ op: 2, d: { token: TOKEN, intents: 1, properties: { os: 'x', browser: 'x', device: 'x' }, ...d } });

async function closeCodes() {
  await closesWith('bad token', identifyPayload({ token: 'wrong', shard: [0, 2] }), 4004);
  await closesWith('unknown opcode', { op: 99, d: null }, 4001);
  await closesWith('not JSON', 'not json', 4002);
  await closesWith('presence before IDENTIFY', { op: 3, d: {} }, 4003);
  await closesWith('shard id beyond count', identifyPayload({ shard: [5, 2] }), 4010);
  await closesWith('fewer shards than required', identifyPayload({ shard: [0, 1] }), 4011);
  await closesWith('unknown intents', identifyPayload({ intents: 2 ** 30, shard: [0, 2] }), 4013);
  await closesWith('disallowed intents', identifyPayload({ intents: 3, shard: [0, 2] }), 4014);
  await closesWith('API version 6', undefined, 4012, `${wsBase}/?v=6&encoding=json`);
  const flood = new Conn(`${wsBase}/?v=10&encoding=json`);
  await flood.next((m) => m.op === 10);
  // Exactly one over: payloads sent after the close can reset the TCP connection
  // before the client reads the close frame (then it sees 1006).
  for (let i = 0; i < 121; i++) flood.send({ op: 1, d: null });
  check('more than 120 payloads in 60 s: close 4008', (await flood.closeCode()) === 4008, flood.closed);
  const zombie = new Conn(`${wsBase}/?v=10&encoding=json`);
  await zombie.next((m) => m.op === 10);
  check('no heartbeat for 1.5 intervals: close 4009', (await zombie.closeCode(6000)) === 4009, zombie.closed);
}

// Faults on a live shard-0 session; then IDENTIFY concurrency (4008, 4005).
async function faults(r) {
  await control('/_sim/fault', { fault: 'reconnect', shard: 0 });
  const seven = await r.next((m) => m.op === 7);
  check('fault reconnect: op 7', seven !== null, r.messages);
  await control('/_sim/fault', { fault: 'stop_acks', shard: 0, seconds: 2 });
  r.messages = r.messages.filter((m) => m.op !== 11);
  const before = await stats();
  r.send({ op: 1, d: 9 });
  const none = await r.next((m) => m.op === 11, 700);
  const after = await stats();
  check('fault stop_acks: heartbeats not ACKed', none === null && after.heartbeats > before.heartbeats && after.heartbeat_acks === before.heartbeat_acks, { none, before: before.heartbeat_acks, after: after.heartbeat_acks });
  await control('/_sim/fault', { fault: 'clear' });
  r.send({ op: 1, d: 9 });
  check('after clear: ACKed again', (await r.next((m) => m.op === 11)) !== null, r.messages);
  r.identify([0, 2]);
  check('IDENTIFY on an identified connection: close 4005', (await r.closeCode()) === 4005, r.closed);
  await sleep(3100); // the identify window of bucket 0 (--identify-interval-ms 3000)
  const a = new Conn(`${wsBase}/?v=10&encoding=json`);
  await a.next((m) => m.op === 10);
  a.identify([0, 2]);
  const ready = await a.next(dispatch('READY'));
  const b = new Conn(`${wsBase}/?v=10&encoding=json`);
  await b.next((m) => m.op === 10);
  b.identify([0, 2]);
  check('IDENTIFY within the bucket window: close 4008', ready !== null && (await b.closeCode()) === 4008, b.closed);
  await control('/_sim/fault', { fault: 'invalid_session', shard: 0 });
  const nine = await a.next((m) => m.op === 9);
  check('fault invalid_session: op 9 d=false', nine && nine.d === false, nine);
  const s = await stats();
  check('stats: identify_rate_limited counted', s.identify_rate_limited === 1, s.identify_rate_limited);
  a.end();
}

// Shard 1: callback with_response, followup, @original; the other faults;
// what a client's own close code does to its session.
async function moreFaults() {
  const a = new Conn(`${wsBase}/?v=10&encoding=json`);
  await a.next((m) => m.op === 10);
  a.beat();
  a.identify([1, 2]);
  const ready = await a.next(dispatch('READY'));
  const session = ready && ready.d.session_id;
  await control('/_sim/interactions', { count: 1, guild: 1, command: 'balance' });
  const ix = await a.next(dispatch('INTERACTION_CREATE'));
  check('an interaction of guild index 1 arrives on shard 1', ix && ix.d.guild_id === String(7001n + (1n << 22n)), ix && ix.d.guild_id);
  const hook = `${base}/api/v10/webhooks/1100000000000000001/${ix.d.token}`;
  const json = { 'content-type': 'application/json' };
  const cb = await fetch(`${base}/api/v10/interactions/${ix.d.id}/${ix.d.token}/callback?with_response=true`, { method: 'POST', headers: json, body: JSON.stringify({ type: 4, data: { content: 'hi', flags: 64 } }) });
  const cbBody = await cb.json();
  check('callback ?with_response=true: 200 with the message', cb.status === 200 && cbBody.resource.message.content === 'hi' && cbBody.interaction.response_message_ephemeral === true, cbBody);
  const follow = await fetch(hook, { method: 'POST', headers: json, body: JSON.stringify({ content: 'more' }) });
  check('followup: 200 with a message', follow.status === 200 && (await follow.json()).content === 'more', follow.status);
  const original = await fetch(`${hook}/messages/@original`);
  check('GET @original: the reply', original.status === 200 && (await original.json()).content === 'hi', original.status);
  const del = await fetch(`${hook}/messages/@original`, { method: 'DELETE' });
  check('DELETE @original: 204', del.status === 204, del.status);
  const wrong = await fetch(`${base}/api/v10/webhooks/1100000000000000001/not-a-token`, { method: 'POST', headers: json, body: '{"content":"x"}' });
  check('a webhook with an unknown token: 401 code 50027', wrong.status === 401 && (await wrong.json()).code === 50027, wrong.status);
  await control('/_sim/fault', { fault: 'heartbeat_request', shard: 1 });
  check('fault heartbeat_request: op 1 from the server', (await a.next((m) => m.op === 1)) !== null, a.messages);
  await control('/_sim/fault', { fault: 'invalid_session_resumable', shard: 1 });
  const nine = await a.next((m) => m.op === 9);
  check('fault invalid_session_resumable: op 9 d=true', nine && nine.d === true, nine);
  await control('/_sim/fault', { fault: 'drop', shard: 1 });
  check('fault drop: the client sees 1006 (no close frame)', (await a.closeCode()) === 1006, a.closed);
  const resume = async (seq) => {
    const r = new Conn(`${wsBase}/resume?v=10&encoding=json`);
    await r.next((m) => m.op === 10);
    r.beat();
    r.send({ op: 6, d: { token: TOKEN, session_id: session, seq } });
    return { r, answer: await r.next((m) => dispatch('RESUMED')(m) || m.op === 9) };
  };
  const b = await resume(a.seq);
  check('after a drop the session resumes', b.answer && b.answer.t === 'RESUMED', b.answer);
  await control('/_sim/fault', { fault: 'close', shard: 1, code: 4000 });
  check('fault close 4000: close 4000', (await b.r.closeCode()) === 4000, b.r.closed);
  const c = await resume(b.r.seq);
  check('after close 4000 the session resumes', c.answer && c.answer.t === 'RESUMED', c.answer);
  c.r.ws.close(1000);
  await c.r.closeCode();
  const d = await resume(c.r.seq);
  check('after the client closes with 1000 the session is gone: op 9 d=false', d.answer && d.answer.op === 9 && d.answer.d === false, d.answer);
  d.r.end();
  const s = await stats();
  check('stats: client close codes counted', s.client_closes['1000'] === 1, s.client_closes);
}

(async () => {
  const { c, session } = await helloIdentifyReady();
  const r = await interactionsAndResume(c, session);
  const z = await zlibStream();
  z.end();
  await closeCodes();
  await faults(r);
  await moreFaults();
  console.log(`gateway-check: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((error) => {
  console.log(`FAIL run: ${error.stack}`);
  process.exit(1);
});
