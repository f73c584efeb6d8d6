import { fromBinary, type Message } from "@bufbuild/protobuf";
import { NotFound, notFound, Unavailable } from "../api/errors.js";
import type { TaskControl } from "../api/invocation.js";
import type { Call, Caller } from "../runtime/call.js";
import { recordRead, tracksReads } from "../runtime/read-tracking.js";
import type { Elsewhere, RemotePartition, RemoteTasks } from "../runtime/remote-partition.js";
import type { EndedTask } from "../runtime/task-outcome.js";
import { Watchers } from "../runtime/watchers.js";
import { endedTaskOf } from "./peer-call-route.js";
import { progressRecordOf } from "./peer-progress.js";
import type { TaskProgressRecord } from "../runtime/tasks/task-queries.js";
import type { PeerSessions } from "./peer-sessions.js";
import type { RemoteVersions } from "./remote-versions.js";
import { PeerTransactions } from "./peer-transactions.js";
import { callInit, PeerSender, type PeerCluster } from "./peer-sender.js";
import type { PeerConnections } from "./peer-connections.js";
import type { PeerChannels } from "./peer-channels.js";

/**
 * The caller's side of calls between nodes (DESIGN.md §9): what the
 * runtime routes to a partition another node hosts goes there over the
 * pooled HTTP/2 session (peer-call-route.ts answers), as the owner should
 * see the caller: an internal call of its kind, its workflow run, key and
 * trace; aborting the call's signal cancels it there. The answer, or the
 * error exactly as in-process; a node that cannot be reached is
 * UNAVAILABLE naming it.
 */
export class PeerCalls implements Elsewhere {
  readonly #nodes: RemoteNode[];
  readonly unplacedTasks: RemoteTasks;

  constructor(
    private readonly cluster: PeerCluster,
    sessions: PeerSessions,
    versions: RemoteVersions,
    connections?: PeerConnections,
    channels?: PeerChannels,
  ) {
    const send = new PeerSender(cluster, sessions, connections, channels);
    this.#nodes = cluster.peerUrls.map((_, node) => new RemoteNode(node, send, versions));
    const others = this.#nodes.filter((n) => n.node !== cluster.index);
    this.unplacedTasks = new AnyOtherNode(others);
  }

  partition(partition: number): RemotePartition {
    return this.#nodes[this.cluster.nodeOfPartition(partition)]!;
  }
}

/** The partitions one other node hosts. */
class RemoteNode implements RemotePartition {
  readonly transactions: PeerTransactions;

  constructor(
    readonly node: number,
    private readonly sender: PeerSender,
    private readonly versions: RemoteVersions,
  ) {
    this.transactions = new PeerTransactions(node, sender);
  }

  async execute(call: Call, caller: Caller): Promise<Message> {
    const trackReads = tracksReads();
    const answer = await this.sender.send(this.node, "execute", { ...callInit(call, caller), trackReads }, call.method, call.signal);
    // What the owner read enters the caller's read set: an `until` or reactive reader here is woken by its commits.
    for (const read of answer.reads) recordRead(Watchers.key(read.stateType, read.actorId), Number(read.version));
    return fromBinary(call.method.desc.output, answer.response);
  }

  async spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string> {
    const init = { ...callInit(call, caller), runAt, proposedId: proposedId ?? "" };
    return (await this.sender.send(this.node, "spawn", init, call.method, call.signal)).taskId;
  }

  async waitFinal(taskId: string, signal?: AbortSignal): Promise<EndedTask> {
    return endedTaskOf((await this.sender.send(this.node, "wait", { taskId }, undefined, signal)).task);
  }

  async follow(taskId: string, onProgress: (progress: TaskProgressRecord) => void, signal?: AbortSignal): Promise<EndedTask> {
    // One long poll at a time, each answered by a change there: bounded however often the task reports.
    for (let seen = 0n; ; ) {
      const answer = await this.sender.send(this.node, "progress", { taskId, progressSeen: seen }, undefined, signal);
      if (answer.task || !answer.progress) return endedTaskOf(answer.task);
      seen = answer.progress.updatedAtMs;
      onProgress(progressRecordOf(answer.progress));
    }
  }

  async control(taskId: string, action: TaskControl): Promise<void> {
    await this.sender.send(this.node, "control", { taskId, action }, undefined, undefined);
  }

  durableVersion(key: string, seen?: number): number {
    return this.versions.durableVersion(key, seen);
  }
}

/**
 * A task id without a mark that no partition here holds (a keyed spawn's
 * `k-…`, an id a client chose): asked of every other node at once; the
 * one holding it answers, the others say NOT_FOUND at once.
 */
class AnyOtherNode implements RemoteTasks {
  constructor(private readonly others: readonly RemoteNode[]) {}

  waitFinal(taskId: string, signal?: AbortSignal): Promise<EndedTask> {
    return this.#first(taskId, (node, s) => node.waitFinal(taskId, s), signal);
  }

  follow(taskId: string, onProgress: (progress: TaskProgressRecord) => void, signal?: AbortSignal): Promise<EndedTask> {
    return this.#first(taskId, (node, s) => node.follow(taskId, onProgress, s), signal);
  }

  control(taskId: string, action: TaskControl): Promise<void> {
    return this.#first(taskId, (node) => node.control(taskId, action));
  }

  async #first<T>(taskId: string, ask: (node: RemoteNode, signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
    const done = new AbortController();
    const signal = outer ? AbortSignal.any([outer, done.signal]) : done.signal;
    try {
      return await new Promise<T>((resolve, reject) => {
        let left = this.others.length;
        let unavailable: unknown;
        const missing = () => reject(unavailable ?? notFound(`no task ${JSON.stringify(taskId)}`));
        if (left === 0) return missing();
        for (const node of this.others) {
          ask(node, signal).then(resolve, (e: unknown) => {
            if (!(e instanceof NotFound) && !(e instanceof Unavailable)) return reject(e);
            if (e instanceof Unavailable) unavailable ??= e;
            if (--left === 0) missing();
          });
        }
      });
    } finally {
      // The others' waits are cancelled.
      done.abort();
    }
  }
}
