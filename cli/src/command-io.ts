// What a command of bin/agentwarden gets to talk to the world.
export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** The process environment (read by the commands' flag tables only). */
  readonly env: Readonly<Record<string, string | undefined>>;
}
