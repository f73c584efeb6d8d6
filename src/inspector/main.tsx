// The inspector's page: the operator views of a Cairn application, served by
// the application itself at /__/cairn/.
import { createRoot } from "react-dom/client";
import { WebContext } from "@cairn-dev/cairn/web";
import { CairnProvider } from "@cairn-dev/cairn/react";
import { App } from "./app.js";
import { storedToken } from "./token.js";
import "./styles.css";

const context = new WebContext({ bearerToken: storedToken() });
createRoot(document.getElementById("root")!).render(
  <CairnProvider context={context}>
    <App />
  </CairnProvider>,
);
