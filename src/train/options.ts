// Option checks shared by src/train: an unknown option is an error (a typo would otherwise be
// silently ignored), listing the known ones.

export function rejectUnknownKeys(where: string, opts: object, known: readonly string[], noun = 'option'): void {
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new Error(`${where}: unknown ${noun} '${k}' (known: ${known.join(', ')})`);
}
