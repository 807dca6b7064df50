/**
 * Decisions stay synchronous until something must be waited for (a JWKS fetch, bcrypt): a
 * promise per request would cost the cache-hit path a microtask hop at every phase. (The helper
 * is not named `then`: a module exporting `then` is a thenable to dynamic import.)
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`, now when `value` is plain, after it settles when it is a promise. */
export function andThen<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Runs `step(0)`, `step(1)`, … in order until one yields something other than undefined. */
export function firstOf<R>(count: number, step: (index: number) => MaybePromise<R | undefined>, from = 0): MaybePromise<R | undefined> {
  for (let i = from; i < count; i++) {
    const result = step(i);
    if (result instanceof Promise) return result.then((r) => (r !== undefined ? r : firstOf(count, step, i + 1)));
    if (result !== undefined) return result;
  }
  return undefined;
}
