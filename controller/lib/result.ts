/**
 * A value, or why there is none: the one shape of every step that can fail (a feature's compile, a
 * reference lookup, a request phase). `E` is what a failure carries: the problems of a compile
 * (every one of them, not just the first), a lookup's reason, or the Decision that ends a request.
 */
export type Result<T, E = Problems> = Ok<T> | Failure<E>;

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
  /** What the value holds that can never work though it is served (a Warning condition on the policy). */
  readonly warnings?: readonly string[];
}

export interface Failure<E> {
  readonly ok: false;
  readonly error: E;
}

/** Why a configuration cannot be enforced: one sentence per problem, field first ("jwt.providers[0]: …"). */
export type Problems = readonly string[];

export function ok<T>(value: T, warnings?: readonly string[]): Ok<T> {
  return warnings === undefined || warnings.length === 0 ? { ok: true, value } : { ok: true, value, warnings };
}

export function fail<E>(error: E): Failure<E> {
  return { ok: false, error };
}

/** A compile failure with one problem. */
export function problem(message: string): Failure<Problems> {
  return { ok: false, error: [message] };
}
