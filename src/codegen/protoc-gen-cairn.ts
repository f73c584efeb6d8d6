// buf plugin: turns `<State>Methods` services annotated with cairn options
// into typed servicer base classes, refs and specs (DESIGN.md §2). Runs next
// to protoc-gen-es, whose `_pb.ts` output the generated code imports.
import { runNodeJs } from "@bufbuild/protoplugin";
import { plugin } from "./plugin.js";

runNodeJs(plugin);
