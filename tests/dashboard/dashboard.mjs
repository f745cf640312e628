// dashboard.mjs -- the broker's dashboard in headless Chromium, for
// tests/test_dashboard.c: open URL, wait until the page shows job JOB,
// then sample how many of its tuples the page says are finished until a
// later sample differs, in the same page (no reload: the page refreshes
// itself), and write a screenshot to PNG.  Prints one JSON line (the two
// samples, the page's status) and exits 0; else says why and exits 1.
// Chromium is driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe): Node's standard library is all it needs.
// Usage: node dashboard.mjs URL JOB PNG
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, job, png] = process.argv.slice(2);
const CHROMIUM = process.env.DROVER_CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 30000;

// This machine's network is closed: Chromium's own background traffic
// (updates, sync, QUIC probes) must not even be tried.
const profile = mkdtempSync(join(tmpdir(), "drover-chromium-"));
const browser = spawn(CHROMIUM, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-extensions", "--hide-scrollbars", "--mute-audio",
  `--user-data-dir=${profile}`, "--remote-debugging-pipe", "about:blank",
], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true });  // its own group
const exited = new Promise((resolve) => browser.on("exit", resolve));
let stderr = "";
browser.stderr.on("data", (d) => { stderr = (stderr + d).slice(-4000); });

// The protocol: JSON messages, each ended by a NUL, in on fd 3, out on fd 4.
const pending = new Map();
const errors = [];
let nextId = 1, inbox = "";
browser.stdio[4].on("data", (data) => {
  inbox += data.toString("utf8");
  let end;
  while ((end = inbox.indexOf("\0")) >= 0) {
    const message = JSON.parse(inbox.slice(0, end));
    inbox = inbox.slice(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(JSON.stringify(message.error)));
      else resolve(message.result);
    } else if (message.method === "Runtime.exceptionThrown") {
      errors.push(message.params.exceptionDetails.text +
                  " " + (message.params.exceptionDetails.exception?.description || ""));
    } else if (message.method === "Log.entryAdded" && message.params.entry.level === "error") {
      errors.push(message.params.entry.text);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  browser.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  await page("Runtime.enable");
  await page("Log.enable");
  await page("Page.enable");
  await page("Emulation.setDeviceMetricsOverride",
             { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
  await page("Page.navigate", { url });
  const evaluate = async (expression) =>
    (await page("Runtime.evaluate", { expression, returnByValue: true })).result.value;
  // How many tuples of the job the page shows finished, -1 if no row yet.
  const finished = `(() => {
    const row = document.querySelector('tr[data-job="' + CSS.escape(${JSON.stringify(job)}) + '"]');
    return row ? Number(row.dataset.finished) : -1; })()`;

  const until = async (what, test) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = await evaluate(finished);
      if (test(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (at ${value})`);
      await sleep(200);
    }
  };
  const first = await until("the job's row", (v) => v >= 0);
  await evaluate("window.droverSameLoad = true");     // a reload would drop it
  const second = await until("the job's progress to move", (v) => v !== first);
  if (!(await evaluate("window.droverSameLoad === true")))
    throw new Error("the page reloaded instead of refreshing itself");
  await sleep(1200);                                   // let the bars' transitions end
  const status = await evaluate("document.getElementById('status').textContent");
  const shot = await page("Page.captureScreenshot", { format: "png", captureBeyondViewport: true });
  writeFileSync(png, Buffer.from(shot.data, "base64"));
  if (errors.length) throw new Error("the page logged errors: " + errors.join("; "));
  console.log(JSON.stringify({ first, second, status }));
}

let code = 0;
const timer = setTimeout(() => { console.error("dashboard.mjs: timed out"); process.exit(1); },
                         3 * WAIT_MS);
try {
  await main();
} catch (error) {
  console.error("dashboard.mjs: " + error.message);
  console.error("chromium said: " + stderr);
  code = 1;
}
clearTimeout(timer);
// Close, then make sure no helper process of it (renderer, zygote) is left
// writing into the profile we remove.
try { await Promise.race([send("Browser.close"), sleep(3000)]); } catch { /* gone already */ }
await Promise.race([exited, sleep(5000)]);
try { process.kill(-browser.pid, "SIGKILL"); } catch { /* all gone */ }
try {
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
} catch (error) {
  console.error(`dashboard.mjs: could not remove ${profile}: ${error.message}`);
}
process.exit(code);
