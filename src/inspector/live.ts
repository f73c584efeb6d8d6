// Hooks over the inspector's calls: a server stream kept live (LiveStream
// from cairn/web), and a unary call's answer.
import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { LiveStream, type StreamSnapshot } from "@cairn-dev/cairn/web";

/** The newest message of the stream `open` makes, reopened when `key` changes. */
export function useLive<T>(key: string, open: (signal: AbortSignal) => AsyncIterable<T>, isFinal?: (value: T) => boolean): StreamSnapshot<T> {
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` stands for `open`
  const stream = useMemo(() => new LiveStream(open, { isFinal }), [key]);
  return useSyncExternalStore(stream.subscribe, stream.getSnapshot, stream.getSnapshot);
}

export interface Answer<T> {
  readonly value: T | undefined;
  readonly error: unknown;
  readonly isLoading: boolean;
  /** Asks again. */
  readonly reload: () => void;
}

/** The answer of `call`, asked again when `key` changes or on `reload()`. */
export function useAnswer<T>(key: string, call: () => Promise<T>): Answer<T> {
  const [round, setRound] = useState(0);
  const [state, setState] = useState<{ value?: T; error?: unknown; isLoading: boolean }>({ isLoading: true });
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, isLoading: true }));
    call().then(
      (value) => current && setState({ value, isLoading: false }),
      (error: unknown) => current && setState({ error, isLoading: false }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` stands for `call`
  }, [key, round]);
  return { ...state, value: state.value, error: state.error, reload: () => setRound((r) => r + 1) };
}
