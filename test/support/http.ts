/**
 * A raw HTTP/1.1 client for tests. fetch() refuses to set Host, but Envoy sends the client's Host
 * to the authz port, so the contract tests must too.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { urlToHttpOptions } from "node:url";

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  header(name: string): string | null;
  json(): { code: string; message: string };
}

/** Header lines in order, repeats included (an object cannot repeat a name, and Node folds a Cookie array into one line). */
export type HeaderLines = readonly (readonly [string, string])[];

export const isHeaderLines = (headers: Record<string, string> | HeaderLines | undefined): headers is HeaderLines => Array.isArray(headers);

/**
 * `rawPath` replaces the URL's path and query byte for byte: a URL object would already have
 * removed dot segments and a fragment, which a hostile client sends as is.
 */
export function send(
  url: string,
  init: { method?: string; headers?: Record<string, string> | HeaderLines; body?: string; rawPath?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = { ...urlToHttpOptions(new URL(url)), ...(init.rawPath === undefined ? {} : { path: init.rawPath }) };
    const headers = isHeaderLines(init.headers) ? init.headers.flat() : (init.headers ?? {});
    const req = httpRequest({ ...target, method: init.method ?? "GET", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          },
          json: () => JSON.parse(body) as { code: string; message: string },
        });
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}
