// Compile-time checks of what each kind of context may do with a generated
// ref (src/api/capabilities.ts). Never run: `tsc --noEmit -p tsconfig.json`
// type-checks it, and each `@ts-expect-error` line fails the type-check if
// the misuse under it compiles. The run-time refusals of the same misuses
// are tested in test/workflow-misuse.test.ts and test/core.test.ts.
import type { ExternalContext, ReaderContext, TransactionContext, WorkflowContext, WriterContext } from "@cairn-dev/cairn";
import type { WebContext } from "@cairn-dev/cairn/web";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { Probe as WebProbe } from "../../generated/probe/v1/probe_cairn_web.js";

const probe = Probe.ref("p");
const account = Account.ref("a");

export function fromReader(ctx: ReaderContext): void {
  void probe.get(ctx);
  // @ts-expect-error a reader may not call a writer
  void probe.add(ctx, { amount: 1n });
  // @ts-expect-error a reader may not call a transaction
  void account.transfer(ctx, { to: "b", amount: 1n });
  // @ts-expect-error a reader may not call a workflow
  void probe.run(ctx, { scenario: "x" });
  // @ts-expect-error a reader may not spawn
  probe.spawn().run(ctx, { scenario: "x" });
  // @ts-expect-error a reader may not schedule
  probe.schedule().run(ctx, { scenario: "x" });
  // @ts-expect-error a reader may not watch
  probe.reactively().get(ctx);
}

export function fromWriter(ctx: WriterContext): void {
  void probe.get(ctx);
  probe.schedule().run(ctx, { scenario: "x" });
  // @ts-expect-error a writer may not call another writer
  void probe.add(ctx, { amount: 1n });
  // @ts-expect-error a writer may not call a transaction
  void account.transfer(ctx, { to: "b", amount: 1n });
  // @ts-expect-error a writer may not spawn: it schedules
  probe.spawn().run(ctx, { scenario: "x" });
  // @ts-expect-error a writer may not watch
  probe.reactively().get(ctx);
}

export function fromTransaction(ctx: TransactionContext): void {
  void probe.get(ctx);
  void probe.add(ctx, { amount: 1n });
  void account.transfer(ctx, { to: "b", amount: 1n });
  probe.schedule().run(ctx, { scenario: "x" });
  // @ts-expect-error a transaction may not spawn: it schedules
  probe.spawn().run(ctx, { scenario: "x" });
  // @ts-expect-error a transaction may not watch
  probe.reactively().get(ctx);
}

export function fromWorkflow(ctx: WorkflowContext): void {
  void probe.add(ctx, { amount: 1n });
  void account.transfer(ctx, { to: "b", amount: 1n });
  probe.spawn().run(ctx, { scenario: "x" });
  probe.reactively().get(ctx);
  // @ts-expect-error a workflow may not schedule: it spawns
  probe.schedule().run(ctx, { scenario: "x" });
}

export function fromOutside(ctx: ExternalContext, web: WebContext): void {
  void probe.add(ctx, { amount: 1n });
  probe.spawn().run(ctx, { scenario: "x" });
  probe.reactively().get(ctx);
  // @ts-expect-error an external caller may not schedule: it spawns with { when }
  probe.schedule().run(ctx, { scenario: "x" });
  void WebProbe.ref("p").add(web, { amount: 1n });
  WebProbe.ref("p").spawn().run(web, { scenario: "x" });
}
