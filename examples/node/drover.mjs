// drover.mjs -- what the Node producer and STATUS client share, written
// from proto/PROTOCOL.md alone: the frame layout (section 3), one
// request/reply over a REQ socket to the broker's frontend, CURVE keys
// (section 2.1) from drover keygen's certificate files or Z85 text.
import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Request } from "zeromq";
import { decode, encode } from "@msgpack/msgpack";

export const SIGNATURE = "DRV1";     // "DRV" + protocol version digit
export const QUEUE_FULL = 11;
const ERROR_NAMES = [, "BAD_VERSION", "BAD_FRAMES", "BAD_HEADER", "MISSING_FIELD",
  "BAD_TYPE", "UNKNOWN_COMMAND", "TOO_LARGE", "UNKNOWN_JOB", "CONFLICT",
  "JOB_CLOSED", "QUEUE_FULL", "UNEXPECTED", "DENIED", "INTERNAL", "BAD_TUPLE"];

// A failure worth one line on stderr and exit status 1.
export class ClientError extends Error {}
export class Timeout extends ClientError {}
export class BrokerError extends ClientError {
  constructor(header) {
    const name = ERROR_NAMES[header.code] ?? `code ${header.code}`;
    super(`broker answered ERROR ${name}: ${header.reason ?? ""}`);
    this.code = header.code;
    this.retryMs = header.retry_ms ?? 0;
  }
}

// Like drover's own flags: --foo-bar defaults to $DROVER_FOO_BAR.
export function envDefault(name, fallback) {
  return process.env["DROVER_" + name.toUpperCase().replaceAll("-", "_")] ?? fallback;
}

// ---- keys ------------------------------------------------------------------

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

function z85Decode(text) {
  if (text.length !== 40) throw new ClientError(`a key is 40 Z85 characters, got ${text.length}`);
  const out = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85.indexOf(text[i * 5 + j]);
      if (digit < 0) throw new ClientError("a key has a character that is not Z85");
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, i * 4);
  }
  return out;
}

function z85Encode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let value = bytes.readUInt32BE(i);
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = Z85[value % 85] + chunk;
      value = Math.floor(value / 85);
    }
    text += chunk;
  }
  return text;
}

// The X25519 public key of a secret key, both Z85: CURVE keys are X25519.
function publicOf(secretZ85) {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"),
    z85Decode(secretZ85)]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }))
    .export({ format: "der", type: "spki" });
  return z85Encode(spki.subarray(spki.length - 32));
}

// The Z85 value of `public-key` or `secret-key` in a ZeroMQ certificate
// file (the format drover keygen writes: `    public-key = "..."`).
function readKeyFile(path, field) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ClientError(`cannot read certificate: ${error.message}`);
  }
  for (const line of text.split("\n")) {
    const equals = line.indexOf("=");       // the first: Z85 has "=" too
    if (equals > 0 && line.slice(0, equals).trim() === field) {
      return line.slice(equals + 1).trim().replace(/^"|"$/g, "");
    }
  }
  throw new ClientError(`${path} has no ${field}`);
}

// A peer's public key: 40 Z85 characters, or its certificate file.
export function publicKey(spec) {
  if (spec.length === 40 && !existsSync(spec)) {
    z85Decode(spec);
    return spec;
  }
  return readKeyFile(spec, "public-key");
}

// Our keypair from --cert (NAME or NAME_secret) or DROVER_SECRET_KEY, and
// the broker's public key: the socket options of a CURVE client, or null
// for plain text.  The usage rules are drover submit's: a keypair and the
// broker's key go together, and plain text must be asked for (--insecure).
export function curveOptions(values, usage) {
  const secretEnv = process.env.DROVER_SECRET_KEY;
  const keypair = Boolean(values.cert || secretEnv);
  if (keypair && !values["broker-key"]) usage("--broker-key is needed with a keypair");
  if (!keypair && values["broker-key"]) usage("--broker-key needs our keypair: --cert or DROVER_SECRET_KEY");
  if (!keypair && !values.insecure) {
    usage("no keypair: give --cert (or DROVER_SECRET_KEY) and --broker-key, or --insecure for plain text");
  }
  if (!keypair) return null;
  const path = values.cert?.endsWith("_secret") ? values.cert : values.cert && values.cert + "_secret";
  const secret = path ? readKeyFile(path, "secret-key") : secretEnv.trim();
  return { curvePublicKey: publicOf(secret), curveSecretKey: secret,
           curveServerKey: publicKey(values["broker-key"]) };
}

// The flags every client here takes (node:util parseArgs options).
const COMMON_FLAGS = {
  broker: { type: "string", default: envDefault("broker", "tcp://127.0.0.1:5555") },
  timeout: { type: "string", default: envDefault("timeout", "10") },
  cert: { type: "string", default: envDefault("cert", undefined) },
  "broker-key": { type: "string", default: envDefault("broker_key", undefined) },
  insecure: { type: "boolean", default: process.env.DROVER_INSECURE === "1" },
  help: { type: "boolean", short: "h" },
};
// The command line: COMMON_FLAGS and options (node:util parseArgs), with
// --help printing help and exiting 0, and a bad flag a usage error.
export function parseFlags(options, help, usage) {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { ...COMMON_FLAGS, ...options } });
  } catch (error) {
    usage(error.message);
  }
  if (parsed.values.help) {
    process.stdout.write(help + "\n");
    process.exit(0);
  }
  return parsed;
}

export const COMMON_HELP = `
  --broker ENDPOINT   broker frontend (default tcp://127.0.0.1:5555)
  --timeout SECONDS   wait this long for each reply (default 10)
  --cert PATH         our keypair (drover keygen's NAME or NAME_secret; or
                      DROVER_SECRET_KEY, Z85): talk CURVE to the broker
  --broker-key KEY    the broker's public key: Z85, or its certificate file
  --insecure          without a keypair, talk plain text (DROVER_INSECURE=1)
  -h, --help          this help
Every flag --foo-bar defaults to environment variable DROVER_FOO_BAR.`;

// ---- the frontend ----------------------------------------------------------

// One request/reply conversation with the broker's frontend.  A REQ socket
// that got no reply cannot send again, so on a timeout it is closed
// (linger 0) and a fresh one opened (the Lazy Pirate pattern).  Do not set
// ZMQ_REQ_CORRELATE: its request-id frame would come before the empty
// delimiter, where the broker takes it for frame 0 (PROTOCOL.md 3.1).
export class Frontend {
  constructor(endpoint, timeoutSeconds, curve) {
    this.endpoint = endpoint;
    this.timeoutMs = Math.round(timeoutSeconds * 1000);
    this.curve = curve;
    this.open();
  }

  open() {
    this.socket = new Request({ linger: 0, receiveTimeout: this.timeoutMs,
                                sendTimeout: this.timeoutMs, ...(this.curve ?? {}) });
    this.socket.connect(this.endpoint);
  }

  close() {
    this.socket?.close();
    this.socket = null;
  }

  // Send command with header (an object) and payload (msgpack frames);
  // return [command, header] of the reply.  An ERROR reply throws.
  async request(command, header, payload = []) {
    const frames = [SIGNATURE, command, encode(header), ...payload];
    let reply;
    try {
      await this.socket.send(frames);
      reply = await this.socket.receive();
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
      this.close();
      this.open();
      // A CURVE handshake the broker refused looks just like this.
      const hint = this.curve ? " (wrong --broker-key, or our key is not on the broker's "
                                + "--allow-producers list?)" : "";
      throw new Timeout(`no reply from ${this.endpoint} within ${this.timeoutMs / 1000} s${hint}`);
    }
    if (reply.length < 3 || reply[0].toString() !== SIGNATURE) {
      throw new ClientError(`malformed reply from broker: ${reply.length} frames`);
    }
    let replyHeader;
    try {
      replyHeader = decode(reply[2]);
    } catch (error) {
      throw new ClientError(`reply header is not msgpack: ${error.message}`);
    }
    if (replyHeader === null || typeof replyHeader !== "object" || Array.isArray(replyHeader)) {
      throw new ClientError("reply header is not a map");
    }
    const replyCommand = reply[1].toString();
    if (replyCommand === "ERROR") throw new BrokerError(replyHeader);
    return [replyCommand, replyHeader];
  }
}

// A program's main: body(frontend), then exit status 0; any failure is
// one line on stderr and status 1.  The socket is closed either way.
export async function runClient(program, options, body) {
  const frontend = new Frontend(options.broker, options.timeout, options.curve);
  try {
    await body(frontend);
    return 0;
  } catch (error) {
    process.stderr.write(`${program}: ${error.message}\n`);
    return 1;
  } finally {
    frontend.close();
  }
}

// A usage error: say what is wrong, exit 2.
export function usageError(program) {
  return (message) => {
    process.stderr.write(`${program}: ${message}\n(--help for usage)\n`);
    process.exit(2);
  };
}

export function jobLine(job) {
  const keys = ["state", "submitted", "queued", "running", "done", "failed"];
  return `JOB job=${job.job} ` + keys.map((key) => `${key}=${job[key]}`).join(" ");
}
