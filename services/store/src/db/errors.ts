// Tells errors caused by a message's content from errors of an unreachable or failing database.

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation). */
export function isDataError(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) return false;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
}
