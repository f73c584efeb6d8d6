import { toBinary, type DescMessage } from "@bufbuild/protobuf";
import { Aborted } from "../api/errors.js";
import type { StoredOutcome } from "../store/store.js";

/**
 * A declared error as the outcome stored under an idempotency key or on a
 * task; undefined if `e` is not one of `errors` (then it is not a result).
 */
export function declaredOutcome(
  e: unknown,
  errors: readonly DescMessage[],
): Extract<StoredOutcome, { kind: "aborted" }> | undefined {
  if (!(e instanceof Aborted)) return undefined;
  const schema = errors.find((s) => s.typeName === e.error.$typeName);
  if (!schema) return undefined;
  return { kind: "aborted", typeName: e.error.$typeName, bytes: toBinary(schema, e.error), message: e.message };
}
