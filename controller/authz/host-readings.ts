/** The readings of a request's Host: Envoy's virtual host selection's, and the host upstream servers take from it. */

/**
 * The Host as Envoy's virtual host selection reads it, as Envoy Gateway configures it: the port
 * removed as `ignore_port_in_host_matching` removes it (after the last ":" when no "]" follows it,
 * only a number Envoy parses as a 32-bit unsigned one: "host:" and "host:99999999999" keep theirs),
 * then ASCII letters lower-cased (Envoy's AsciiStrToLower: the Kelvin sign is not "k"). One reading,
 * or two when it ends with ".": kept (Envoy Gateway's default) and removed (a ClientTrafficPolicy's
 * `stripTrailingHostDot`), which Portcullis cannot see. A ":" Envoy keeps (not a bracketed IPv6
 * address's) adds the readings of the text before the first ":", the host nginx (`$host`), Express
 * (`req.hostname`) and most servers take from it: `api.example.com:x` is routed by Envoy as no
 * host of api.example.com's, and served by the upstream as api.example.com. Returns readings,
 * Envoy's default first.
 */
export function hostReadings(host: string): readonly string[] {
  if (isPlainHost(host)) return [host];
  // Only HTTP's optional whitespace (space, tab) around a field value: String.trim also drops the
  // no-break space and other Unicode spaces, which Envoy keeps.
  let h = host.replace(/^[ \t]+|[ \t]+$/g, "");
  const colon = h.lastIndexOf(":");
  if (colon !== -1 && h.lastIndexOf("]") < colon && isEnvoyPort(h.slice(colon + 1))) h = h.slice(0, colon);
  h = h.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
  const readings = h.length > 1 && h.endsWith(".") ? [h, h.slice(0, -1)] : [h];
  const kept = h.startsWith("[") ? -1 : h.indexOf(":");
  if (kept > 0) for (const r of hostReadings(h.slice(0, kept))) if (!readings.includes(r)) readings.push(r);
  return readings;
}

/**
 * Whether a Host reads one way only, as it is: lower-case letters, digits, "-" and "." (no port,
 * no space, no upper case, no trailing dot), the usual Host. One regular expression without
 * backtracking (a character class, then one last character): about twice as fast as a loop over
 * the characters in JavaScript, and no copy.
 */
export const isPlainHost = (host: string): boolean => PLAIN_HOST.test(host);
const PLAIN_HOST = /^[a-z0-9.-]*[a-z0-9-]$/;

/** What absl::SimpleAtoi takes for a uint32: optional whitespace and "+", decimal digits, at most 2^32 - 1. */
function isEnvoyPort(text: string): boolean {
  const digits = /^[ \t\n\v\f\r]*\+?([0-9]+)[ \t\n\v\f\r]*$/.exec(text)?.[1];
  return digits !== undefined && Number(digits) <= 0xffff_ffff;
}
