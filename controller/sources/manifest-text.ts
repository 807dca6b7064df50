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
  const chunks = kubernetesChunks(text);
  if ("refused" in chunks) {
    // The documents are parsed lazily: the line counter has seen no line yet.
    const line = text.slice(0, chunks.refused).split("\n").length;
    return {
      error: `line ${line}: a line beginning with '---' holds more than a document marker, which Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) refuses; put '---' on a line of its own`,
    };
  }
  // A file of JSON documents means the same to YAML and reads far faster as JSON (json-stream.ts);
  // one with a chunk of blank lines is read as YAML, which reports it (see below).
  const json = chunks.every((c) => !isBlank(text, c)) ? readJsonStream(text) : undefined;
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
  const starts = chunks.map((c) => c.start);
  // The chunks a document holding an object begins in: every other one fails Envoy Gateway's load.
  const held = new Set<number>();
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
    const otherwise = readsOtherwiseInKubernetes(doc, starts, lastPart);
    if (otherwise !== undefined) {
      const at = lines.linePos(otherwise.at);
      return { error: `line ${at.line}, column ${at.col}: ${otherwise.why}` };
    }
    // Where an empty document begins counts too, when inside a chunk (not on a `---` that ends one):
    // a chunk's first document is the one read, and a later one is dropped even after an empty one.
    if (!holdsNothing(doc)) lastPart = partAt(starts, doc.contents!.range[0], lastPart);
    else {
      const part = partAt(starts, doc.range[0], lastPart);
      if (doc.range[0] < chunks[part]!.end) lastPart = part;
    }
    // A bounded alias count keeps a "billion laughs" document from exhausting memory.
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { error: `document ${i + 1}: ${(e as Error).message.split("\n")[0]}` };
    }
    if (object === null || object === undefined) continue;
    held.add(lastPart);
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
  const empty = chunks.findIndex((_, i) => !held.has(i));
  if (empty !== -1) {
    const line = text.slice(0, chunks[empty]!.start).split("\n").length;
    return {
      error: `line ${line}: Kubernetes' YAML reader hands Envoy Gateway's file provider a document here that holds no object (blank lines, comments, a '---' alone or null), over which that provider refuses its whole load; remove it, or put it inside a document that holds an object`,
    };
  }
  return { objects };
}

/**
 * How Kubernetes' YAML reader (k8s.io/apimachinery's YAMLReader, which Envoy Gateway's file
 * provider and kubectl use) cuts `text`: the `[start, end)` offsets of the chunks it hands on, each
 * then read by a YAML 1.1 parser (sigs.k8s.io/yaml) that takes its first document and drops the
 * rest; or `refused`, the offset of the first line that begins with `---` and holds something else
 * but white space or a comment (`--- {kind: …}`, `---foo`), for which that reader refuses the whole
 * file. A line of `---` ends the chunk before it; when there is none (the file's first line, or
 * `---` again) it begins the next chunk instead, so a `---` followed by nothing, and blank or
 * comment lines between two `---`, are chunks of their own.
 */
function kubernetesChunks(text: string): readonly { readonly start: number; readonly end: number }[] | { readonly refused: number } {
  const chunks: { start: number; end: number }[] = [];
  let start = -1;
  // Lines end at "\n" only, as that reader's: a regular expression's ^ would also begin one after U+2028.
  for (let line = 0; line < text.length; ) {
    const end = text.indexOf("\n", line);
    const next = end === -1 ? text.length : end + 1;
    if (text.startsWith("---", line)) {
      const rest = text.slice(line + 3, next).trim();
      if (rest !== "" && !rest.startsWith("#")) return { refused: line };
      if (start !== -1) {
        chunks.push({ start, end: line });
        start = -1;
        line = next;
        continue;
      }
    }
    if (start === -1) start = line;
    line = next;
  }
  if (start !== -1) chunks.push({ start, end: text.length });
  return chunks;
}

/** Whether `chunk` of `text` holds only blank lines after a `---` line it may begin with. */
function isBlank(text: string, chunk: { readonly start: number; readonly end: number }): boolean {
  const body = text.startsWith("---", chunk.start) ? text.indexOf("\n", chunk.start) + 1 || chunk.end : chunk.start;
  return /^[ \t\r\n]*$/.test(text.slice(body, chunk.end));
}

/**
 * Whether `doc` holds nothing, not even a node (comments and blank lines), or only null: as the
 * empty node a `---` with nothing after it gives the document it begins, which may lie on that
 * marker's line, outside every chunk.
 */
const holdsNothing = (doc: Document.Parsed): boolean => doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);

/**
 * Which chunk (kubernetesChunks, by their starts) the text at `offset` is in, looked for from part `from` on (documents
 * come in order: a file of many documents is not scanned from its start for each).
 */
function partAt(parts: readonly number[], offset: number, from: number): number {
  let part = Math.max(from, 0);
  while (part + 1 < parts.length && parts[part + 1]! <= offset) part++;
  return part;
}

/**
 * Where and why Envoy Gateway's file provider and kubectl read `doc` otherwise than YAML 1.2 does,
 * else undefined: a document that begins in the chunk of Kubernetes' reader (kubernetesChunks, by
 * their starts: `parts`) where the document before it (whose chunk is `previousPart`) began (after a `...` that ends it), which that reader
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
  if (holdsNothing(doc)) return undefined;
  const start = doc.contents!.range[0];
  if (partAt(parts, start, previousPart) === previousPart) {
    return {
      at: start,
      why: "Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) would drop this document: it splits documents only at a line holding '---' alone and reads the first of each part, so '...' does not end one for it; begin it with such a line",
    };
  }
  let merge: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (!isScalar(key) || key.source !== "<<") return undefined;
      if ((key.type === "PLAIN" && key.tag === undefined) || key.tag === "tag:yaml.org,2002:merge") {
        merge = key.range?.[0] ?? start;
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
