/**
 * The objects one manifest file's text holds, read as Kubernetes' YAML reader (Envoy Gateway's file
 * provider, kubectl) reads it, or why it cannot be read so.
 */
import { Composer, type Document, isNode, isScalar, LineCounter, Parser, visit } from "yaml";
import { isWatchedKind } from "../api/kinds.ts";
import type { RawObject } from "../api/resources.ts";
import { readJsonStream } from "./json-stream.ts";

/**
 * The objects of one manifest file's `text`, each with its origin ("`file`#N", N from 1; a list's
 * items are expanded as expandList says, "`file`#N.items[i]"), or why
 * the file cannot be read: its first YAML error (line and column), a document whose aliases
 * expand past 100 (a "billion laughs"), or what Envoy Gateway's file provider and kubectl (whose
 * reader is Kubernetes': YAML 1.1, documents split at lines of `---` alone) would read otherwise
 * (readsOtherwiseInKubernetes). Empty documents are skipped; JSON documents are read as JSON when
 * both readings agree. Tests build their worlds with it too, so that they are read under the
 * limits a manifest folder is.
 */
export function parseManifests(text: string, file: string): { objects: RawObject[] } | { error: string } {
  // A file of JSON documents means the same to YAML and reads far faster as JSON (json-stream.ts).
  const json = readJsonStream(text);
  if (json !== undefined) {
    const objects: RawObject[] = [];
    for (const d of json) {
      // JSON documents carry only their own line: an item is named by its index in the origin.
      const expanded = expandList({ object: d.object, origin: `${file}#${d.number}`, line: d.line }, () => undefined);
      if ("error" in expanded) return expanded;
      objects.push(...expanded.objects);
    }
    return { objects };
  }
  // One document at a time, each dropped once converted: a large file's syntax trees never all
  // live at once (parseAllDocuments keeps every one until the end, and the garbage collector then
  // has hundreds of MiB of them to move).
  const lines = new LineCounter();
  const documents = new Composer().compose(new Parser(lines.addNewLine).parse(text));
  const parts = kubernetesParts(text);
  if ("refused" in parts) {
    // The documents are parsed lazily: the line counter has seen no line yet.
    const line = text.slice(0, parts.refused).split("\n").length;
    return {
      error: `line ${line}: a line beginning with '---' holds more than a document marker, which Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) refuses; put '---' on a line of its own`,
    };
  }
  const objects: RawObject[] = [];
  let i = -1;
  let lastPart = -1;
  for (const doc of documents) {
    i++;
    const problem = doc.errors[0];
    if (problem !== undefined) {
      const at = problem.pos[0] === -1 ? undefined : lines.linePos(problem.pos[0]);
      const where = at === undefined ? `document ${i + 1}` : `line ${at.line}, column ${at.col}`;
      return { error: `${where}: ${problem.code}: ${problem.message.split("\n")[0]}` };
    }
    const otherwise = readsOtherwiseInKubernetes(doc, parts.starts, lastPart);
    if (otherwise !== undefined) {
      const at = lines.linePos(otherwise.at);
      return { error: `line ${at.line}, column ${at.col}: ${otherwise.why}` };
    }
    if (doc.contents !== null) lastPart = partAt(parts.starts, doc.contents.range[0], lastPart);
    // A bounded alias count keeps a "billion laughs" document from exhausting memory.
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { error: `document ${i + 1}: ${(e as Error).message.split("\n")[0]}` };
    }
    if (object === null || object === undefined) continue;
    const lineAt = (path: readonly (string | number)[]): number | undefined => {
      const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
      const start = isNode(node) ? node.range?.[0] : undefined;
      return start === undefined ? undefined : lines.linePos(start).line;
    };
    const line = lineAt([]);
    const expanded = expandList({ object, origin: `${file}#${i + 1}`, ...(line === undefined ? {} : { line }) }, lineAt);
    if ("error" in expanded) return expanded;
    objects.push(...expanded.objects);
  }
  return { objects };
}

/**
 * How Kubernetes' YAML reader (k8s.io/apimachinery's YAMLReader, which Envoy Gateway's file
 * provider and kubectl use) cuts `text`: `starts`, the offsets of its parts (the file's start and
 * each line that begins with `---` and holds nothing else but white space or a comment), each then
 * read by a YAML 1.1 parser (sigs.k8s.io/yaml) that takes its first document and drops the rest;
 * or `refused`, the offset of the first line that begins with `---` and holds something else
 * (`--- {kind: …}`, `---foo`), for which that reader refuses the whole file.
 */
function kubernetesParts(text: string): { readonly starts: readonly number[] } | { readonly refused: number } {
  const starts = [0];
  // Lines end at "\n" only, as that reader's: a regular expression's ^ would also begin one after U+2028.
  for (let line = 0; line < text.length; ) {
    const end = text.indexOf("\n", line);
    const next = end === -1 ? text.length : end + 1;
    if (text.startsWith("---", line)) {
      const rest = text.slice(line + 3, next).trim();
      if (rest !== "" && !rest.startsWith("#")) return { refused: line };
      starts.push(line);
    }
    line = next;
  }
  return { starts };
}

/**
 * Which part (kubernetesParts) the text at `offset` is in, looked for from part `from` on (documents
 * come in order: a file of many documents is not scanned from its start for each).
 */
function partAt(parts: readonly number[], offset: number, from: number): number {
  let part = Math.max(from, 0);
  while (part + 1 < parts.length && parts[part + 1]! <= offset) part++;
  return part;
}

/**
 * Where and why Envoy Gateway's file provider and kubectl read `doc` otherwise than YAML 1.2 does,
 * else undefined: a document that begins in the part of Kubernetes' reader where the document
 * before it (whose part is `previousPart`) began (after a `...` that ends it), which that reader
 * drops; a merge key (`<<`), which that reader's YAML 1.1 merges and
 * YAML 1.2 keeps as a key, and where the two would not agree which of two values of a key wins
 * (YAML 1.1's parser lets the later one win, the merge rule the explicit one). Either could hide or
 * add a route match, a route or a policy.
 */
function readsOtherwiseInKubernetes(
  doc: Document.Parsed,
  parts: readonly number[],
  previousPart: number,
): { at: number; why: string } | undefined {
  if (doc.contents === null) return undefined;
  if (partAt(parts, doc.contents.range[0], previousPart) === previousPart) {
    return {
      at: doc.contents.range[0],
      why: "Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) would drop this document: it splits documents only at a line holding '---' alone and reads the first of each part, so '...' does not end one for it; begin it with such a line",
    };
  }
  let merge: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (!isScalar(key) || key.source !== "<<") return undefined;
      if ((key.type === "PLAIN" && key.tag === undefined) || key.tag === "tag:yaml.org,2002:merge") {
        merge = key.range?.[0] ?? doc.contents!.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return merge === undefined
    ? undefined
    : {
        at: merge,
        why: "a merge key (<<) is not read: Kubernetes' YAML 1.1 reader merges it, YAML 1.2 keeps it as a key, and they differ on which of two values wins; write the keys out",
      };
}

/** How deep lists may nest in one document: kubectl output never nests them, so deeper is refused rather than walked. */
export const MAX_LIST_DEPTH = 8;

/**
 * A document as `kubectl apply -f` reads it: one with an `items` key is a list (whatever its kind:
 * `v1 List`, `SecurityPolicyList`, `HTTPRouteList`), and what is applied is its items, each read as
 * a top-level object, nested lists expanded too; the list itself is not applied. An item with
 * neither `apiVersion` nor `kind` gets the list's apiVersion and its kind less "List" (what kubectl
 * does for a typed list's items). Each item's origin is the document's plus `.items[i]` (from 0),
 * with its line from `lineAt` (the path of keys and indices from the document's root) where known.
 * A list whose items are not all mappings, a list nested deeper than MAX_LIST_DEPTH, and an object of
 * a kind Portcullis reads that also holds `items` (kubectl would apply its items and drop it) are
 * errors of the file: what it enforces is not known.
 */
function expandList(
  raw: RawObject,
  lineAt: (path: readonly (string | number)[]) => number | undefined,
  path: readonly (string | number)[] = [],
): { objects: RawObject[] } | { error: string } {
  const o = raw.object;
  if (typeof o !== "object" || o === null || Array.isArray(o) || !Object.hasOwn(o, "items")) return { objects: [raw] };
  const list = o as Record<string, unknown>;
  const hash = raw.origin.lastIndexOf("#");
  const at = raw.line === undefined ? "" : ` at line ${raw.line}`;
  const where = `document ${raw.origin.slice(hash + 1)}${at}`;
  if (isWatchedKind(list.apiVersion, list.kind)) {
    return {
      error: `${where} (${String(list.kind)}) has items: kubectl apply would read it as a list, apply its items and drop the object itself`,
    };
  }
  if (path.length >= 2 * MAX_LIST_DEPTH) return { error: `${where}: lists nested more than ${MAX_LIST_DEPTH} deep` };
  if (list.items === null) return { objects: [] };
  if (!Array.isArray(list.items)) return { error: `${where}: items of a list must be a sequence of objects` };
  const itemKind = typeof list.kind === "string" && list.kind.endsWith("List") ? list.kind.slice(0, -"List".length) : undefined;
  const objects: RawObject[] = [];
  for (const [i, item] of list.items.entries()) {
    const itemPath = [...path, "items", i];
    const origin = `${raw.origin}.items[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return { error: `${where}: items[${i}] is not an object: a list's items must be objects` };
    }
    const typed = item as Record<string, unknown>;
    const object =
      typed.apiVersion === undefined && typed.kind === undefined && itemKind !== undefined
        ? { ...typed, apiVersion: list.apiVersion, kind: itemKind }
        : item;
    const line = lineAt(itemPath);
    const expanded = expandList({ object, origin, ...(line === undefined ? {} : { line }) }, lineAt, itemPath);
    if ("error" in expanded) return expanded;
    objects.push(...expanded.objects);
  }
  return { objects };
}
