// tidy(fn): every tensor made inside fn is disposed when fn returns, except what it returns
// (and what was kept). Scopes nest; returned tensors move to the enclosing scope.
import { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

export function trackInScope(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Exempts a tensor from disposal by the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy: the function returned a Promise; tidy scopes are synchronous (await outside, or dispose by hand)');
  }
  const returned = new Set<Tensor>();
  collect(result, returned);
  for (const t of scope) if (!returned.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of returned) if (scope.has(t)) parent.add(t);
  return result;
}

/** An open tidy scope, as a handle for adoptInto. */
export type TidyScope = { readonly __tidyScope: true };

/** The innermost open tidy scope, or null outside any. */
export function currentScope(): TidyScope | null {
  return (scopes[scopes.length - 1] as unknown as TidyScope | undefined) ?? null;
}

/**
 * Hands t to `owner` (a scope from currentScope() that is still open): it leaves the scopes
 * opened since and is disposed when `owner` ends. With a null owner it belongs to no scope (keep).
 */
export function adoptInto(owner: TidyScope | null, t: Tensor): void {
  keep(t);
  if (owner) (owner as unknown as Set<Tensor>).add(t);
}
