#!/usr/bin/env node
// status.mjs -- asks a drover broker for a job's counters with STATUS
// (proto/PROTOCOL.md 4.1) over a REQ socket, CURVE with a keypair and the
// broker's key, and prints the JOB reply as one line, or as JSON.
// Needs: npm install (zeromq, @msgpack/msgpack) in this directory.
import { ClientError, COMMON_HELP, curveOptions, envDefault, jobLine, parseFlags,
         runClient, usageError } from "./drover.mjs";

const HELP = `usage: status.mjs [OPTIONS] JOB

Print a job's counters: state (open, closed, complete), tuples submitted,
queued, running, done and failed.  JOB defaults to DROVER_JOB.

  --json              print the JOB reply's header as one JSON object${COMMON_HELP}
Exit status: 0 if the broker knows the job, 1 if it does not or does not
answer, 2 on a usage error.`;

const usage = usageError("status.mjs");

function parse() {
  const { values, positionals } = parseFlags({ json: { type: "boolean" } }, HELP, usage);
  const job = positionals[0] ?? envDefault("job", undefined);
  if (!job || positionals.length > 1) usage("give one JOB");
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) usage("--timeout must be positive");
  return { ...values, job, timeout, curve: curveOptions(values, usage) };
}

const options = parse();
process.exitCode = await runClient("status.mjs", options, async (frontend) => {
  const [command, job] = await frontend.request("STATUS", { job: options.job });
  if (command !== "JOB") throw new ClientError(`STATUS answered with ${command}`);
  console.log(options.json ? JSON.stringify(job) : jobLine(job));
});
