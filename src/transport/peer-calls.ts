import * as http2 from "node:http2";
import { create, fromBinary, toBinary, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { PeerAnswerSchema, PeerCallSchema, type PeerAnswer } from "../../generated/cairn/v1/peer_pb.js";
import { NotFound, notFound, Unavailable } from "../api/errors.js";
import type { TaskControl } from "../api/invocation.js";
import type { MethodSpec } from "../api/spec.js";
import { activeTraceCarrier } from "../api/trace-context.js";
import { fromWireError } from "../api/wire-error.js";
import type { Call, Caller } from "../runtime/call.js";
import { recordRead, tracksReads } from "../runtime/read-tracking.js";
import type { Elsewhere, RemotePartition, RemoteTasks } from "../runtime/remote-partition.js";
import type { EndedTask } from "../runtime/task-outcome.js";
import { Watchers } from "../runtime/watchers.js";
import { PEER_HEADER } from "./forwarding.js";
import { endedTaskOf, PEER_CALL_PATH, type PeerOp } from "./peer-call-route.js";
import { nodeUnavailableMessage, type PeerSessions } from "./peer-sessions.js";
import type { RemoteVersions } from "./remote-versions.js";
import { PeerTransactions } from "./peer-transactions.js";

/** Who the other nodes are, as the caller's side needs them. */
export interface PeerCluster {
  /** This node. */
  readonly index: number;
  readonly peerUrls: readonly string[];
  readonly secret: string;
  nodeOfPartition(partition: number): number;
}

/** The largest answer read from a peer: a response message, or an ended task's. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

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
  ) {
    const send = new PeerSender(cluster, sessions);
    this.#nodes = cluster.peerUrls.map((_, node) => new RemoteNode(node, send, versions));
    const others = this.#nodes.filter((n) => n.node !== cluster.index);
    this.unplacedTasks = new AnyOtherNode(others);
  }

  partition(partition: number): RemotePartition {
    return this.#nodes[this.cluster.nodeOfPartition(partition)]!;
  }
}

type PeerCallInit = MessageInitShape<typeof PeerCallSchema>;

/** Sends one peer call and reads its answer. */
export class PeerSender {
  constructor(
    private readonly cluster: PeerCluster,
    private readonly sessions: PeerSessions,
  ) {}

  send(node: number, op: PeerOp, init: PeerCallInit, method: MethodSpec | undefined, signal: AbortSignal | undefined): Promise<PeerAnswer> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = this.cluster.peerUrls[node];
    const unavailable = (cause: unknown) => new Unavailable(nodeUnavailableMessage(node, url, cause));
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.sessions.session(url!).request({
        ":method": "POST",
        ":path": `${PEER_CALL_PATH}${op}`,
        [PEER_HEADER]: this.cluster.secret,
        "content-type": "application/proto",
      });
    } catch (e) {
      return Promise.reject(unavailable(e));
    }
    return new Promise<PeerAnswer>((resolve, reject) => {
      let status = 0;
      let size = 0;
      let settled = false;
      const chunks: Buffer[] = [];
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        f();
      };
      const onAbort = () => {
        settle(() => reject(signal!.reason));
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      stream.once("response", (headers) => (status = Number(headers[":status"])));
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          settle(() => reject(unavailable(`its answer exceeds ${MAX_ANSWER_BYTES} bytes`)));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.once("end", () =>
        settle(() => {
          const body = Buffer.concat(chunks);
          if (status === 200) return resolve(fromBinary(PeerAnswerSchema, body));
          const fallback = new ConnectError(`node ${node} answered HTTP ${status}`, Code.Unavailable);
          // errorFromJsonBytes throws the fallback for a body that is no JSON error (a node dying mid-answer).
          let err = fallback;
          try {
            err = errorFromJsonBytes(body, undefined, fallback);
          } catch {}
          reject(fromWireError(err, method));
        }),
      );
      stream.once("error", (e) => settle(() => reject(unavailable(e))));
      stream.once("close", () => settle(() => reject(unavailable(`the stream closed (code ${stream.rstCode})`))));
      stream.end(toBinary(PeerCallSchema, create(PeerCallSchema, init)));
    });
  }
}

/** A call's fields as the owner runs it. */
export function callInit(call: Call, caller: Caller): PeerCallInit {
  return {
    stateType: call.spec.typeName,
    actorId: call.actorId,
    method: call.method.name,
    request: toBinary(call.method.desc.input, call.request),
    idempotencyKey: call.idempotencyKey ?? "",
    callerKind: caller.kind,
    ownerTaskId: caller.owner?.taskId ?? "",
    ownerIteration: caller.owner?.iteration ?? 0,
    trace: caller.trace ?? activeTraceCarrier() ?? {},
  };
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
