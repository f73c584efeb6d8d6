import { describe, expect, it } from "vitest";
import { ActorLock, LockConflict } from "./actor-lock.js";

const owner = (time: number) => ({ age: { time, origin: 0, seq: 0 } });
const state = (p: Promise<unknown>) => {
  const seen = { settled: false };
  void p.then(() => (seen.settled = true));
  return seen;
};

describe("ActorLock's wait-die", () => {
  it("refuses a younger transaction with a promise of the lock's release, and lets an older one wait", async () => {
    const lock = new ActorLock();
    await lock.acquire(owner(2));
    const refused = await lock.acquire(owner(3)).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(LockConflict);
    const released = state((refused as LockConflict).released!);
    const older = lock.acquire(owner(1));
    await Promise.resolve();
    expect(released.settled).toBe(false);
    lock.release();
    await older;
    // Handed to the older one: the younger's retry can try again now (and is refused again, with the next release).
    await (refused as LockConflict).released;
    const again = await lock.acquire(owner(3)).then(() => undefined, (e: unknown) => e);
    expect(again).toBeInstanceOf(LockConflict);
    lock.release();
    await (again as LockConflict).released;
    expect(lock.idle).toBe(true);
  });

  it("refuses the waiters younger than a new holder at the hand-over, each with the next release", async () => {
    const lock = new ActorLock();
    await lock.acquire(); // a plain writer: transactions of any age wait for it
    const old = lock.acquire(owner(1));
    const young = lock.acquire(owner(5)).then(() => undefined, (e: unknown) => e);
    lock.release(); // to the old one: the young one must not wait for it
    await old;
    const refused = await young;
    expect(refused).toBeInstanceOf(LockConflict);
    const released = state((refused as LockConflict).released!);
    await Promise.resolve();
    expect(released.settled).toBe(false);
    lock.release();
    await (refused as LockConflict).released;
    expect(lock.idle).toBe(true);
  });

  it("lets a transaction that holds nothing yet wait for a younger holder, through a hand-over to an older one, and keeps its age as holder", async () => {
    const lock = new ActorLock();
    await lock.acquire(owner(2));
    const first = lock.acquire(owner(3), true); // younger, but holds nothing: waits
    const older = lock.acquire(owner(1));
    lock.release(); // FIFO: to the one that holds nothing
    await first;
    // It holds the lock with its age: a younger transaction holding something dies, the older one waits on.
    const younger = await lock.acquire(owner(4)).then(() => undefined, (e: unknown) => e);
    expect(younger).toBeInstanceOf(LockConflict);
    const olderSeen = state(older);
    await Promise.resolve();
    expect(olderSeen.settled).toBe(false);
    lock.release();
    await older;
    lock.release();
    expect(lock.idle).toBe(true);
  });
});
