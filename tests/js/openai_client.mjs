#!/usr/bin/env node
// openai_client.mjs: the official `openai` npm package (v4) against ragd, unchanged.
//
//   node tests/js/openai_client.mjs --base-url http://127.0.0.1:PORT/v1 --key KEY \
//        [--model NAME] [--embeddings] [--question "..."] [--timeout 60]
//
// Checks a streamed and a non-streamed chat completion, optionally embeddings
// (the library's default base64 encoding and encoding_format "float" must
// agree), and the model list. Prints one JSON line; exit 0 = pass,
// 1 = fail (reason on stderr), 2 = bad usage.

import OpenAI from 'openai';

const USAGE = 'usage: openai_client.mjs --base-url URL --key KEY [--model NAME] [--embeddings] [--question TEXT] [--timeout SECONDS]';

function parseArgs(argv) {
  const o = { model: 'ragd', question: 'How long do refunds take?', embeddings: false, timeout: 60 };
  const names = { '--base-url': 'baseURL', '--key': 'key', '--model': 'model', '--question': 'question', '--timeout': 'timeout' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--embeddings') { o.embeddings = true; continue; }
    const name = names[argv[i]];
    if (!name || argv[i + 1] === undefined) return null;
    o[name] = argv[++i];
  }
  o.timeout = Number(o.timeout);
  if (!o.baseURL || !o.key || !(o.timeout > 0)) return null;
  return o;
}

const opts = parseArgs(process.argv.slice(2));
if (!opts) {
  process.stderr.write(USAGE + '\n');
  process.exit(2);
}

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg); };

const result = {
  ok: false, stream_chunks: 0, stream_text_chars: 0, citations_in_final_chunk: null,
  stream_finish_reason: null, nonstream_text_chars: 0, finish_reason: null,
  embedding_dims: null, models: 0,
};

async function main() {
  // No retries: a failure should show at once, not after back-off.
  const client = new OpenAI({ baseURL: opts.baseURL, apiKey: opts.key, maxRetries: 0, timeout: opts.timeout * 1000 });
  const messages = [{ role: 'user', content: opts.question }];

  // (a) Streamed chat completion.
  const stream = await client.chat.completions.create({ model: opts.model, messages, stream: true, max_tokens: 32 });
  let text = '';
  for await (const chunk of stream) {
    result.stream_chunks++;
    const ch = chunk.choices && chunk.choices[0];
    if (ch && ch.delta && typeof ch.delta.content === 'string') text += ch.delta.content;
    if (ch && ch.finish_reason) result.stream_finish_reason = ch.finish_reason;
    // ragd's final chunk: choices [] plus extras the library passes through.
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && Array.isArray(chunk.citations)) {
      result.citations_in_final_chunk = chunk.citations.length;
    }
  }
  result.stream_text_chars = text.length;
  if (!result.stream_chunks) fail('the stream produced no chunks');
  if (!text.trim()) fail('the streamed answer is empty');

  // (b) Non-streamed chat completion.
  const resp = await client.chat.completions.create({ model: opts.model, messages, max_tokens: 32 });
  const choice = resp.choices && resp.choices[0];
  if (!choice || !choice.message) fail('the non-streamed reply has no choices[0].message');
  const content = choice.message.content || '';
  result.nonstream_text_chars = content.length;
  result.finish_reason = choice.finish_reason || null;
  if (!content.trim()) fail('the non-streamed answer is empty');
  if (!result.finish_reason) fail('the non-streamed reply has no finish_reason');

  // (c) Embeddings: the library's default (base64, decoded by it) and float.
  if (opts.embeddings) {
    const input = ['first text', 'second text'];
    const b64 = await client.embeddings.create({ model: opts.model, input });
    const flt = await client.embeddings.create({ model: opts.model, input, encoding_format: 'float' });
    const vecs = (r, what) => {
      if (!r || !Array.isArray(r.data) || r.data.length !== 2) fail(`${what}: expected 2 embeddings, got ${r && r.data ? r.data.length : 'none'}`);
      const v = [...r.data].sort((x, y) => x.index - y.index).map((d) => d.embedding);
      for (const e of v) if (!Array.isArray(e) || !e.length || !e.every(Number.isFinite)) fail(`${what}: an embedding is not a non-empty array of numbers`);
      if (v[0].length !== v[1].length) fail(`${what}: the two vectors differ in length (${v[0].length}, ${v[1].length})`);
      return v;
    };
    const a = vecs(b64, 'base64'), b = vecs(flt, 'float');
    if (a[0].length !== b[0].length) fail(`base64 gives ${a[0].length} dimensions, float ${b[0].length}`);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < a[i].length; j++) {
        if (Math.abs(a[i][j] - b[i][j]) > 1e-6) fail(`vector ${i}[${j}]: base64 ${a[i][j]} vs float ${b[i][j]}`);
      }
    }
    if (a[0].every((x) => x === 0)) fail('the first embedding is all zeros');
    result.embedding_dims = a[0].length;
  }

  // (d) Models.
  const models = await client.models.list();
  result.models = models.data.length;
  if (!result.models) fail('models.list() returned no model');

  result.ok = true;
}

const report = () => process.stdout.write(JSON.stringify(result) + '\n');
main().then(() => { report(); process.exit(0); }, (e) => {
  report();
  let msg;
  if (e instanceof Failure) msg = e.message;
  else if (e instanceof OpenAI.APIError) msg = `API error ${e.status ?? ''}: ${e.message}`;
  else msg = (e && e.stack) || String(e);
  process.stderr.write('openai_client: FAIL: ' + msg + '\n');
  process.exit(1);
});
