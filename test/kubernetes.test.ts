// deploy/kubernetes/ checked offline (README "Running on Kubernetes"): the base
// and the example overlay are rendered with `kubectl kustomize` where kubectl
// is installed, else with the small renderer in fixtures/kustomize.ts (which
// is then checked against kubectl wherever both exist). Every object is
// validated against the Kubernetes schemas of kubernetes-models, and the
// promises the node layer relies on are checked one by one. The schemas allow
// unknown fields (as Kubernetes' OpenAPI does), so each promise reads its
// fields itself: a misspelled field fails the promise that needs it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { nodeOfPartition } from "../src/api/partition.js";
import { resizePlan } from "../src/cli/resize-plan.js";
import { parseDuration } from "../src/runtime/duration.js";
import { isObject, type Json, type JsonObject, type KubeObject, kustomize } from "./fixtures/kustomize.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const DEPLOY = path.join(REPO, "deploy/kubernetes");

/** The variables part B's node layer reads (issue 15), all of which a pod must get. */
const ENV_CONTRACT = [
  "CAIRN_NODES",
  "CAIRN_PARTITIONS",
  "CAIRN_POD_NAME",
  "CAIRN_PEER_URL",
  "CAIRN_CLUSTER_SECRET",
  "CAIRN_PORT",
  "CAIRN_HOST",
  "CAIRN_DATA_DIR",
  "CAIRN_DRAIN_TIMEOUT",
  "NODE_ENV",
];
const RPC_PORT = 9991;
const PEER_PORT = 9992;
/** How long a stop may take past the drain bound to close the port (README "Graceful stop"). */
const PORT_CLOSE_MS = 2_000;

const KUBECTL = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

function kubectlKustomize(dir: string): KubeObject[] {
  const out = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((doc) => doc.toJS() as KubeObject);
}

const render = async (dir: string): Promise<KubeObject[]> => (KUBECTL ? kubectlKustomize(dir) : kustomize(dir));

const SCHEMAS: Record<string, { validate(o: JsonObject): void }> = {
  ConfigMap: { validate: (o) => new ConfigMap(o as never).validate() },
  Service: { validate: (o) => new Service(o as never).validate() },
  StatefulSet: { validate: (o) => new StatefulSet(o as never).validate() },
  PodDisruptionBudget: { validate: (o) => new PodDisruptionBudget(o as never).validate() },
  NetworkPolicy: { validate: (o) => new NetworkPolicy(o as never).validate() },
};

/** The value at `keys` under `value`, or undefined where the path ends early. */
function at(value: Json | undefined, ...keys: Array<string | number>): Json | undefined {
  let here = value;
  for (const key of keys) {
    if (typeof key === "number") here = Array.isArray(here) ? here[key] : undefined;
    else here = isObject(here) ? here[key] : undefined;
  }
  return here;
}

function one(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.map((o) => o.metadata.name), `one ${kind}${name ? ` named ${name}` : ""}`).toHaveLength(1);
  return found[0]!;
}

/** Where a pod's variable comes from: a literal (a ConfigMap's or the container's), a field or a Secret. */
type EnvSource = { value?: string; fieldPath?: string; secret?: { name: string; key: string; optional: boolean } };

/** The StatefulSet's pod as the node layer sees it: its container, ports and environment. */
function pod(objects: KubeObject[]) {
  const sts = one(objects, "StatefulSet");
  const spec = at(sts, "spec", "template", "spec");
  const containers = at(spec, "containers");
  expect(Array.isArray(containers) && containers.length, "one container").toBe(1);
  const container = at(containers, 0) as JsonObject;
  const env = new Map<string, EnvSource>();
  for (const from of (at(container, "envFrom") ?? []) as JsonObject[]) {
    const name = at(from, "configMapRef", "name");
    const data = at(one(objects, "ConfigMap", String(name)), "data") as JsonObject;
    for (const [key, value] of Object.entries(data)) env.set(key, { value: String(value) });
  }
  for (const e of (at(container, "env") ?? []) as JsonObject[]) {
    const secret = at(e, "valueFrom", "secretKeyRef");
    env.set(String(e.name), {
      value: typeof e.value === "string" ? e.value : undefined,
      fieldPath: at(e, "valueFrom", "fieldRef", "fieldPath") as string | undefined,
      secret: isObject(secret) ? { name: String(secret.name), key: String(secret.key), optional: secret.optional === true } : undefined,
    });
  }
  const ports = new Map(((at(container, "ports") ?? []) as JsonObject[]).map((p) => [String(p.name), Number(p.containerPort)]));
  /** A probe's or Service's port: a number, or a container port's name. */
  const portNumber = (port: Json | undefined) => (typeof port === "number" ? port : ports.get(String(port)));
  const literal = (name: string) => env.get(name)?.value;
  return { sts, spec, container, env, ports, portNumber, literal };
}

const isPowerOfTwo = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/** `selector` non-empty and satisfied by `labels`. */
function selects(selector: Json | undefined, labels: Json | undefined): boolean {
  return isObject(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => at(labels, k) === v);
}

describe.each(["base", "overlays/example"])(`deploy/kubernetes/%s (rendered by ${KUBECTL ? "kubectl kustomize" : "the in-test kustomize"})`, (dir) => {
  const rendered = render(path.join(DEPLOY, dir));
  rendered.catch(() => {}); // each test awaits it and fails with the error; not an unhandled rejection

  it("every object is one the Kubernetes schemas accept", async () => {
    const objects = await rendered;
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "ConfigMap/cairn-config",
      "NetworkPolicy/cairn",
      "PodDisruptionBudget/cairn",
      "Service/cairn",
      "Service/cairn-peers",
      "StatefulSet/cairn",
    ]);
    for (const o of objects) {
      const schema = SCHEMAS[o.kind];
      expect(schema, `a schema for ${o.kind}`).toBeDefined();
      expect(() => schema!.validate(o), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it("the pods get every variable of the node layer's contract, from the right source", async () => {
    const { env, literal, spec } = pod(await rendered);
    expect(ENV_CONTRACT.filter((name) => !env.has(name)), "missing variables").toEqual([]);
    expect(env.get("CAIRN_POD_NAME")).toEqual({ fieldPath: "metadata.name" });
    expect(env.get("CAIRN_CLUSTER_SECRET")?.secret).toEqual({ name: "cairn-secrets", key: "cluster-secret", optional: false });
    expect(literal("CAIRN_HOST")).toBe("0.0.0.0");
    expect(literal("NODE_ENV")).toBe("production");
    expect(literal("CAIRN_PORT")).toBe(String(RPC_PORT));
    // Service links would add CAIRN_PORT=tcp://… for the Service named "cairn".
    expect(at(spec, "enableServiceLinks")).toBe(false);
  });

  it("replicas equals CAIRN_NODES, a power of two dividing CAIRN_PARTITIONS (a power of two): every pod owns partitions", async () => {
    const { sts, literal } = pod(await rendered);
    const replicas = Number(at(sts, "spec", "replicas"));
    const partitions = Number(literal("CAIRN_PARTITIONS"));
    expect(Number(literal("CAIRN_NODES"))).toBe(replicas);
    expect(isPowerOfTwo(partitions), `CAIRN_PARTITIONS ${partitions}`).toBe(true);
    expect(isPowerOfTwo(replicas), `replicas ${replicas}`).toBe(true);
    expect(partitions % replicas).toBe(0);
    const owned = Array.from({ length: replicas }, (_, node) => Array.from({ length: partitions }, (_, p) => p).filter((p) => nodeOfPartition(p, replicas) === node).length);
    expect(owned).toEqual(Array(replicas).fill(partitions / replicas));
  });

  it("the peer URL names each pod through the headless Service, which publishes not-ready pods on both ports", async () => {
    const objects = await rendered;
    const { sts, spec, literal, portNumber, ports } = pod(objects);
    expect(ports).toEqual(new Map([["rpc", RPC_PORT], ["peer", PEER_PORT]]));
    const serviceName = String(at(sts, "spec", "serviceName"));
    const url = new URL(String(literal("CAIRN_PEER_URL")).replace("{i}", "0"));
    expect(url.hostname.split(".").slice(0, 2)).toEqual([`${sts.metadata.name}-0`, serviceName]);
    expect(Number(url.port)).toBe(PEER_PORT);
    const peers = one(objects, "Service", serviceName);
    expect(at(peers, "spec", "clusterIP")).toBe("None");
    expect(at(peers, "spec", "publishNotReadyAddresses")).toBe(true);
    expect(selects(at(peers, "spec", "selector"), at(sts, "spec", "template", "metadata", "labels"))).toBe(true);
    const served = ((at(peers, "spec", "ports") ?? []) as JsonObject[]).map((p) => [Number(p.port), portNumber(p.targetPort)]);
    expect(served).toEqual([[RPC_PORT, RPC_PORT], [PEER_PORT, PEER_PORT]]);
    expect(at(spec, "subdomain")).toBeUndefined();
  });

  it("the client Service, the StatefulSet and the PodDisruptionBudget select the pods; one may be disrupted at a time", async () => {
    const objects = await rendered;
    const { sts, portNumber } = pod(objects);
    const podLabels = at(sts, "spec", "template", "metadata", "labels");
    const client = one(objects, "Service", "cairn");
    expect(selects(at(client, "spec", "selector"), podLabels)).toBe(true);
    expect(((at(client, "spec", "ports") ?? []) as JsonObject[]).map((p) => portNumber(p.targetPort))).toEqual([RPC_PORT]);
    expect(selects(at(sts, "spec", "selector", "matchLabels"), podLabels)).toBe(true);
    const pdb = one(objects, "PodDisruptionBudget");
    expect(selects(at(pdb, "spec", "selector", "matchLabels"), podLabels)).toBe(true);
    expect(at(pdb, "spec", "maxUnavailable")).toBe(1);
    expect(at(sts, "spec", "podManagementPolicy")).toBe("Parallel");
  });

  it("the network policy lets anyone reach the RPC port and only the pods reach the peer port", async () => {
    const objects = await rendered;
    const { sts, portNumber } = pod(objects);
    const podLabels = at(sts, "spec", "template", "metadata", "labels");
    const policy = one(objects, "NetworkPolicy");
    expect(selects(at(policy, "spec", "podSelector", "matchLabels"), podLabels)).toBe(true);
    expect(at(policy, "spec", "policyTypes")).toEqual(["Ingress"]);
    /** Who may reach `port`: "anyone", or the label selectors of the pods that may. */
    const allowed = (port: number) =>
      ((at(policy, "spec", "ingress") ?? []) as JsonObject[])
        .filter((rule) => ((rule.ports ?? []) as JsonObject[]).some((p) => portNumber(p.port) === port))
        .map((rule) => (rule.from === undefined ? "anyone" : ((rule.from ?? []) as JsonObject[]).map((peer) => at(peer, "podSelector", "matchLabels"))));
    expect(allowed(RPC_PORT)).toEqual(["anyone"]);
    const peers = allowed(PEER_PORT);
    expect(peers).toHaveLength(1);
    expect(peers[0]).not.toBe("anyone");
    for (const selector of peers[0]!) expect(selects(selector, podLabels)).toBe(true);
  });

  it("each pod's data is its own ReadWriteOncePod volume, kept on scale-down, mounted writable at CAIRN_DATA_DIR", async () => {
    const { sts, container, literal } = pod(await rendered);
    const claims = (at(sts, "spec", "volumeClaimTemplates") ?? []) as JsonObject[];
    expect(claims.map((c) => at(c, "spec", "accessModes"))).toEqual([["ReadWriteOncePod"]]);
    expect(at(claims[0], "spec", "resources", "requests", "storage")).toBeTypeOf("string");
    const mount = ((at(container, "volumeMounts") ?? []) as JsonObject[]).find((m) => m.name === at(claims[0], "metadata", "name"));
    expect(mount?.mountPath).toBe(literal("CAIRN_DATA_DIR"));
    expect(mount?.readOnly ?? false).toBe(false);
    expect(at(sts, "spec", "persistentVolumeClaimRetentionPolicy")).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
  });

  it("the grace period outlasts CAIRN_DRAIN_TIMEOUT and the port's close", async () => {
    const { spec, literal } = pod(await rendered);
    const graceMs = Number(at(spec, "terminationGracePeriodSeconds")) * 1000;
    expect(graceMs).toBeGreaterThan(parseDuration(String(literal("CAIRN_DRAIN_TIMEOUT"))) + PORT_CLOSE_MS);
  });

  it("probes: readiness on /readyz, liveness and startup on /healthz, all on the RPC port", async () => {
    const { container, portNumber } = pod(await rendered);
    const probe = (kind: string) => {
      const get = at(container, kind, "httpGet");
      return { path: at(get, "path"), port: portNumber(at(get, "port")), scheme: at(get, "scheme") ?? "HTTP" };
    };
    expect(probe("readinessProbe")).toEqual({ path: "/readyz", port: RPC_PORT, scheme: "HTTP" });
    expect(probe("livenessProbe")).toEqual({ path: "/healthz", port: RPC_PORT, scheme: "HTTP" });
    expect(probe("startupProbe")).toEqual({ path: "/healthz", port: RPC_PORT, scheme: "HTTP" });
  });

  it("runs as non-root on a read-only root file system, with resource requests", async () => {
    const { spec, container } = pod(await rendered);
    expect(at(spec, "securityContext", "runAsNonRoot")).toBe(true);
    expect(Number(at(spec, "securityContext", "runAsUser"))).toBeGreaterThan(0);
    expect(at(container, "securityContext", "readOnlyRootFilesystem")).toBe(true);
    expect(at(container, "securityContext", "allowPrivilegeEscalation")).toBe(false);
    expect(at(container, "securityContext", "capabilities", "drop")).toEqual(["ALL"]);
    expect(at(container, "resources", "requests", "cpu")).toBeTypeOf("string");
    expect(at(container, "resources", "requests", "memory")).toBeTypeOf("string");
  });
});

describe("deploy/kubernetes/overlays/example", () => {
  it("sets the image, 2 replicas and 8 partitions", async () => {
    const { sts, container, literal } = pod(await render(path.join(DEPLOY, "overlays/example")));
    expect(container.image).toBe("registry.example.com/my-app:1.0.0");
    expect(at(sts, "spec", "replicas")).toBe(2);
    expect(literal("CAIRN_PARTITIONS")).toBe("8");
  });
});

describe("the TLS patch of deploy/kubernetes/README.md", () => {
  it("renders over the example overlay, validates, and makes the probes use HTTPS", async () => {
    const readme = await readFile(path.join(DEPLOY, "README.md"), "utf8");
    const patch = /```yaml\n(# overlays\/my-app\/tls\.yaml[^]*?)```/.exec(readme)?.[1];
    expect(patch, "the README's tls.yaml block").toBeDefined();
    const dir = await mkdtemp(path.join(tmpdir(), "cairn-k8s-tls-"));
    try {
      await writeFile(path.join(dir, "tls.yaml"), patch!);
      const base = path.relative(dir, path.join(DEPLOY, "overlays/example"));
      await writeFile(path.join(dir, "kustomization.yaml"), `resources:\n  - ${base}\npatches:\n  - path: tls.yaml\n`);
      const objects = await render(dir);
      for (const o of objects) expect(() => SCHEMAS[o.kind]!.validate(o), `${o.kind}/${o.metadata.name}`).not.toThrow();
      const { container, env, portNumber } = pod(objects);
      for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        expect(at(container, kind, "httpGet", "scheme"), kind).toBe("HTTPS");
        expect(portNumber(at(container, kind, "httpGet", "port")), kind).toBe(RPC_PORT);
      }
      const mounts = (at(container, "volumeMounts") ?? []) as JsonObject[];
      for (const variable of ["CAIRN_TLS_CERT", "CAIRN_TLS_KEY"]) {
        const file = String(env.get(variable)?.value);
        expect(mounts.some((m) => m.readOnly === true && file.startsWith(`${String(m.mountPath)}/`)), variable).toBe(true);
      }
      expect(ENV_CONTRACT.filter((name) => !env.has(name)), "the contract survives the patch").toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The node layer's own reading of the environment (issue 15 part B), when it
// is there: each rendered pod's variables must name that pod's node.
const NODE_ENVIRONMENT = path.join(REPO, "src/server/node-environment.ts");
type Env = Record<string, string | undefined>;
interface NodeEnvironment {
  nodeCount(option: number | undefined, env: Env): number;
  nodeIdentity(nodes: number, env: Env): { index: number; nodes: number; peerUrls: readonly string[]; peerHost: string; peerPort: number } | undefined;
}

describe.skipIf(!existsSync(NODE_ENVIRONMENT))("the example overlay's pods, as src/server/node-environment.ts reads them", () => {
  it("each pod is the node of its ordinal, with every peer through the headless Service", async () => {
    const nodeEnv = (await import(NODE_ENVIRONMENT)) as NodeEnvironment;
    const { sts, env } = pod(await render(path.join(DEPLOY, "overlays/example")));
    const replicas = Number(at(sts, "spec", "replicas"));
    const peerUrls = Array.from({ length: replicas }, (_, i) => `http://${sts.metadata.name}-${i}.${String(at(sts, "spec", "serviceName"))}:${PEER_PORT}`);
    for (let i = 0; i < replicas; i++) {
      const podEnv: Env = {};
      for (const [name, source] of env) {
        if (source.fieldPath === "metadata.name") podEnv[name] = `${sts.metadata.name}-${i}`;
        else if (source.secret) podEnv[name] = source.secret.optional ? undefined : "a-cluster-secret-of-32-characters";
        else podEnv[name] = source.value;
      }
      const nodes = nodeEnv.nodeCount(undefined, podEnv);
      expect(nodeEnv.nodeIdentity(nodes, podEnv)).toMatchObject({ index: i, nodes: replicas, peerUrls, peerHost: "0.0.0.0", peerPort: PEER_PORT });
    }
  });
});

describe("deploy/Dockerfile", () => {
  const dockerfile = readFile(path.join(REPO, "deploy/Dockerfile"), "utf8").then((text) =>
    text
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
      .join("\n")
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((line) => {
        const [instruction, ...rest] = line.trim().split(/\s+/);
        return { instruction: instruction!.toUpperCase(), args: rest.join(" ") };
      }),
  );

  it("builds with npm run build, runs the app's start command on node:20-slim as the pods' non-root user", async () => {
    const lines = await dockerfile;
    const stages = lines.filter((l) => l.instruction === "FROM").map((l) => l.args);
    expect(stages).toEqual(["node:20-slim AS build", "node:20-slim"]);
    const lastStage = lines.slice(lines.map((l) => l.instruction).lastIndexOf("FROM"));
    expect(lines.some((l) => l.instruction === "RUN" && l.args.includes("npm run build"))).toBe(true);
    const template = JSON.parse(await readFile(path.join(REPO, "templates/app/package.json"), "utf8")) as { scripts: { start: string } };
    const cmd = lastStage.find((l) => l.instruction === "CMD");
    expect(JSON.parse(cmd?.args ?? "[]")).toEqual(template.scripts.start.split(" "));
    const { spec, literal } = pod(await render(path.join(DEPLOY, "base")));
    const user = lastStage.find((l) => l.instruction === "USER")?.args;
    expect(user).toBe(`${String(at(spec, "securityContext", "runAsUser"))}:${String(at(spec, "securityContext", "runAsGroup"))}`);
    const env = lastStage.filter((l) => l.instruction === "ENV").map((l) => l.args).join(" ");
    expect(env).toContain(`CAIRN_DATA_DIR=${literal("CAIRN_DATA_DIR")}`);
    expect(lastStage.find((l) => l.instruction === "EXPOSE")?.args).toBe(`${RPC_PORT} ${PEER_PORT}`);
  });
});

describe(`deploy/kubernetes/jobs: the resize Job (rendered by ${KUBECTL ? "kubectl kustomize" : "the in-test kustomize"})`, () => {
  const rendered = Promise.all([render(path.join(DEPLOY, "jobs")), render(path.join(DEPLOY, "overlays/example"))]);
  rendered.catch(() => {});

  it("is one Job the Kubernetes schemas accept, on the app's image, as the pods' user", async () => {
    const [objects, app] = await rendered;
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["Job/cairn-resize"]);
    expect(() => new Job(objects[0] as never).validate()).not.toThrow();
    const spec = at(objects[0], "spec", "template", "spec");
    const container = at(spec, "containers", 0);
    expect(at(spec, "containers") as Json[]).toHaveLength(1);
    expect(at(container, "image")).toBe(pod(app).container.image);
    for (const key of ["runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot"]) {
      expect(at(spec, "securityContext", key), key).toEqual(at(pod(app).spec, "securityContext", key));
    }
    expect(at(container, "securityContext", "readOnlyRootFilesystem")).toBe(true);
    // A retry must find the claims where the killed run left them: the same pod again.
    expect(at(spec, "restartPolicy")).toBe("OnFailure");
  });

  it("mounts every claim the resize of the example overlay takes, writable, named in node order on the command line", async () => {
    const [objects, app] = await rendered;
    const spec = at(objects[0], "spec", "template", "spec");
    const container = at(spec, "containers", 0) as JsonObject;
    const command = (at(container, "command") ?? []) as string[];
    expect(command.slice(0, 3)).toEqual(["node", "node_modules/.bin/cairn", "resize"]);
    const args = command.slice(3);
    const to = Number(args[args.indexOf("--nodes") + 1]);
    const volumePaths = args.filter((a, i) => !a.startsWith("-") && args[i - 1] !== "--nodes");
    const { sts, literal } = pod(app);
    const plan = resizePlan(Number(literal("CAIRN_PARTITIONS")), Number(at(sts, "spec", "replicas")), to);
    expect(plan.moves.length).toBeGreaterThan(0);
    const template = String(at(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name"));
    const claimOf = new Map(((at(spec, "volumes") ?? []) as JsonObject[]).map((v) => [String(v.name), at(v, "persistentVolumeClaim", "claimName")]));
    const mounts = (at(container, "volumeMounts") ?? []) as JsonObject[];
    const claims = volumePaths.map((p) => {
      const mount = mounts.find((m) => m.mountPath === p);
      expect(mount?.readOnly ?? false, p).toBe(false);
      return claimOf.get(String(mount?.name));
    });
    // The StatefulSet's claim of pod i is <template>-<statefulset>-<i>: the Job names each node's own.
    expect(claims).toEqual(Array.from({ length: plan.volumes }, (_, i) => `${template}-${sts.metadata.name}-${i}`));
  });

  it("its pod is selected by none of the app's Services, StatefulSet or PodDisruptionBudget", async () => {
    const [objects, app] = await rendered;
    const labels = at(objects[0], "spec", "template", "metadata", "labels");
    for (const o of app) {
      for (const selector of [at(o, "spec", "selector", "matchLabels"), o.kind === "Service" ? at(o, "spec", "selector") : undefined]) {
        if (selector !== undefined) expect(selects(selector, labels), `${o.kind}/${o.metadata.name}`).toBe(false);
      }
    }
  });

  it("the app's image has the cairn command: apps depend on the package at run time, and it installs the bin", async () => {
    const app = JSON.parse(await readFile(path.join(REPO, "templates/app/package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const own = JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as { name: string; bin: Record<string, string> };
    expect(Object.keys(app.dependencies ?? {})).toContain(own.name);
    expect(own.bin.cairn).toBeDefined();
    expect(await readFile(path.join(DEPLOY, "README.md"), "utf8")).toContain("jobs/resize.yaml");
  });
});

describe.skipIf(!KUBECTL)("the in-test kustomize (test/fixtures/kustomize.ts)", () => {
  it.each(["base", "overlays/example", "jobs"])("renders deploy/kubernetes/%s as kubectl kustomize does", async (dir) => {
    const byName = (objects: KubeObject[]) => [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    expect(byName(await kustomize(path.join(DEPLOY, dir)))).toEqual(byName(kubectlKustomize(path.join(DEPLOY, dir))));
  });
});
