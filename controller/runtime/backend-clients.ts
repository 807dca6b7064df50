/**
 * Keeps the clients of the backends policies call (extAuth services, OIDC providers) to those the
 * published snapshot names: each client map is keyed by connection settings, so without this a
 * policy changing its endpoints, TLS or timeouts over and over would leave a client per version.
 * A remote JWKS needs nothing here: each fetch has its own client.
 */
import type { ExtAuthTransport } from "../features/extAuth/client.ts";
import { isHookUp } from "../features/extAuth/compile.ts";
import { extAuth } from "../features/extAuth/index.ts";
import { compiledOf } from "../features/feature.ts";
import { oidc } from "../features/oidc/index.ts";
import type { OidcProviders } from "../features/oidc/provider.ts";
import { entryListsOf } from "../snapshot/route-index.ts";
import type { CompiledPolicy, Snapshot } from "../snapshot/types.ts";

/** Closes the clients `snapshot` does not use. Call it with each snapshot as it is published. */
export function retainBackendClients(
  snapshot: Snapshot,
  clients: { readonly extAuth: ExtAuthTransport; readonly oidc: OidcProviders },
): void {
  const policies = policiesOf(snapshot);
  const services = new Set<string>();
  const providers = [];
  for (const policy of policies) {
    const service = compiledOf(policy.features, extAuth);
    if (service !== undefined && !isHookUp(service)) services.add(service.service.key);
    const provider = compiledOf(policy.features, oidc)?.provider;
    if (provider !== undefined) providers.push(provider);
  }
  clients.extAuth.retain(services);
  clients.oidc.retain(providers);
}

/** Every policy the snapshot enforces: those by name, and those only route entries hold (merged with `mergeType`). */
function policiesOf(snapshot: Snapshot): Set<CompiledPolicy> {
  const policies = new Set(Object.values(snapshot.policies));
  for (const entries of entryListsOf(snapshot.routes)) for (const e of entries) if (e.policy !== undefined) policies.add(e.policy);
  return policies;
}
