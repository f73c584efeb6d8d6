// gRPC server reflection on the one port, and the CLI decoding task results,
// declared errors and actor state with the application's schema through it:
// a raw grpc-js reflection client (list_services, file_containing_symbol,
// v1alpha), `cairn tasks show` and `cairn actors get` as child processes,
// and the field-number fallback with a note when `reflection: false`.
import * as grpc from "@grpc/grpc-js";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hmacTokenVerifier } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import {
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../generated/grpc/reflection/v1/reflection_pb.js";
import { ProbeErrorSchema } from "../generated/probe/v1/probe_pb.js";
import { Probe, RunAborted } from "../generated/probe/v1/probe_cairn.js";
import { runCli } from "./fixtures/cli-process.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";

// Each CLI run is a fresh node + tsx process; the deadlines only bound a hang.
const CLI_TIMEOUT_MS = 150_000;
vi.setConfig({ testTimeout: 2 * CLI_TIMEOUT_MS, hookTimeout: 2 * CLI_TIMEOUT_MS });

defineScenario("reflect-echo", async (_ctx, req) => ({ result: `echo ${req.target}`, value: req.n }));
defineScenario("reflect-abort", async () => {
  throw new RunAborted(create(ProbeErrorSchema, { reason: "not today" }));
});

const cairn = (args: string[]) => runCli(args, { timeoutMs: CLI_TIMEOUT_MS });

/** One bidirectional ServerReflectionInfo stream over plain grpc-js: sends `requests`, collects the answers. */
function reflect(url: string, requests: MessageInit[], version = "v1"): Promise<ServerReflectionResponse[]> {
  const Client = grpc.makeGenericClientConstructor(
    {
      info: {
        path: `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (m: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, m)),
        requestDeserialize: (b: Buffer) => fromBinary(ServerReflectionRequestSchema, b),
        responseSerialize: (m: ServerReflectionResponse) => Buffer.from(toBinary(ServerReflectionResponseSchema, m)),
        responseDeserialize: (b: Buffer) => fromBinary(ServerReflectionResponseSchema, b),
      },
    },
    "ServerReflection",
  );
  const client = new Client(url.replace("http://", ""), grpc.credentials.createInsecure());
  return new Promise<ServerReflectionResponse[]>((resolve, reject) => {
    const answers: ServerReflectionResponse[] = [];
    const call = (client as unknown as { info(): grpc.ClientDuplexStream<ServerReflectionRequest, ServerReflectionResponse> }).info();
    call.on("data", (res: ServerReflectionResponse) => answers.push(res));
    call.on("error", (e) => (client.close(), reject(e)));
    call.on("end", () => (client.close(), resolve(answers)));
    for (const r of requests) call.write(create(ServerReflectionRequestSchema, r));
    call.end();
  });
}
type MessageInit = Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1];

let app: TestApplication;
let done: string;
let aborted: string;

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [ProbeServicerImpl], tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET) });
  const ctx = app.context();
  await Probe.ref("reflect-a").add(ctx, { amount: 42n, note: "hello" });
  const d = Probe.ref("reflect-a").spawn().run(ctx, { scenario: "reflect-echo", target: "world", n: 7n });
  await d;
  done = d.taskId;
  const a = Probe.ref("reflect-b").spawn().run(ctx, { scenario: "reflect-abort" });
  await Promise.resolve(a).catch(() => undefined);
  aborted = a.taskId;
});
afterAll(async () => {
  await app?.stop();
});

describe("server reflection", () => {
  it("lists the application's services and the framework's", async () => {
    const [answer] = await reflect(app.url, [{ messageRequest: { case: "listServices", value: "" } }]);
    expect(answer?.messageResponse.case).toBe("listServicesResponse");
    const names = answer?.messageResponse.case === "listServicesResponse" ? answer.messageResponse.value.service.map((s) => s.name) : [];
    expect(names).toEqual(
      expect.arrayContaining([
        "probe.v1.ProbeMethods",
        "cairn.v1.Tasks",
        "cairn.v1.Actors",
        "cairn.v1.Schedules",
        "cairn.v1.Reactive",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("answers file_containing_symbol with the file and its imports, enough to decode the app's messages", async () => {
    for (const version of ["v1", "v1alpha"]) {
      const [answer] = await reflect(app.url, [{ messageRequest: { case: "fileContainingSymbol", value: "probe.v1.ProbeMethods.Run" } }], version);
      expect(answer?.messageResponse.case).toBe("fileDescriptorResponse");
      if (answer?.messageResponse.case !== "fileDescriptorResponse") continue;
      const protos = answer.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
      expect(protos[0]?.name).toBe("probe/v1/probe.proto");
      expect(protos.map((p) => p.name)).toContain("cairn/v1/options.proto");
      const registry = createFileRegistry(protos[0]!, (name) => protos.find((p) => p.name === name));
      expect(registry.getMessage("probe.v1.RunResponse")?.fields.map((f) => f.name)).toEqual(["result", "value"]);
    }
  });

  it("answers an unknown symbol with NOT_FOUND in the stream, which goes on", async () => {
    const answers = await reflect(app.url, [
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
      { messageRequest: { case: "fileByFilename", value: "cairn/v1/tasks.proto" } },
    ]);
    expect(answers.map((a) => a.messageResponse.case)).toEqual(["errorResponse", "fileDescriptorResponse"]);
    expect(answers[0]?.messageResponse.value).toMatchObject({ errorCode: grpc.status.NOT_FOUND });
  });
});

describe("the CLI decodes with the application's schema", () => {
  it("tasks show prints the result as JSON with the app's field names", async () => {
    const { code, stdout, stderr } = await cairn(["tasks", "show", done, "--url", app.url]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/result\s+\{"result":"echo world","value":"7"\}\n/);
  });

  it("tasks show prints a declared error's value as JSON", async () => {
    const { code, stdout } = await cairn(["tasks", "show", aborted, "--url", app.url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/error\s+probe\.v1\.ProbeError: .*\(\{"reason":"not today"\}\)/);
  });

  it("actors get prints the state as JSON with the app's field names", async () => {
    const { code, stdout } = await cairn(["actors", "get", "probe.v1.Probe", "reflect-a", "--url", app.url, "--token", PROBE_ADMIN_TOKEN]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ counter: "42", log: ["hello"], flag: false });
  });
});

describe("reflection: false", () => {
  let closed: TestApplication;
  let task: string;
  beforeAll(async () => {
    closed = await TestApplication.start({ servicers: [ProbeServicerImpl], reflection: false });
    const t = Probe.ref("reflect-c").spawn().run(closed.context(), { scenario: "reflect-echo", target: "dark", n: 3n });
    await t;
    task = t.taskId;
  });
  afterAll(async () => {
    await closed?.stop();
  });

  it("serves no reflection", async () => {
    const err = await reflect(closed.url, [{ messageRequest: { case: "listServices", value: "" } }]).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("tasks show falls back to field numbers, with a one-line note", async () => {
    const { code, stdout, stderr } = await cairn(["tasks", "show", task, "--url", closed.url]);
    expect(code).toBe(0);
    expect(stdout).toContain('fields by number: { 1: "echo dark", 2: 3 }');
    expect(stderr.trim().split("\n")).toEqual([expect.stringMatching(/^cairn: note: .*reflection: false.*field number/)]);
  });
});
