/**
 * A manifest folder's ClientTrafficPolicies, read only to say when their `clientIPDetection` is not
 * how Portcullis was told to find the client address (Kubernetes mode compares each listener's
 * instead, compile/client-traffic-policies.ts). Portcullis does not enforce ClientTrafficPolicies:
 * the address `clientCIDRs`, `clientIPGeoLocations` and `source.address` see comes from its flags
 * (`--xff-trusted-hops`, `--xff-trusted-cidrs`, `--xff-peer-not-appended`, `--client-ip-header`),
 * while Envoy takes it from the Gateway's ClientTrafficPolicy. A policy copied with its
 * ClientTrafficPolicy (Envoy Gateway's restrict-ip-access and geoip-authorization pages) would
 * otherwise be decided on another address than Envoy's, silently: the proxy in front where Envoy
 * sees the client, which an Allow rule for the proxies' network lets through.
 */
import type { ClientAddressOptions } from "../authz/client-address.ts";
import type { RawObject } from "../api/resources.ts";
import { clientAddressFlags, clientAddressOptionsOfDetection } from "../compile/client-traffic-policies.ts";

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
    const wanted = clientAddressOptionsOfDetection(detection);
    if (wanted === undefined) return [];
    const told = flags === undefined ? undefined : clientAddressFlags(flags);
    if (told !== undefined && told === clientAddressFlags(wanted)) return [];
    const name = `ClientTrafficPolicy ${typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default"}/${String(o.metadata?.name)}`;
    return [
      `${origin} (${name}): Envoy finds the client address as its clientIPDetection says, which Portcullis does not read: ` +
        (told === undefined
          ? `serve with ${clientAddressFlags(wanted)}`
          : `Portcullis runs with ${told}; start it with ${clientAddressFlags(wanted)}`),
    ];
  });
}
