import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { PeerSessions } from "./peer-sessions.js";

// How a node tells a peer what its data directory holds (DESIGN.md §13
// rule 3): a node whose volume is empty asks every peer before it creates
// anything, over the peer port with the cluster secret.

/** What a node's data directory records: fixed when the node first initialises there. */
export interface NodeLayout {
  /** Made by the cluster's first start, shared by every node of it. */
  readonly clusterId: string;
  /** N. */
  readonly partitions: number;
  /** M. */
  readonly nodes: number;
  /** This node. */
  readonly index: number;
}

/** A node's answer: its volume is empty, waits to initialise with a cluster id, or is initialised. */
export type LayoutAnswer =
  | { readonly state: "empty" }
  | { readonly state: "pending"; readonly clusterId: string }
  | { readonly state: "initialised"; readonly layout: NodeLayout };

/** The peer port's route for it (answered only to a call carrying the cluster secret). */
export const LAYOUT_PATH = "/_cairn/peer/layout";

/** The longest a layout question waits for its answer: the asker asks again. */
const ASK_TIMEOUT_MS = 5_000;
/** An answer is a few hundred bytes; a peer sending more is not answering this. */
const MAX_ANSWER_BYTES = 4_096;

type Response = http.ServerResponse | http2.Http2ServerResponse;

/** Serves `answer()` as JSON. */
export function answerLayout(res: Response, answer: () => Promise<LayoutAnswer>): void {
  answer().then(
    (a) => {
      const body = JSON.stringify(a);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    },
    (e: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(e instanceof Error ? e.message : String(e));
    },
  );
}

/** Asks the node at `url` what its directory holds; rejects when it does not answer (down, starting, another secret). */
export function askLayout(sessions: PeerSessions, url: string, secret: string, peerHeader: string): Promise<LayoutAnswer> {
  return new Promise((resolve, reject) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = sessions.session(url).request({ ":method": "GET", ":path": LAYOUT_PATH, [peerHeader]: secret });
    } catch (e) {
      return reject(e instanceof Error ? e : new Error(String(e)));
    }
    stream.setTimeout(ASK_TIMEOUT_MS, () => stream.close());
    let status = 0;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.once("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) stream.close();
      else chunks.push(chunk);
    });
    stream.once("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (status !== 200) return reject(new Error(`answered ${status}: ${text.slice(0, 200)}`));
      try {
        const answer = JSON.parse(text) as { state?: unknown };
        if (answer.state !== "empty" && answer.state !== "pending" && answer.state !== "initialised") throw new Error(`unknown state ${String(answer.state)}`);
        resolve(answer as LayoutAnswer);
      } catch (e) {
        reject(new Error(`not a layout answer: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
    stream.once("error", reject);
    stream.once("close", () => reject(new Error(`no answer (stream closed, code ${stream.rstCode})`)));
    stream.end();
  });
}
