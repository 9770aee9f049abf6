"""A notes app for the demo: keeps its notes in ./data (a Storage), so they outlive it.

GET /      -> every note, one per line
POST /     -> appends the request body as a note (fsync'd before the answer)
"""
import http.server
import os
import sys

DATA = os.path.join("data", "notes.txt")
INSTANCE = os.environ.get("LCC_INSTANCE", "?")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Instance", INSTANCE)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            with open(DATA, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            body = b""
        self.reply(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        note = self.rfile.read(length).replace(b"\n", b" ").strip()
        if not note:
            self.reply(400, b"empty note\n")
            return
        with open(DATA, "ab") as f:
            f.write(note + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self.reply(201, b"saved by " + INSTANCE.encode() + b"\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (INSTANCE, fmt % args))


def main():
    port = int(sys.argv[1])
    # A container must listen on every address (the export passes 0.0.0.0).
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    os.makedirs("data", exist_ok=True)
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"{INSTANCE} keeping notes in {os.path.realpath('data')}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
