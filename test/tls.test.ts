// TLS on the one port (issue 13, item 8): a certificate signed by a test CA
// made at test time; HTTP/2 by ALPN for the generated client (Connect,
// gRPC, gRPC-Web, the Watch fast path), grpc-js with TLS credentials, and
// HTTP/1.1 and HTTP/2 for curl; the CLI trusts the CA with --ca or
// CAIRN_CA. A client that does not trust the CA is refused.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, ExternalContext, type TransportKind } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { GetRequestSchema, ProbeViewSchema, type ProbeView } from "../generated/probe/v1/probe_pb.js";
import { PROBE_ADMIN_TOKEN, ProbeServicerImpl } from "./fixtures/probe-servicer.js";
import { probeTokens } from "./fixtures/probe-app.js";
import { runCli } from "./fixtures/cli-process.js";
import { hasOpenssl, makeTestCertificates, type TestCertificates } from "./fixtures/tls-certs.js";
import { tempDirs } from "./fixtures/temp-dirs.js";

const run = promisify(execFile);
const tempDir = tempDirs("cairn-tls-");

describe.skipIf(!hasOpenssl())("TLS", () => {
  let certs: TestCertificates;
  let app: TestApplication;

  beforeAll(async () => {
    certs = makeTestCertificates(tempDir());
    // The certificate by path, the key as PEM text: both forms work.
    app = await TestApplication.start({
      servicers: [ProbeServicerImpl],
      tokenVerifier: probeTokens(),
      tls: { cert: certs.certPath, key: readFileSync(certs.keyPath, "utf8") },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("serves an https URL", () => {
    expect(app.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  for (const transport of ["connect", "grpc", "grpc-web"] satisfies TransportKind[]) {
    it(`serves the generated client over ${transport} (HTTP/2 by ALPN), trusting the CA`, async () => {
      const ctx = app.context({ transport, ca: certs.caPath });
      const id = `tls-${transport}`;
      expect((await Probe.ref(id).add(ctx, { amount: 2n })).counter).toBe(2n);
      expect((await Probe.ref(id).get(ctx)).counter).toBe(2n);
    });
  }

  it("streams a reactive Watch (the Connect fast path) over TLS", async () => {
    const ctx = app.context({ ca: certs.ca });
    const abort = new AbortController();
    const updates = Probe.ref("tls-watch").reactively(abort.signal).get(ctx)[Symbol.asyncIterator]();
    try {
      expect((await updates.next()).value?.counter).toBe(0n);
      await Probe.ref("tls-watch").add(ctx, { amount: 3n });
      expect((await updates.next()).value?.counter).toBe(3n);
    } finally {
      abort.abort();
    }
  });

  it("serves a plain @grpc/grpc-js client with TLS credentials", async () => {
    const unary = <I extends DescMessage, O extends DescMessage>(path: string, input: I, output: O) => ({
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: Uint8Array) => Buffer.from(m),
      requestDeserialize: (b: Buffer) => fromBinary(input, b),
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => fromBinary(output, b),
    });
    const Client = grpc.makeGenericClientConstructor({ get: unary("/probe.v1.ProbeMethods/Get", GetRequestSchema, ProbeViewSchema) }, "ProbeMethods");
    const client = new Client(app.url.replace("https://", ""), grpc.credentials.createSsl(Buffer.from(certs.ca)));
    try {
      await Probe.ref("tls-grpcjs").add(app.context({ ca: certs.ca }), { amount: 7n });
      const view = await new Promise<ProbeView>((resolve, reject) => {
        const md = new grpc.Metadata();
        md.set("x-cairn-actor-id", "tls-grpcjs");
        const get = (client as unknown as Record<string, Function>).get!.bind(client);
        get(toBinary(GetRequestSchema, { $typeName: "probe.v1.GetRequest" }), md, (err: grpc.ServiceError | null, res: ProbeView) => (err ? reject(err) : resolve(res)));
      });
      expect(view.counter).toBe(7n);
    } finally {
      client.close();
    }
  });

  for (const version of ["1.1", "2"] as const) {
    it(`serves curl --cacert over HTTP/${version} (Connect JSON, and /healthz)`, async () => {
      const { stdout } = await run("curl", [
        "-sS", "--fail-with-body", "--cacert", certs.caPath, `--http${version === "2" ? "2" : "1.1"}`,
        "-w", "\n%{http_version}",
        "-H", "content-type: application/json", "-H", "x-cairn-actor-id: tls-curl",
        "-d", '{"amount":"4"}', `${app.url}/probe.v1.ProbeMethods/Add`,
      ]);
      const [body, httpVersion] = stdout.split("\n");
      expect(httpVersion).toBe(version);
      expect(JSON.parse(body!).counter).toMatch(/^\d+$/);
      const health = await run("curl", ["-sS", "--fail-with-body", "--cacert", certs.caPath, `--http${version === "2" ? "2" : "1.1"}`, `${app.url}/healthz`]);
      expect(JSON.parse(health.stdout)).toEqual({ status: "ok" });
    });
  }

  it("the CLI trusts the CA given by --ca or CAIRN_CA", async () => {
    const args = ["actors", "get", "probe.v1.Probe", "tls-connect", "--json", "--url", app.url, "--token", PROBE_ADMIN_TOKEN];
    const withFlag = await runCli([...args, "--ca", certs.caPath]);
    expect(withFlag.stderr).toBe("");
    expect(withFlag.code).toBe(0);
    expect(JSON.parse(JSON.parse(withFlag.stdout).stateJson)).toMatchObject({ counter: "2" });
    const withEnv = await runCli(args, { env: { CAIRN_CA: certs.caPath } });
    expect(withEnv.code).toBe(0);
  });

  it("refuses clients that do not trust the CA: the generated client, curl and the CLI", async () => {
    const untrusting = new ExternalContext({ url: app.url });
    try {
      const e = await Probe.ref("tls-refused").get(untrusting).then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
      // (connect reports a TLS failure as INTERNAL.)
      expect(e?.code).toBe(Code.Internal);
      expect(e?.rawMessage).toMatch(/unable to verify the first certificate/);
    } finally {
      untrusting.close();
    }
    const curl = await run("curl", ["-sS", `${app.url}/healthz`]).then(
      () => 0,
      (err: { code: number }) => err.code,
    );
    expect(curl).toBe(60); // curl: peer certificate cannot be authenticated
    const cli = await runCli(["actors", "get", "probe.v1.Probe", "x", "--url", app.url, "--token", PROBE_ADMIN_TOKEN]);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toMatch(/cannot connect to https:.*unable to verify the first certificate.*--ca FILE/);
  });
});
