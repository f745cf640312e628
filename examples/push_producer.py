#!/usr/bin/python3
# push_producer.py -- a fire-and-forget drover producer, written from
# proto/PROTOCOL.md alone: SUBMIT batches over PUSH to the broker's intake
# (section 2).  No replies come back on the intake; ZeroMQ's high-water mark
# is the flow control.  --frontend asks STATUS afterwards to confirm that
# the broker counted what was pushed.  With a keypair and the broker's
# public key both sockets run CURVE (section 2.1).
#
# Needs pyzmq and msgpack (Debian: python3-zmq python3-msgpack).

import argparse
import json
import os
import sys
import time

SIGNATURE = b"DRV1"


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
        raise RuntimeError("cannot read certificate: %s" % exc)
    raise RuntimeError("%s has no %s" % (path, field))


def public_key(text):
    """A peer's public key: 40 Z85 characters, or its certificate file."""
    if len(text) == 40 and not os.path.exists(text):
        return text.encode()
    return read_key_file(text, "public-key")


def curve_keys(zmq, args):
    """(our public, our secret, broker's public) in Z85, or None for plain
    text.  Our keypair is --cert (NAME or NAME_secret) or DROVER_SECRET_KEY."""
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
        raise RuntimeError("our secret key is not 40 Z85 characters: %s" % exc)
    return public, secret, public_key(args.broker_key)


def client_socket(zmq, kind, args):
    """A socket of kind, a CURVE client of the broker when we have keys."""
    sock = zmq.Context.instance().socket(kind)
    if args.keys:
        sock.setsockopt(zmq.CURVE_PUBLICKEY, args.keys[0])
        sock.setsockopt(zmq.CURVE_SECRETKEY, args.keys[1])
        sock.setsockopt(zmq.CURVE_SERVERKEY, args.keys[2])
    return sock


def read_batches(stream, msgpack, size):
    """Yield lists of msgpack-encoded tuples, one tuple per JSON line."""
    batch = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            batch.append(msgpack.packb(json.loads(line), use_bin_type=True))
        except ValueError as exc:
            raise RuntimeError("line %d: not JSON: %s" % (number, exc))
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


def push_all(zmq, msgpack, args, stream):
    """Send the tuples as SUBMIT batches; the last one closes the job.
    Returns the number of tuples pushed.  Every batch and the close go
    through one PUSH socket, so the broker gets them in order."""
    sock = client_socket(zmq, zmq.PUSH, args)
    # At exit, wait up to --timeout for queued batches to reach the broker.
    sock.setsockopt(zmq.LINGER, int(args.timeout * 1000))
    sock.setsockopt(zmq.SNDHWM, args.hwm)
    # A PUSH whose peer is slow or absent blocks at the high-water mark;
    # SNDTIMEO turns that into an error rather than a hang.
    sock.setsockopt(zmq.SNDTIMEO, int(args.timeout * 1000))
    sock.connect(args.intake)
    pushed = 0
    sink_key = public_key(args.sink_key).decode() if args.sink_key else None
    try:
        batches = read_batches(stream, msgpack, args.batch_size)
        for number, (batch, last) in enumerate(with_last(batches), 1):
            if not batch and not (last and args.close):
                continue
            header = {"job": args.job, "handler": args.handler,
                      "sink": args.sink, "batch": "push-%d" % number}
            if sink_key:
                header["sink_key"] = sink_key
            if last and args.close:
                header["close"] = True
            frames = [SIGNATURE, b"SUBMIT", msgpack.packb(header, use_bin_type=True)]
            try:
                sock.send_multipart(frames + batch)
            except zmq.Again:
                raise RuntimeError("intake %s took nothing for %.1f s "
                                   "(broker down or far behind)" % (args.intake, args.timeout))
            pushed += len(batch)
        return pushed
    finally:
        sock.close()        # honours LINGER: queued batches still go out


def confirm(zmq, msgpack, args, pushed):
    """Ask STATUS on the frontend until the job counts all pushed tuples.
    A fresh REQ socket per request: a REQ that lost its reply is stuck."""
    deadline = time.monotonic() + args.confirm_timeout
    header = msgpack.packb({"job": args.job}, use_bin_type=True)
    interval, job = 0.05, None
    while True:
        sock = client_socket(zmq, zmq.REQ, args)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(args.timeout * 1000))
        sock.connect(args.frontend)
        try:
            sock.send_multipart([SIGNATURE, b"STATUS", header])
            reply = sock.recv_multipart()
            if len(reply) >= 3 and reply[0] == SIGNATURE and reply[1] == b"JOB":
                job = msgpack.unpackb(reply[2], raw=False)
                wanted = ("closed", "complete") if args.close else ("open",)
                if job.get("submitted", 0) >= pushed and job.get("state") in wanted:
                    keys = ("state", "submitted", "queued", "running", "done", "failed")
                    print("JOB job=%s " % args.job
                          + " ".join("%s=%s" % (k, job.get(k)) for k in keys), flush=True)
                    return
            # ERROR UNKNOWN_JOB is normal until the first batch has landed.
        except zmq.Again:
            pass
        finally:
            sock.close()
        if time.monotonic() >= deadline:
            raise RuntimeError("broker counted %s of %d pushed tuples after %.1f s"
                               % (job.get("submitted") if job else "none", pushed,
                                  args.confirm_timeout))
        time.sleep(interval)
        interval = min(interval * 2, 1.0)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="push_producer.py",
        description="Push tuples to a drover broker's intake as one job, fire "
                    "and forget: JSON Lines (one tuple per line) from FILE or "
                    "stdin, sent as SUBMIT batches over a PUSH socket. The intake "
                    "sends no replies; the broker logs and counts bad batches. "
                    "With --frontend, asks STATUS afterwards until the broker has "
                    "counted every pushed tuple.",
        epilog="Every flag --foo-bar defaults to environment variable "
               "DROVER_FOO_BAR. Exit status: 0 ok, 1 runtime failure, 2 usage error.")
    parser.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="JSON Lines input (default: stdin)")
    parser.add_argument("--intake", default=env_default("intake", "tcp://127.0.0.1:5556"),
                        metavar="ENDPOINT", help="broker intake endpoint (default %(default)s)")
    parser.add_argument("--frontend", default=env_default("frontend", None),
                        metavar="ENDPOINT",
                        help="broker frontend endpoint; if set, confirm with STATUS")
    parser.add_argument("--job", default=env_default("job", None), help="job name (required)")
    parser.add_argument("--handler", default=env_default("handler", None),
                        help="handler the agents run (required)")
    parser.add_argument("--sink", default=env_default("sink", "tcp://127.0.0.1:5558"),
                        metavar="ENDPOINT",
                        help="sink endpoint the agents send results to (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=env_default("batch_size", 1000),
                        metavar="N", help="tuples per SUBMIT (default %(default)s)")
    parser.add_argument("--hwm", type=int, default=env_default("hwm", 1000), metavar="N",
                        help="PUSH high-water mark, in batches (default %(default)s)")
    parser.add_argument("--no-close", dest="close", action="store_false",
                        help="leave the job open for more tuples")
    parser.add_argument("--timeout", type=float, default=env_default("timeout", 10.0),
                        metavar="SECONDS", help="give up on a blocked send, or a "
                        "STATUS reply, after this long (default %(default)s)")
    parser.add_argument("--confirm-timeout", type=float,
                        default=env_default("confirm_timeout", 30.0), metavar="SECONDS",
                        help="with --frontend, give up confirming after this long "
                        "(default %(default)s)")
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
    args = parser.parse_args(argv)
    if not args.job or not args.handler:
        parser.error("--job and --handler are required")
    keypair = bool(args.cert or os.environ.get("DROVER_SECRET_KEY"))
    if keypair != bool(args.broker_key):
        parser.error("a keypair (--cert or DROVER_SECRET_KEY) and --broker-key go together")
    if not keypair and not args.insecure:
        parser.error("no keypair: give --cert (or DROVER_SECRET_KEY) and "
                     "--broker-key, or --insecure for plain text")
    if args.batch_size < 1 or args.hwm < 1 or args.timeout <= 0 or args.confirm_timeout <= 0:
        parser.error("--batch-size, --hwm, --timeout and --confirm-timeout must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        # Imported here, not at the top, so that --help works without them.
        import zmq
        import msgpack
    except ImportError as exc:
        print("push_producer.py: %s (Debian: apt-get install python3-zmq python3-msgpack)"
              % exc, file=sys.stderr)
        return 1
    try:
        args.keys = curve_keys(zmq, args)
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
        with stream:
            pushed = push_all(zmq, msgpack, args, stream)
        print("PUSHED job=%s tuples=%d" % (args.job, pushed), flush=True)
        if args.frontend:
            confirm(zmq, msgpack, args, pushed)
        return 0
    except (RuntimeError, OSError) as exc:
        print("push_producer.py: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("push_producer.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
