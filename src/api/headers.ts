/** The actor a call targets (every `<State>Methods` RPC needs it), percent-encoded UTF-8: see actor-id-header.ts. */
export const ACTOR_ID_HEADER = "x-cairn-actor-id";
/** Optional: a mutation's idempotency key. */
export const IDEMPOTENCY_KEY_HEADER = "x-cairn-idempotency-key";
/** On a workflow or writer call: start it as a task (at this epoch ms, or "now") and answer at once. */
export const SPAWN_HEADER = "x-cairn-spawn";
/** In the answer to a spawn: the new task's id. */
export const TASK_ID_HEADER = "x-cairn-task-id";
