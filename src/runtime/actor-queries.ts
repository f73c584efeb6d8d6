import { fromBinary, type Message } from "@bufbuild/protobuf";
import { validateActorId } from "../api/actor-id.js";
import { notFound } from "../api/errors.js";
import type { StateSpec } from "../api/spec.js";
import type { Store } from "../store/store.js";

/** An actor's last durable state, decoded. */
export interface ActorView {
  readonly spec: StateSpec;
  readonly state: Message;
  readonly version: number;
}

/** The operators' read side of actor states (`cairn.v1.Actors`), for the wire face. */
export class ActorQueries {
  constructor(
    private readonly specs: readonly StateSpec[],
    /** The store of the actor's partition. */
    private readonly storeOf: (stateType: string, actorId: string) => Pick<Store, "getState">,
  ) {}

  /** NOT_FOUND if no servicer serves `stateType` or the actor does not exist. */
  get(stateType: string, actorId: string): ActorView {
    const spec = this.specs.find((s) => s.typeName === stateType);
    if (!spec) throw notFound(`this application serves no ${JSON.stringify(stateType)}`);
    validateActorId(actorId);
    const found = this.find(spec, actorId);
    if (!found) throw notFound(`${spec.typeName} ${JSON.stringify(actorId)} does not exist`);
    return found;
  }

  /** The actor's durable state, read on its partition; undefined if it does not exist. */
  find(spec: StateSpec, actorId: string): ActorView | undefined {
    const stored = this.storeOf(spec.typeName, actorId).getState(spec.typeName, actorId);
    return stored && { spec, state: fromBinary(spec.state, stored.bytes), version: stored.version };
  }
}
