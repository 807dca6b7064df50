/**
 * Virtual host selection in a route table by Host, as Envoy picks it: exact name, then the longest
 * wildcard, then the catch-all. Apart from route-index.ts as the first step of a lookup, which the
 * route explanation (route-explain.ts) also takes on its own.
 */
import type { RouteEntry, VirtualHosts } from "./types.ts";

export function selectVirtualHost(vhosts: VirtualHosts, host: string): readonly RouteEntry[] | undefined {
  const exact = vhosts.exact[host];
  if (exact !== undefined) return exact;
  const suffix = wildcardSuffix(vhosts, host);
  if (suffix !== undefined) return vhosts.wildcard[suffix];
  return vhosts.any.length > 0 ? vhosts.any : undefined;
}

/**
 * The longest wildcard hostname (".example.com" for "*.example.com") that `host` falls under, as Envoy
 * picks it: the wildcard stands for at least one character, so ".example.com" itself is not under it.
 */
export function wildcardSuffix(vhosts: VirtualHosts, host: string): string | undefined {
  if (vhosts.wildcardMaxLabels === 0) return undefined;
  const labels = host.split(".");
  for (let n = Math.min(labels.length - 1, vhosts.wildcardMaxLabels); n >= 1; n--) {
    const suffix = "." + labels.slice(-n).join(".");
    if (suffix.length < host.length && vhosts.wildcard[suffix] !== undefined) return suffix;
  }
  return undefined;
}
