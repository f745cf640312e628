#!/usr/bin/python3
# producer.py -- a drover producer in Python, written from proto/PROTOCOL.md
# alone: it speaks protocol v1 over a REQ socket to the broker's frontend
# (SUBMIT batches, then STATUS until the job is complete), with CURVE
# (section 2.1) when given a keypair and the broker's public key.
#
# Needs pyzmq and msgpack (Debian: python3-zmq python3-msgpack).

import argparse
import json
import os
import sys
import time

SIGNATURE = b"DRV1"                 # "DRV" + protocol version digit

ERROR_NAMES = {
    1: "BAD_VERSION", 2: "BAD_FRAMES", 3: "BAD_HEADER", 4: "MISSING_FIELD",
    5: "BAD_TYPE", 6: "UNKNOWN_COMMAND", 7: "TOO_LARGE", 8: "UNKNOWN_JOB",
    9: "CONFLICT", 10: "JOB_CLOSED", 11: "QUEUE_FULL", 12: "UNEXPECTED",
    13: "DENIED", 14: "INTERNAL", 15: "BAD_TUPLE",
}
QUEUE_FULL = 11


class ProducerError(Exception):
    """A failure worth one line on stderr and exit code 1."""


class Timeout(ProducerError):
    pass


class BrokerError(ProducerError):
    def __init__(self, header):
        self.code = header.get("code", 0)
        self.reason = header.get("reason", "")
        self.retry_ms = header.get("retry_ms", 0)
        name = ERROR_NAMES.get(self.code, "code %d" % self.code)
        super().__init__("broker answered ERROR %s: %s" % (name, self.reason))


def env_default(name, fallback):
    """Like drover's own flags: --foo-bar defaults to $DROVER_FOO_BAR.
    argparse runs a string default through the flag's type, so a bad
    value in the environment is a usage error like a bad flag."""
    return os.environ.get("DROVER_" + name.upper().replace("-", "_"), fallback)


def read_key_file(path, field):
    """The Z85 value of `public-key` or `secret-key` in a ZeroMQ certificate
    file (the format `drover keygen` writes: `    public-key = "..."`)."""
    try:
        with open(path, encoding="utf-8") as cert:
            for line in cert:
                name, _, value = line.partition("=")
                if name.strip() == field:
                    return value.strip().strip('"').encode()
    except OSError as exc:
        raise ProducerError("cannot read certificate: %s" % exc)
    raise ProducerError("%s has no %s" % (path, field))


def public_key(text):
    """A peer's public key: 40 Z85 characters, or its certificate file."""
    if len(text) == 40 and not os.path.exists(text):
        return text.encode()
    return read_key_file(text, "public-key")


def curve_keys(zmq, args):
    """(our public, our secret, broker's public) in Z85, or None to talk
    plain text.  Our keypair is --cert (NAME or NAME_secret, as drover
    keygen names them) or DROVER_SECRET_KEY."""
    if args.cert:
        path = args.cert if args.cert.endswith("_secret") else args.cert + "_secret"
        secret = read_key_file(path, "secret-key")
    elif os.environ.get("DROVER_SECRET_KEY"):
        secret = os.environ["DROVER_SECRET_KEY"].encode()
    else:
        return None
    try:
        public = zmq.curve_public(secret)
    except (zmq.ZMQError, ValueError) as exc:
        raise ProducerError("our secret key is not 40 Z85 characters: %s" % exc)
    return public, secret, public_key(args.broker_key)


def use_curve(zmq, socket, keys):
    """Make socket a CURVE client of the broker (before connect)."""
    if keys:
        socket.setsockopt(zmq.CURVE_PUBLICKEY, keys[0])
        socket.setsockopt(zmq.CURVE_SECRETKEY, keys[1])
        socket.setsockopt(zmq.CURVE_SERVERKEY, keys[2])


class Frontend:
    """One request/reply conversation with the broker's frontend.

    A REQ socket that sent a request and got no reply is stuck: it will not
    send again.  ZMQ_REQ_CORRELATE cannot help here, because it puts a
    request-id frame before the empty delimiter, which the broker's envelope
    rule (PROTOCOL.md 3.1) would read as frame 0.  So on a timeout we close
    the socket (linger 0) and open a fresh one, as in the Lazy Pirate
    pattern."""

    def __init__(self, zmq, msgpack, endpoint, timeout, keys):
        self.zmq = zmq
        self.msgpack = msgpack
        self.context = zmq.Context.instance()
        self.endpoint = endpoint
        self.keys = keys
        self.timeout_ms = int(timeout * 1000)
        self.socket = None
        self._open()

    def _open(self):
        self.socket = self.context.socket(self.zmq.REQ)
        self.socket.setsockopt(self.zmq.LINGER, 0)
        self.socket.setsockopt(self.zmq.RCVTIMEO, self.timeout_ms)
        self.socket.setsockopt(self.zmq.SNDTIMEO, self.timeout_ms)
        use_curve(self.zmq, self.socket, self.keys)
        self.socket.connect(self.endpoint)

    def close(self):
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None

    def request(self, command, header, payload=()):
        """Send one command; return (command, header) of the reply."""
        msgpack = self.msgpack
        frames = [SIGNATURE, command, msgpack.packb(header, use_bin_type=True)]
        frames.extend(payload)
        try:
            self.socket.send_multipart(frames)
            reply = self.socket.recv_multipart()
        except self.zmq.Again:
            self.close()
            self._open()
            # A CURVE handshake the broker refused looks just like this.
            hint = (" (wrong --broker-key, or our key is not on the broker's "
                    "--allow-producers list?)" if self.keys else "")
            raise Timeout("no reply from %s within %.1f s%s"
                          % (self.endpoint, self.timeout_ms / 1000, hint))
        if len(reply) < 3 or reply[0] != SIGNATURE:
            raise ProducerError("malformed reply from broker: %d frames, "
                                "frame 0 %r" % (len(reply), reply[0][:8]))
        try:
            reply_header = msgpack.unpackb(reply[2], raw=False)
        except Exception as exc:
            raise ProducerError("reply header is not msgpack: %s" % exc)
        if not isinstance(reply_header, dict):
            raise ProducerError("reply header is not a map")
        if reply[1] == b"ERROR":
            raise BrokerError(reply_header)
        return reply[1], reply_header


def read_batches(stream, size, msgpack):
    """Yield lists of msgpack-encoded tuples, one tuple per JSON line."""
    batch = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ProducerError("line %d: not JSON: %s" % (number, exc))
        batch.append(msgpack.packb(value, use_bin_type=True))
        if len(batch) == size:
            yield batch
            batch = []
    yield batch


def with_last(iterable):
    """Yield (item, is_last): the last batch carries close: true."""
    iterator = iter(iterable)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for following in iterator:
        yield current, False
        current = following
    yield current, True


def submit(frontend, args, stream):
    """Send every batch; print one ACCEPTED line per batch."""
    total = 0
    # Batch ids make a resent SUBMIT harmless (the broker answers it with the
    # first ACCEPTED); they must not repeat across runs adding to one job.
    run = os.urandom(8).hex()
    sink_key = public_key(args.sink_key).decode() if args.sink_key else None
    batches = read_batches(stream, args.batch_size, frontend.msgpack)
    for number, (tuples, last) in enumerate(with_last(batches), 1):
        if not tuples and not (last and args.close):
            continue                # an empty tail with nothing to say
        header = {"job": args.job, "handler": args.handler, "sink": args.sink,
                  "batch": "%s-%d" % (run, number)}
        if sink_key:
            header["sink_key"] = sink_key
        if args.options is not None:
            header["options"] = args.options
        if args.max_attempts is not None:
            header["max_attempts"] = args.max_attempts
        if args.timeout_ms is not None:
            header["timeout_ms"] = args.timeout_ms
        if last and args.close:
            header["close"] = True
        reply = submit_one(frontend, header, tuples, args)
        first, count = reply.get("first"), reply.get("count")
        if not isinstance(first, int) or count != len(tuples):
            raise ProducerError("batch %d: ACCEPTED has first=%r count=%r, "
                                "sent %d tuples" % (number, first, count, len(tuples)))
        if reply.get("batch", header["batch"]) != header["batch"]:
            raise ProducerError("batch %d: reply is for batch %r"
                                % (number, reply.get("batch")))
        if not args.quiet:
            ids = "%d..%d" % (first, first + count - 1) if count else "none"
            print("ACCEPTED job=%s batch=%d first=%d count=%d ids=%s"
                  % (args.job, number, first, count, ids), flush=True)
        total += count
    return total


def submit_one(frontend, header, tuples, args):
    """One SUBMIT.  QUEUE_FULL is retried (the batch was refused whole, so
    sending it again cannot duplicate it); a timeout is not, since the
    broker may have accepted the batch before its reply was lost."""
    deadline = time.monotonic() + args.wait_timeout
    while True:
        try:
            command, reply = frontend.request(b"SUBMIT", header, tuples)
        except Timeout as exc:
            raise ProducerError("%s; batch %s may or may not have been accepted"
                                % (exc, header["batch"]))
        except BrokerError as exc:
            if exc.code != QUEUE_FULL or time.monotonic() >= deadline:
                raise
            time.sleep(max(exc.retry_ms, 10) / 1000)
            continue
        if command != b"ACCEPTED":
            raise ProducerError("SUBMIT answered with %s" % command.decode(errors="replace"))
        return reply


def job_line(job):
    keys = ("state", "submitted", "queued", "running", "done", "failed")
    return "JOB job=%s " % job.get("job") + " ".join("%s=%s" % (k, job.get(k)) for k in keys)


def wait_complete(frontend, args):
    """Poll STATUS until the job is complete or --wait-timeout passes.
    STATUS changes nothing, so a lost reply is simply asked again."""
    deadline = time.monotonic() + args.wait_timeout
    interval, last = 0.05, None
    while True:
        try:
            command, job = frontend.request(b"STATUS", {"job": args.job})
            if command != b"JOB":
                raise ProducerError("STATUS answered with %s" % command.decode(errors="replace"))
            last = job
            if job.get("state") == "complete":
                print(job_line(job), flush=True)
                return
            if args.verbose:
                print(job_line(job), file=sys.stderr, flush=True)
        except Timeout as exc:
            if args.verbose:
                print("producer.py: %s, asking again" % exc, file=sys.stderr)
        if time.monotonic() >= deadline:
            seen = job_line(last) if last else "no JOB reply"
            raise ProducerError("job %s not complete after %.1f s (%s)"
                                % (args.job, args.wait_timeout, seen))
        time.sleep(interval)
        interval = min(interval * 2, 1.0)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="producer.py",
        description="Submit tuples to a drover broker as one job. Reads JSON "
                    "Lines (one tuple per line, e.g. [\"127.0.0.1\", 443]) from "
                    "FILE or stdin, sends them in SUBMIT batches over a REQ socket "
                    "and prints the tuple ids the broker accepted, one line per "
                    "batch. The last batch closes the job. With --wait, polls "
                    "STATUS until the job is complete.",
        epilog="Every flag --foo-bar defaults to environment variable "
               "DROVER_FOO_BAR. Exit status: 0 ok, 1 runtime failure (error "
               "reply, timeout, bad input), 2 usage error.")
    parser.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="JSON Lines input (default: stdin)")
    parser.add_argument("--broker", default=env_default("broker", "tcp://127.0.0.1:5555"),
                        metavar="ENDPOINT", help="broker frontend endpoint (default %(default)s)")
    parser.add_argument("--job", default=env_default("job", None),
                        help="job name (required)")
    parser.add_argument("--handler", default=env_default("handler", None),
                        help="handler the agents run, e.g. echo, tcp-probe (required)")
    parser.add_argument("--sink", default=env_default("sink", "tcp://127.0.0.1:5558"),
                        metavar="ENDPOINT",
                        help="sink endpoint the agents send results to (default %(default)s)")
    parser.add_argument("--options", type=json.loads, default=env_default("options", None),
                        metavar="JSON", help="handler options as a JSON object")
    parser.add_argument("--max-attempts", type=int, default=env_default("max_attempts", None),
                        metavar="N", help="attempts per tuple (broker default 3)")
    parser.add_argument("--timeout-ms", type=int, default=env_default("timeout_ms", None),
                        metavar="MS", help="handler timeout per tuple (broker default 30000)")
    parser.add_argument("--batch-size", type=int, default=env_default("batch_size", 1000),
                        metavar="N", help="tuples per SUBMIT (default %(default)s)")
    parser.add_argument("--no-close", dest="close", action="store_false",
                        help="leave the job open for more tuples (no --wait then)")
    parser.add_argument("--timeout", type=float, default=env_default("timeout", 10.0),
                        metavar="SECONDS", help="wait this long for each reply "
                        "(default %(default)s)")
    parser.add_argument("--wait", action="store_true",
                        help="after submitting, poll STATUS until the job is complete")
    parser.add_argument("--wait-timeout", type=float, default=env_default("wait_timeout", 600.0),
                        metavar="SECONDS", help="give up after this long, exit 1: "
                        "waiting for --wait, and retrying a batch the broker "
                        "refused with QUEUE_FULL (default %(default)s)")
    parser.add_argument("--cert", default=env_default("cert", None), metavar="PATH",
                        help="our keypair (drover keygen's NAME or NAME_secret; or "
                        "DROVER_SECRET_KEY, Z85): talk CURVE to the broker")
    parser.add_argument("--broker-key", default=env_default("broker_key", None),
                        metavar="KEY", help="the broker's public key: Z85, or its "
                        "certificate file; needed with a keypair")
    parser.add_argument("--sink-key", default=env_default("sink_key", None), metavar="KEY",
                        help="the sink's public key (Z85 or its certificate file), "
                        "sent as the job's sink_key: agents seal results for it")
    parser.add_argument("--insecure", action="store_true",
                        default=os.environ.get("DROVER_INSECURE") == "1",
                        help="without a keypair, talk plain text to the broker "
                        "(DROVER_INSECURE=1)")
    parser.add_argument("--quiet", action="store_true", help="do not print ACCEPTED lines")
    parser.add_argument("--verbose", action="store_true",
                        help="print the job's counters on stderr while waiting")
    args = parser.parse_args(argv)
    if not args.job or not args.handler:
        parser.error("--job and --handler are required")
    if args.options is not None and not isinstance(args.options, dict):
        parser.error("--options must be a JSON object")
    if args.batch_size < 1 or args.timeout <= 0 or args.wait_timeout <= 0:
        parser.error("--batch-size, --timeout and --wait-timeout must be positive")
    for name in ("max_attempts", "timeout_ms"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            parser.error("--%s must not be negative" % name.replace("_", "-"))
    if args.wait and not args.close:
        parser.error("--wait needs the job closed; drop --no-close")
    check_key_flags(parser, args)
    return args


def check_key_flags(parser, args):
    """As drover submit: a keypair and the broker's key go together, and
    plain text must be asked for."""
    keypair = bool(args.cert or os.environ.get("DROVER_SECRET_KEY"))
    if keypair and not args.broker_key:
        parser.error("--broker-key is needed with a keypair")
    if args.broker_key and not keypair:
        parser.error("--broker-key needs our keypair: --cert or DROVER_SECRET_KEY")
    if not keypair and not args.insecure:
        parser.error("no keypair: give --cert (or DROVER_SECRET_KEY) and "
                     "--broker-key, or --insecure for plain text")


def main(argv):
    args = parse_args(argv)
    try:
        # Imported here, not at the top, so that --help works without them.
        import zmq
        import msgpack
    except ImportError as exc:
        print("producer.py: %s (Debian: apt-get install python3-zmq python3-msgpack)"
              % exc, file=sys.stderr)
        return 1
    try:
        frontend = Frontend(zmq, msgpack, args.broker, args.timeout, curve_keys(zmq, args))
    except ProducerError as exc:
        print("producer.py: %s" % exc, file=sys.stderr)
        return 1
    try:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
        with stream:
            submit(frontend, args, stream)
        if args.wait:
            wait_complete(frontend, args)
        return 0
    except (ProducerError, OSError) as exc:
        print("producer.py: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("producer.py: interrupted", file=sys.stderr)
        return 130
    finally:
        frontend.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
