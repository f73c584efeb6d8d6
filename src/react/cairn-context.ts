import { createContext } from "react";
import type { WebContext } from "../web/web-context.js";

/** The WebContext a `<CairnProvider>` gives the hooks below it. */
export const CairnReactContext = createContext<WebContext | undefined>(undefined);
