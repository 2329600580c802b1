#!/usr/bin/env node
// mock_ragd.mjs: a tiny stand-in for ragd, so that chat.html, browser_chat.mjs
// and openai_client.mjs can be exercised without the C daemon.
//
//   node tests/js/mock_ragd.mjs [--port 0] [--key test-key] [--html PATH]
//
// Prints "listening on 127.0.0.1:PORT" once ready. It mimics the parts of
// ragd's API that the page and the tests use, including the awkward bits:
// SSE events deliberately split across network writes, a final event with
// `choices: []` and the ragd extras, JSON errors, and Retry-After on 429.
// A question containing "__429__" or "__500__" triggers those errors.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function parseArgs(argv) {
  const opts = { port: 0, key: 'test-key', html: path.resolve(here, '../../rag/web/chat.html') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === '--port' && v !== undefined) { opts.port = Number(v); i++; }
    else if (a === '--key' && v !== undefined) { opts.key = v; i++; }
    else if (a === '--html' && v !== undefined) { opts.html = v; i++; }
    else {
      process.stderr.write('usage: mock_ragd.mjs [--port N] [--key KEY] [--html PATH]\n');
      process.exit(2);
    }
  }
  return opts;
}
const opts = parseArgs(process.argv.slice(2));

const ANSWER = ['Ref', 'unds take ', '14 days [', '1].'];
const CITATION = {
  n: 1, document: 7, uri: '/docs/policy.md', title: 'Refund policy',
  heading_path: 'Refund policy › Timing', chunk: 42,
  snippet: 'Refunds are issued within 14 days.',
};
const DOCUMENT = {
  id: 7, title: 'Refund policy', uri: '/docs/policy.md', mime: 'text/markdown',
  labels: 'staff,finance', chunks: 12, size: 4096, ingested_at: '2024-05-01T12:00:00Z',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sendJSON(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res, status, message, type, code, headers) {
  sendJSON(res, status, { error: { message, type, code } }, headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function authorised(req) {
  return (req.headers.authorization || '') === `Bearer ${opts.key}`;
}

// Deterministic fake embedding: 8 floats derived from the text.
function embed(text) {
  const v = new Float32Array(8);
  for (let i = 0; i < text.length; i++) v[i % 8] += (text.charCodeAt(i) % 31) / 31;
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < 8; i++) v[i] /= norm;
  return v;
}

async function chat(req, res) {
  let body;
  try { body = JSON.parse(await readBody(req)); } catch {
    return sendError(res, 400, 'request body is not valid JSON', 'invalid_request_error', null);
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.filter((m) => m && m.role === 'user').pop();
  if (!last || typeof last.content !== 'string' || !last.content.trim()) {
    return sendError(res, 400, 'messages must end with a user message', 'invalid_request_error', null);
  }
  if (last.content.includes('__429__')) {
    return sendError(res, 429, 'too many requests in flight', 'rate_limit_error', null, { 'Retry-After': '3' });
  }
  if (last.content.includes('__500__')) {
    return sendError(res, 500, 'the generator crashed', 'server_error', null);
  }
  const id = 'chatcmpl-mock1';
  const created = Math.floor(Date.now() / 1000);
  const model = body.model || 'ragd';
  const text = ANSWER.join('');
  const usage = { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 };
  const extras = {
    citations: [CITATION], invalid_citations: [], usage,
    timings: { retrieve_ms: 12, generate_ms: 200, total_ms: 215 },
    rag: { mode: 'generated' },
  };

  if (!body.stream) {
    return sendJSON(res, 200, {
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      ...extras,
    });
  }

  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
  });
  const chunk = (delta, finish = null) => ({
    id, object: 'chat.completion.chunk', created, model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const events = [chunk({ role: 'assistant', content: '' })];
  for (const piece of ANSWER) events.push(chunk({ content: piece }));
  events.push(chunk({}, 'stop'));
  events.push({ id, object: 'chat.completion.chunk', created, model, choices: [], ...extras });

  let aborted = false;
  res.on('close', () => { aborted = true; });
  for (const ev of events) {
    const wire = `data: ${JSON.stringify(ev)}\n\n`;
    // Split every event in two writes so that clients must reassemble lines.
    const cut = Math.floor(wire.length / 2);
    res.write(wire.slice(0, cut));
    await sleep(10);
    if (aborted) return;
    res.write(wire.slice(cut));
    await sleep(50);
    if (aborted) return;
  }
  res.end('data: [DONE]\n\n');
}

async function embeddings(req, res) {
  let body;
  try { body = JSON.parse(await readBody(req)); } catch {
    return sendError(res, 400, 'request body is not valid JSON', 'invalid_request_error', null);
  }
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(inputs) || !inputs.every((s) => typeof s === 'string')) {
    return sendError(res, 400, 'input must be a string or an array of strings', 'invalid_request_error', null);
  }
  const fmt = body.encoding_format || 'float';
  if (fmt !== 'float' && fmt !== 'base64') {
    return sendError(res, 400, 'encoding_format must be float or base64', 'invalid_request_error', null);
  }
  const data = inputs.map((s, index) => {
    const v = embed(s);
    const embedding = fmt === 'base64'
      ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
      : Array.from(v);
    return { object: 'embedding', index, embedding };
  });
  sendJSON(res, 200, { object: 'list', data, model: body.model || 'ragd-embed', usage: { prompt_tokens: 4, total_tokens: 4 } });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const p = url.pathname;
  try {
    if (req.method === 'GET' && p === '/') {
      const html = fs.readFileSync(opts.html);
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-store',
      });
      return res.end(html);
    }
    if (!p.startsWith('/v1/')) return sendError(res, 404, 'not found', 'invalid_request_error', null);
    if (!authorised(req)) return sendError(res, 401, 'invalid API key', 'invalid_request_error', 'invalid_api_key');
    if (req.method === 'POST' && p === '/v1/chat/completions') return await chat(req, res);
    if (req.method === 'POST' && p === '/v1/embeddings') return await embeddings(req, res);
    if (req.method === 'GET' && p === '/v1/models') {
      return sendJSON(res, 200, { object: 'list', data: [{ id: 'ragd', object: 'model', created: 0, owned_by: 'ragd' }] });
    }
    const m = /^\/v1\/documents\/(\d+)$/.exec(p);
    if (req.method === 'GET' && m) {
      if (Number(m[1]) === DOCUMENT.id) return sendJSON(res, 200, DOCUMENT);
      return sendError(res, 404, `no document ${m[1]}`, 'invalid_request_error', null);
    }
    return sendError(res, 404, 'not found', 'invalid_request_error', null);
  } catch (e) {
    if (!res.headersSent) sendError(res, 500, String(e && e.message || e), 'server_error', null);
    else res.destroy();
  }
});

server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
