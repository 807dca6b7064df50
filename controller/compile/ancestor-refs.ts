/**
 * The ancestor refs a SecurityPolicy's status names (Gateway API ParentReference shape): a Gateway,
 * or one of its listeners as `sectionName`; a ListenerSet, or one of its listeners. Which one a
 * policy reports under follows Envoy Gateway: a route policy under the parent its route's parentRef
 * names, an overridden policy under its target's ancestor on the overriding path.
 */
import { GATEWAY_API_GROUP } from "../api/gatewayapi.ts";
import { keyOf } from "../api/meta.ts";
import type { ListenerSet } from "../api/resources.ts";
import type { AncestorRef } from "../api/status.ts";
import type { Attachment } from "./attachments.ts";
import type { Target } from "./targets.ts";

/** Where a policy overridden on a rule reached through `attachment` reports it: its target's ancestor on that path. */
export function overriddenAt(target: Target, attachment: Attachment): AncestorRef {
  if (target.kind === "Gateway") return gatewayRef(keyOf(attachment.gateway.metadata), target.sectionName);
  if (target.kind === "ListenerSet") return listenerSetRef(target.listenerSet, target.sectionName);
  const section = attachment.parentRef.sectionName;
  return attachment.listenerSet === undefined
    ? gatewayRef(keyOf(attachment.gateway.metadata), section)
    : listenerSetRef(attachment.listenerSet, section);
}

/** The listener an attachment goes through, as an ancestor (a Gateway's or a ListenerSet's, with its name as sectionName). */
export function listenerRef(attachment: Attachment): AncestorRef {
  const name = attachment.listener.name;
  return attachment.listenerSet === undefined
    ? gatewayRef(keyOf(attachment.gateway.metadata), name)
    : listenerSetRef(attachment.listenerSet, name);
}

export function listenerSetRef(ls: ListenerSet, sectionName: string | undefined): AncestorRef {
  const ref = { group: GATEWAY_API_GROUP, kind: "ListenerSet", namespace: ls.metadata.namespace, name: ls.metadata.name };
  return sectionName === undefined ? ref : { ...ref, sectionName };
}

export function gatewayRef(id: string, sectionName: string | undefined): AncestorRef {
  const [namespace, name] = id.split("/") as [string, string];
  return sectionName === undefined
    ? { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name }
    : { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name, sectionName };
}
