// The chart renderer follows Go text/template where the chart relies on it, and refuses what it
// does not know rather than rendering something Helm would not.
import { describe, expect, it } from "vitest";
import { goString, Renderer } from "./gotemplate.ts";

const render = (src: string, data: unknown = {}, defines = "") => {
  const r = new Renderer();
  if (defines) r.parse(defines, "_helpers.tpl");
  return r.render(r.parse(src, "t.yaml"), data);
};

describe("Go template subset", () => {
  it("trims whitespace with {{- and -}} and drops comments", () => {
    expect(render("a:\n  {{- /* note */ -}}\n  b {{- \" c\" }}\n")).toBe("a:b c\n");
  });
  it("if / else if / else, with rebinding dot, range over lists and sorted maps", () => {
    const src = `{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}|{{ with .m }}{{ .k }}{{ end }}|{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}|{{ range .l }}[{{ . }}]{{ end }}`;
    expect(render(src, { a: "", b: 1, m: { z: 1, k: "v" }, l: [1, 2] })).toBe("B|v|k=v;z=1;|[1][2]");
  });
  it("Go truthiness: empty map, list, string and 0 are false", () => {
    expect(render("{{ if .m }}x{{ end }}{{ if .l }}x{{ end }}{{ if .s }}x{{ end }}{{ if .n }}x{{ end }}{{ if .t }}y{{ end }}", { m: {}, l: [], s: "", n: 0, t: [0] })).toBe("y");
  });
  it("variables, $ inside with, include with its own dot, pipelines with nindent", () => {
    const defines = `{{- define "lbl" -}}app: {{ .name }}{{- end -}}`;
    const out = render(`{{- $n := .name }}{{ with .inner }}{{ $n }}/{{ $.name }}/{{ .x }}{{ end }}\nl:{{- include "lbl" . | nindent 2 }}`, { name: "p", inner: { x: 1 } }, defines);
    expect(out).toBe("p/p/1\nl:\n  app: p");
  });
  it("sprig functions used by the chart", () => {
    expect(render(`{{ default "d" .e }} {{ .s | quote }} {{ printf "%s-%s" "a" "b" | trunc 3 }} {{ "x-" | trimSuffix "-" }} {{ join "," .l }} {{ contains "ab" "cabd" }} {{ and 1 "" }} {{ or "" "z" }} {{ not .e }} {{ eq .s "q\\"" }}`, { e: "", s: 'q"', l: ["a", "b"] }))
      .toBe(`d "q\\"" a-b x a,b true  z true true`);
    expect(render("{{ toYaml .v }}", { v: { b: [1], a: "x" } })).toBe("a: x\nb:\n  - 1");
    expect(() => render(`{{ fail "no" }}`)).toThrow("no");
  });
  it("prints numbers as Go prints Helm's float64 values", () => {
    expect([2, 65532, 100000, 1000000, 1.5, 0.00001, 1234567.5].map(goString)).toEqual(["2", "65532", "100000", "1e+06", "1.5", "1e-05", "1.2345675e+06"]);
  });
  it("is strict: a missing key, an unknown function, printing a map, a missing end", () => {
    expect(() => render("{{ .Values.nope }}", { Values: {} })).toThrow(".Values.nope does not exist");
    expect(() => render("{{ .a.b }}", { a: null })).toThrow(/nil, cannot read .b/);
    expect(() => render("{{ lookup 1 }}")).toThrow(/function "lookup" is not supported/);
    expect(() => render("{{ .m }}", { m: { a: 1 } })).toThrow(/use toYaml/);
    expect(() => render("{{ if .a }}x")).toThrow(/missing \{\{end\}\}/);
    expect(() => render(`{{ template "x" . }}`)).toThrow(/use include/);
  });
  it("calls a method-like field (.Capabilities.APIVersions.Has) with its arguments", () => {
    const data = { Capabilities: { APIVersions: { Has: (v: unknown) => v === "policy/v1" } } };
    expect(render(`{{ if .Capabilities.APIVersions.Has "policy/v1" }}v1{{ else }}beta{{ end }}`, data)).toBe("v1");
  });
});
