// CRC-32 (IEEE 802.3 polynomial, as zlib's crc32 and Go's crc32.ChecksumIEEE),
// the checksum the kubelet's own DRA checkpoint uses; ours uses it for the
// snapshot's data and for each journal record.
#pragma once

#include <cstdint>
#include <string_view>

namespace tessera::kubelet::checkpoint {

// Thread-safe; the table is computed at compile time.
uint32_t Crc32Ieee(std::string_view data);

}  // namespace tessera::kubelet::checkpoint
