import type * as http from "node:http";
import type * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PeerAnswerSchema, PeerCallSchema, PeerEndedTaskSchema, type PeerAnswer, type PeerCall } from "../../generated/cairn/v1/peer_pb.js";
import { CallCancelled, invalidArgument, notFound } from "../api/errors.js";
import type { MethodSpec } from "../api/spec.js";
import type { Call, Caller } from "../runtime/call.js";
import { ReadSet, trackReads } from "../runtime/read-tracking.js";
import type { Runtime } from "../runtime/runtime.js";
import type { EndedTask } from "../runtime/task-outcome.js";
import { readRequestBody } from "./request-body.js";
import { nextProgress } from "./peer-progress.js";
import { progressMessage } from "./task-info.js";
import type { ParticipantNode } from "../runtime/participant-node.js";
import { answerBytes, type AnswerBytes } from "./peer-answer-bytes.js";
import { binaryDecoder } from "./binary-to-message.js";
import { initToBinary } from "./init-to-binary.js";
import { answerBatch, answerTransaction, isTransactionOp, TXN_BATCH, type TransactionOp } from "./peer-transaction-route.js";

const decodePeerCall = binaryDecoder(PeerCallSchema);

/** The peer-port route of calls from handlers on other nodes: `…/execute`, `…/spawn`, `…/wait`, `…/progress`, `…/control`. */
export const PEER_CALL_PATH = "/_cairn/peer/call/";
export type PeerOp = "execute" | "spawn" | "wait" | "progress" | "control" | TransactionOp | typeof TXN_BATCH;

/** What the owner's side asks of the runtime (the first hosted partition's: it routes among this node's partitions). */
export type PeerCallHost = Pick<Runtime, "bound" | "execute" | "spawn" | "routing">;

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const CALLER_KINDS = new Set<string>(["reader", "writer", "transaction", "workflow"]);
const CONTROLS = new Set<string>(["cancel", "pause", "resume"]);

/**
 * The owner's side of a call another node's handler makes (DESIGN.md §9):
 * the call runs here as an internal call of the caller's kind, owned by
 * its workflow run, under its key and trace, and is cancelled when the
 * caller goes away. The answer is a binary `PeerAnswer` (with the reads
 * when the caller tracks them), or the error as `toWireError` maps it, in
 * Connect's JSON error form; the caller maps it back (`fromWireError`).
 * The forwarding layer checked the cluster secret.
 */
export function servePeerCall(host: PeerCallHost, participants: ParticipantNode, maxBytes: number, req: Request, res: Response): void {
  const op = (req.url ?? "").slice(PEER_CALL_PATH.length);
  const stop = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) stop.abort(new CallCancelled("the calling node went away"));
  });
  const length = req.headers["content-length"];
  const body = readRequestBody(req, maxBytes, typeof length === "string" ? length : null);
  void peerCallAnswer(host, participants, op, body, stop.signal).then(({ status, json, body }) => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { "content-type": json ? "application/json" : "application/proto" });
    res.end(body);
  });
}

/**
 * A peer call's answer from its op and body (its status and bytes, as they
 * go on the wire): the HTTP route's, and the framed channel's
 * (peer-frame-server.ts). `signal` aborts when the caller goes away.
 */
export function peerCallAnswer(host: PeerCallHost, participants: ParticipantNode, op: string, body: Promise<Uint8Array> | Uint8Array, signal: AbortSignal): Promise<AnswerBytes> {
  let method: MethodSpec | undefined;
  const answered = Promise.resolve(body).then((body) => {
    if (op === TXN_BATCH) return answerBatch(participants, body);
    const m = decoded(() => decodePeerCall(body), "PeerCall");
    if (m.stateType !== "") method = methodOf(host, m);
    if (isTransactionOp(op)) return answerTransaction(participants, op, m, () => callOf(host, m, method, signal)).then((a) => initToBinary(PeerAnswerSchema, a));
    return answer(host, op, m, method, signal).then((a) => toBinary(PeerAnswerSchema, a));
  });
  return answerBytes(answered, () => method);
}

function methodOf(host: PeerCallHost, m: PeerCall): MethodSpec {
  const spec = host.bound(m.stateType).spec;
  const method = Object.hasOwn(spec.methods, m.method) ? spec.methods[m.method] : undefined;
  if (!method) throw notFound(`${m.stateType} has no method ${m.method}`);
  return method;
}

async function answer(host: PeerCallHost, op: string, m: PeerCall, method: MethodSpec | undefined, signal: AbortSignal): Promise<PeerAnswer> {
  switch (op) {
    case "execute": {
      const [call, caller] = callOf(host, m, method, signal);
      if (!m.trackReads) return create(PeerAnswerSchema, { response: toBinary(call.method.desc.output, await host.execute(call, caller)) });
      const reads = new ReadSet();
      const response = await trackReads(reads, () => host.execute(call, caller));
      return create(PeerAnswerSchema, {
        response: toBinary(call.method.desc.output, response),
        reads: [...reads].map(([key, version]) => {
          const [stateType, actorId] = key.split("\u0000") as [string, string];
          return { stateType, actorId, version: BigInt(version) };
        }),
      });
    }
    case "spawn": {
      const [call, caller] = callOf(host, m, method, signal);
      return create(PeerAnswerSchema, { taskId: await host.spawn(call, m.runAt, m.proposedId === "" ? undefined : m.proposedId, caller) });
    }
    case "wait":
      // Only the partitions hosted here: the caller asked the node the id's mark names, or every other node.
      return create(PeerAnswerSchema, { task: endedTaskMessage(await host.routing.tasksOf(m.taskId).waitFinal(m.taskId, signal)) });
    case "progress": {
      const next = await nextProgress(host.routing.hostOfTask(m.taskId), m.taskId, Number(m.progressSeen), signal);
      return create(PeerAnswerSchema, "ended" in next ? { task: endedTaskMessage(next.ended) } : { progress: progressMessage(next.progress) });
    }
    case "control":
      if (!CONTROLS.has(m.action)) throw invalidArgument(`no task control ${JSON.stringify(m.action)}`);
      await host.routing.tasksOf(m.taskId)[m.action as "cancel" | "pause" | "resume"](m.taskId);
      return create(PeerAnswerSchema, {});
    default:
      throw notFound(`no peer call ${JSON.stringify(op)}`);
  }
}

function callOf(host: PeerCallHost, m: PeerCall, method: MethodSpec | undefined, signal: AbortSignal): [Call, Caller] {
  if (!method) throw invalidArgument("a peer call names its state type and method");
  if (!CALLER_KINDS.has(m.callerKind)) throw invalidArgument(`no caller kind ${JSON.stringify(m.callerKind)}`);
  const call: Call = {
    spec: host.bound(m.stateType).spec,
    method,
    actorId: m.actorId,
    request: decoded(() => fromBinary(method.desc.input, m.request), method.desc.input.typeName),
    idempotencyKey: m.idempotencyKey === "" ? undefined : m.idempotencyKey,
    signal,
  };
  const caller: Caller = {
    kind: m.callerKind as Caller["kind"],
    internal: true,
    owner: m.ownerTaskId === "" ? undefined : { taskId: m.ownerTaskId, iteration: m.ownerIteration },
    trace: Object.keys(m.trace).length === 0 ? undefined : m.trace,
  };
  return [call, caller];
}

/** A message that does not decode is INVALID_ARGUMENT, before anything runs. */
function decoded<T>(decode: () => T, what: string): T {
  try {
    return decode();
  } catch (e) {
    throw invalidArgument(`the peer call's ${what} does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function endedTaskMessage(task: EndedTask) {
  const outcome = task.outcome;
  return create(PeerEndedTaskSchema, {
    taskId: task.taskId,
    stateType: task.stateType,
    method: task.method,
    status: task.status,
    lastError: task.lastError ?? "",
    outcomeKind: outcome?.kind === "response" || outcome?.kind === "aborted" ? outcome.kind : "",
    outcomeBytes: outcome?.kind === "response" || outcome?.kind === "aborted" ? outcome.bytes : new Uint8Array(),
    outcomeTypeName: outcome?.kind === "aborted" ? outcome.typeName : "",
    outcomeMessage: outcome?.kind === "aborted" ? outcome.message : "",
  });
}

/** A `PeerEndedTask` as the waiter's `EndedTask`. */
export function endedTaskOf(m: PeerAnswer["task"]): EndedTask {
  if (!m) throw new Error("a peer answered a wait without the task");
  const outcome =
    m.outcomeKind === "response"
      ? { kind: "response" as const, bytes: m.outcomeBytes }
      : m.outcomeKind === "aborted"
        ? { kind: "aborted" as const, typeName: m.outcomeTypeName, bytes: m.outcomeBytes, message: m.outcomeMessage }
        : undefined;
  return {
    taskId: m.taskId,
    stateType: m.stateType,
    method: m.method,
    status: m.status as EndedTask["status"],
    outcome,
    lastError: m.lastError === "" ? undefined : m.lastError,
  };
}
