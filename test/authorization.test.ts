// Authorization of external calls (DESIGN.md §7): per-method rules over
// verified claims, checked before the handler runs and without touching
// state; calls from inside the application are always allowed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Authorizer,
  Code,
  ConnectError,
  allow,
  allowIf,
  deny,
  hmacTokenVerifier,
  isAuthenticated,
  signHmacToken,
  type ExternalContext,
  type TransportKind,
} from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { defineScenario, ProbeServicerImpl } from "./fixtures/probe-servicer.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { codeOf } from "./fixtures/call-outcome.js";
import { UNARY_PATHS } from "./fixtures/unary-paths.js";

const SECRET = "test-secret";
const token = (claims: Record<string, unknown>) => signHmacToken(claims, SECRET);

/** Readers for all; `add` for admins; `setFlag` never from outside; `run` for anyone with a token. */
class GuardedProbe extends ProbeServicerImpl {
  override authorizer() {
    return new Authorizer<Probe>({
      methods: {
        get: allow(),
        add: allowIf({ all: [({ context }) => context.claims?.role === "admin"] }),
        setFlag: deny(),
        run: allowIf({ all: [isAuthenticated] }),
        // A predicate sees the stored state: only while the counter is below 100.
        scheduleRun: allowIf({ any: [({ state }) => (state?.counter ?? 0n) < 100n] }),
      },
    });
  }
}

defineScenario("auth-internal-setflag", async (ctx) => {
  // setFlag is denied to external callers, but this call is internal.
  await Probe.ref(ctx.actorId).idempotently("flag").setFlag(ctx, { flag: true });
  return { result: "flag set from inside" };
});

let dev: TestApplication;

afterAll(async () => {
  await dev?.stop();
});

for (const { name, fastUnaryPath } of UNARY_PATHS) {
  describe(`on the ${name}`, () => {
    let app: TestApplication;

    beforeAll(async () => {
      app = await TestApplication.start({
        servicers: [GuardedProbe, AccountServicerImpl],
        tokenVerifier: hmacTokenVerifier(SECRET),
        fastUnaryPath,
      });
    });
    afterAll(async () => {
      await app?.stop();
    });

    for (const transport of ["connect", "grpc"] satisfies TransportKind[]) {
      describe(`over ${transport}`, () => {
        let anonymous: ExternalContext, user: ExternalContext, admin: ExternalContext, forged: ExternalContext;
        beforeAll(() => {
          anonymous = app.context({ transport });
          user = app.context({ transport, bearerToken: token({ sub: "u1", role: "user" }) });
          admin = app.context({ transport, bearerToken: token({ sub: "a1", role: "admin" }) });
          forged = app.context({ transport, bearerToken: signHmacToken({ sub: "a1", role: "admin" }, "wrong-secret") });
        });

        it("readers: allowed to anyone", async () => {
          expect(await codeOf(Probe.ref(`r-${transport}`).get(anonymous))).toBe("ok");
        });

        it("writers: UNAUTHENTICATED without a valid token, PERMISSION_DENIED without the claim; state untouched", async () => {
          const ref = Probe.ref(`w-${transport}`);
          expect(await codeOf(ref.add(anonymous, { amount: 1n }))).toBe(Code.Unauthenticated);
          expect(await codeOf(ref.add(forged, { amount: 1n }))).toBe(Code.Unauthenticated);
          expect(await codeOf(ref.add(user, { amount: 1n }))).toBe(Code.PermissionDenied);
          expect(await codeOf(ref.setFlag(admin, { flag: true }))).toBe(Code.PermissionDenied);
          expect((await ref.get(anonymous)).counter).toBe(0n);
          expect((await ref.add(admin, { amount: 1n })).counter).toBe(1n);
        });

        it("predicates see the stored state", async () => {
          const ref = Probe.ref(`s-${transport}`);
          const run = { scenario: "auth-internal-setflag" };
          expect(await codeOf(ref.scheduleRun(anonymous, { run, delayMs: 60_000n }))).toBe("ok");
          await ref.add(admin, { amount: 100n });
          expect(await codeOf(ref.scheduleRun(admin, { run, delayMs: 60_000n }))).toBe(Code.PermissionDenied);
        });

        it("workflow spawns: checked like calls; inside, the workflow may call what outsiders may not", async () => {
          const ref = Probe.ref(`wf-${transport}`);
          const denied = ref.spawn().run(anonymous, { scenario: "auth-internal-setflag" });
          expect(await codeOf(denied.started)).toBe(Code.Unauthenticated);
          expect(await codeOf(ref.run(anonymous, { scenario: "auth-internal-setflag" }))).toBe(Code.Unauthenticated);
          expect((await ref.get(anonymous)).flag).toBe(false);
          const task = ref.spawn().run(user, { scenario: "auth-internal-setflag" });
          expect((await task).result).toBe("flag set from inside");
          expect((await ref.get(anonymous)).flag).toBe(true);
        });

        it("transactions: only the owner may transfer out of an account", async () => {
          const from = `ann-${transport}`;
          const to = `bob-${transport}`;
          await Account.create(anonymous, from, { owner: "ann", initial: 10n });
          await Account.create(anonymous, to, { owner: "bob" });
          const asBob = app.context({ transport, bearerToken: token({ sub: "bob" }) });
          const asAnn = app.context({ transport, bearerToken: token({ sub: "ann" }) });
          expect(await codeOf(Account.ref(from).transfer(anonymous, { to, amount: 5n }))).toBe(Code.Unauthenticated);
          expect(await codeOf(Account.ref(from).transfer(asBob, { to, amount: 5n }))).toBe(Code.PermissionDenied);
          expect((await Account.ref(from).balance(anonymous)).balance).toBe(10n);
          // The transfer's deposit on bob's account is internal: allowed.
          expect(await codeOf(Account.ref(from).transfer(asAnn, { to, amount: 5n }))).toBe("ok");
          expect((await Account.ref(to).balance(anonymous)).balance).toBe(5n);
        });
      });
    }
  });
}

describe("servicers without an authorizer", () => {
  class OpenProbe extends ProbeServicerImpl {
    override authorizer() {
      return undefined;
    }
  }

  it("deny external calls by default, and allow them in insecure development mode", async () => {
    const strict = await TestApplication.start({ servicers: [OpenProbe] });
    try {
      const err = await Probe.ref("x").get(strict.context()).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.PermissionDenied);
      expect((err as ConnectError).rawMessage).toMatch(/authorizer/);
    } finally {
      await strict.stop();
    }
    dev = await TestApplication.start({ servicers: [OpenProbe], insecureDevelopmentMode: true });
    expect((await Probe.ref("x").add(dev.context(), { amount: 2n })).counter).toBe(2n);
  });
});
