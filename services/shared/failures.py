"""Which failures pass by themselves, and which do not.

A *transient* failure is a part of the system that is not there right now: the database or the
broker unreachable (refused, reset, timed out, restarting), an SMTP server that answers 4xx.
Retrying the same message later will succeed once that part is back, however long that takes,
so it must be waited out: retried with a capped back-off for as long as it lasts, never parked
in a dead-letter queue (a parked message leaves its work stuck until an operator acts).

Anything else (a bug, a malformed event, a refused recipient) will fail the same way every
time: it gets the short retry ladder, then the dead-letter queue.

A module outside `shared` marks its own transient errors by inheriting `Transient` (the
mailer's `TransientMailError`)."""

import errno
import socket

from sqlalchemy import exc as sa_exc


class Transient(Exception):
    """A base (a mix-in) for errors that mean "a dependency is away, try again later"."""


# errno values of a network path or a server that is away, not of a request that is wrong
_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ENOTCONN,
    errno.EAGAIN,
})


def _broker_errors() -> tuple[type[BaseException], ...]:
    from amqp import exceptions as amqp_exc
    from kombu import exceptions as kombu_exc
    return (kombu_exc.OperationalError, amqp_exc.ConnectionError,
            amqp_exc.RecoverableConnectionError, amqp_exc.RecoverableChannelError)


def _one_is_transient(error: BaseException) -> bool:
    if isinstance(error, Transient):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        # OperationalError: connection refused or lost, the server shutting down or starting,
        # a deadlock or serialization failure (psycopg2's TransactionRollbackError), SQLite
        # busy. An IntegrityError or a ProgrammingError is the statement's fault: not these.
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError)
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True   # a connection that went away; the pool had none to give in time
    if isinstance(error, _broker_errors()):
        return True
    if isinstance(error, ConnectionError | TimeoutError | socket.timeout | socket.gaierror):
        return True
    return isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS


def is_transient(error: BaseException) -> bool:
    """Whether `error`, or what caused it (`raise … from`, or an error raised while handling
    it), is a transient failure."""
    seen = set()
    while error is not None and id(error) not in seen:
        if _one_is_transient(error):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
