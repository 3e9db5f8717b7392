// rt.tuning (see Runtime.tuning): a kernel family's forced choice, read in one way everywhere.
// Tests set these to run every schedule on whatever adapter they have, so a misspelt value must
// fail loudly rather than quietly test the default.

/**
 * The choice `tuning[key]` forces: undefined where it is unset or 'auto' (the wrapper chooses);
 * any value not in `choices` throws, naming the key, the choices and the value.
 */
export function forcedChoice<T extends string>(tuning: Readonly<Record<string, string | undefined>>, key: string, choices: readonly T[]): T | undefined {
  const v = tuning[key];
  if (v === undefined || v === 'auto') return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new Error(`rt.tuning.${key} must be 'auto' or one of ${choices.join(', ')}, got '${v}'`);
  return v as T;
}
