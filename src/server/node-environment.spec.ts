import { describe, expect, it } from "vitest";
import { nodeCount, nodeIdentity } from "./node-environment.js";

const SECRET = "0123456789abcdef";

describe("nodeCount", () => {
  it("takes the option, else CAIRN_NODES, else 1", () => {
    expect(nodeCount(undefined, {})).toBe(1);
    expect(nodeCount(undefined, { CAIRN_NODES: "4" })).toBe(4);
    expect(nodeCount(2, { CAIRN_NODES: "4" })).toBe(2);
  });
  it("refuses what is not a count", () => {
    expect(() => nodeCount(undefined, { CAIRN_NODES: "two" })).toThrow(/CAIRN_NODES/);
    expect(() => nodeCount(0, {})).toThrow(/1\.\.1024/);
  });
});

describe("nodeIdentity", () => {
  it("is none with one node, or with several and nothing naming this one (the supervisor)", () => {
    expect(nodeIdentity(1, { CAIRN_NODE_INDEX: "0" })).toBeUndefined();
    expect(nodeIdentity(2, { HOSTNAME: "laptop-3" })).toBeUndefined();
  });
  it("reads a StatefulSet pod: the ordinal of the pod name, the peers from the {i} template", () => {
    const id = nodeIdentity(2, { CAIRN_POD_NAME: "cairn-1", CAIRN_PEER_URL: "http://cairn-{i}.cairn-peers:9992", CAIRN_CLUSTER_SECRET: SECRET });
    expect(id).toMatchObject({ index: 1, nodes: 2, peerPort: 9992, peerHost: "0.0.0.0" });
    expect(id?.peerUrls).toEqual(["http://cairn-0.cairn-peers:9992", "http://cairn-1.cairn-peers:9992"]);
    expect(nodeIdentity(2, { HOSTNAME: "cairn-0", CAIRN_PEER_URL: "http://cairn-{i}:9992", CAIRN_CLUSTER_SECRET: SECRET })?.index).toBe(0);
  });
  it("reads the supervisor's worker: CAIRN_NODE_INDEX and the list of peers", () => {
    const env = { CAIRN_NODE_INDEX: "1", CAIRN_PEER_URLS: "http://127.0.0.1:4001,http://127.0.0.1:4002", CAIRN_PEER_HOST: "127.0.0.1", CAIRN_CLUSTER_SECRET: SECRET };
    expect(nodeIdentity(2, env)).toMatchObject({ index: 1, peerPort: 4002, peerHost: "127.0.0.1" });
  });
  it("says which variable is wrong", () => {
    const base = { CAIRN_PEER_URL: "http://cairn-{i}:9992", CAIRN_CLUSTER_SECRET: SECRET };
    expect(() => nodeIdentity(2, { ...base, CAIRN_POD_NAME: "cairn" })).toThrow(/trailing -<n>/);
    expect(() => nodeIdentity(2, { ...base, CAIRN_POD_NAME: "cairn-2" })).toThrow(/out of range/);
    expect(() => nodeIdentity(2, { ...base, CAIRN_POD_NAME: "cairn-0", CAIRN_CLUSTER_SECRET: "short" })).toThrow(/CAIRN_CLUSTER_SECRET/);
    expect(() => nodeIdentity(2, { CAIRN_NODE_INDEX: "0", CAIRN_CLUSTER_SECRET: SECRET })).toThrow(/CAIRN_PEER_URL/);
    expect(() => nodeIdentity(2, { CAIRN_NODE_INDEX: "0", CAIRN_PEER_URLS: "http://a:1", CAIRN_CLUSTER_SECRET: SECRET })).toThrow(/1 peers for 2 nodes/);
    expect(() => nodeIdentity(2, { ...base, CAIRN_PEER_URL: "https://cairn-{i}:9992", CAIRN_POD_NAME: "cairn-0" })).toThrow(/cleartext/);
  });
});
