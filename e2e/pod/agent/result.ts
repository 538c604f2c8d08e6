// What the agent programs share: one JSON result line on stdout and exit 0, whatever happened
// to the call (the JSON says it), and errors described by class, code and message.
export interface ErrorDescription {
  /** The error's class name: McpError, StreamableHTTPError, TypeError, Error... */
  readonly class: string;
  /** McpError: the JSON-RPC code; StreamableHTTPError: the HTTP status; system errors: ECONNREFUSED... */
  readonly code: string | number | null;
  readonly message: string;
  /** McpError: the JSON-RPC error's data (a RequireApproval deny names its AgentAccessRequest there). */
  readonly data?: unknown;
  readonly cause?: ErrorDescription;
}

export function describeError(error: unknown, depth = 0): ErrorDescription {
  // Structural, not instanceof: errors made by Node's internals come from another realm under jest.
  if (typeof error !== 'object' || error === null || typeof (error as { message?: unknown }).message !== 'string') {
    return { class: typeof error, code: null, message: String(error) };
  }
  const { code, message, data } = error as { code?: unknown; message: string; data?: unknown };
  const description: ErrorDescription = {
    class: error.constructor.name,
    code: typeof code === 'string' || typeof code === 'number' ? code : null,
    message,
    ...(data === undefined ? {} : { data }),
  };
  const { cause } = error as { cause?: unknown };
  return cause !== undefined && depth < 3 ? { ...description, cause: describeError(cause, depth + 1) } : description;
}

/** Prints the one result line; the program then exits 0 (a failed call is a result, not a crash). */
export function printResult(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs a program's main; only a usage error (bad flags) exits non-zero, with {"usageError":...}. */
export function runProgram(main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      printResult({ usageError: error instanceof Error ? error.message : String(error) });
      process.exitCode = 2;
    },
  );
}

/** "Name: value" → [name, value]. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`--header "${text}": want "Name: value"`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

export function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} "${text}": want a positive integer`);
  return value;
}
