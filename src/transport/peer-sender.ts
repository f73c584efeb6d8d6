import * as http2 from "node:http2";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { PeerAnswerSchema, PeerCallSchema, type PeerAnswer } from "../../generated/cairn/v1/peer_pb.js";
import { Unavailable } from "../api/errors.js";
import type { MethodSpec } from "../api/spec.js";
import { activeTraceCarrier } from "../api/trace-context.js";
import { fromWireError } from "../api/wire-error.js";
import type { Call, Caller } from "../runtime/call.js";
import { PEER_HEADER } from "./forwarding.js";
import { PEER_CALL_PATH, type PeerOp } from "./peer-call-route.js";
import { nodeUnavailableMessage, type PeerSessions } from "./peer-sessions.js";

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
