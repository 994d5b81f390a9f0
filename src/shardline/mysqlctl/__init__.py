"""MariaDB instance lifecycle: my.cnf, init from a cached template, start, stop, status; accounts; flavor."""
