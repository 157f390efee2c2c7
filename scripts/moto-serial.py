"""moto's server with one request applied at a time.

moto's own server runs requests on threads without isolation: a cancelled TransactWriteItems
restores a copy of the tables taken when it began, wiping writes that other requests made
meanwhile, and two transactions can interleave their condition checks. DynamoDB applies each
transaction atomically and in isolation, and the adapter's tests rely on that, so this
launcher serialises requests behind one lock (connections are still served on threads).

Two more changes keep moto usable for a benchmark, without changing what a request does:
- a transaction saves the items it touches and puts them back if it is cancelled, where moto
  copied the whole table once per item of the transaction (7 s for a 50-item transaction on a
  1,500-row table);
- moto no longer keeps every model object it ever made (a registry that serves only its
  /moto-api/data.json page); with the copies kept, the server grew by gigabytes.

Usage: python moto-serial.py HOST PORT
"""

import copy
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.core.common_models import BaseModel
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

def untracked(cls, *args, **kwargs):
    return object.__new__(cls)


BaseModel.__new__ = staticmethod(untracked)


class TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied
    (the wrapper below saves items instead); anything else is."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


dynamodb_models.copy = TablesNotCopied
moto_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_saving_items(self, transact_items):
    saved = []
    try:
        for entry in transact_items:
            kind, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if kind == "Put":
                names = [table.hash_key_attr, table.range_key_attr]
                key = {name: op["Item"][name] for name in names if name}
            else:
                key = op["Key"]
            current = self.get_item(op["TableName"], key)
            saved.append((op["TableName"], key, current.to_json()["Attributes"] if current else None))
    except Exception:
        saved = []  # moto reports the malformed request itself, before writing anything
    try:
        return moto_transact(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(saved):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise


dynamodb_models.DynamoDBBackend.transact_write_items = transact_saving_items

app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def serial(environ, start_response):
    with one_at_a_time:
        # The body is produced inside the lock: a WSGI app may work while it is iterated.
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
