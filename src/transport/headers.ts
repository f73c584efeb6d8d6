/** The actor a call targets (every `<State>Methods` RPC needs it). */
export const ACTOR_ID_HEADER = "x-cairn-actor-id";
/** Optional: a mutation's idempotency key. */
export const IDEMPOTENCY_KEY_HEADER = "x-cairn-idempotency-key";
