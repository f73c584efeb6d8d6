/**
 * One log call: fields first, then the message (pino's order), or a
 * message alone. Errors go in the `err` field.
 */
export interface LogFn {
  (fields: Readonly<Record<string, unknown>>, message: string): void;
  (message: string): void;
}

/**
 * Where Cairn writes its log records. A pino logger fits as it is; so
 * does any object with these methods. `child` binds fields (state type,
 * actor id, method, task id) to every record written through it.
 */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Readonly<Record<string, unknown>>): Logger;
}

