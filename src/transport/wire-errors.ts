import type { Interceptor } from "@connectrpc/connect";
import { toWireError } from "../api/wire-error.js";

/** Maps what every service throws, from a unary call or mid-stream, through `toWireError`. */
export const wireErrors: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    return res.stream ? { ...res, message: mapped(res.message) } : res;
  } catch (e) {
    throw toWireError(e);
  }
};

async function* mapped<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (e) {
    throw toWireError(e);
  }
}
