import type { TSchema, Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { invalid } from "@drover/shared/errors";

/**
 * Checks a value against a schema and throws a 400 naming every bad field. Used where Elysia's
 * own body validation would give an unclear message (a body that is one object or a list of them).
 */
export function checker<T extends TSchema>(schema: T) {
  const compiled = TypeCompiler.Compile(schema);
  return (value: unknown, what: string): Static<T> => {
    if (compiled.Check(value)) return value as Static<T>;
    const messages = new Set<string>();
    for (const e of compiled.Errors(value)) {
      const field = e.path.replace(/^\//, "").replaceAll("/", ".");
      messages.add(field ? `Invalid ${what} field "${field}": ${e.message}` : `Invalid ${what}: ${e.message}`);
      if (messages.size >= 10) break;
    }
    const [first, ...rest] = [...messages];
    throw invalid(first!, ...rest);
  };
}
