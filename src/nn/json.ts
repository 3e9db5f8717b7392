// JSON read from files (a safetensors header, its metadata values, a run's config.json) is input,
// and JSON.parse keeps the last of two equal keys without a word: a file with
// {"lr": 0.001, "lr": 1e6} would be read as the second. Every such read goes through here.

/** The first key that occurs twice in one object of valid JSON `text`, or null. */
export function duplicateJsonKey(text: string): string | null {
  // A stack of the open containers: an object's keys so far, or null for an array.
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

/** JSON.parse that also rejects an object with a key given twice (the message names the key). */
export function parseJson(text: string): unknown {
  const v: unknown = JSON.parse(text);
  const dup = duplicateJsonKey(text);
  if (dup !== null) throw new SyntaxError(`the key ${JSON.stringify(dup)} is given twice in one object`);
  return v;
}
