// The operator services the inspector calls, over one WebContext (the
// page's origin, the operator's token), shared by every view.
import { createContext, useContext } from "react";
import type { Client } from "@connectrpc/connect";
import type { WebContext } from "@cairn-dev/cairn/web";
import { Actors } from "../../generated/cairn/v1/actors_pb.js";
import { Schedules } from "../../generated/cairn/v1/schedules_pb.js";
import { Tasks } from "../../generated/cairn/v1/tasks_pb.js";
import type { Schema } from "./schema.js";

export interface Api {
  readonly actors: Client<typeof Actors>;
  readonly tasks: Client<typeof Tasks>;
  readonly schedules: Client<typeof Schedules>;
  /** The served types, once Actors.Types has answered. */
  readonly schema: Schema | undefined;
}

export function apiOf(ctx: WebContext, schema: Schema | undefined): Api {
  return { actors: ctx.client(Actors), tasks: ctx.client(Tasks), schedules: ctx.client(Schedules), schema };
}

export const ApiContext = createContext<Api | undefined>(undefined);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("no ApiContext");
  return api;
}
