// node-debug's command line: global options, subcommand dispatch, exit codes.
//
// Exit codes: 0 success (and --help), 1 runtime error (the status is printed
// on `err`), 2 usage error (unknown option, missing argument, no subcommand).
// Single-threaded.
#pragma once

#include <ostream>

namespace tessera::agent::debug {

// Parses argv, initializes logging, runs the selected subcommand. Results go
// to `out`, diagnostics to `err`.
int RunNodeDebug(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace tessera::agent::debug
