#!/usr/bin/env node
// producer.mjs -- a drover producer in Node, written from proto/PROTOCOL.md
// alone: reads JSON Lines (one tuple per line), sends them to the broker's
// frontend in SUBMIT batches over a REQ socket (CURVE with a keypair and
// the broker's key), the last batch closing the job, prints the ids the
// broker accepted; with --wait, polls STATUS until the job is complete.
// Needs: npm install (zeromq, @msgpack/msgpack) in this directory.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { encode } from "@msgpack/msgpack";
import { BrokerError, ClientError, COMMON_HELP, QUEUE_FULL, Timeout, curveOptions,
         envDefault, jobLine, parseFlags, publicKey, runClient,
         usageError } from "./drover.mjs";

const HELP = `usage: producer.mjs [OPTIONS] [FILE]

Submit tuples to a drover broker as one job: JSON Lines from FILE or stdin
(one tuple per line, e.g. ["127.0.0.1", 443]), in SUBMIT batches; prints
one ACCEPTED line per batch.  The last batch closes the job.

  --job NAME          job name (required)
  --handler NAME      handler the agents run, e.g. echo (required)
  --sink ENDPOINT     sink the agents send results to (default tcp://127.0.0.1:5558)
  --sink-key KEY      the sink's public key (Z85 or its certificate file),
                      sent as the job's sink_key: agents seal results for it
  --batch-size N      tuples per SUBMIT (default 1000)
  --no-close          leave the job open for more tuples
  --wait              after submitting, poll STATUS until the job is complete
  --wait-timeout S    give up waiting (and retrying QUEUE_FULL) after S seconds
                      (default 600)
  --quiet             do not print ACCEPTED lines${COMMON_HELP}
Exit status: 0 ok, 1 runtime failure, 2 usage error.`;

const usage = usageError("producer.mjs");

function parse() {
  const { values, positionals } = parseFlags({
    job: { type: "string", default: envDefault("job", undefined) },
    handler: { type: "string", default: envDefault("handler", undefined) },
    sink: { type: "string", default: envDefault("sink", "tcp://127.0.0.1:5558") },
    "sink-key": { type: "string", default: envDefault("sink_key", undefined) },
    "batch-size": { type: "string", default: envDefault("batch_size", "1000") },
    "no-close": { type: "boolean" },
    wait: { type: "boolean" },
    "wait-timeout": { type: "string", default: envDefault("wait_timeout", "600") },
    quiet: { type: "boolean" },
  }, HELP, usage);
  if (!values.job || !values.handler) usage("--job and --handler are required");
  if (positionals.length > 1) usage("at most one FILE");
  const numbers = { batchSize: Number(values["batch-size"]), timeout: Number(values.timeout),
                    waitTimeout: Number(values["wait-timeout"]) };
  if (!Number.isInteger(numbers.batchSize) || !(numbers.batchSize > 0)
      || !(numbers.timeout > 0) || !(numbers.waitTimeout > 0)) {
    usage("--batch-size, --timeout and --wait-timeout must be positive");
  }
  if (values.wait && values["no-close"]) usage("--wait needs the job closed; drop --no-close");
  const curve = curveOptions(values, usage);
  return { ...values, ...numbers, curve, file: positionals[0] ?? "-" };
}

// Batches of msgpack-encoded tuples, one tuple per non-blank JSON line;
// always at least one (maybe empty) batch, so that the job gets closed.
async function* readBatches(file, size) {
  const input = file === "-" ? process.stdin : createReadStream(file);
  let batch = [];
  let number = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    number++;
    if (!line.trim()) continue;
    let value;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ClientError(`line ${number}: not JSON: ${error.message}`);
    }
    batch.push(encode(value));
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  yield batch;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One SUBMIT.  QUEUE_FULL is retried: the batch was refused whole, so it
// cannot be queued twice.  A timeout is not: the broker may have accepted
// the batch before its reply was lost.
async function submitOne(frontend, header, tuples, options) {
  const deadline = Date.now() + options.waitTimeout * 1000;
  for (;;) {
    try {
      const [command, reply] = await frontend.request("SUBMIT", header, tuples);
      if (command !== "ACCEPTED") throw new ClientError(`SUBMIT answered with ${command}`);
      return reply;
    } catch (error) {
      if (error instanceof Timeout) {
        throw new ClientError(`${error.message}; batch ${header.batch} may or may not have been accepted`);
      }
      if (!(error instanceof BrokerError) || error.code !== QUEUE_FULL || Date.now() >= deadline) {
        throw error;
      }
      await sleep(Math.max(error.retryMs, 10));
    }
  }
}

async function submit(frontend, options) {
  // Batch ids make a resent SUBMIT harmless; a random prefix per run keeps
  // new tuples from being taken for a retry of an earlier run's batch.
  const run = randomBytes(8).toString("hex");
  const sinkKey = options["sink-key"] ? publicKey(options["sink-key"]) : null;
  const batches = readBatches(options.file, options.batchSize);
  let current = await batches.next();
  for (let number = 1; !current.done; number++) {
    const next = await batches.next();
    const tuples = current.value;
    const last = next.done;
    current = next;
    const close = last && !options["no-close"];
    if (tuples.length === 0 && !close) continue;
    const header = { job: options.job, handler: options.handler, sink: options.sink,
                     batch: `${run}-${number}` };
    if (sinkKey) header.sink_key = sinkKey;
    if (close) header.close = true;
    const reply = await submitOne(frontend, header, tuples, options);
    if (!Number.isInteger(reply.first) || reply.count !== tuples.length) {
      throw new ClientError(`batch ${number}: ACCEPTED has first=${reply.first} `
                            + `count=${reply.count}, sent ${tuples.length} tuples`);
    }
    if (!options.quiet) {
      const ids = reply.count ? `${reply.first}..${reply.first + reply.count - 1}` : "none";
      console.log(`ACCEPTED job=${options.job} batch=${number} first=${reply.first} `
                  + `count=${reply.count} ids=${ids}`);
    }
  }
}

// Poll STATUS until the job is complete.  STATUS changes nothing, so a
// lost reply is simply asked again.
async function waitComplete(frontend, options) {
  const deadline = Date.now() + options.waitTimeout * 1000;
  let interval = 50;
  let last = null;
  for (;;) {
    try {
      const [command, job] = await frontend.request("STATUS", { job: options.job });
      if (command !== "JOB") throw new ClientError(`STATUS answered with ${command}`);
      last = job;
      if (job.state === "complete") {
        console.log(jobLine(job));
        return;
      }
    } catch (error) {
      if (!(error instanceof Timeout)) throw error;
    }
    if (Date.now() >= deadline) {
      throw new ClientError(`job ${options.job} not complete after ${options.waitTimeout} s `
                            + `(${last ? jobLine(last) : "no JOB reply"})`);
    }
    await sleep(interval);
    interval = Math.min(interval * 2, 1000);
  }
}

const options = parse();
process.exitCode = await runClient("producer.mjs", options, async (frontend) => {
  await submit(frontend, options);
  if (options.wait) await waitComplete(frontend, options);
});
