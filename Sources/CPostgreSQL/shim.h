// The one C header bpfree reads for PostgreSQL: libpq, the client library PostgreSQL ships
// (Debian's libpq-dev), synchronous like bpfree's store.
#include <libpq-fe.h>
