// Drives Debian's Chromium through the console and the reference page, as local/check/console
// starts them: an open server (CONSOLE_URL) and a keyed one (CONSOLE_KEYED_URL, CONSOLE_KEY).
// Uploads SAMPLES (three files) through the drop zone, watches them complete, searches, opens a
// cited chunk, and saves a screenshot of each page in SCREENSHOTS. Any console error fails it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { chromium } from "playwright-core";

const { CONSOLE_URL, CONSOLE_KEYED_URL, CONSOLE_KEY, SCREENSHOTS, SAMPLES, QUESTION } = process.env;
const samples = SAMPLES.split(":");
const problems = [];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // Root in a container, and a machine with no way out: no sandbox, nothing fetched in the
  // background.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update"],
});

async function newPage(viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  page.on("console", (m) => m.type() === "error" && problems.push(`${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });

// Every field is labelled, by a <label> or aria-label.
async function assertLabelled(page) {
  const unlabelled = await page.$$eval("input:not([type=hidden]), select, textarea", (fields) =>
    fields.filter((f) => !f.labels?.length && !f.getAttribute("aria-label")).map((f) => f.outerHTML));
  assert.deepEqual(unlabelled, [], "fields without a label");
}

// Drops the samples on the drop zone as a file manager would.
async function dropSamples(page) {
  const files = samples.map((path) => ({ name: basename(path), bytes: [...readFileSync(path)] }));
  const transfer = await page.evaluateHandle((files) => {
    const t = new DataTransfer();
    for (const f of files) t.items.add(new File([new Uint8Array(f.bytes)], f.name));
    return t;
  }, files);
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: transfer });
}

async function uploadSearchAndCite() {
  const page = await newPage();
  await page.goto(CONSOLE_URL + "/");
  await page.getByRole("heading", { name: "Documents" }).waitFor();
  await assertLabelled(page);
  await dropSamples(page);
  await page.waitForFunction((n) => document.querySelectorAll("#uploads .status-COMPLETED").length === n,
    samples.length, { timeout: 180_000 });
  // The list reloads 150 ms after the last event: wait for it rather than read it at once.
  await page.waitForFunction((n) => document.querySelectorAll("#document-table tbody tr").length === n
    && document.querySelector("#counts").textContent.includes(`Completed ${n}`), samples.length);
  await shot(page, "documents.png");

  await page.getByRole("link", { name: "Search" }).click();
  await page.getByLabel("Question").fill(QUESTION);
  await page.getByLabel("Hybrid").check();
  assert.equal(await page.isEnabled("#alpha"), true, "alpha is offered for hybrid search");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("#results li mark").first().waitFor();
  const citation = page.locator("#results li .citation").first();
  const cited = await citation.textContent();
  assert.ok(samples.some((s) => cited.startsWith(basename(s))), `a citation names its file: ${cited}`);
  assert.match(await page.textContent("#results li .meta"), /vector .* keyword/);
  await shot(page, "search.png");

  await citation.click();
  await page.locator("#chunks li.focused").waitFor();
  assert.match(await page.textContent("#chunks li.focused .meta"), /tokens/);
  assert.ok(await page.locator("#chunks li.focused").isVisible());
  await shot(page, "document.png");
  await page.close();
}

// A phone's width: nothing wider than the screen.
async function onAPhone() {
  const page = await newPage({ width: 390, height: 844 });
  await page.goto(CONSOLE_URL + "/");
  await page.locator("#document-table tbody tr").first().waitFor();
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  assert.ok(scroll <= width, `the page fits a phone (${scroll} > ${width})`);
  await shot(page, "phone.png");
  await page.close();
}

// The reference page renders the document's operations.
async function referencePage() {
  const page = await newPage();
  await page.goto(CONSOLE_URL + "/docs/");
  await page.locator(".opblock").first().waitFor();
  const operations = await page.locator(".opblock").count();
  assert.ok(operations >= 10, `the reference page lists the operations (${operations})`);
  await shot(page, "reference.png");
  await page.close();
}

// A keyed server: the console asks for the key, says when it is refused, and then works.
async function askedForTheKey() {
  const page = await newPage();
  await page.goto(CONSOLE_KEYED_URL + "/");
  const dialog = page.getByRole("dialog", { name: "API key" });
  await dialog.waitFor();
  await shot(page, "key.png");
  await page.getByLabel("Key (kept in this tab only)").fill("not-the-key");
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.waitForFunction(() => document.querySelector("#key-reason").textContent.includes("refused"));
  await page.getByLabel("Key (kept in this tab only)").fill(CONSOLE_KEY);
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.getByText("No documents yet.").waitFor();
  assert.equal(await dialog.isVisible(), false);
  await page.close();
}

try {
  await uploadSearchAndCite();
  await onAPhone();
  await referencePage();
  await askedForTheKey();
  // The refused keys' 401s are the only errors Chromium may report, and only on the keyed server.
  const expected = (p) => p.startsWith(CONSOLE_KEYED_URL) && p.includes("401");
  assert.deepEqual(problems.filter((p) => !expected(p)), [], "console errors");
  console.log(`console: every page works in Chromium; screenshots in ${SCREENSHOTS}`);
} finally {
  await browser.close();
}
