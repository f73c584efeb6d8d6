// The cross-node version stream, both sides, over a real HTTP/2 server on
// 127.0.0.1: the owner's `serveVersionStream` fed by the runtime's own
// commit and deletion channels, the subscriber's `PeerVersions`.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { Message } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../api/partition.js";
import { publishCommit, publishDeletion } from "../runtime/commit-channel.js";
import { PeerSessions } from "./peer-sessions.js";
import { PeerVersions } from "./peer-versions.js";
import { serveVersionStream, VERSIONS_PATH } from "./version-stream.js";
import { waitFor } from "../../test/fixtures/waiting.js";

const TYPE = "probe.v1.Probe";
const PARTITIONS = 4;
const STATE = { $typeName: "probe.v1.Probe" } as Message;

describe("the version stream between two nodes", () => {
  let server: http2.Http2Server;
  let url = "";
  /** Streams the owner served: a subscriber cut and resubscribing shows here. */
  let opened = 0;
  /** The owner's durable versions, for the `v` a watch or check sends. */
  const durable = new Map<string, number>();

  beforeAll(async () => {
    server = http2.createServer((req, res) => {
      if (req.url !== VERSIONS_PATH) return void res.writeHead(404).end();
      opened++;
      serveVersionStream(req, res, (t, a) => durable.get(`${t}/${a}`) ?? 0);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** A subscriber with at most `maxKeys` actors watched one by one, watching `ids`; what each heard. */
  function subscribe(maxKeys: number, ids: readonly string[], seen?: number) {
    const sessions = new PeerSessions();
    const versions = new PeerVersions([url], "secret", sessions, { partitions: PARTITIONS, maxKeys });
    const heard = new Map<string, Array<number | undefined>>(ids.map((id) => [id, []]));
    const stops = ids.map((id) => versions.watch(0, TYPE, id, (v) => heard.get(id)!.push(v), seen));
    const close = () => {
      for (const stop of stops) stop();
      versions.close();
      sessions.close();
    };
    return { versions, heard, close };
  }

  it("past its cap watches whole partitions: every actor's commits arrive, on one stream, and others' are dropped", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `capped-${i}`);
    const before = opened;
    const { versions, heard, close } = subscribe(3, ids);
    try {
      const coarse = new Set(ids.slice(3).map((id) => partitionOf(TYPE, id, PARTITIONS)));
      expect(versions.watching(0)).toEqual({ keys: 3, partitions: coarse.size });
      // Registered once a commit after the watches arrives: commit until each actor heard one.
      await waitFor(() => {
        for (const id of ids) publishCommit(TYPE, id, 1, STATE);
        return ids.every((id) => heard.get(id)!.length > 0);
      }, "every watched actor's first commit");
      for (const id of ids) heard.set(id, []);
      for (let i = 0; i < 50; i++) publishCommit(TYPE, `unwatched-${i}`, 1, STATE);
      for (const id of ids) publishCommit(TYPE, id, 2, STATE);
      await waitFor(() => ids.every((id) => heard.get(id)!.includes(2)), "version 2 of every actor");
      // Never cut, never reopened: every line a version (late 1s of the loop above may trail), on the one stream opened.
      expect([...heard.values()].flat().every((v) => v === 1 || v === 2)).toBe(true);
      expect(opened - before).toBe(1);
    } finally {
      close();
    }
  });

  it("answers a watch past the cap at once when the version read is already stale (the one-off check)", async () => {
    const ids = ["stale-0", "stale-1", "stale-2"];
    for (const id of ids) durable.set(`${TYPE}/${id}`, 7);
    const { heard, close } = subscribe(1, ids, 6);
    try {
      await waitFor(() => ids.every((id) => heard.get(id)!.includes(7)), "version 7 of each, unasked");
    } finally {
      close();
    }
  });

  it("streams a deletion as version 0, to actors watched one by one and through their partition", async () => {
    const ids = ["deleted-0", "deleted-1"];
    const { heard, close } = subscribe(1, ids);
    try {
      await waitFor(() => {
        for (const id of ids) publishCommit(TYPE, id, 1, STATE);
        return ids.every((id) => heard.get(id)!.length > 0);
      }, "the watches registered");
      for (const id of ids) publishDeletion(TYPE, id);
      await waitFor(() => ids.every((id) => heard.get(id)!.at(-1) === 0), "each deletion");
    } finally {
      close();
    }
  });
});
