"""A tiny web app for the demo: answers every GET with the replica that served it."""
import http.server
import os
import sys

INSTANCE = os.environ.get("LCC_INSTANCE", "?")
GREETING = os.environ.get("GREETING", "hello")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"{GREETING} from {INSTANCE} (path {self.path})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Instance", INSTANCE)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (INSTANCE, fmt % args))


def main():
    port = int(sys.argv[1])
    # A container must listen on every address (the export passes 0.0.0.0); here,
    # only this machine should reach it.
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"{INSTANCE} listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
