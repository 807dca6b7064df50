/**
 * The fast reading of a manifest file written as JSON: a stream of JSON objects separated by bare
 * `---` lines (what `kubectl get -o json | jq -c` pipelines and generators write, and the form of
 * bench/world.ts). JSON is YAML 1.2 (a JSON object is a YAML flow mapping), so such a file means
 * the same to the `yaml` package; JSON.parse reads it an order of magnitude faster and leaves no
 * syntax trees behind. Where the two could disagree this reading declines and the caller parses
 * the file as YAML: any line, comment, directive, marker or document that is not plain JSON, and
 * duplicate keys (YAML refuses them, JSON.parse keeps the last one).
 */

/** A document of the stream: its value, its 1-based number (counted as the `yaml` package counts documents) and the line (from 1) of its `{`. */
export interface JsonDocument {
  readonly object: object;
  readonly number: number;
  readonly line: number;
}

/**
 * A bare document start marker line, as YAML reads it (`---`, optional trailing blanks). JavaScript's
 * `^`/`$` also stop at U+2028/U+2029, which YAML does not: a split there leaves halves that are not
 * JSON, so the file is read as YAML.
 */
const DOCUMENT_START = /^---[ \t]*\r?$/m;

/** Only JSON's own white space (String.prototype.trim also drops U+00A0 and U+FEFF, which YAML reads as content). */
const BLANK = /^[ \t\r\n]*$/;
const OBJECT_START = /^[ \t\r\n]*\{/;

/**
 * The documents of `text` when it is a stream of JSON objects (blank documents skipped but
 * counted), or undefined when any part of it is not: then only a YAML parser may say what it means.
 */
export function readJsonStream(text: string): readonly JsonDocument[] | undefined {
  const chunks = text.split(DOCUMENT_START);
  const documents: JsonDocument[] = [];
  // Text before the first marker is a document only if it has content; each marker starts one.
  const leading = BLANK.test(chunks[0]!) ? 0 : 1;
  // Markers hold no line break: a chunk starts on the line its predecessors' breaks end on.
  let line = 1;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    const startLine = line;
    line += lineBreaksIn(chunk, chunk.length);
    if (BLANK.test(chunk)) continue;
    if (!OBJECT_START.test(chunk)) return undefined;
    let object: unknown;
    try {
      object = JSON.parse(chunk);
    } catch {
      return undefined;
    }
    if (keysIn(object) !== memberNamesIn(chunk)) return undefined;
    documents.push({ object: object as object, number: i + leading, line: startLine + lineBreaksIn(chunk, chunk.indexOf("{")) });
  }
  return documents;
}

/** The "\n" in `text` before index `end`. */
function lineBreaksIn(text: string, end: number): number {
  let n = 0;
  for (let at = text.indexOf("\n"); at !== -1 && at < end; at = text.indexOf("\n", at + 1)) n++;
  return n;
}

/** Keys of every object in a parsed JSON value: fewer than its member names when a name repeats. */
function keysIn(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += keysIn(item);
    return n;
  }
  for (const key in value) n += 1 + keysIn((value as Record<string, unknown>)[key]);
  return n;
}

/**
 * Member names in valid JSON text: strings followed by a colon. Outside strings JSON has no
 * quotes, so each quote found from a string's end on opens the next string.
 */
function memberNamesIn(json: string): number {
  let n = 0;
  let at = json.indexOf('"');
  while (at !== -1) {
    let end = json.indexOf('"', at + 1);
    // A quote preceded by an odd number of backslashes is escaped.
    for (;;) {
      let backslashes = 0;
      while (json.charCodeAt(end - 1 - backslashes) === 0x5c /* \ */) backslashes++;
      if (backslashes % 2 === 0) break;
      end = json.indexOf('"', end + 1);
    }
    let next = end + 1;
    while (isJsonSpace(json.charCodeAt(next))) next++;
    if (json.charCodeAt(next) === 0x3a /* : */) n++;
    at = json.indexOf('"', next);
  }
  return n;
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
