import { fromBinary, fromJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { readJsonRequest, type JsonReaderOptions } from "./json-request-reader.js";

/**
 * The request message of a buffered unary or server-streaming request, in
 * whichever protocol it came (Connect unary or streaming, gRPC, gRPC-Web,
 * gRPC-Web-Text; binary or JSON; gzip or br), for a layer that must read
 * one field before connect's handler does (the forwarding layer routes a
 * task call by its id). Undefined when it cannot be read: the handler that
 * serves the call then answers with its own precise error.
 */
export async function requestMessage<Desc extends DescMessage>(
  schema: Desc,
  contentType: string,
  encoding: string | undefined,
  body: Uint8Array,
  maxBytes: number,
): Promise<MessageShape<Desc> | undefined> {
  try {
    const json = /[/+]json\b/.test(contentType);
    let bytes = body;
    if (/^application\/(grpc|connect\+)/.test(contentType)) {
      if (contentType.startsWith("application/grpc-web-text")) bytes = Buffer.from(Buffer.from(bytes).toString("latin1"), "base64");
      if (bytes.byteLength < 5) return undefined;
      const flags = bytes[0]!;
      const length = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(1);
      bytes = bytes.subarray(5, 5 + length);
      if (flags & 1) bytes = await decompress(encoding, bytes, maxBytes);
    } else if (contentType.startsWith("application/proto") || contentType.startsWith("application/json")) {
      if (encoding && encoding !== "identity") bytes = await decompress(encoding, bytes, maxBytes);
    } else {
      return undefined;
    }
    if (!json) return fromBinary(schema, bytes);
    // The reader's message when it is sure of it (duplicate keys, refused there, are read here: fromJson on JSON.parse keeps the last).
    return readJsonRequest(schema, bytes, READ_OPTIONS) ?? fromJson(schema, JSON.parse(utf8.decode(bytes)), READ_OPTIONS);
  } catch {
    return undefined;
  }
}

const READ_OPTIONS: JsonReaderOptions = { ignoreUnknownFields: true, recursionLimit: 100 };
/** Made once, not per call (default settings: replacement characters, a leading BOM dropped). */
const utf8 = new TextDecoder();

async function decompress(encoding: string | undefined, bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const compression = [compressionGzip, compressionBrotli].find((c) => c.name === encoding);
  if (!compression) throw new Error(`unknown encoding ${encoding}`);
  return compression.decompress(bytes, maxBytes);
}
