// Command-line values shared by the bench programs.

/** A comma-separated flag value whose items must each be one of `known`; the error names the program and the flag. */
export function listOf<T extends string>(program: string, flag: string, arg: string, known: readonly T[]): T[] {
  const asked = arg.split(',').map((v) => v.trim());
  const unknown = asked.filter((v) => !(known as readonly string[]).includes(v));
  if (unknown.length > 0) throw new Error(`${program}: ${flag}: ${unknown.join(', ')} is not ${known.join(', ')}`);
  return asked as T[];
}
