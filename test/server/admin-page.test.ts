/**
 * The admin page in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core): what an
 * operator sees and does, and what must never show (credentials, a script a manifest smuggles in).
 */
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES, exampleRouteWithPolicy, startTestApp, type TestApp } from "../support/app.ts";
import { send } from "../support/http.ts";
import { until } from "../faults/process.ts";

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium";
const HOST = "api.maas.example.com";
const WRONG_KEY = "wrong-key-d41d8cd98f00";
const QUERY_SECRET = "query-secret-9e107d9d372b";
const VALID_KEY = "example-alice-key-change-me";

/** A policy whose Invalid message quotes markup: it must show as text, never as an element. */
const HOSTILE_POLICY = exampleRouteWithPolicy(
  "hostile",
  "hostile.example.com",
  "hostile",
  'authorization: {defaultAction: Deny, rules: [{action: Allow, principal: {clientCIDRs: ["<img src=x onerror=alert(1)>"]}}]}',
);

let app: TestApp;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  app = await startTestApp({ "90-hostile.yaml": HOSTILE_POLICY }, EXAMPLES);
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const texts = (selector: string) => page.$$eval(selector, (cells) => cells.map((c) => c.textContent ?? ""));

describe("the admin page in Chromium", () => {
  it("shows the policies with their status, the route table and the decision counts", async () => {
    expect(
      (await send(`${app.authz}/v1/models?access_token=${QUERY_SECRET}`, { headers: { host: HOST, "x-api-key": WRONG_KEY } })).status,
    ).toBe(401);
    const response = await page.goto(app.admin, { waitUntil: "load" });
    expect(response!.status()).toBe(200);
    expect(response!.headers()["content-security-policy"]).toContain("default-src 'none'");
    expect(await page.$eval("#state", (e) => e.textContent)).toMatch(/^Ready: snapshot generation \d+/);
    const policies = await page.$$eval("#policies tbody tr", (rows) =>
      rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)),
    );
    expect(policies).toContainEqual([
      "maas-system/maas-apikey-auth",
      "Gateway maas-system/maas-gateway",
      "True (Accepted)",
      expect.any(String),
      "",
    ]);
    expect((await texts("#routes td")).some((t) => t.includes("policy maas-system/maas-apikey-auth"))).toBe(true);
    const decisions = await page.$$eval("#decisions tbody tr", (rows) =>
      Object.fromEntries(rows.map((r) => [r.cells[0]!.textContent, Number(r.cells[1]!.textContent)])),
    );
    expect(decisions.apikey_invalid).toBeGreaterThanOrEqual(1);
  });

  it("lists the recent denial without the key or the query", async () => {
    const denial = (await texts("#denials tbody tr")).find((t) => t.includes("apikey_invalid"));
    expect(denial).toContain(`GET ${HOST}/v1/models`);
    expect(denial).toContain("maas-system/maas-apikey-auth");
    const html = await page.content();
    expect(html).not.toContain(WRONG_KEY);
    expect(html).not.toContain(QUERY_SECRET);
  });

  it("shows markup from a manifest as text: no element, no script", async () => {
    const hostile = (await page.$$eval("#policies tbody tr", (rows) => rows.map((r) => r.textContent ?? ""))).find((t) =>
      t.includes("maas-system/hostile"),
    );
    expect(hostile).toContain('False (Invalid)Authorization: rules[0].principal.clientCIDRs: "<img src=x onerror=alert(1)>" is not a CIDR');
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
  });

  it("explains a request from the form: answer, route, policy, identity; the key typed in is not shown back", async () => {
    await page.type("#url", `http://${HOST}/v1/models`);
    await page.type("#headers", `X-API-Key: ${VALID_KEY}`);
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("button[type=submit]")]);
    const rows = await page.$$eval("#explain-decision tbody tr", (trs) =>
      Object.fromEntries(trs.map((r) => [r.cells[0]!.textContent, r.cells[1]!.textContent])),
    );
    expect(rows).toMatchObject({
      Answer: "200 allowed",
      Policy: "maas-system/maas-apikey-auth",
      Identity: expect.stringContaining("alice"),
    });
    expect(rows.Route).toMatch(/^maas-system\/models/);
    expect(await page.$eval("#explain-result p", (p) => p.textContent)).toBe(`GET http://${HOST}/v1/models with x-api-key`);
    // The trace, as check --explain prints it: the route picked, the policy's origin, the phase and whose key it was.
    const trace = JSON.parse(await page.$eval("#explain-trace", (e) => e.textContent ?? "")) as { phase: string }[];
    expect(trace.map((t) => t.phase)).toEqual(["request", "route", "policy", "apiKeyAuth", "decision"]);
    expect(trace.find((t) => t.phase === "policy")).toMatchObject({ level: "route", target: "HTTPRoute maas-system/models" });
    expect(trace.find((t) => t.phase === "apiKeyAuth")).toMatchObject({ sources: ["header x-api-key: the key of client alice"] });
    expect(await page.content()).not.toContain(VALID_KEY);
    // The explain form is not a request: it is neither counted nor audited.
    expect((await texts("#denials tbody tr")).filter((t) => t.includes("apikey")).length).toBe(1);
    const shot = join(tmpdir(), `portcullis-admin-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
  });

  it("says when the newest manifests cannot be used and the last good ones are served, until the broken file is fixed", async () => {
    const banner = async () => {
      await page.goto(app.admin, { waitUntil: "load" });
      return page.$$eval("#last-good-manifests", (found) => found.map((e) => e.textContent ?? ""));
    };
    expect(await banner()).toEqual([]);
    app.write("95-broken.yaml", "apiVersion: [unclosed\n");
    await until(10_000, "the broken file noticed", async () => (await banner()).length === 1);
    expect(await banner()).toEqual([
      expect.stringMatching(/^The newest configuration \(manifests\) cannot be used: the last good one is served/),
    ]);
    expect(await page.$eval("#state", (e) => e.textContent)).toMatch(/^Ready: /);
    app.write("95-broken.yaml", "");
    await until(10_000, "the fixed file noticed", async () => (await banner()).length === 0);
  });

  it("says what is wrong with a form that is not a request", async () => {
    await page.goto(app.admin, { waitUntil: "load" });
    await page.$eval("#url", (e) => ((e as unknown as { value: string }).value = "/v1/models"));
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("button[type=submit]")]);
    expect(await page.$eval("#explain-result", (e) => e.textContent)).toContain("the URL must be absolute");
  });
});
