import { create } from "@bufbuild/protobuf";
import { GetActorResponseSchema, type GetActorResponse } from "../../generated/cairn/v1/actors_pb.js";
import type { StateSpec } from "../api/spec.js";
import type { Runtime } from "../runtime/runtime.js";
import type { ActorQueries } from "../runtime/actor-queries.js";
import { Watchers } from "../runtime/watchers.js";
import { stateJson } from "./state-json.js";

/**
 * `Actors.Watch`: the actor's durable state now, then after each commit
 * that changes it, woken by the watchers under `until` and reactive readers
 * (no polling). Each turn reads the newest durable snapshot, so a slow
 * reader skips to it and holds nothing queued. A missing (or deleted) actor
 * is version 0 with no state.
 */
export async function* watchActor(
  runtime: Pick<Runtime, "durableVersion" | "watchers">,
  actors: Pick<ActorQueries, "find">,
  spec: StateSpec,
  actorId: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<GetActorResponse, void, undefined> {
  const key = Watchers.key(spec.typeName, actorId);
  // Both read on the actor's partition; the partitions of a process share the watchers.
  const current = (k: string) => runtime.durableVersion(k);
  while (!signal?.aborted) {
    const durable = actors.find(spec, actorId);
    const version = durable?.version ?? 0;
    yield create(GetActorResponseSchema, { stateJson: durable ? stateJson(spec, durable.state) : "", version: BigInt(version) });
    try {
      await runtime.watchers.waitForAny(new Map([[key, version]]), current, signal);
    } catch {
      return; // the caller went away
    }
  }
}
