import { partitionOf, partitionOfId } from "../api/partition.js";
import { Unavailable } from "../api/errors.js";

/**
 * The partitions of one data directory as this process sees them (DESIGN.md
 * §9): which partition an actor or a task id belongs to, and who answers for
 * it. `H` is what answers for one partition (the runtime; the nodes' work
 * plugs a forwarder to another process in for partitions hosted elsewhere).
 * The one home of routing: the runtime and the wire face ask here.
 */
export class Partitions<H> {
  readonly #hosted = new Map<number, H>();

  constructor(
    /** N: fixed when the data directory was created. */
    readonly count: number,
    /**
     * Answers for a partition this process does not host: the seam for
     * forwarding. By default every call to it is UNAVAILABLE.
     */
    private readonly elsewhere: (partition: number) => H = notHostedHere,
  ) {}

  /** Records that this process hosts `partition`, answered by `host`. */
  host(partition: number, host: H): void {
    this.#hosted.set(partition, host);
  }

  /** The partition of an actor. */
  of(stateType: string, actorId: string): number {
    return partitionOf(stateType, actorId, this.count);
  }

  /** Who answers for `partition`: its host here, else `elsewhere` (UNAVAILABLE by default). */
  get(partition: number): H {
    return this.#hosted.get(partition) ?? this.elsewhere(partition);
  }

  /** The host of `partition` if this process hosts it (never `elsewhere`). */
  local(partition: number): H | undefined {
    return this.#hosted.get(partition);
  }

  /** Who answers for an actor. */
  forActor(stateType: string, actorId: string): H {
    return this.get(this.of(stateType, actorId));
  }

  /**
   * Who may hold a task or schedule id: the partition its id is marked
   * with, or (an id a caller chose) every partition hosted here, in order.
   */
  forId(id: string): H[] {
    const marked = partitionOfId(id);
    if (marked !== undefined && marked < this.count) return [this.get(marked)];
    return this.hosted();
  }

  /** Who holds a task or schedule id: its marked partition, else the first hosted one where `has`. */
  holderOf(id: string, has: (host: H) => boolean): H | undefined {
    const candidates = this.forId(id);
    return candidates.length === 1 ? candidates[0] : candidates.find(has);
  }

  /** The hosts of the partitions hosted here, in partition order. */
  hosted(): H[] {
    return [...this.#hosted.entries()].sort((a, b) => a[0] - b[0]).map(([, h]) => h);
  }
}

/** The default answer for a partition not hosted by this process. */
function notHostedHere(partition: number): never {
  throw new Unavailable(`partition ${partition} is not hosted by this process`);
}

/** Where one runtime sits among the partitions of its data directory. */
export interface Placement<H> {
  /** The partition this runtime hosts. */
  readonly partition: number;
  readonly partitions: Partitions<H>;
}
