'use strict';
// Drives Debian's Chromium for tests/browser_e2e.rs through playwright-core (no browser
// download: executablePath). Protocol: one JSON command per line on stdin,
//   {"id": 1, "cmd": "launch", ...}
// one JSON reply per line on stdout,
//   {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": "..."}
// Commands run concurrently and may finish out of order (match replies by id). Page console
// messages and errors go to stderr, which the test keeps as driver.log.
//
// Commands: launch {browser, wav, origin}, open {page, browser, url}, click {page, selector},
// eval {page, expr}, wait {page, expr, timeout_ms}, screenshot {page, path},
// spectrum {page, client_id, ms, freqs}, close_page {page}, quit.

const readline = require('readline');

function out(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  out({ id: 0, ok: false, error: `playwright-core is not installed in tests/browser: run scripts/install-browser-deps.sh (${e.message})` });
  process.exit(3);
}

const EXECUTABLE = process.env.DIALBRIDGE_CHROMIUM || '/usr/bin/chromium';
const browsers = new Map();
const pages = new Map();

function log(line) {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

function page(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no page ${id}`);
  return p;
}

// Runs inside the page: the spectrum of remote audio (the <audio> elements mesh.js attaches),
// averaged over `ms`. Analyser frames are power-averaged; the first window is skipped so it
// holds no zeros from before the analyser started.
async function pageSpectrum({ clientId, ms, freqs }) {
  const sel = clientId === null
    ? 'audio[data-testid="remote-audio"]'
    : `audio[data-testid="remote-audio"][data-client-id="${clientId}"]`;
  const elements = [...document.querySelectorAll(sel)].filter((a) => a.srcObject);
  if (elements.length === 0) throw new Error(`no remote audio element matches ${sel}`);
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 16384;
  analyser.smoothingTimeConstant = 0;
  for (const a of elements) ctx.createMediaStreamSource(a.srcObject).connect(analyser);
  const n = analyser.frequencyBinCount;
  const db = new Float32Array(n);
  const acc = new Float64Array(n);
  const td = new Float32Array(analyser.fftSize);
  const windowMs = (1000 * analyser.fftSize) / ctx.sampleRate;
  let frames = 0;
  let sumsq = 0;
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms + windowMs) {
    await new Promise((r) => setTimeout(r, 100));
    if (performance.now() - t0 < windowMs) continue;
    analyser.getFloatFrequencyData(db);
    for (let i = 0; i < n; i++) acc[i] += 10 ** (Math.max(db[i], -300) / 10);
    analyser.getFloatTimeDomainData(td);
    for (const v of td) sumsq += v * v;
    count += td.length;
    frames++;
  }
  const rate = ctx.sampleRate;
  await ctx.close();
  const binHz = rate / analyser.fftSize;
  const level = (i) => 10 * Math.log10(acc[i] / Math.max(frames, 1) + 1e-30);
  const first = Math.ceil(50 / binHz);
  let best = first;
  for (let i = first; i < n - 1; i++) if (acc[i] > acc[best]) best = i;
  const a = level(best - 1);
  const b = level(best);
  const c = level(best + 1);
  const denom = a - 2 * b + c;
  const offset = Math.abs(denom) > 1e-12 ? (0.5 * (a - c)) / denom : 0;
  const levels = [];
  for (let i = first; i < n; i++) levels.push(level(i));
  levels.sort((x, y) => x - y);
  const near = (f) => {
    let m = -Infinity;
    for (let i = Math.max(0, Math.floor((f - 15) / binHz)); i <= Math.min(n - 1, Math.ceil((f + 15) / binHz)); i++) m = Math.max(m, level(i));
    return m;
  };
  return {
    sample_rate: rate,
    bin_hz: binHz,
    frames,
    elements: elements.length,
    dominant_hz: (best + offset) * binHz,
    peak_db: b,
    floor_db: levels[Math.floor(levels.length / 2)],
    rms: Math.sqrt(sumsq / Math.max(count, 1)),
    near: freqs.map((f) => ({ hz: f, db: near(f) })),
  };
}

const commands = {
  async launch({ browser, wav, origin }) {
    const args = [
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--autoplay-policy=no-user-gesture-required',
      // The page is served from a veth address, not loopback: without this getUserMedia is
      // missing (not a secure context).
      `--unsafely-treat-insecure-origin-as-secure=${origin}`,
    ];
    const b = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args, timeout: 30000 });
    browsers.set(browser, b);
    return { version: b.version() };
  },

  async open({ page: id, browser, url }) {
    const b = browsers.get(browser);
    if (!b) throw new Error(`no browser ${browser}`);
    const context = await b.newContext({ viewport: { width: 1000, height: 720 } });
    const p = await context.newPage();
    p.on('console', (m) => log(`[${id}] console.${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log(`[${id}] page error: ${e.message}`));
    pages.set(id, p);
    await p.goto(url, { timeout: 15000 });
    return { url: p.url() };
  },

  async click({ page: id, selector }) {
    await page(id).click(selector, { timeout: 10000 });
    return null;
  },

  async eval({ page: id, expr }) {
    return page(id).evaluate(expr);
  },

  async wait({ page: id, expr, timeout_ms: timeout }) {
    const handle = await page(id).waitForFunction(expr, undefined, { timeout, polling: 50 });
    return handle.jsonValue();
  },

  async screenshot({ page: id, path }) {
    await page(id).screenshot({ path, fullPage: true });
    return { path };
  },

  async spectrum({ page: id, client_id: clientId, ms, freqs }) {
    return page(id).evaluate(pageSpectrum, { clientId: clientId ?? null, ms, freqs: freqs || [] });
  },

  async close_page({ page: id }) {
    const p = page(id);
    pages.delete(id);
    await p.context().close();
    return null;
  },

  async quit() {
    for (const b of browsers.values()) await b.close().catch(() => {});
    browsers.clear();
    setImmediate(() => process.exit(0));
    return null;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    out({ id: null, ok: false, error: `bad JSON command: ${e.message}` });
    return;
  }
  const run = commands[msg.cmd];
  if (!run) {
    out({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    return;
  }
  run(msg).then(
    (result) => out({ id: msg.id, ok: true, result: result === undefined ? null : result }),
    (e) => out({ id: msg.id, ok: false, error: String((e && e.stack) || e) }),
  );
});
// The test went away: close the browsers so no Chromium outlives it.
rl.on('close', () => commands.quit());
