// A failure the CLI reports as one line and an exit status, without a stack trace.

export class CliError extends Error {
  constructor(
    message: string,
    /** 2 for a bad command line, 1 for everything else. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A bad command line (exit status 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** Any error's message as one line: multi-line messages are joined with '; '. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}
