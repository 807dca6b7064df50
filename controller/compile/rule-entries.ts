/**
 * The route entries of one route rule on one attachment: what compile() turns each match of a rule
 * into. Apart from index.ts so the compile loop reads as its steps, the shape of an entry here.
 */
import type { CompiledPolicy, PolicyOrigin } from "../snapshot/types.ts";
import type { Attachment } from "./attachments.ts";
import type { MatchResult, PendingEntry, RankedMatch } from "./routes.ts";

/** The index of the first match that cannot be served, or -1. */
export function firstFailure(matches: readonly MatchResult[]): number {
  for (let i = 0; i < matches.length; i++) if (!matches[i]!.ok) return i;
  return -1;
}

/** What the entries of one route rule on one attachment share. */
export interface RuleOnAttachment {
  readonly attachment: Attachment;
  readonly gatewayId: string;
  readonly listener: string;
  readonly tlsListener: string | undefined;
  readonly routeId: string;
  readonly label: string;
  readonly policy: CompiledPolicy | undefined;
  readonly origin: PolicyOrigin | undefined;
  readonly ruleIndex: number;
  readonly clientAddressUnknown: string | undefined;
}

/** The route entry of one match of a rule (`n`: 0 for the match, 1 for its CORS preflight route). */
export function pendingEntry(at: RuleOnAttachment, m: RankedMatch, matchIndex: number, n: number): PendingEntry {
  const { attachment, policy } = at;
  return {
    entry: {
      gateway: at.gatewayId,
      listener: at.listener,
      port: attachment.listener.port,
      kind: attachment.route.kind,
      route: at.routeId,
      rule: at.label,
      match: m.match,
      policy,
      origin: at.origin,
      managedHeaders: policy?.managedHeaders ?? [],
      ...(at.clientAddressUnknown === undefined ? {} : { clientAddressUnknown: at.clientAddressUnknown }),
    },
    hostnames: attachment.hostnames,
    route: attachment.route,
    pathCount: m.pathCount,
    order: [at.ruleIndex, matchIndex, n],
    tlsListener: at.tlsListener,
  };
}
