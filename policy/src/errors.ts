// Errors that say what and where: the file (or API object source), the object
// and the field, e.g.
//   examples/support.yaml: AgentPolicy support/support-agent: spec.rules[2].when: undeclared reference to 'reqest'

export interface FieldProblem {
  /** Field path inside the object, e.g. "spec.rules[2].when". */
  readonly field: string;
  readonly message: string;
}

export class PolicyError extends Error {
  readonly source: string;
  readonly object: string;
  readonly problems: readonly FieldProblem[];

  constructor(source: string, object: string, problems: readonly FieldProblem[]) {
    super(problems.map((p) => `${source}: ${object}: ${p.field}: ${p.message}`).join('\n'));
    this.name = 'PolicyError';
    this.source = source;
    this.object = object;
    this.problems = problems;
  }
}

/** Collects problems while a manifest is read, so one run reports all of them. */
export class Problems {
  readonly list: FieldProblem[] = [];

  add(field: string, message: string): void {
    this.list.push({ field, message });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}
