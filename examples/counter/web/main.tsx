// The shared-counter page: `useReactive` keeps the value live (another
// window's or a Node client's increment shows within milliseconds), and an
// increment made here is on screen by the time its promise resolves.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { WebContext } from "@cairn-dev/cairn/web";
import { CairnProvider, useCairnContext, useReactive } from "@cairn-dev/cairn/react";
import { Counter } from "../../../generated/counter/v1/counter_cairn_web.js";

function CounterView({ name }: { name: string }) {
  const ctx = useCairnContext();
  const counter = Counter.ref(name);
  const { response, isLoading, error } = useReactive(counter, "value");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string>();
  // The value our last increment returned: read-your-writes means the
  // counter on screen is never below it once the increment resolved.
  const [mine, setMine] = useState<bigint>();
  const stale = mine !== undefined && response !== undefined && response.value < mine;

  async function increment() {
    setBusy(true);
    setFailure(undefined);
    try {
      const { value } = await counter.increment(ctx, { by: 1n, who: "a browser" });
      setMine(value);
    } catch (e) {
      setFailure(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main style={{ fontFamily: "system-ui, sans-serif", margin: "3rem auto", maxWidth: "28rem", textAlign: "center" }}>
      <h1>
        Counter <code>{name}</code>
      </h1>
      <p style={{ fontSize: "4rem", margin: "1rem 0" }} data-testid="value">
        {isLoading ? "…" : String(response?.value ?? 0n)}
      </p>
      <p data-testid="last-by">{response?.lastBy ? `last incremented by ${response.lastBy}` : "\u00a0"}</p>
      <button type="button" onClick={increment} disabled={busy} data-testid="increment" style={{ fontSize: "1.5rem" }}>
        +1
      </button>
      <p data-testid="mine">{mine === undefined ? "\u00a0" : `your last increment made it ${mine}`}</p>
      {stale && (
        <p role="alert" data-testid="stale">
          showing a value older than your own increment (a read-your-writes bug)
        </p>
      )}
      {error !== undefined && (
        <p role="alert" data-testid="error">
          reconnecting: {error instanceof Error ? error.message : String(error)}
        </p>
      )}
      {failure && (
        <p role="alert" data-testid="failure">
          increment failed: {failure}
        </p>
      )}
    </main>
  );
}

const name = new URLSearchParams(location.search).get("counter") || "shared";
const ctx = new WebContext(); // the page's own origin serves the API
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <CairnProvider context={ctx}>
      <CounterView name={name} />
    </CairnProvider>
  </StrictMode>,
);
