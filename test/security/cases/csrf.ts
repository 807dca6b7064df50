/**
 * CSRF on a route whose policy has csrf with one additional origin (https://partner.example.com)
 * and apiKeyAuth: a mutating request is refused (403) unless its Origin, else its Referer, names
 * the destination (api.example.com) or the partner, before the key is even read; a forged,
 * missing or `null` Origin never passes.
 */
import { aliceKeyPolicy, gatewayWithRoute } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected } from "../outcome.ts";

const d = decider(
  `${gatewayWithRoute("api.example.com", { forms: "/forms" })}---
${aliceKeyPolicy("forms", "forms", "forwardClientIDHeader: x-client-id")}  csrf: {additionalOrigins: ["https://partner.example.com"]}
`,
);

const REFUSED: Expected = { status: 403, code: "csrf_origin" };
const KEY = { "x-api-key": "alice-key" };

function c(id: string, title: string, expect: Expected, headers: Record<string, string>, method = "POST"): Case {
  return {
    id: `csrf.${id}`,
    title,
    expect,
    run: async () =>
      fromDecision(await d({ method, path: "/forms", headers: { ...KEY, ...headers } }), managedHeadersOf(d.result.snapshot.policies)),
  };
}

const ALLOWED: Expected = { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } };

export const csrfCases: readonly Case[] = [
  c("same-origin", "a POST with the key from `https://api.example.com` (the destination itself)", ALLOWED, {
    origin: "https://api.example.com",
  }),
  c("partner", "a POST from the additional origin `https://partner.example.com`", ALLOWED, { origin: "https://partner.example.com" }),
  c("forged-origin", "a cross-site POST with the victim's key from `https://evil.example.com`", REFUSED, {
    origin: "https://evil.example.com",
  }),
  c("no-origin", "a POST with no Origin and no Referer", REFUSED, {}),
  c("null-origin", "a POST from `Origin: null` (a sandboxed frame, a file: page)", REFUSED, { origin: "null" }),
  c("suffix-origin", "a POST from `https://api.example.com.evil.com` (the destination as a prefix)", REFUSED, {
    origin: "https://api.example.com.evil.com",
  }),
  c("userinfo-referer", "no Origin, `Referer: https://api.example.com@evil.com/` (user info before the real host)", REFUSED, {
    referer: "https://api.example.com@evil.com/",
  }),
  c("empty-origin-referer", "an empty Origin and a cross-site Referer `https://evil.example.com/`", REFUSED, {
    origin: "",
    referer: "https://evil.example.com/",
  }),
  c("two-origins", "two Origin lines, the destination's and `https://evil.example.com` (read as one value)", REFUSED, {
    origin: "https://api.example.com, https://evil.example.com",
  }),
  c(
    "lower-case-method",
    "a cross-site `post` (lower case; an upstream upper-cases it)",
    REFUSED,
    { origin: "https://evil.example.com" },
    "post",
  ),
  c(
    "trailing-dot-origin",
    "a POST from `https://api.example.com.` (the destination with a trailing dot: another host name to the filter)",
    REFUSED,
    {
      origin: "https://api.example.com.",
    },
  ),
  c("port-origin", "a POST from `https://api.example.com:8443` (the destination's host on another port)", REFUSED, {
    origin: "https://api.example.com:8443",
  }),
  c("upper-case-origin", "a POST from `https://API.EXAMPLE.COM` (Envoy compares host and port as written)", REFUSED, {
    origin: "https://API.EXAMPLE.COM",
  }),
  c("partner-suffix", "a POST from `https://partner.example.com.evil.com` (the additional origin as a prefix)", REFUSED, {
    origin: "https://partner.example.com.evil.com",
  }),
  c("same-origin-referer", "no Origin, `Referer: https://api.example.com/forms?x=1` (the destination's page)", ALLOWED, {
    referer: "https://api.example.com/forms?x=1",
  }),
  c("null-origin-same-referer", "`Origin: null` with the destination's Referer (Envoy reads Origin first: `null` is the source)", REFUSED, {
    origin: "null",
    referer: "https://api.example.com/forms",
  }),
  c(
    "get",
    "a cross-site GET (not a mutating method: Envoy's filter lets it through)",
    ALLOWED,
    { origin: "https://evil.example.com" },
    "GET",
  ),
];
