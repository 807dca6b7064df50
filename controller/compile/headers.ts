/** Validation of header names a policy asks Portcullis to set or read. */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers whose meaning belongs to the proxy or the transport; a policy may not set them. */
const RESERVED = new Set(["host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "keep-alive", "proxy-connection", "trailer"]);

/** Lower-cased header name, or an error naming the field. */
export function upstreamHeaderName(name: string, field: string): { ok: true; name: string } | { ok: false; error: string } {
  if (!TOKEN.test(name)) return { ok: false, error: `${field}: "${name}" is not a valid HTTP header name` };
  const lower = name.toLowerCase();
  if (RESERVED.has(lower) || lower.startsWith("x-envoy-")) return { ok: false, error: `${field}: Portcullis may not set the ${lower} header` };
  return { ok: true, name: lower };
}
