/**
 * The hostile-input catalogue: every case is a named entry with its exact expected outcome. The
 * cases live in cases/<area>.ts; catalogue.test.ts runs them, doc.test.ts keeps SECURITY.md's
 * list identical to `renderCatalogue()`.
 */
import { apiKeyCases } from "./cases/apikey.ts";
import { attachmentCases } from "./cases/attachment.ts";
import { availabilityCases } from "./cases/availability.ts";
import { basicCases } from "./cases/basic.ts";
import { celCases } from "./cases/cel.ts";
import { clientAddressCases } from "./cases/client-address.ts";
import { corsCases } from "./cases/cors.ts";
import { extAuthCases } from "./cases/ext-auth.ts";
import { csrfCases } from "./cases/csrf.ts";
import { forwardAuthCases } from "./cases/forward-auth.ts";
import { geoipCases } from "./cases/geoip.ts";
import { headerCases } from "./cases/headers.ts";
import { jwtCases } from "./cases/jwt.ts";
import { listenerCases } from "./cases/listeners.ts";
import { manifestCases } from "./cases/manifests.ts";
import { crossNamespaceMergeCases, mergeCases } from "./cases/merge.ts";
import { oidcCases } from "./cases/oidc.ts";
import { rawPathCases } from "./cases/raw-paths.ts";
import { routeRegexCases } from "./cases/route-regex.ts";
import { routingCases } from "./cases/routing.ts";
import { describeExpected, type Area, type Case } from "./outcome.ts";

export const CATALOGUE: readonly { readonly area: Area; readonly cases: readonly Case[] }[] = [
  { area: "JWT", cases: jwtCases },
  { area: "API keys", cases: apiKeyCases },
  { area: "Basic authentication", cases: basicCases },
  { area: "Routing", cases: [...routingCases, ...rawPathCases, ...routeRegexCases] },
  { area: "Listeners", cases: listenerCases },
  { area: "Client address", cases: clientAddressCases },
  { area: "GeoIP", cases: geoipCases },
  { area: "CEL", cases: celCases },
  { area: "Headers", cases: headerCases },
  { area: "CORS", cases: corsCases },
  { area: "CSRF", cases: csrfCases },
  { area: "OIDC", cases: oidcCases },
  { area: "Forward-auth", cases: forwardAuthCases },
  { area: "Manifests", cases: manifestCases },
  { area: "Policy attachment", cases: attachmentCases },
  { area: "Merging", cases: [...mergeCases, ...crossNamespaceMergeCases] },
  { area: "External authorization", cases: extAuthCases },
  { area: "Availability", cases: availabilityCases },
];

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The generated part of SECURITY.md: one table per area. */
export function renderCatalogue(): string {
  const total = CATALOGUE.reduce((n, a) => n + a.cases.length, 0);
  const out = [
    `${total} cases. Generated from \`test/security/cases/*.ts\` by \`UPDATE_SECURITY_MD=1 vitest run test/security/doc.test.ts\`; a test fails when this list and the catalogue disagree. ✱ marks a case that exposed a weakness, fixed as described.`,
    "",
  ];
  for (const { area, cases } of CATALOGUE) {
    out.push(`### ${area} (${cases.length})`, "", "| Case | Input | Expected outcome |", "|---|---|---|");
    for (const c of cases) {
      const title = c.fixed === undefined ? c.title : `${c.title} ✱ *Fixed: ${c.fixed}*`;
      out.push(`| \`${c.id}\` | ${cell(title)} | ${cell(describeExpected(c.expect))} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
