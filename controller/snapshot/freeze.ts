/**
 * Deep-freezes the plain-data parts of a snapshot (objects and arrays; class instances such as keys and compiled regular expressions are left alone).
 * Walks arrays by index and objects with for-in rather than Object.values, so freezing allocates no
 * array per object (a 10k-route snapshot has hundreds of thousands of them).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    Object.freeze(value);
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
    return value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  Object.freeze(value);
  // Plain objects inherit no enumerable properties, so for-in visits exactly their own.
  for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
