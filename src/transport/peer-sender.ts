import * as http2 from "node:http2";
import { fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { PeerAnswerSchema, PeerCallSchema, type PeerAnswer } from "../../generated/cairn/v1/peer_pb.js";
import { Unavailable } from "../api/errors.js";
import type { MethodSpec } from "../api/spec.js";
import { activeTraceCarrier } from "../api/trace-context.js";
import { fromWireError } from "../api/wire-error.js";
import type { Call, Caller } from "../runtime/call.js";
import { PEER_HEADER } from "./forwarding.js";
import { initToBinary } from "./init-to-binary.js";
import { binaryDecoder } from "./binary-to-message.js";
import { PEER_CALL_PATH, type PeerOp } from "./peer-call-route.js";
import { nodeUnavailableMessage, type PeerSessions } from "./peer-sessions.js";
import type { AnswerSink, Exchange, PeerConnections } from "./peer-connections.js";
import { NoFrames, type PeerChannels } from "./peer-channels.js";
import { frameCode, MAX_PEER_ANSWER_BYTES } from "./peer-frames.js";

/** Who the other nodes are, as the caller's side needs them. */
export interface PeerCluster {
  /** This node. */
  readonly index: number;
  readonly peerUrls: readonly string[];
  readonly secret: string;
  nodeOfPartition(partition: number): number;
}

type PeerCallInit = MessageInitShape<typeof PeerCallSchema>;

/**
 * Sends one peer call and reads its answer. A transaction's calls go over
 * the peer's framed channel (peer-channels.ts: many calls on one socket,
 * written together per turn), else over a pooled keep-alive HTTP/1.1
 * connection when there is one to spare (peer-connections.ts: cheaper than
 * an HTTP/2 stream); the rest, and those, when the pool is full, over the
 * pooled HTTP/2 session.
 */
export class PeerSender {
  constructor(
    private readonly cluster: PeerCluster,
    private readonly sessions: PeerSessions,
    private readonly connections?: PeerConnections,
    private readonly channels?: PeerChannels,
  ) {}

  send(node: number, op: PeerOp, init: PeerCallInit, method: MethodSpec | undefined, signal: AbortSignal | undefined): Promise<PeerAnswer> {
    return this.exchange(node, op, initToBinary(PeerCallSchema, init), signal, (status, body) => answerOf(node, status, body, method));
  }

  /**
   * Sends `body` as a peer call of `op` and reads its answer with `read`
   * (its HTTP status and body): `send`'s, or a batch's (peer-batcher.ts).
   */
  exchange<T>(node: number, op: PeerOp, body: Uint8Array, signal: AbortSignal | undefined, read: (status: number, body: Buffer) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = this.cluster.peerUrls[node];
    const unavailable = (cause: unknown) => new Unavailable(nodeUnavailableMessage(node, url, cause));
    const code = this.channels ? frameCode(op) : undefined;
    if (code !== undefined) {
      const framed = this.channels!.call(url!, code, body, signal);
      if (framed) {
        return framed.then(
          (a) => read(a.status, a.body),
          (e: unknown) => {
            if (signal?.aborted && e === signal.reason) throw e;
            // Not sent: the peer does not speak frames (or could not be reached), so as before.
            if (e instanceof NoFrames) return this.#unframed(url!, op, body, signal, unavailable, read);
            throw unavailable(e);
          },
        );
      }
    }
    return this.#unframed(url!, op, body, signal, unavailable, read);
  }

  /** Over HTTP/1.1 (a transaction's call, while the pool has room) or HTTP/2. */
  #unframed<T>(
    url: string,
    op: PeerOp,
    body: Uint8Array,
    signal: AbortSignal | undefined,
    unavailable: (cause: unknown) => Error,
    read: (status: number, body: Buffer) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.connections && op.startsWith("txn-")) {
      const sent = this.#sendH1(this.connections, url, op, body, signal, unavailable, read);
      if (sent) return sent;
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.sessions.session(url).request({
        ":method": "POST",
        ":path": `${PEER_CALL_PATH}${op}`,
        [PEER_HEADER]: this.cluster.secret,
        "content-type": "application/proto",
      });
    } catch (e) {
      return Promise.reject(unavailable(e));
    }
    return new Promise<T>((resolve, reject) => {
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
        if (size > MAX_PEER_ANSWER_BYTES) {
          settle(() => reject(unavailable(`its answer exceeds ${MAX_PEER_ANSWER_BYTES} bytes`)));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.once("end", () => settle(() => read(status, Buffer.concat(chunks)).then(resolve, reject)));
      stream.once("error", (e) => settle(() => reject(unavailable(e))));
      stream.once("close", () => settle(() => reject(unavailable(`the stream closed (code ${stream.rstCode})`))));
      stream.end(body);
    });
  }

  /** Over a pooled HTTP/1.1 connection; undefined when the pool to that node is full. */
  #sendH1<T>(
    connections: PeerConnections,
    url: string,
    op: PeerOp,
    body: Uint8Array,
    signal: AbortSignal | undefined,
    unavailable: (cause: unknown) => Error,
    read: (status: number, body: Buffer) => Promise<T>,
  ): Promise<T> | undefined {
    const head = `POST ${PEER_CALL_PATH}${op} HTTP/1.1\r\nhost: cairn-peer\r\ncontent-type: application/proto\r\ncontent-length: ${body.byteLength}\r\n${PEER_HEADER}: ${this.cluster.secret}\r\n\r\n`;
    let exchange: Exchange | undefined;
    const onAbort = () => {
      settle(0, signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
      exchange?.cancel();
    };
    let settle!: (status: number, answer: Buffer | Error) => void;
    const answered = new Promise<T>((resolve, reject) => {
      let settled = false;
      settle = (status, answer) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (answer instanceof Error) return reject(answer);
        read(status, answer).then(resolve, reject);
      };
    });
    let status = 0;
    let size = 0;
    const chunks: Buffer[] = [];
    const sink: AnswerSink = {
      head: (s, _headers, whole) => {
        status = s;
        if (whole !== undefined) settle(status, whole);
      },
      data: (chunk) => {
        size += chunk.length;
        if (size > MAX_PEER_ANSWER_BYTES) {
          settle(status, unavailable(`its answer exceeds ${MAX_PEER_ANSWER_BYTES} bytes`));
          exchange?.cancel();
          return;
        }
        chunks.push(chunk);
      },
      end: () => settle(status, Buffer.concat(chunks)),
      failed: (e) => settle(status, unavailable(e)),
    };
    try {
      exchange = connections.exchange(url, head, body, sink);
    } catch (e) {
      return Promise.reject(unavailable(e));
    }
    if (!exchange) return undefined;
    signal?.addEventListener("abort", onAbort, { once: true });
    return answered;
  }
}

/** A peer's answer: the message of a 200, else the error it names. */
export async function answerOf(node: number, status: number, body: Uint8Array, method: MethodSpec | undefined): Promise<PeerAnswer> {
  if (status === 200) return binaryDecoder(PeerAnswerSchema)(body);
  const fallback = new ConnectError(`node ${node} answered HTTP ${status}`, Code.Unavailable);
  // errorFromJsonBytes throws the fallback for a body that is no JSON error (a node dying mid-answer).
  let err = fallback;
  try {
    err = errorFromJsonBytes(body, undefined, fallback);
  } catch {}
  throw fromWireError(err, method);
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
