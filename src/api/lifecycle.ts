// An application's lifecycle on a node:diagnostics_channel, for tools in the
// same process that must not import the server: `cairn dev`'s server
// process tells cairn dev the moment the old server has let go of its port
// and store, so the next one starts then, not once the old process is gone;
// and when the new one serves, so the next spare loads only then, not
// competing with that start for the CPU.

/** The channel's name (diagnostics channels are process-wide by name). */
export const APPLICATION_CHANNEL = "cairn:application";

/** What is published on it. */
export interface ApplicationEvent {
  /** "started": listening, tasks re-armed; "stopped": the port and the store are closed. */
  readonly event: "started" | "stopped";
}
