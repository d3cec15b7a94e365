// The body of nvml-record (tools/nvml_record_main.cc), separate so that main()
// stays thin and the tool can be tested against the fake library.
#pragma once

#include <ostream>

namespace tessera::drivers::nvidia {

// Parses flags, loads NVML, records, writes JSON to --output or `out`.
// Returns the process exit code; errors go to `err`.
int RunNvmlRecord(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace tessera::drivers::nvidia
