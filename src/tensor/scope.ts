// tidy(fn): every tensor made inside fn is disposed when fn returns, except what it returns
// (and what was kept). Scopes nest; returned tensors move to the enclosing scope.
import { describeValue } from './shape.js';
import { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

export function trackInScope(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Exempts a tensor from disposal by the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  // keep('x') or keep([a, b]) would otherwise return quietly and leave the tensors to tidy.
  if (!(t instanceof Tensor)) throw new Error(`keep: expected a Tensor (keep each tensor of a container), got ${describeValue(t)}`);
  for (const s of scopes) s.delete(t);
  return t;
}

/** The containers tidy looks into for returned tensors: arrays, plain objects and Map values. */
function collect(value: unknown, out: Set<Tensor>, hidden: unknown[], seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value instanceof Map) for (const v of value.values()) collect(v, out, hidden, seen);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, hidden, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) for (const v of Object.values(value)) collect(v, out, hidden, seen);
  else hidden.push(value);
}

/**
 * The first tensor of `doomed` found inside a container tidy does not look into (a Set, a class
 * instance, ...), with that container, or null. Bounded, since a returned object may reach a
 * large graph (a model, a runtime) that holds no tensor of this scope.
 */
function findHidden(hidden: unknown[], doomed: Set<Tensor>): { container: unknown; tensor: Tensor } | null {
  const seen = new Set<unknown>();
  let budget = 10_000;
  for (const container of hidden) {
    const stack: unknown[] = [container];
    while (stack.length && budget-- > 0) {
      const v = stack.pop();
      if (v === null || typeof v !== 'object' || seen.has(v)) continue;
      seen.add(v);
      if (v instanceof Tensor) {
        if (doomed.has(v)) return { container, tensor: v };
        continue;
      }
      if (v instanceof Map || v instanceof Set) stack.push(...v.values());
      else if (ArrayBuffer.isView(v)) continue;
      else stack.push(...Object.values(v));
    }
  }
  return null;
}

export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`tidy: expected a function, got ${describeValue(fn)}`);
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
  const hidden: unknown[] = [];
  collect(result, returned, hidden);
  const doomed = new Set([...scope].filter((t) => !returned.has(t)));
  // A tensor made here and returned inside a Set or a class instance would be disposed under
  // the caller's feet; PyTorch users expect a returned result to survive, so this is an error.
  const lost = hidden.length && doomed.size ? findHidden(hidden, doomed) : null;
  if (lost) {
    const message = `tidy: the function returned ${describeValue(lost.container)} holding ${lost.tensor.describe()}, made inside tidy; tidy only looks into arrays, plain objects and Maps, so it would be disposed. Return the tensors in an array, object or Map, or keep() them`;
    // As when fn throws: the whole scope goes.
    for (const t of scope) t.dispose();
    throw new Error(message);
  }
  for (const t of doomed) t.dispose();
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
