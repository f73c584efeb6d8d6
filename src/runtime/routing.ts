import { failedPrecondition } from "../api/errors.js";
import { idInPartition, partitionOfId } from "../api/partition.js";
import type { Store } from "../store/store.js";
import type { TaskControl } from "../api/invocation.js";
import { notHostedHere, type Placement } from "./partitions.js";
import type { RemotePartition, RemoteTasks } from "./remote-partition.js";
import type { Dispatcher } from "./tasks/dispatcher.js";
import type { ProgressSource } from "./tasks/task-queries.js";
import type { EndedTask } from "./task-outcome.js";
import type { TaskProgressRecord } from "../store/store.js";

/** What answers for a partition hosted here, as routing sees it (the runtime). */
export interface RoutedHost {
  readonly tasks: Dispatcher;
  readonly taskHub: ProgressSource;
  readonly store: Pick<Store, "getTask">;
}

/**
 * Where an actor or a task is answered (DESIGN.md §9), for one runtime: the
 * runtime itself without a placement (one partition: nothing is routed),
 * else the partition's host here, else what answers for another node's
 * partition (`Placement.elsewhere`). The runtime's one home of routing.
 */
export class Routing<H extends RoutedHost> {
  constructor(
    private readonly self: H,
    private readonly placement: Placement<H> | undefined,
  ) {}

  /** Whether anything is routed: false with one partition, and the hot paths skip routing. */
  get routed(): boolean {
    return this.placement !== undefined;
  }

  get partition(): number {
    return this.placement?.partition ?? 0;
  }

  partitionOf(stateType: string, actorId: string): number {
    return this.placement?.partitions.of(stateType, actorId) ?? 0;
  }

  placeTaskId(partition: number, id: string): string {
    return this.placement ? idInPartition(id, partition, this.placement.partitions.count) : id;
  }

  /** Who answers for an actor: a host here, or (another node's partition) a remote one. */
  owner(stateType: string, actorId: string): H | RemotePartition {
    if (this.placement === undefined) return this.self;
    const partition = this.placement.partitions.of(stateType, actorId);
    return this.placement.partitions.hostOf(partition) ?? this.#elsewhere(partition);
  }

  /**
   * The host here that owns an actor, for what cannot cross a network (a
   * state write's closure, a synchronous read): FAILED_PRECONDITION for an
   * actor another node owns.
   */
  here(stateType: string, actorId: string, what: string): H {
    if (this.placement === undefined) return this.self;
    const partition = this.placement.partitions.of(stateType, actorId);
    const host = this.placement.partitions.hostOf(partition);
    if (host) return host;
    this.#elsewhere(partition); // UNAVAILABLE when no other node answers either
    throw failedPrecondition(
      `${what} of ${stateType} ${JSON.stringify(actorId)} runs where its actor is, and partition ${partition} is hosted by another node; ` +
        `call its methods instead (a workflow reaches its own state on its own node)`,
    );
  }

  /** The host of `partition` in this process; undefined when another node hosts it. */
  hostHere(partition: number): H | undefined {
    return this.placement?.partitions.hostOf(partition);
  }

  /** The dispatcher here that holds a task (this partition's when none does: NOT_FOUND there). */
  tasksOf(taskId: string): Dispatcher {
    return this.hostOfTask(taskId).tasks;
  }

  /** The host here that holds a task (this partition's when none does). */
  hostOfTask(taskId: string): H {
    return this.placement?.partitions.holderOf(taskId, (h) => h.store.getTask(taskId) !== undefined) ?? this.self;
  }

  /** Waits for a task to end wherever it lives; `onProgress` hears each newer progress of one another node holds. */
  waitFinal(taskId: string, signal?: AbortSignal, onProgress?: (progress: TaskProgressRecord) => void): Promise<EndedTask> {
    const home = this.taskHome(taskId);
    return onProgress && "follow" in home ? home.follow(taskId, onProgress, signal) : home.waitFinal(taskId, signal);
  }

  /** Who holds a task: a dispatcher here, the node its mark names, else (unmarked, held by no partition here) the other nodes. */
  taskHome(taskId: string): Dispatcher | RemoteTasks {
    const placement = this.placement;
    if (placement?.elsewhere === undefined) return this.tasksOf(taskId);
    const marked = partitionOfId(taskId);
    if (marked !== undefined && marked < placement.partitions.count) return placement.partitions.hostOf(marked)?.tasks ?? this.#elsewhere(marked);
    const holder = placement.partitions.holderOf(taskId, (h) => h.store.getTask(taskId) !== undefined);
    return holder && holder.store.getTask(taskId) !== undefined ? holder.tasks : placement.elsewhere.unplacedTasks;
  }

  /** Cancels, pauses or resumes a task wherever it lives. */
  async controlTask(taskId: string, action: TaskControl): Promise<void> {
    const home = this.taskHome(taskId);
    if ("control" in home) return home.control(taskId, action);
    await home[action](taskId);
  }

  /** What answers for a partition another node hosts (UNAVAILABLE when no other node answers). */
  remote(partition: number): RemotePartition {
    return this.#elsewhere(partition);
  }

  #elsewhere(partition: number): RemotePartition {
    return this.placement?.elsewhere?.partition(partition) ?? notHostedHere(partition);
  }
}
