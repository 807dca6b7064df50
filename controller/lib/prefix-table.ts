/**
 * Items by a text key, to find every key that begins a text (is it, or a prefix of it) with one
 * Map lookup per distinct key length, where testing every key costs a lookup as many tests as
 * there are keys (route starts, path values: issue 17).
 */

/** Items grouped by their key, and the keys' lengths. */
export interface PrefixTable<T> {
  readonly byKey: ReadonlyMap<string, readonly T[]>;
  /** The keys' lengths, ascending, each once: the only lengths a key that begins a text can have. */
  readonly lengths: readonly number[];
}

/** PrefixTable of `items` by `keyOf`; each key's items in their order in `items`. */
export function prefixTableOf<T>(items: readonly T[], keyOf: (item: T) => string): PrefixTable<T> {
  if (items.length === 0) return EMPTY;
  const byKey = Map.groupBy(items, keyOf);
  return { byKey, lengths: [...new Set([...byKey.keys()].map((key) => key.length))].sort((a, b) => a - b) };
}

const EMPTY: PrefixTable<never> = Object.freeze({ byKey: new Map(), lengths: Object.freeze([]) });

/**
 * The item lists of `table` whose key begins `text`, shortest key first; undefined when none (the
 * usual lookup allocates nothing). An index loop: no closure per call.
 */
export function listsBeginning<T>(table: PrefixTable<T>, text: string): (readonly T[])[] | undefined {
  const { byKey, lengths } = table;
  let found: (readonly T[])[] | undefined;
  for (let l = 0; l < lengths.length; l++) {
    const length = lengths[l]!;
    if (length > text.length) break;
    const items = byKey.get(length === text.length ? text : text.slice(0, length));
    if (items !== undefined) (found ??= []).push(items);
  }
  return found;
}
