import { FatalError } from "../../api/errors.js";

/**
 * How memoized step results are stored (DESIGN.md §5): JSON by default,
 * safe for BigInt and Uint8Array; or the caller's own codec; optionally
 * checked on the way back, where a value that fails is an error.
 */

/** The part of the Standard Schema interface (standardschema.dev) we use. */
export interface StandardSchema<T> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: T; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<{ readonly message: string }> }
      | Promise<
          { readonly value: T; readonly issues?: undefined } | { readonly issues: ReadonlyArray<{ readonly message: string }> }
        >;
  };
}

export type MemoOptions<T> =
  | { validate: (value: unknown) => value is T; schema?: undefined; stringify?: undefined; parse?: undefined }
  | { schema: StandardSchema<T>; validate?: undefined; stringify?: undefined; parse?: undefined }
  | { stringify: (value: T) => string; parse: (text: string) => T; validate?: undefined; schema?: undefined }
  | { validate?: undefined; schema?: undefined; stringify?: undefined; parse?: undefined };

/** A memoized value that fails its check on the way back. */
export class MemoValidationError extends FatalError {
  override readonly name: string = "MemoValidationError";
}

export function stringifyJson(value: unknown): string {
  return JSON.stringify(value === undefined ? { $undefined: true } : value, (_k, v: unknown) => {
    if (typeof v === "bigint") return { $bigint: v.toString() };
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("base64") };
    return v;
  });
}

export function parseJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1) {
        if (typeof o.$bigint === "string") return BigInt(o.$bigint);
        if (typeof o.$bytes === "string") return new Uint8Array(Buffer.from(o.$bytes, "base64"));
        if (o.$undefined === true) return undefined;
      }
    }
    return v;
  });
}

export function encodeMemo<T>(value: T, options: MemoOptions<T> | undefined): string {
  return options?.stringify ? options.stringify(value) : stringifyJson(value);
}

export async function decodeMemo<T>(text: string, options: MemoOptions<T> | undefined, alias: string): Promise<T> {
  const value = options?.parse ? options.parse(text) : parseJson(text);
  if (options?.validate && !options.validate(value)) {
    throw new MemoValidationError(`the stored result of step ${JSON.stringify(alias)} failed validate()`);
  }
  if (options?.schema) {
    const result = await options.schema["~standard"].validate(value);
    if (result.issues) {
      const why = result.issues.map((i) => i.message).join("; ");
      throw new MemoValidationError(`the stored result of step ${JSON.stringify(alias)} failed its schema: ${why}`);
    }
    return result.value;
  }
  return value as T;
}
