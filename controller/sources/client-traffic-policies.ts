/**
 * A manifest folder's ClientTrafficPolicies, read only to say when their `clientIPDetection` is not
 * how Portcullis was told to find the client address. Portcullis does not enforce ClientTrafficPolicies:
 * the address `clientCIDRs`, `clientIPGeoLocations` and `source.address` see comes from its flags
 * (`--xff-trusted-hops`, `--xff-trusted-cidrs`, `--xff-peer-not-appended`, `--client-ip-header`),
 * while Envoy takes it from the Gateway's ClientTrafficPolicy. A policy copied with its
 * ClientTrafficPolicy (Envoy Gateway's restrict-ip-access and geoip-authorization pages) would
 * otherwise be decided on another address than Envoy's, silently: the proxy in front where Envoy
 * sees the client, which an Allow rule for the proxies' network lets through.
 */
import type { ClientAddressOptions } from "../authz/client-address.ts";
import type { RawObject } from "../api/resources.ts";

const GROUP = "gateway.envoyproxy.io/";

/**
 * One line per ClientTrafficPolicy in `objects` whose client address detection differs from
 * `flags` (serve and check refuse the folder: decided on another address than Envoy's, an Allow
 * rule for the proxies' network lets every client in), naming the flags that read it as Envoy does;
 * without `flags` (compile, which decides nothing), one per ClientTrafficPolicy that sets
 * `clientIPDetection`, naming the flags to serve with.
 */
export function clientIPDetectionLines(objects: readonly RawObject[], flags?: ClientAddressOptions): string[] {
  return objects.flatMap(({ object, origin }) => {
    const o = object as { apiVersion?: unknown; kind?: unknown; metadata?: { namespace?: unknown; name?: unknown }; spec?: unknown };
    if (o.kind !== "ClientTrafficPolicy" || typeof o.apiVersion !== "string" || !o.apiVersion.startsWith(GROUP)) return [];
    const detection = (o.spec as { clientIPDetection?: unknown } | undefined)?.clientIPDetection;
    if (flags === undefined && detection === undefined) return [];
    const wanted = flagsOf(detection);
    if (wanted === undefined) return [];
    const told = flags === undefined ? undefined : flagText(flags);
    if (told !== undefined && told === flagText(wanted)) return [];
    const name = `ClientTrafficPolicy ${typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default"}/${String(o.metadata?.name)}`;
    return [
      `${origin} (${name}): Envoy finds the client address as its clientIPDetection says, which Portcullis does not read: ` +
        (told === undefined ? `serve with ${flagText(wanted)}` : `Portcullis runs with ${told}; start it with ${flagText(wanted)}`),
    ];
  });
}

/** The client address settings `clientIPDetection` stands for (absent: Envoy's default, the peer); undefined when it cannot be read. */
function flagsOf(detection: unknown): ClientAddressOptions | undefined {
  if (detection === undefined) return { trustedHops: 0, trustedCidrs: [] };
  if (typeof detection !== "object" || detection === null) return undefined;
  const d = detection as {
    xForwardedFor?: { numTrustedHops?: unknown; trustedCIDRs?: unknown; disableXForwardedForAppend?: unknown };
    customHeader?: { name?: unknown };
  };
  if (typeof d.customHeader?.name === "string")
    return { trustedHops: 0, trustedCidrs: [], customHeader: d.customHeader.name.toLowerCase() };
  const xff = d.xForwardedFor;
  return {
    trustedHops: typeof xff?.numTrustedHops === "number" ? xff.numTrustedHops : 0,
    trustedCidrs: Array.isArray(xff?.trustedCIDRs) ? xff.trustedCIDRs.map(String) : [],
    peerNotAppended: xff?.disableXForwardedForAppend === true,
  };
}

/** The settings as the flags that give them ("--xff-trusted-hops 0" for the peer, Envoy's default). */
function flagText(s: ClientAddressOptions): string {
  if (s.customHeader !== undefined) return `--client-ip-header ${s.customHeader}`;
  const rule = s.trustedCidrs.length > 0 ? `--xff-trusted-cidrs ${s.trustedCidrs.join(",")}` : `--xff-trusted-hops ${s.trustedHops}`;
  return s.peerNotAppended === true ? `${rule} --xff-peer-not-appended` : rule;
}
