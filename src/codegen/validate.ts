// Binds methods services to state messages and checks every cairn option,
// producing a model the emitter can print without further decisions.
// Problems are collected, not thrown one by one, so a user fixing a proto
// sees every mistake in one `buf generate` run.
import type { DescFile, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import type { CairnOptions, MethodKind } from "./options.js";
import { where } from "./source-location.js";

export interface MethodModel {
  readonly desc: DescMethod;
  readonly kind: MethodKind;
  readonly isConstructor: boolean;
  readonly errors: readonly DescMessage[];
}

export interface StateModel {
  readonly state: DescMessage;
  readonly service: DescService;
  readonly defaultConstructible: boolean;
  readonly methods: readonly MethodModel[];
}

const SUFFIX = "Methods";

// Members of the runtime's Ref (and its planned modifiers, DESIGN.md §2): a
// generated ref method with one of these names would shadow it.
const RESERVED = new Set(["call", "spec", "id", "idempotently", "unidempotently", "schedule", "spawn", "reactively", "constructor"]);

/** Every message in the request, by fully qualified name (no leading dot). */
export function indexMessages(files: readonly DescFile[]): Map<string, DescMessage> {
  const map = new Map<string, DescMessage>();
  for (const file of files) {
    for (const t of nestedTypes(file)) if (t.kind === "message") map.set(t.typeName, t);
  }
  return map;
}

/**
 * Resolves a name the user wrote in an option: relative to the file's package
 * first (the common case, `"OverdraftError"`), then as fully qualified. A
 * leading dot forces the fully qualified reading, as in protobuf itself.
 */
function resolve(name: string, file: DescFile, messages: Map<string, DescMessage>) {
  if (name.startsWith(".")) return messages.get(name.slice(1));
  const pkg = file.proto.package;
  return (pkg ? messages.get(`${pkg}.${name}`) : undefined) ?? messages.get(name);
}

/** The state models of one file; appends a "file:line: name: why" per problem. */
export function validateFile(
  file: DescFile,
  opts: CairnOptions,
  messages: Map<string, DescMessage>,
  problems: string[],
): StateModel[] {
  const models: StateModel[] = [];
  const boundBy = new Map<DescMessage, DescService>();
  for (const service of file.services) {
    const svcOpt = opts.service(service);
    // Plain gRPC services (neither convention nor option) are not ours.
    if (!svcOpt && !service.name.endsWith(SUFFIX)) continue;
    const stateName = svcOpt?.state || service.name.slice(0, -SUFFIX.length);
    if (!stateName) {
      problems.push(`${where(service)}: cannot infer the state type from the name "${service.name}"; add option (cairn.v1.service) = { state: "MyState" };`);
      continue;
    }
    const state = resolve(stateName, file, messages);
    if (!state) {
      problems.push(
        `${where(service)}: state message "${stateName}" not found in package ${file.proto.package || "(none)"}; ` +
          (svcOpt?.state
            ? `fix (cairn.v1.service).state or declare message ${stateName}`
            : `declare message ${stateName} { option (cairn.v1.state) = {}; }, or bind another message with option (cairn.v1.service) = { state: "MyState" };`),
      );
      continue;
    }
    if (!opts.isState(state)) {
      problems.push(`${where(service)}: bound message ${state.typeName} lacks option (cairn.v1.state); add option (cairn.v1.state) = {}; to it`);
    }
    const earlier = boundBy.get(state);
    if (earlier) {
      problems.push(`${where(service)}: state ${state.typeName} is already bound by ${earlier.typeName}; one methods service per state`);
      continue;
    }
    boundBy.set(state, service);
    const methods: MethodModel[] = [];
    for (const method of service.methods) {
      const m = validateMethod(method, file, opts, messages, problems);
      if (m) methods.push(m);
    }
    models.push({ state, service, defaultConstructible: svcOpt?.defaultConstructible ?? false, methods });
  }
  return models;
}

function validateMethod(
  method: DescMethod,
  file: DescFile,
  opts: CairnOptions,
  messages: Map<string, DescMessage>,
  problems: string[],
): MethodModel | undefined {
  const opt = opts.method(method);
  if (!opt) {
    problems.push(`${where(method)}: missing option (cairn.v1.method); add e.g. option (cairn.v1.method) = { writer: {} };`);
    return undefined;
  }
  let ok = true;
  if (!opt.kind) {
    problems.push(`${where(method)}: option (cairn.v1.method) sets no kind; choose one of reader, writer, transaction, workflow, e.g. { reader: {} }`);
    ok = false;
  }
  if (method.methodKind !== "unary") {
    problems.push(`${where(method)}: streaming RPCs are not supported by Cairn; make it unary`);
    ok = false;
  }
  if (RESERVED.has(method.localName)) {
    problems.push(`${where(method)}: the name "${method.localName}" clashes with a member of Ref; rename the RPC`);
    ok = false;
  }
  const errors: DescMessage[] = [];
  for (const name of opt.errors) {
    const msg = resolve(name, file, messages);
    if (!msg) {
      problems.push(
        `${where(method)}: unknown error type "${name}" in (cairn.v1.method).errors; declare message ${name} in package ${file.proto.package || "(none)"} or use a fully qualified name`,
      );
      ok = false;
    } else if (!errors.includes(msg)) {
      errors.push(msg);
    }
  }
  return ok && opt.kind ? { desc: method, kind: opt.kind, isConstructor: opt.isConstructor, errors } : undefined;
}
