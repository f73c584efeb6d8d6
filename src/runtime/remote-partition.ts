import type { Message } from "@bufbuild/protobuf";
import type { TaskControl } from "../api/invocation.js";
import type { Call, Caller } from "./call.js";
import type { EndedTask } from "./task-outcome.js";
import type { TaskProgressRecord } from "../store/store.js";
import type { RemoteTransactions } from "./transaction-side.js";

/**
 * Where tasks this process does not hold are waited for and controlled:
 * a partition another node hosts, or (an unmarked id no hosted partition
 * holds) whichever other node does.
 */
export interface RemoteTasks {
  /** The task once it has ended; NOT_FOUND if no one holds it. */
  waitFinal(taskId: string, signal?: AbortSignal): Promise<EndedTask>;
  /** The task once it has ended, handing each newer progress it reports meanwhile to `onProgress`. */
  follow(taskId: string, onProgress: (progress: TaskProgressRecord) => void, signal?: AbortSignal): Promise<EndedTask>;
  /** Cancels, pauses or resumes it where it lives. */
  control(taskId: string, action: TaskControl): Promise<void>;
}

/**
 * A partition another node hosts, as the runtime routes to it (DESIGN.md
 * §9): the calls a handler, workflow or reactive reader makes on its
 * actors, answered by the owner node. Not a Runtime: state writes and
 * synchronous reads of its actors cannot cross a network and are refused
 * before they are tried (`Runtime.#here`).
 */
export interface RemotePartition extends RemoteTasks {
  /** Runs a call there as `caller` makes it; its answer, or its error as in-process. */
  execute(call: Call, caller: Caller): Promise<Message>;
  /** Durably creates a task there; its id. */
  spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string>;
  /**
   * The durable version of one of its actors, as its commits stream in
   * while a waiter watches it; `seen` (a version just read there) while
   * nothing newer was heard.
   */
  durableVersion(key: string, seen?: number): number;
  /** Transactions this node coordinates that reach actors there (two-phase commit across nodes). */
  readonly transactions: RemoteTransactions;
}

/** What answers for what this process does not host: the nodes' forwarder (src/transport/peer-calls.ts). */
export interface Elsewhere {
  /** Who answers for a partition another node hosts. */
  partition(partition: number): RemotePartition;
  /** A task id without a mark that no hosted partition holds: asked of the other nodes. */
  readonly unplacedTasks: RemoteTasks;
}
