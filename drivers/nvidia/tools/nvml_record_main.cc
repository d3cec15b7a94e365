// nvml-record: prints what NVML says about this machine as the JSON the fake
// libnvidia-ml.so.1 loads, so a real node becomes a test fixture.
//
//   nvml-record [--library libnvidia-ml.so.1] [--output FILE] [--redact] [--keep-going]
//
// Exit codes: 0 recorded, 1 NVML failed, 2 bad flags.
#include <iostream>

#include "drivers/nvidia/tools/nvml_record_tool.h"

int main(int argc, char** argv) {
  try {
    return tessera::drivers::nvidia::RunNvmlRecord(argc, argv, std::cout, std::cerr);
  } catch (const std::exception& e) {  // last resort (house style §2.3.6)
    std::cerr << "nvml-record: unexpected exception: " << e.what() << "\n";
    return 1;
  }
}
