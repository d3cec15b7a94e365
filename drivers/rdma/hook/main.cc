// tessera-netns-hook: CDI createRuntime hook that moves a NIC's netdev into a
// container's network namespace. The argv contract and all logic are in
// drivers/rdma/netns_hook.h.
#include <iostream>
#include <string>
#include <vector>

#include "drivers/rdma/netns_hook.h"

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv, argv + argc);
    return tessera::drivers::rdma::NetnsHookMain(args, std::cin, std::cerr);
  } catch (const std::exception& e) {  // last resort (house style §2.3)
    std::cerr << "tessera-netns-hook: fatal: " << e.what() << "\n";
    return 1;
  }
}
