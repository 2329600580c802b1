#!/usr/bin/env node
// browser_chat.mjs: drives headless Chromium through ragd's chat page.
//
//   node tests/js/browser_chat.mjs --url http://127.0.0.1:PORT --key KEY \
//        --question "..." [--expect-text SUBSTRING] [--timeout 60] [--skip CHECK]...
//
// --skip streaming: the answer may arrive in one piece (ragd without a
// generator answers extractively, all at once). --skip citations: the answer
// need not cite (a random-weight test generator streams text that cites
// nothing); the page must then list the passages the model was given
// (.source.uncited, unless the answer happened to cite one), and one of them
// must open the source panel with its document.
//
// Opens the page, types the key and the question, sends, waits for the
// answer, and checks that it streamed, that it carries citations and
// sources, and that a citation opens the source panel with the snippet and
// the document fetched from /v1/documents/{id}; then rates the answer with
// its thumbs-up button and sends a comment (--comment TEXT, default
// "rated by browser_chat"), both of which must be acknowledged (POST
// /v1/feedback). Any JS error or console error on the page fails the run.
//
// Uses puppeteer-core with the system browser: $CHROMIUM, else /usr/bin/chromium.
// Prints one JSON line; exit 0 = pass, 1 = fail (reason on stderr), 2 = bad usage.

import puppeteer from 'puppeteer-core';

const USAGE = 'usage: browser_chat.mjs --url URL --key KEY --question TEXT [--expect-text SUBSTRING] [--comment TEXT] [--follow-up TEXT] [--timeout SECONDS] [--skip streaming|citations]';

function parseArgs(argv) {
  const o = { timeout: 60, skip: new Set(), comment: 'rated by browser_chat' };
  // --follow-up: a second question after the answer; the page must show
  // the query its retrieval searched for (the follow-up's rewrite).
  const names = { '--url': 'url', '--key': 'key', '--question': 'question', '--expect-text': 'expect', '--timeout': 'timeout',
                  '--comment': 'comment', '--follow-up': 'followUp' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--skip' && ['streaming', 'citations'].includes(argv[i + 1])) { o.skip.add(argv[++i]); continue; }
    const name = names[argv[i]];
    if (!name || argv[i + 1] === undefined) return null;
    o[name] = argv[++i];
  }
  o.timeout = Number(o.timeout);
  if (!o.url || !o.key || !o.question || !(o.timeout > 0)) return null;
  o.url = o.url.replace(/\/+$/, '');
  return o;
}

// Types a question, sends it, and waits for the new assistant message to
// leave the "streaming" state.
async function ask(page, question, what) {
  await page.type('#question', question);
  const before = await page.$$eval('.msg.assistant', (l) => l.length);
  await page.click('#send');
  try {
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll('.msg.assistant');
      return all.length > n && all[all.length - 1].dataset.state !== 'streaming';
    }, { timeout: opts.timeout * 1000, polling: 50 }, before);
  } catch (e) {
    fail(`no complete answer${what} within ${opts.timeout} s`);
  }
}

// Asks opts.followUp after the first answer and checks that the new
// answer's details say what retrieval searched for.
async function followUp(page) {
  if (!opts.followUp) return;
  await page.evaluate(() => { const b = document.getElementById('source-close'); if (b) b.click(); });
  await ask(page, opts.followUp, ' to the follow-up');
  const meta = await page.evaluate(() => {
    const all = document.querySelectorAll('.msg.assistant');
    const m = all[all.length - 1].querySelector('.meta');
    return m ? m.textContent : '';
  });
  result.follow_up_meta = meta;
  if (!meta.includes('searched for')) fail('the follow-up\'s details do not show the query retrieval searched for');
}

const opts = parseArgs(process.argv.slice(2));
if (!opts) {
  process.stderr.write(USAGE + '\n');
  process.exit(2);
}

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg); };

// Page problems collected while the test runs; any of them fails it.
const pageErrors = [];
// What was found; printed as one JSON line however the run ends.
const result = {
  ok: false, answer_chars: 0, citations: 0, sources: 0, streamed: false, stream_updates: 0,
  panel_snippet_chars: 0, doc_title: null, rated: false,
};

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,   // puppeteer adds --headless=new (and --hide-scrollbars --mute-audio)
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 30000,
  });
  try {
    return await run(browser);
  } finally {
    await browser.close().catch(() => {});
  }
}

async function run(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(opts.timeout * 1000);
  page.on('pageerror', (e) => pageErrors.push('page error: ' + (e && e.message || e)));
  page.on('console', (m) => {
    if (m.type() === 'error') {
      const loc = m.location();
      pageErrors.push('console error: ' + m.text() + (loc && loc.url ? ' (' + loc.url + ')' : ''));
    }
  });
  page.on('requestfailed', (r) => {
    // Aborted requests we cause ourselves are not failures; the rest are.
    const why = r.failure() && r.failure().errorText;
    if (why !== 'net::ERR_ABORTED') pageErrors.push('request failed: ' + r.url() + ' ' + why);
  });

  let res;
  try {
    res = await page.goto(opts.url + '/', { waitUntil: 'load' });
  } catch (e) {
    fail(`could not open ${opts.url}/: ${e && e.message || e}`);
  }
  if (!res || !res.ok()) fail(`GET ${opts.url}/ answered ${res ? res.status() : 'nothing'}`);
  const csp = res.headers()['content-security-policy'];
  if (!csp) fail('GET / sent no Content-Security-Policy header');

  for (const sel of ['#key', '#question', '#send']) {
    if (!(await page.$(sel))) fail(`the page has no ${sel}`);
  }

  // Record the streaming state before sending: a MutationObserver notes every
  // moment the last assistant message is "streaming" and already has text.
  await page.evaluate(() => {
    window.__seen = { streaming: 0, lengths: [] };
    const check = () => {
      const all = document.querySelectorAll('.msg.assistant');
      const m = all[all.length - 1];
      if (!m || m.dataset.state !== 'streaming') return;
      const t = m.querySelector('.text');
      const len = (t ? t.textContent : m.textContent).trim().length;
      if (len > 0) {
        window.__seen.streaming++;
        const L = window.__seen.lengths;
        if (L[L.length - 1] !== len) L.push(len);
      }
    };
    new MutationObserver(check).observe(document.body,
      { subtree: true, childList: true, characterData: true, attributes: true });
  });

  await page.click('#key', { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type('#key', opts.key);
  await ask(page, opts.question, '');

  const answer = await page.evaluate(() => {
    const all = document.querySelectorAll('.msg.assistant');
    const m = all[all.length - 1];
    const t = m.querySelector('.text');
    const err = m.querySelector('.error');
    return {
      state: m.dataset.state,
      text: t ? t.textContent : '',
      error: err ? err.textContent : '',
      cites: m.querySelectorAll('.text .cite').length,
      validCites: m.querySelectorAll('.text .cite:not(.invalid)').length,
      sources: m.querySelectorAll('.source').length,
      given: m.querySelectorAll('.source.uncited').length,
    };
  });
  const seen = await page.evaluate(() => window.__seen);
  Object.assign(result, {
    answer_chars: answer.text.trim().length,
    citations: answer.cites,
    sources: answer.sources,
    given: answer.given,
    streamed: seen.streaming > 0,
    stream_updates: seen.lengths.length,
  });

  if (answer.state !== 'done') fail(`the answer ended in state "${answer.state}": ${answer.error || '(no message)'}`);
  if (!result.answer_chars) fail('the answer is empty');
  await rate(page);
  if (!result.streamed && !opts.skip.has('streaming')) fail('the answer was never seen streaming with partial text');
  const citing = !opts.skip.has('citations');
  if (citing && !answer.cites) fail('the answer has no [n] citation marker (.cite)');
  if (citing && !answer.validCites) fail('every citation marker in the answer is marked invalid');
  if (!citing) {
    if (!answer.sources) fail('the answer lists no passage (.source), neither cited nor given');
    if (!answer.cites) {
      if (!answer.given) fail('an answer that cites nothing does not list the passages given (.source.uncited)');
      await page.evaluate(() => {
        const all = document.querySelectorAll('.msg.assistant');
        all[all.length - 1].querySelector('.source.uncited').click();
      });
      try {
        await page.waitForFunction(() => {
          const p = document.getElementById('source-panel');
          const t = document.querySelector('#source-doc .doc-title');
          return p && !p.hidden && p.dataset.document && t && t.textContent.trim();
        }, { timeout: 5000, polling: 50 });
      } catch (e) {
        fail('a passage given but not cited did not open #source-panel with its document');
      }
      result.given_panel_title = await page.$eval('#source-title', (t) => t.textContent.trim());
    }
    await followUp(page);
    if (pageErrors.length) fail(pageErrors.join('\n'));
    result.ok = true;
    return 0;
  }
  if (!answer.sources) fail('the answer has no Sources entries (.source)');
  if (opts.expect && !answer.text.includes(opts.expect)) {
    fail(`the answer does not contain ${JSON.stringify(opts.expect)}: ${JSON.stringify(answer.text.slice(0, 300))}`);
  }

  // Click the first valid citation marker; the panel must show the snippet.
  const cite = await page.evaluateHandle(() => {
    const all = document.querySelectorAll('.msg.assistant');
    return all[all.length - 1].querySelector('.text .cite:not(.invalid)');
  });
  await cite.asElement().click();
  try {
    await page.waitForFunction(() => {
      const p = document.getElementById('source-panel');
      const s = document.getElementById('source-snippet');
      return p && s && !p.hidden && getComputedStyle(p).display !== 'none' && getComputedStyle(p).visibility !== 'hidden';
    }, { timeout: 5000, polling: 50 });
  } catch (e) {
    fail('clicking a citation did not open #source-panel');
  }
  const snippet = await page.$eval('#source-snippet', (s) => s.textContent.trim());
  result.panel_snippet_chars = snippet.length;
  if (!snippet) fail('#source-snippet is empty');

  // The panel fetches /v1/documents/{id}; fetch it here too (our own request,
  // not the page's code) and check that the panel shows its title.
  const docId = await page.$eval('#source-panel', (p) => p.dataset.document || '');
  if (!docId) fail('#source-panel carries no data-document id');
  const r = await page.evaluate(async (id, key) => {
    const res = await fetch('/v1/documents/' + encodeURIComponent(id), { headers: { Authorization: 'Bearer ' + key } });
    return { status: res.status, body: await res.text() };
  }, docId, opts.key);
  if (r.status !== 200) fail(`GET /v1/documents/${docId} answered ${r.status}: ${r.body.slice(0, 200)}`);
  let doc;
  try { doc = JSON.parse(r.body); } catch (e) { fail(`GET /v1/documents/${docId} is not JSON: ${r.body.slice(0, 200)}`); }
  // The page shows the title, and the id in any case (titles can be empty).
  const want = String(doc.title || doc.id);
  try {
    await page.waitForFunction((w) => {
      const d = document.getElementById('source-doc');
      return d && (d.dataset.state === 'error' || d.textContent.includes(w));
    }, { timeout: 10000, polling: 50 }, want);
  } catch (e) {
    fail(`#source-doc never showed ${JSON.stringify(want)}`);
  }
  const docBox = await page.$eval('#source-doc', (d) => ({ state: d.dataset.state, text: d.textContent }));
  if (!docBox.text.includes(want)) fail(`#source-doc shows an error: ${docBox.text}`);
  result.doc_title = want;

  await followUp(page);
  if (pageErrors.length) fail(pageErrors.join('\n'));
  result.ok = true;
  return 0;
}

// The answer's thumbs-up, then a comment: each must be acknowledged by the
// server (the button pressed, the status saying so, no error).
async function rate(page) {
  const up = await page.evaluateHandle(() => {
    const all = document.querySelectorAll('.msg.assistant');
    return all[all.length - 1].querySelector('.feedback .thumb[data-rating="up"]');
  });
  if (!up.asElement()) fail('a complete answer has no thumbs-up button (.feedback .thumb[data-rating="up"])');
  await up.asElement().click();
  const status = async (want) => {
    try {
      await page.waitForFunction((w) => {
        const all = document.querySelectorAll('.msg.assistant');
        const s = all[all.length - 1].querySelector('.fb-status');
        return s && (s.classList.contains('error') || s.textContent.includes(w));
      }, { timeout: 10000, polling: 50 }, want);
    } catch (e) {
      fail(`the feedback status never said ${JSON.stringify(want)}`);
    }
    return page.evaluate(() => {
      const all = document.querySelectorAll('.msg.assistant');
      const m = all[all.length - 1];
      return {
        text: m.querySelector('.fb-status').textContent,
        error: m.querySelector('.fb-status').classList.contains('error'),
        up: m.querySelector('.thumb[data-rating="up"]').getAttribute('aria-pressed'),
        down: m.querySelector('.thumb[data-rating="down"]').getAttribute('aria-pressed'),
        commentShown: !m.querySelector('.fb-comment').hidden,
      };
    });
  };
  let st = await status('Thanks');
  if (st.error) fail(`rating the answer failed: ${st.text}`);
  if (st.up !== 'true' || st.down !== 'false') fail(`after a thumbs-up the buttons show up=${st.up} down=${st.down}`);
  if (!st.commentShown) fail('after a rating the comment box is not shown');
  const input = await page.evaluateHandle(() => {
    const all = document.querySelectorAll('.msg.assistant');
    return all[all.length - 1].querySelector('.fb-comment input');
  });
  await input.asElement().type(opts.comment);
  await page.evaluate(() => {
    const all = document.querySelectorAll('.msg.assistant');
    all[all.length - 1].querySelector('.fb-comment .fb-send').click();
  });
  st = await status('Comment sent');
  if (st.error) fail(`sending the comment failed: ${st.text}`);
  if (st.up !== 'true') fail('sending a comment lost the rating');
  result.rated = true;
}

// A watchdog, in case the browser itself hangs.
const watchdog = setTimeout(() => {
  process.stderr.write(`browser_chat: FAIL: gave up after ${opts.timeout + 60} s\n`);
  process.exit(1);
}, (opts.timeout + 60) * 1000);
watchdog.unref();

const report = () => process.stdout.write(JSON.stringify(result) + '\n');
main().then((code) => { report(); process.exit(code); }, (e) => {
  report();
  const msg = e instanceof Failure ? e.message : (e && e.stack) || String(e);
  process.stderr.write('browser_chat: FAIL: ' + msg + '\n');
  if (pageErrors.length && !(e instanceof Failure && e.message.includes(pageErrors[0]))) {
    process.stderr.write('page errors:\n  ' + pageErrors.join('\n  ') + '\n');
  }
  process.exit(1);
});
