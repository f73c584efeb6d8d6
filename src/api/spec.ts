import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import type { Aborted } from "./errors.js";

export type MethodKind = "reader" | "writer" | "transaction" | "workflow";

/** The constructor of a method's typed `…Aborted` error class. */
// `error: never` so every subclass fits; the runtime passes a message of
// one of the method's declared error types.
export interface AbortedClass {
  new (error: never, message?: string): Aborted;
}

/** What the generator knows about one method, as the runtime needs it. */
export interface MethodSpec {
  /** The local (camelCase) name: the servicer method and the ref method. */
  readonly name: string;
  readonly kind: MethodKind;
  /** Creates the actor (a `constructor` writer or transaction). */
  readonly isConstructor: boolean;
  readonly errors: readonly DescMessage[];
  readonly aborted?: AbortedClass;
  readonly desc: DescMethod;
}

/** What the generator knows about one state type and its methods service. */
export interface StateSpec<S extends DescMessage = DescMessage> {
  readonly state: S;
  readonly service: DescService;
  readonly defaultConstructible: boolean;
  readonly methods: Readonly<Record<string, MethodSpec>>;
  /** The fully qualified state type name; the storage key prefix. */
  readonly typeName: string;
}

export interface MethodDeclaration {
  readonly kind: MethodKind;
  readonly isConstructor?: boolean;
  readonly errors?: readonly DescMessage[];
  readonly aborted?: AbortedClass;
}

/** Called by generated code: joins the declarations with the service descriptor. */
export function defineState<S extends DescMessage>(decl: {
  state: S;
  service: DescService;
  defaultConstructible?: boolean;
  methods: Record<string, MethodDeclaration>;
}): StateSpec<S> {
  const methods: Record<string, MethodSpec> = {};
  for (const [name, m] of Object.entries(decl.methods)) {
    const desc = decl.service.methods.find((d) => d.localName === name);
    if (!desc) throw new Error(`${decl.service.typeName} has no method ${name}`);
    methods[name] = {
      name,
      kind: m.kind,
      isConstructor: m.isConstructor ?? false,
      errors: m.errors ?? [],
      aborted: m.aborted,
      desc,
    };
  }
  return {
    state: decl.state,
    service: decl.service,
    defaultConstructible: decl.defaultConstructible ?? false,
    methods,
    typeName: decl.state.typeName,
  };
}
