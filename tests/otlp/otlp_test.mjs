// otlp_test.mjs CTRACE PROGS-DIR - `ctrace export --format=otlp`, decoded
// with OpenTelemetry's own definitions of OTLP (the protobufjs messages that
// @opentelemetry/otlp-transformer ships, not a parser of ours), and posted
// to a receiver on loopback (--otlp-endpoint). Every task and region of
// ctrace's reports must be a span, nested as on its thread, with the logs
// as events. Prints one line per failed check and a closing count.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const [ctrace, progs] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL: ${name} ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  }
}

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(args[0], args.slice(1), { env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- decoding: OTLP/JSON through the OTLP protobuf definitions ----

const ID_LENGTH = { traceId: 32, spanId: 16, parentSpanId: 16 };

// OTLP/JSON's one departure from protobuf's JSON mapping: ids are hex, not
// base64. Hex to bytes here, then protobufjs does the rest.
function idsToBytes(v) {
  if (Array.isArray(v)) return v.map(idsToBytes);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k in ID_LENGTH) {
        if (typeof x !== 'string' || x.length !== ID_LENGTH[k] || !/^[0-9a-f]+$/.test(x))
          throw new Error(`${k} ${JSON.stringify(x)} is not ${ID_LENGTH[k]} lowercase hex digits`);
        out[k] = Buffer.from(x, 'hex');
      } else out[k] = idsToBytes(x);
    }
    return out;
  }
  return v;
}

function idsToHex(v) {
  if (Array.isArray(v)) return v.map(idsToHex);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out = {};
    for (const [k, x] of Object.entries(v))
      out[k] = k in ID_LENGTH ? Buffer.from(x).toString('hex') : idsToHex(x);
    return out;
  }
  return v;
}

// Our JSON without what protobuf's canonical form leaves out (empty arrays).
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v))
      if (!(Array.isArray(x) && x.length === 0)) out[k] = canonical(x);
    return out;
  }
  return v;
}

// One ExportTraceServiceRequest: verified against the message definitions,
// encoded to binary protobuf and decoded back; what comes back must be what
// was written, so no field was misnamed, mistyped or unknown.
function decode(text) {
  const json = JSON.parse(text);
  const message = Request.fromObject(idsToBytes(json));
  const error = Request.verify(message);
  if (error) throw new Error(`not an ExportTraceServiceRequest: ${error}`);
  const binary = Request.encode(message).finish();
  const back = idsToHex(Request.toObject(Request.decode(binary), { longs: String, enums: Number }));
  if (!isDeepStrictEqual(back, canonical(json)))
    throw new Error(`changed by the round trip through protobuf:\n${JSON.stringify(json).slice(0, 2000)}\n${JSON.stringify(back).slice(0, 2000)}`);
  for (const rs of json.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        if (typeof s.kind !== 'number' || typeof s.startTimeUnixNano !== 'string')
          throw new Error(`kind must be an integer and times strings: ${JSON.stringify(s)}`);
  return back;
}

function decodeLines(text, what) {
  const requests = [];
  const lines = text.split('\n');
  check(`${what}: ends with a newline`, lines[lines.length - 1] === '');
  for (const line of lines.slice(0, -1)) {
    check(`${what}: a request under 4 MiB`, Buffer.byteLength(line) <= 4 << 20, Buffer.byteLength(line));
    try {
      requests.push(decode(line));
    } catch (e) {
      check(`${what}: decodes`, false, e.message);
    }
  }
  return requests;
}

function attrs(list) {
  const out = {};
  for (const a of list || []) {
    const v = a.value;
    out[a.key] = 'intValue' in v ? Number(v.intValue) : v.stringValue;
  }
  return out;
}

// Spans by the file of their resource.
function spansByFile(requests) {
  const out = {};
  for (const r of requests)
    for (const rs of r.resourceSpans) {
      const res = attrs(rs.resource.attributes);
      const entry = out[res['ctrace.file']] ??= { resource: res, spans: [] };
      for (const ss of rs.scopeSpans) {
        check('scope is ctrace', ss.scope.name === 'ctrace', ss.scope);
        entry.spans.push(...ss.spans);
      }
    }
  return out;
}

async function report(cmd, file, ...extra) {
  const r = await run([ctrace, cmd, '--json', ...extra, file]);
  check(`ctrace ${cmd} ${path.basename(file)}`, r.code === 0, r.stderr);
  return JSON.parse(r.stdout);
}

// ---- what one file's spans must be ----

async function checkFile(file, entry) {
  const name = path.basename(file);
  const [stats, regions, tasks, threads] = await Promise.all(
    ['stats', 'regions', 'tasks', 'threads'].map((c) => report(c, file)));
  const { resource, spans } = entry;
  check(`${name}: resource`, resource['service.name'] === 'fleet' && resource['process.pid'] === stats.pid &&
        resource['host.name'] && resource['process.command_line'] === stats.command, resource);
  const byId = new Map();
  for (const s of spans) {
    check(`${name}: span ids unique`, !byId.has(s.spanId), s.spanId);
    byId.set(s.spanId, s);
  }
  const count = (n) => spans.filter((s) => s.name === n).length;
  // Every region and task of the reports is a span.
  for (const t of regions)
    check(`${name}: region ${t.type} spans`, count(t.type) === t.count + t.unfinished + t.unmatched +
          (tasks.find((k) => k.type === t.type) ? tasks.find((k) => k.type === t.type).count +
           tasks.find((k) => k.type === t.type).unfinished : 0),
          `${count(t.type)} vs ${JSON.stringify(t)}`);
  for (const t of tasks)
    if (!regions.find((r) => r.type === t.type))
      check(`${name}: task ${t.type} spans`, count(t.type) === t.count + t.unfinished, `${count(t.type)} vs ${JSON.stringify(t)}`);
  const tids = new Set(threads.map((t) => t.tid));
  const isTask = (s) => 'ctrace.task.id' in attrs(s.attributes) && !('ctrace.region.depth' in attrs(s.attributes));
  for (const s of spans) {
    const a = attrs(s.attributes);
    check(`${name}: ${s.name} kind internal`, s.kind === 1);
    check(`${name}: ${s.name} ends after it begins`, BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    if ('ctrace.region.depth' in a)
      check(`${name}: region ${s.name} on a thread of the trace`, tids.has(a['thread.id']) &&
            typeof a['thread.name'] === 'string', a);
    if (!s.parentSpanId) continue;
    const p = byId.get(s.parentSpanId);
    check(`${name}: ${s.name}'s parent is there`, p, s);
    if (!p) continue;
    check(`${name}: ${s.name} in its parent's trace`, p.traceId === s.traceId);
    check(`${name}: ${s.name} within its parent`, BigInt(p.startTimeUnixNano) <= BigInt(s.startTimeUnixNano) &&
          BigInt(s.endTimeUnixNano) <= BigInt(p.endTimeUnixNano), [p, s]);
    if (!isTask(p))
      check(`${name}: ${s.name} on its parent's thread`, attrs(p.attributes)['thread.id'] === a['thread.id']);
  }
  // The program's nesting: its regions in "handle", "handle" in its task.
  const parentName = (s) => byId.get(s.parentSpanId)?.name;
  for (const s of spans) {
    const a = attrs(s.attributes);
    if (['parse', 'query', 'render'].includes(s.name))
      check(`${name}: ${s.name} in handle`, parentName(s) === 'handle', parentName(s));
    if (s.name === 'handle')
      check(`${name}: handle in its request`, parentName(s) === 'request' &&
            isTask(byId.get(s.parentSpanId)) && attrs(byId.get(s.parentSpanId).attributes)['ctrace.task.id'] === a['ctrace.task.id']);
    if (s.name === 'audit' && 'ctrace.region.depth' in a)
      check(`${name}: the audit region in its task`, parentName(s) === 'audit' && isTask(byId.get(s.parentSpanId)));
    if (s.name === 'audit' && isTask(s)) {
      const link = s.links?.[0];
      const parent = link && byId.get(link.spanId);
      check(`${name}: a subtask links to its parent task`, parent && parent.name === 'request' &&
            parent.traceId === link.traceId && a['ctrace.task.parent_id'] === attrs(parent.attributes)['ctrace.task.id'], s.links);
      check(`${name}: a subtask is a trace of its own`, parent && parent.traceId !== s.traceId);
    }
    if (s.name === 'dispatch')
      check(`${name}: a region of no task is a root`, !s.parentSpanId);
    if (s.name === 'wait-forever' || s.name === 'stuck')
      check(`${name}: ${s.name} unfinished`, a['ctrace.status'] === 'unfinished', a);
  }
  // Every log is an event, on the span it happened in.
  const events = spans.flatMap((s) => (s.events || []).map((e) => ({ span: s, e })));
  check(`${name}: a log, an event`, events.length === stats.logs, `${events.length} vs ${stats.logs}`);
  for (const { span, e } of events) {
    const a = attrs(e.attributes);
    check(`${name}: event has its message and thread`, typeof a.message === 'string' && tids.has(a['thread.id']), e);
    if (e.name === 'request')
      check(`${name}: a request's log on its task`, span.name === 'request' && isTask(span) &&
            a.message.startsWith('request ') && a['ctrace.task.id'] === attrs(span.attributes)['ctrace.task.id'], span.name);
    if (e.name === 'audit')
      check(`${name}: an audit's log in its region`, span.name === 'audit' && !isTask(span), span.name);
    if (e.name === 'startup')
      check(`${name}: a log of no task, outside regions: a span of its own`,
            span.name === 'startup' && !span.parentSpanId && a.message === 'fleet server starting');
  }
  return spans.length;
}

// ---- a receiver on loopback ----

function receiver(answer) {
  const got = { requests: [], calls: 0, paths: [], types: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.calls++;
      got.paths.push(req.url);
      got.types.push(req.headers['content-type']);
      const [status, body] = answer(got.calls);
      if (status === 200) {
        try {
          got.requests.push(decode(Buffer.concat(chunks).toString()));
        } catch (e) {
          check('posted: decodes', false, e.message);
        }
      }
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ got, server, url: `http://127.0.0.1:${server.address().port}` })));
}

// ---- the test ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrace-otlp-'));
try {
  const env = { CTRACE_GENERATION_MS: '5' };
  const files = [];
  for (const [seed, requests] of [[1, 300], [2, 200], [3, 12000]]) {
    const file = path.join(tmp, `fleet-${seed}.out`);
    const r = await run([ctrace, 'run', '-o', file, '--', path.join(progs, 'fleet'), String(seed), String(requests)], env);
    check(`record ${seed}`, r.code === 0, r.stderr);
    files.push(fs.realpathSync(file));
  }
  const small = files.slice(0, 2);

  // Two files to a file: a resource each, every task and region.
  const out = path.join(tmp, 'spans.jsonl');
  let r = await run([ctrace, 'export', '--format=otlp', '-o', out, ...small]);
  check('export -o', r.code === 0 && r.stdout === '', r.stderr);
  const text = fs.readFileSync(out, 'utf8');
  const byFile = spansByFile(decodeLines(text, 'two files'));
  check('a resource per file', isDeepStrictEqual(Object.keys(byFile).sort(), [...small].sort()), Object.keys(byFile));
  let spans = 0;
  for (const f of small)
    if (byFile[f]) spans += await checkFile(f, byFile[f]);
  r = await run([ctrace, 'export', '--format=otlp', ...small]);
  check('standard output, the same spans (the same ids)', r.code === 0 && r.stdout === text);

  // A large trace: several requests, each under the limit, nothing lost.
  r = await run([ctrace, 'export', '--format=otlp', '-o', out, files[2]]);
  check('large export', r.code === 0, r.stderr);
  const large = fs.readFileSync(out, 'utf8');
  check('large: several requests', large.split('\n').length > 3, large.split('\n').length);
  const big = spansByFile(decodeLines(large, 'large'));
  if (big[files[2]]) await checkFile(files[2], big[files[2]]);

  // To a collector: the same spans, posted as OTLP/HTTP JSON to /v1/traces.
  let rx = await receiver(() => [200, '{}']);
  r = await run([ctrace, 'export', '--format=otlp', '--otlp-endpoint', rx.url, ...small]);
  check('post: exit 0, nothing written locally', r.code === 0 && r.stdout === '', r.stderr);
  check('post: says what it sent', r.stderr.includes(`${spans} spans`) && r.stderr.includes(`${rx.url}/v1/traces`), r.stderr);
  check('post: to /v1/traces as JSON', rx.got.paths.every((p) => p === '/v1/traces') &&
        rx.got.types.every((t) => t === 'application/json') && rx.got.calls > 0, rx.got);
  const posted = spansByFile(rx.got.requests);
  for (const f of small)
    check(`post: the spans of ${path.basename(f)}`, posted[f] && isDeepStrictEqual(posted[f], byFile[f]));
  rx.server.close();

  // A path of its own is kept; a busy collector (503) is tried again.
  rx = await receiver((n) => (n === 1 ? [503, '{"message":"busy"}'] : [200, '{}']));
  r = await run([ctrace, 'export', '--format=otlp', '--otlp-endpoint', `${rx.url}/custom/traces`, small[0]]);
  check('busy: tried again', r.code === 0 && rx.got.calls === 2 && rx.got.requests.length === 1, r.stderr);
  check('busy: the path given', rx.got.paths.every((p) => p === '/custom/traces'), rx.got.paths);
  rx.server.close();

  // A refusal is final, shown with the collector's words; -o is removed.
  rx = await receiver(() => [400, '{"code":3,"message":"spans refused for the test"}']);
  const refused = path.join(tmp, 'refused.jsonl');
  r = await run([ctrace, 'export', '--format=otlp', '-o', refused, '--otlp-endpoint', rx.url, small[0]]);
  check('refused: exit 1', r.code === 1, r.code);
  check('refused: the collector\'s words', r.stderr.includes('(HTTP 400)') && r.stderr.includes('spans refused for the test') &&
        r.stderr.includes(path.basename(small[0])), r.stderr);
  check('refused: tried once', rx.got.calls === 1, rx.got.calls);
  check('refused: no half-written output', !fs.existsSync(refused));
  rx.server.close();

  // No collector there.
  r = await run([ctrace, 'export', '--format=otlp', '--otlp-endpoint', 'http://127.0.0.1:1', small[0]]);
  check('no collector: exit 1 and why', r.code === 1 && r.stderr.includes('cannot send spans to http://127.0.0.1:1/v1/traces'), r.stderr);
  // A damaged file: exit 1 with where.
  const damaged = path.join(tmp, 'damaged.out');
  const bytes = fs.readFileSync(small[0]);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  fs.writeFileSync(damaged, bytes);
  r = await run([ctrace, 'export', '--format=otlp', '-o', path.join(tmp, 'd.jsonl'), damaged]);
  check('damaged: exit 1, the file and byte', r.code === 1 && r.stderr.includes('damaged.out: byte'), r.stderr);
  check('damaged: no output left', !fs.existsSync(path.join(tmp, 'd.jsonl')));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
