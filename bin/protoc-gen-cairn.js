#!/usr/bin/env node
// The buf/protoc plugin that emits servicers and refs, on plain node.
import "../dist/src/codegen/protoc-gen-cairn.js";
