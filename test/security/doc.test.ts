/**
 * SECURITY.md lists every catalogue case with its expected outcome, generated from the catalogue:
 * this test fails when they disagree. `UPDATE_SECURITY_MD=1 vitest run test/security/doc.test.ts`
 * rewrites the generated block (between the catalogue markers); review its diff like code.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { renderCatalogue } from "./catalogue.ts";

const PATH = join(import.meta.dirname, "../../SECURITY.md");
const START = "<!-- catalogue:start -->";
const END = "<!-- catalogue:end -->";

it("SECURITY.md lists exactly the catalogue's cases and outcomes", () => {
  const text = readFileSync(PATH, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  expect(start, "SECURITY.md has no catalogue markers").toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  const generated = renderCatalogue();
  if (process.env.UPDATE_SECURITY_MD === "1") {
    writeFileSync(PATH, `${text.slice(0, start + START.length)}\n${generated}\n${text.slice(end)}`);
    return;
  }
  expect(text.slice(start + START.length, end).trim()).toBe(generated.trim());
});
