import { timingSafeEqual } from "node:crypto";
import * as http2 from "node:http2";
import type * as http from "node:http";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ACTOR_ID_HEADER } from "../api/headers.js";
import { decodeActorIdHeader } from "../api/actor-id-header.js";
import { partitionOfId } from "../api/partition.js";
import { WatchRequestSchema } from "../../generated/cairn/v1/reactive_pb.js";
import { GetActorRequestSchema } from "../../generated/cairn/v1/actors_pb.js";
import { DeleteScheduleRequestSchema } from "../../generated/cairn/v1/schedules_pb.js";
import { GetTaskRequestSchema } from "../../generated/cairn/v1/tasks_pb.js";
import { answerError } from "./protocol-error.js";
import { readRequestBody } from "./request-body.js";
import { requestMessage } from "./request-message.js";
import { serveVersionStream, VERSIONS_PATH } from "./version-stream.js";
import { PEER_CALL_PATH } from "./peer-call-route.js";
import { nodeUnavailableMessage, type PeerSessions } from "./peer-sessions.js";
import type { AnswerSink, PeerConnections } from "./peer-connections.js";
import type { NodeHandler } from "./server.js";

/** What the forwarding layer knows of the cluster (built by the server from its placement). */
export interface NodeRouting {
  /** This node. */
  readonly index: number;
  /** Each node's peer URL, by index. */
  readonly peerUrls: readonly string[];
  /** Shared by the nodes: a call that carries it is a peer's, served here as is. */
  readonly secret: string;
  /** The node that owns an actor. */
  ownerOf(stateType: string, actorId: string): number;
  /** The node that hosts a partition (named by a marked task or schedule id). */
  nodeOfPartition(partition: number): number;
  /** Whether this node holds the task or schedule `id`. */
  holds(kind: IdKind, id: string): boolean;
  /** The durable version of an actor this node owns (the version stream's answer to a stale subscriber). */
  durableVersion(stateType: string, actorId: string): number;
  /** Serves a call a handler on another node makes (peer-call-route.ts). */
  servePeerCall(req: Request, res: Response): void;
}

export type IdKind = "task" | "schedule";

/** A node-to-node call carries the cluster secret in this header. */
export const PEER_HEADER = "x-cairn-peer";

export interface ForwardingOptions {
  /** The largest request body read to find a framework call's target. */
  readonly maxBytes: number;
  /** The service name of each state type's methods: `bank.v1.AccountMethods` → `bank.v1.Account`. */
  readonly stateTypes: ReadonlyMap<string, string>;
  /** This handler serves the private peer port: only peers may call. */
  readonly peerPort: boolean;
  /** Keep-alive HTTP/1.1 connections to peers, for unary Connect calls (cheaper than an HTTP/2 stream); without them, HTTP/2 only. */
  readonly connections?: PeerConnections;
}

/** Internal route on which a peer asks whether this node holds a task or schedule id. */
const HOLDS_PATH = "/_cairn/peer/holds/";

/** Framework calls whose target is a field of the request: how to find the node from it. */
interface BodyRoute<Desc extends DescMessage = DescMessage> {
  readonly schema: Desc;
  target(message: MessageShape<Desc>): { actor: [stateType: string, actorId: string] } | { id: [IdKind, string] };
}
const byActor = <Desc extends typeof WatchRequestSchema | typeof GetActorRequestSchema>(schema: Desc): BodyRoute =>
  ({ schema, target: (m: MessageShape<Desc>) => ({ actor: [m.stateType, m.actorId] }) }) as BodyRoute;
const byTaskId: BodyRoute = { schema: GetTaskRequestSchema, target: (m) => ({ id: ["task", (m as MessageShape<typeof GetTaskRequestSchema>).taskId] }) };
const BODY_ROUTES = new Map<string, BodyRoute>([
  ["/cairn.v1.Reactive/Watch", byActor(WatchRequestSchema)],
  ["/cairn.v1.Actors/Get", byActor(GetActorRequestSchema)],
  ["/cairn.v1.Actors/Delete", byActor(GetActorRequestSchema)],
  ["/cairn.v1.Actors/Watch", byActor(GetActorRequestSchema)],
  ...["Get", "Wait", "Watch", "Cancel", "Pause", "Resume"].map((m) => [`/cairn.v1.Tasks/${m}`, byTaskId] as [string, BodyRoute]),
  [
    "/cairn.v1.Schedules/Delete",
    { schema: DeleteScheduleRequestSchema, target: (m) => ({ id: ["schedule", (m as MessageShape<typeof DeleteScheduleRequestSchema>).scheduleId] }) },
  ],
]);

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Any node accepts any call (DESIGN.md §9): a call for an actor another
 * node owns is forwarded to that node over a pooled HTTP/2 session, headers
 * (idempotency key, deadline, token, trace, spawn) and body as they came,
 * and its answer is streamed back as it comes, status, headers, body and
 * trailers, so the caller sees what the owner answers. Actor methods are
 * routed by their path and `x-cairn-actor-id` without reading the body;
 * framework calls that name an actor, task or schedule in their request
 * are read first (bounded by `maxBytes`). Calls this node owns, and
 * everything else (lists fan out in their routes), go to `next`.
 */
export function withForwarding(routing: NodeRouting, sessions: PeerSessions, options: ForwardingOptions, next: NodeHandler): NodeHandler {
  const forwarder = new Forwarder(routing, sessions, options.connections);
  return (req, res) => {
    const peer = req.headers[PEER_HEADER];
    if (peer !== undefined) {
      if (!sameSecret(peer, routing.secret)) return answerError(req, res, new ConnectError(`${PEER_HEADER} does not carry this cluster's secret`, Code.PermissionDenied));
      if (req.url?.startsWith(HOLDS_PATH)) return answerHolds(routing, req, res);
      if (req.url === VERSIONS_PATH && req.method === "POST") return serveVersionStream(req, res, routing.durableVersion);
      if (req.url?.startsWith(PEER_CALL_PATH) && req.method === "POST") return routing.servePeerCall(req, res);
      return next(req, res);
    }
    if (options.peerPort) return answerError(req, res, new ConnectError("this port serves only the cluster's nodes", Code.PermissionDenied));
    const path = (req.url ?? "").split("?", 1)[0]!;
    const stateType = options.stateTypes.get(path.split("/", 2)[1] ?? "");
    if (stateType !== undefined) {
      const actorId = actorIdOf(req);
      const node = actorId === undefined ? routing.index : routing.ownerOf(stateType, actorId);
      return node === routing.index ? next(req, res) : forwarder.forwardCall(node, options.maxBytes, req, res);
    }
    const route = req.method === "POST" ? BODY_ROUTES.get(path) : undefined;
    if (route === undefined) return next(req, res);
    forwarder.routeByBody(route, options.maxBytes, req, res).catch((e: unknown) => {
      if (!res.headersSent) answerError(req, res, ConnectError.from(e, Code.Unavailable));
      else res.destroy();
    });
  };
}

class Forwarder {
  constructor(
    private readonly routing: NodeRouting,
    private readonly sessions: PeerSessions,
    private readonly connections: PeerConnections | undefined,
  ) {}

  /**
   * An actor method call: a unary Connect one goes whole over a pooled
   * HTTP/1.1 connection (peer-connections.ts; its body is at most the
   * owner's limit, so reading it first changes no answer), anything else
   * (gRPC's trailers, streams, a larger declared body) streams over HTTP/2.
   */
  forwardCall(node: number, maxBytes: number, req: Request, res: Response): void {
    const length = req.headers["content-length"];
    if (!this.connections || req.method !== "POST" || !UNARY_CONNECT.test(req.headers["content-type"] ?? "") || Number(length ?? 0) > maxBytes) {
      return this.forward(node, req, res);
    }
    readRequestBody(req, maxBytes, length ?? null)
      .then(
        (body) => this.#exchange(this.connections!, node, req, res, body),
        (e: unknown) => {
          if (!res.headersSent) answerError(req, res, ConnectError.from(e));
        },
      )
      .catch(() => res.destroy());
  }

  #exchange(connections: PeerConnections, node: number, req: Request, res: Response, body: Uint8Array): void {
    const head = requestHead(req, this.routing.secret, body.byteLength);
    // A header HTTP/1.1 cannot carry: HTTP/2 refuses it in its own words.
    if (head === undefined) return this.forward(node, req, res, body);
    let done = false;
    const sink: AnswerSink = {
      head: (status, headers, whole) => {
        res.writeHead(status, headers);
        if (whole === undefined) return;
        done = true;
        res.end(whole);
      },
      data: (chunk) => void (res as http.ServerResponse).write(chunk),
      end: () => {
        done = true;
        res.end();
      },
      failed: (e, answered) => {
        done = true;
        if (!answered && !res.headersSent) answerError(req, res, this.#unavailable(node, e));
        else res.destroy();
      },
    };
    let exchange;
    try {
      exchange = connections.exchange(this.routing.peerUrls[node]!, head, body, sink);
    } catch (e) {
      return answerError(req, res, this.#unavailable(node, e));
    }
    // This peer has its most connections open: the HTTP/2 session takes the rest.
    if (!exchange) return this.forward(node, req, res, body);
    // A caller that goes away before its answer drops the exchange (and its connection).
    res.once("close", () => {
      if (!done) exchange.cancel();
    });
  }

  /** Reads the request, finds its node from a field, and forwards it there (to this node's own peer port when it is here: the body is read). */
  async routeByBody(route: BodyRoute, maxBytes: number, req: Request, res: Response): Promise<void> {
    const h = req.headers;
    const body = await readRequestBody(req, maxBytes + 5, typeof h["content-length"] === "string" ? h["content-length"] : null);
    const encoding = h["grpc-encoding"] ?? h["connect-content-encoding"] ?? h["content-encoding"];
    const message = await requestMessage(route.schema, String(h["content-type"] ?? ""), typeof encoding === "string" ? encoding : undefined, body, maxBytes);
    const target = message === undefined ? undefined : route.target(message);
    let node = this.routing.index;
    if (target && "actor" in target && target.actor[0] !== "" && target.actor[1] !== "") node = this.routing.ownerOf(...target.actor);
    if (target && "id" in target && target.id[1] !== "") node = await this.#holder(...target.id);
    this.forward(node, req, res, body);
  }

  /**
   * The node holding an id: the one its mark names, else this node if it
   * holds it, else the peer that says it does; this node (NOT_FOUND there)
   * when none does. UNAVAILABLE when none does and a peer could not answer.
   */
  async #holder(kind: IdKind, id: string): Promise<number> {
    const partition = partitionOfId(id);
    if (partition !== undefined) return this.routing.nodeOfPartition(partition);
    if (this.routing.holds(kind, id)) return this.routing.index;
    const others = this.routing.peerUrls.map((_, i) => i).filter((i) => i !== this.routing.index);
    const answers = await Promise.all(others.map((node) => this.#asksHolds(node, kind, id).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
    const holder = others.find((_, i) => answers[i] === true);
    if (holder !== undefined) return holder;
    const down = others.filter((_, i) => answers[i] instanceof Error);
    if (down.length > 0) throw this.#unavailable(down[0]!, answers[others.indexOf(down[0]!)] as Error);
    return this.routing.index;
  }

  #asksHolds(node: number, kind: IdKind, id: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const stream = this.sessions.session(this.routing.peerUrls[node]!).request({
        ":method": "GET",
        ":path": `${HOLDS_PATH}${kind}/${encodeURIComponent(id)}`,
        [PEER_HEADER]: this.routing.secret,
      });
      stream.once("response", (headers) => {
        resolve(headers[":status"] === 200);
        stream.resume();
      });
      stream.once("error", reject);
      stream.once("close", () => reject(new Error(`the stream closed (code ${stream.rstCode})`)));
      stream.end();
    });
  }

  /** Streams `req` (or its already-read `body`) to `node` and its answer back. */
  forward(node: number, req: Request, res: Response, body?: Uint8Array): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.sessions.session(this.routing.peerUrls[node]!).request(forwardedHeaders(req, this.routing.secret));
    } catch (e) {
      return answerError(req, res, this.#unavailable(node, e));
    }
    let answered = false;
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      if (!answered && !res.headersSent) answerError(req, res, this.#unavailable(node, e));
      else res.destroy();
    };
    stream.once("response", (headers) => {
      answered = true;
      res.writeHead(Number(headers[":status"] ?? 502), answerHeaders(headers));
      stream.pipe(res as NodeJS.WritableStream);
    });
    // Only an HTTP/2 caller can receive trailers (gRPC); gRPC-Web and Connect put theirs in the body.
    stream.on("trailers", (trailers) => {
      if (req.httpVersionMajor === 2) res.addTrailers(answerHeaders(trailers));
    });
    stream.once("end", () => (done = true));
    stream.once("error", fail);
    stream.once("close", () => {
      if (!answered) fail(new Error(`the stream closed (code ${stream.rstCode})`));
    });
    // A caller that goes away before the answer is all in cancels the forwarded call (a reset after the end would only cost).
    res.once("close", () => {
      if (!done && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    if (body !== undefined) stream.end(body);
    else req.pipe(stream);
  }

  #unavailable(node: number, cause: unknown): ConnectError {
    return new ConnectError(nodeUnavailableMessage(node, this.routing.peerUrls[node], cause), Code.Unavailable);
  }
}

/** The actor id of an actor method call; undefined when missing or malformed (the handler answers those). */
function actorIdOf(req: Request): string | undefined {
  const header = req.headers[ACTOR_ID_HEADER];
  if (typeof header !== "string") return undefined;
  try {
    return decodeActorIdHeader(header);
  } catch {
    return undefined;
  }
}

/** Unary Connect, JSON or binary (Connect streams are application/connect+…). */
const UNARY_CONNECT = /^application\/(json|proto)\b/;

/** Headers the forwarded HTTP/1.1 request sets itself, or that describe the caller's hop only. */
const NOT_FORWARDED = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "te", "expect", "content-length", PEER_HEADER]);
/** What HTTP/1.1 cannot carry in a header value, or in a request line's path. */
const UNSAFE_VALUE = /[\r\n\0]/;
const UNSAFE_PATH = /[\s\0]/;

/** The request line and headers of `req` forwarded over HTTP/1.1 with a body of `length` bytes; undefined if its path or a value cannot be written. */
function requestHead(req: Request, secret: string, length: number): string | undefined {
  const host = String(req.headers.host ?? req.headers[":authority"] ?? "localhost");
  if (UNSAFE_PATH.test(req.url ?? "") || UNSAFE_VALUE.test(host)) return undefined;
  let head = `POST ${req.url} HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${length}\r\n${PEER_HEADER}: ${secret}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(":") || NOT_FORWARDED.has(name)) continue;
    const value = raw[i + 1]!;
    if (UNSAFE_VALUE.test(value)) return undefined;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** Connection-specific headers HTTP/2 forbids, and those that describe the caller's hop only. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "te"]);

function forwardedHeaders(req: Request, secret: string): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {
    ":method": req.method ?? "POST",
    ":path": req.url ?? "/",
    ":authority": String(req.headers[":authority"] ?? req.headers.host ?? "localhost"),
    [PEER_HEADER]: secret,
  };
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || HOP_BY_HOP.has(name) || name === PEER_HEADER || value === undefined) continue;
    headers[name] = value;
  }
  // gRPC needs it; it is the one `te` HTTP/2 allows.
  if (req.headers.te === "trailers") headers.te = "trailers";
  return headers;
}

function answerHeaders(headers: http2.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(":") && value !== undefined) out[name] = value;
  return out;
}

function answerHolds(routing: NodeRouting, req: Request, res: Response): void {
  const [kind, id] = (req.url ?? "").slice(HOLDS_PATH.length).split("/", 2);
  const holds = (kind === "task" || kind === "schedule") && id !== undefined && routing.holds(kind, decodeURIComponent(id));
  res.writeHead(holds ? 200 : 404, { "content-length": 0 });
  res.end();
}

/** Whether a request carries the cluster secret in PEER_HEADER (compared in constant time). */
export function carriesSecret(req: Request, secret: string): boolean {
  const given = req.headers[PEER_HEADER];
  return given !== undefined && sameSecret(given, secret);
}

function sameSecret(given: string | string[], secret: string): boolean {
  const a = Buffer.from(Array.isArray(given) ? given.join(",") : given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}
