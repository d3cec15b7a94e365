// libFuzzer harness for the kubeconfig reader (ParseKubeconfig, with the
// files it references) and its base64 decoder. The first byte selects: even,
// the rest is a kubeconfig (YAML or JSON) read against a directory holding
// ca.crt, client.crt, client.key and token, with reads elsewhere refused;
// odd, the rest goes to DecodeBase64.
//
// Invariants: no crash; errors are InvalidArgument (Unimplemented for the
// documented unsupported fields, the filesystem's codes for files) with a
// message; an accepted config has an http(s) server URL without a trailing
// slash, and a client certificate only together with its key; base64 that
// decodes re-encodes and decodes to the same bytes, and any bytes encoded
// decode back.
#include <cstdint>
#include <string>

#include "agent/kube/kube_config.h"
#include "base/filesystem.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace kube = tessera::agent::kube;
using Code = absl::StatusCode;
using tessera::fuzz::CheckCleanError;

std::string EncodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

void Base64(std::string_view text) {
  absl::StatusOr<std::string> decoded = kube::DecodeBase64(text);
  if (!decoded.ok()) {
    CheckCleanError(decoded.status(), {Code::kInvalidArgument}, "DecodeBase64");
  } else {
    absl::StatusOr<std::string> again = kube::DecodeBase64(EncodeBase64(*decoded));
    FUZZ_CHECK(again.ok() && *again == *decoded, "DecodeBase64 round trip");
  }
  absl::StatusOr<std::string> bytes = kube::DecodeBase64(EncodeBase64(text));
  FUZZ_CHECK(bytes.ok() && *bytes == text, "DecodeBase64(EncodeBase64(x)) != x");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* dir = [] {
    auto* d = new tessera::testing::TempDir();
    tessera::base::RealFilesystem real;
    for (const char* name : {"ca.crt", "client.crt", "client.key", "token"}) {
      (void)real.WriteFileAtomic(d->Sub(name), tessera::base::StrCat("-----", name, "-----\n"),
                                 {.durable = false});
    }
    return d;
  }();
  static auto* real = new tessera::base::RealFilesystem();
  static auto* fs = [] {
    auto* f = new tessera::testing::FaultyFilesystem(*real);
    // Only the fixture files: a kubeconfig may name any path, and reading
    // /dev/stdin or the like would hang the fuzzer.
    f->set_injector([](std::string_view, const std::string& path) {
      if (!path.starts_with(dir->path() + "/") || path.find("..") != std::string::npos) {
        return absl::PermissionDeniedError(
            tessera::base::StrCat("open ", path, ": outside the fixture"));
      }
      return absl::OkStatus();
    });
    return f;
  }();

  tessera::fuzz::Input in(data, size);
  if (in.Byte() % 2 == 1) {
    Base64(in.Rest());
    return 0;
  }
  absl::StatusOr<kube::KubeConfig> config = kube::ParseKubeconfig(in.Rest(), dir->path(), *fs);
  if (!config.ok()) {
    CheckCleanError(config.status(),
                    {Code::kInvalidArgument, Code::kUnimplemented, Code::kNotFound,
                     Code::kPermissionDenied, Code::kFailedPrecondition},
                    "ParseKubeconfig");
    return 0;
  }
  const std::string& server = config->server;
  FUZZ_CHECK(server.starts_with("https://") || server.starts_with("http://"), "server ",
             tessera::base::Quote(server));
  FUZZ_CHECK(server.size() <= 8 || server.back() != '/', "server with a trailing slash");
  FUZZ_CHECK(config->client_cert_pem.empty() == config->client_key_pem.empty(),
             "client certificate without key or key without certificate");
  FUZZ_CHECK(!config->source.empty(), "config without a source");
  return 0;
}
