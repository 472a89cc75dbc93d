import assert from "node:assert/strict";
import {
  type DeadlineClock,
  DeadlineQueue,
  ProgressDeadline,
  TimerPerDeadline,
  type Timers,
} from "../../proxy/deadline.ts";

const TIMEOUT_MS = 20;

/** Arms a deadline that records `name` when it expires; `expired` settles then. */
function armNamed(clock: DeadlineClock, name: string, fired: string[]) {
  const { promise: expired, resolve } = Promise.withResolvers<void>();
  const armed = clock.arm(() => {
    fired.push(name);
    resolve();
  });
  return { armed, expired };
}

for (
  const [label, clockOf] of [
    ["one timer for all", (ms: number) => new DeadlineQueue(ms)],
    ["a timer per deadline", (ms: number) => new TimerPerDeadline(ms)],
  ] as const
) {
  Deno.test(`${label}: deadlines expire in the order armed; a cancelled one never`, async () => {
    const clock = clockOf(TIMEOUT_MS);
    const fired: string[] = [];
    armNamed(clock, "a", fired);
    const b = armNamed(clock, "b", fired);
    const c = armNamed(clock, "c", fired);
    b.armed.cancel();
    await c.expired;
    assert.deepEqual(fired, ["a", "c"]);
  });

  Deno.test(`${label}: a deadline armed after the others expired keeps its own time`, async () => {
    const clock = clockOf(TIMEOUT_MS);
    const fired: string[] = [];
    await armNamed(clock, "first", fired).expired;
    const second = armNamed(clock, "second", fired);
    const third = armNamed(clock, "third", fired);
    third.armed.cancel();
    await second.expired;
    assert.deepEqual(fired, ["first", "second"]);
  });
}

/** The global timer functions, counting the timers set and not yet cleared or run. */
function countedTimers(): Timers & { readonly live: number } {
  const live = new Set<unknown>();
  return {
    get live() {
      return live.size;
    },
    setTimeout(run, ms) {
      const id = setTimeout(() => {
        live.delete(id);
        run();
      }, ms);
      live.add(id);
      return id;
    },
    clearTimeout(id) {
      live.delete(id);
      clearTimeout(id as number);
    },
  };
}

Deno.test("one timer for all: one timer while deadlines are pending, none after", async () => {
  const timers = countedTimers();
  const clock = new DeadlineQueue(60_000, timers);
  const fired: string[] = [];
  const deadlines = ["a", "b", "c"].map((name) => armNamed(clock, name, fired).armed);
  assert.equal(clock.pending, 3);
  assert.equal(timers.live, 1);
  deadlines[1].cancel();
  deadlines[0].cancel();
  assert.equal(clock.pending, 1);
  assert.equal(timers.live, 1);
  deadlines[2].cancel();
  deadlines[2].cancel();
  assert.equal(clock.pending, 0);
  assert.equal(timers.live, 0);
  assert.deepEqual(fired, []);

  const short = new DeadlineQueue(TIMEOUT_MS, timers);
  await armNamed(short, "d", fired).expired;
  assert.equal(timers.live, 0);
});

Deno.test("one timer for all: thousands of deadlines, most cancelled, the rest in order", async () => {
  const clock = new DeadlineQueue(TIMEOUT_MS);
  const fired: string[] = [];
  const deadlines = Array.from({ length: 3000 }, (_, i) => armNamed(clock, String(i), fired));
  // Cancelling the oldest two thirds, the oldest last, moves the front past them at once (the
  // queue compacts, the new front live).
  for (const deadline of deadlines.slice(0, 2000).reverse()) deadline.armed.cancel();
  // And every other one of the rest, behind a live front.
  for (const deadline of deadlines.slice(2000).filter((_, i) => i % 2 === 1)) {
    deadline.armed.cancel();
  }
  assert.equal(clock.pending, 500);
  await deadlines[2998].expired;
  assert.deepEqual(fired, Array.from({ length: 500 }, (_, i) => String(2000 + 2 * i)));
  assert.equal(clock.pending, 0);
});

Deno.test("a progress deadline is armed by start, restarted by progress, ended by stop", async (t) => {
  await t.step("not started: never fires", () => {
    const clock = new DeadlineQueue(TIMEOUT_MS);
    const deadline = new ProgressDeadline(clock);
    assert.equal(clock.pending, 0);
    deadline.stop();
    deadline.start();
    assert.equal(clock.pending, 0, "a stopped deadline cannot start");
  });
  await t.step("started: aborts its signal once the time passes", async () => {
    const deadline = new ProgressDeadline(new DeadlineQueue(TIMEOUT_MS));
    const aborted = new Promise((resolve) => deadline.signal.onabort = resolve);
    deadline.start();
    assert.equal(deadline.expired, false);
    await aborted;
    assert.equal(deadline.expired, true);
  });
  await t.step("stopped: never fires", () => {
    const clock = new DeadlineQueue(60_000);
    const deadline = new ProgressDeadline(clock);
    deadline.start();
    assert.equal(clock.pending, 1);
    deadline.stop();
    assert.equal(clock.pending, 0);
    assert.equal(deadline.expired, false);
  });
  await t.step("each chunk of a watched body restarts it", async () => {
    const clock = new DeadlineQueue(60_000);
    const deadline = new ProgressDeadline(clock);
    const watched = deadline.watch(ReadableStream.from([new Uint8Array(1), new Uint8Array(2)]));
    deadline.start();
    const reader = watched.getReader();
    while (!(await reader.read()).done) {
      // One deadline pending at a time, however many restarts.
      assert.equal(clock.pending, 1);
    }
    assert.equal(clock.pending, 1);
    deadline.stop();
    assert.equal(clock.pending, 0);
  });
});
