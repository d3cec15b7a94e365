#include "drivers/attributes.h"

#include "base/strings.h"

namespace tessera::drivers {

std::string AlignmentAttribute(std::string_view domain, std::string_view name) {
  return base::StrCat(domain, "/", name);
}

}  // namespace tessera::drivers
