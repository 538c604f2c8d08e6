// Exit codes of bin/agentwarden (DESIGN.md, "Commands a user sees").
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INPUT = 2;
