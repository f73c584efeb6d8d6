// A fetch whose abort always lands. Node 20's fetch (undici) can lose one:
// with `redirect: "error"`, which connect-web always sets, the Request that
// fetch builds inside can be garbage-collected while its response is still
// streaming, and a FinalizationRegistry then unhooks it from the caller's
// signal (nodejs/undici#4627). `abort()` after that cancels nothing: a Watch
// stream stays open on both sides and whoever awaits its end hangs. So we
// hold the signal and our own listener for the life of the request, reject
// a pending fetch ourselves, and cancel the response body, which undici
// turns into closing the connection. In a browser this is merely redundant.
// No Node-only import: the page bundles it.

type Fetch = typeof globalThis.fetch;

/** `inner` (the global fetch, looked up per call, by default) with aborts that always end the request. */
export function abortableFetch(inner?: Fetch): Fetch {
  return async (input, init) => {
    const fetch = inner ?? globalThis.fetch;
    const signal = init?.signal;
    if (!signal) return fetch(input, init);
    signal.throwIfAborted();
    const response = await untilAborted(fetch(input, init), signal);
    if (response.body === null) return response;
    const { status, statusText, headers } = response;
    return new Response(cancelledOnAbort(response.body, signal), { status, statusText, headers });
  };
}

/** `pending`, or a rejection with the abort reason; a response that comes after the abort is cancelled. */
function untilAborted(pending: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      pending.then((late) => late.body?.cancel(signal.reason), () => undefined).catch(() => undefined);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener("abort", onAbort);
        resolve(response);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** `body` as a stream that errors with the abort reason, and cancels `body`, when `signal` aborts. */
function cancelledOnAbort(body: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  // Referenced from the signal's listener list until the body ends: that is what keeps this alive.
  const onAbort = () => {
    if (finished) return;
    finished = true;
    sink?.error(signal.reason);
    reader.cancel(signal.reason).catch(() => undefined);
  };
  const finish = () => {
    finished = true;
    signal.removeEventListener("abort", onAbort);
  };
  let sink: ReadableStreamDefaultController<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        sink = controller;
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (finished) return;
          if (done) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (e) {
          if (finished) return;
          finish();
          controller.error(e);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
