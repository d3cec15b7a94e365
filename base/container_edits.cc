#include "base/container_edits.h"

#include <algorithm>

namespace tessera::base {
namespace {

template <typename T>
void AppendUnique(std::vector<T>& to, const std::vector<T>& from) {
  for (const T& item : from) {
    if (std::find(to.begin(), to.end(), item) == to.end()) to.push_back(item);
  }
}

}  // namespace

void ContainerEdits::Merge(const ContainerEdits& other) {
  AppendUnique(env, other.env);
  AppendUnique(device_nodes, other.device_nodes);
  AppendUnique(mounts, other.mounts);
  AppendUnique(hooks, other.hooks);
}

}  // namespace tessera::base
