"""moto's server with one request applied at a time.

moto's own server runs requests on threads without isolation: a cancelled TransactWriteItems
restores a copy of the tables taken when it began, wiping writes that other requests made
meanwhile, and two transactions can interleave their condition checks. DynamoDB applies each
transaction atomically and in isolation, and the adapter's tests rely on that, so this
launcher serialises requests behind one lock (connections are still served on threads).

Usage: python moto-serial.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def serial(environ, start_response):
    with one_at_a_time:
        # The body is produced inside the lock: a WSGI app may work while it is iterated.
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
